import { bboxOf, expandBBox, inBBox, pointInPolygon, pointPolygonDistanceKm, ringCentroid, type BBox, type Coords, type Polygon } from "../geo.ts";

/** Geometry over a resort's set of polygons (its parts). */

export function inPolygons(lon: number, lat: number, polygons: readonly Polygon[]): boolean {
  return polygons.some((p) => pointInPolygon(lon, lat, p));
}

/** The bbox of the polygons' outer rings (polygons not empty). */
export function bboxOfPolygons(polygons: readonly Polygon[]): BBox {
  return polygons.reduce<BBox | undefined>((b, p) => bboxOf(p.outer, b), undefined)!;
}

/** Whether a ring lies inside polygons: its centroid and most of its vertices do (a part drawn a little over the edge still counts). */
export function liesInside(outer: Coords, polygons: readonly Polygon[]): boolean {
  const [cx, cy] = ringCentroid(outer);
  if (!inPolygons(cx, cy, polygons)) return false;
  const n = outer.length / 2;
  let inside = 0;
  for (let k = 0; k < outer.length; k += 2) if (inPolygons(outer[k], outer[k + 1], polygons)) inside++;
  return inside * 2 > n;
}

/** Smallest distance (km) between two sets of polygons, computed only up to `limit` (Infinity beyond it). */
export function polygonsDistanceKm(a: readonly Polygon[], b: readonly Polygon[], limit: number): number {
  let best = Infinity;
  const boxB = expandBBox(bboxOfPolygons(b), limit);
  const boxA = expandBBox(bboxOfPolygons(a), limit);
  const side = (from: readonly Polygon[], to: readonly Polygon[], box: BBox) => {
    for (const p of from) {
      for (let i = 0; i < p.outer.length; i += 2) {
        const x = p.outer[i], y = p.outer[i + 1];
        if (!inBBox(x, y, box)) continue;
        for (const q of to) best = Math.min(best, pointPolygonDistanceKm(x, y, q));
        if (best === 0) return;
      }
    }
  };
  side(a, b, boxB);
  if (best > 0) side(b, a, boxA);
  return best;
}
