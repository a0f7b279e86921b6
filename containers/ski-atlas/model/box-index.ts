import type { BBox } from "../geo.ts";

/**
 * A uniform grid (GRID_DEG cells) over a list of boxes: `query*` returns the indexes of the boxes whose cells the
 * point or coordinates touch, ascending (a superset of the boxes that contain them: callers still test). Ascending
 * indexes keep ties resolving in the lists' order, as a scan of every box would.
 */
const GRID_DEG = 0.25;

export class BoxIndex {
  private cells = new Map<number, number[]>();
  constructor(boxes: readonly BBox[]) {
    boxes.forEach((b, i) => {
      for (let x = cell(b.minLon); x <= cell(b.maxLon); x++) {
        for (let y = cell(b.minLat); y <= cell(b.maxLat); y++) {
          const k = x * 4096 + y;
          const list = this.cells.get(k);
          if (list) list.push(i);
          else this.cells.set(k, [i]);
        }
      }
    });
  }
  queryPoint(lon: number, lat: number): readonly number[] {
    return this.cells.get(cell(lon) * 4096 + cell(lat)) ?? [];
  }
  /** Boxes touching any of the first n points of flat [lon, lat, …] coords. */
  queryCoords(c: ArrayLike<number>, n: number): number[] {
    const seen = new Set<number>();
    for (let i = 0; i < n * 2; i += 2) for (const k of this.queryPoint(c[i], c[i + 1])) seen.add(k);
    return [...seen].sort((a, b) => a - b);
  }
}

function cell(deg: number): number {
  return Math.floor((deg + 360) / GRID_DEG);
}
