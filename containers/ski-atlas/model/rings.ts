import { pointInPolygon, signedRingArea, type Coords, type Polygon } from "../geo.ts";
import type { OsmRelation, OsmWay, PoiWay } from "../osm-data.ts";

/** Closed ways and multipolygon relations as polygons. */

/** A way is a ring when its last node is its first and every node has a location (at least a triangle). */
export function isClosed(way: Pick<PoiWay, "refs" | "coords">): boolean {
  return way.refs.length >= 4 && way.refs[0] === way.refs[way.refs.length - 1] && way.coords.length === way.refs.length * 2;
}

/** Outer rings counter-clockwise, inner rings clockwise (GeoParquet's recommended orientation). */
export function oriented(ring: Coords, ccw: boolean): Float64Array {
  const r = Float64Array.from(ring as ArrayLike<number>);
  if (signedRingArea(r) > 0 !== ccw) {
    const out = new Float64Array(r.length);
    for (let i = 0; i < r.length; i += 2) {
      out[r.length - 2 - i] = r[i];
      out[r.length - 1 - i] = r[i + 1];
    }
    return out;
  }
  return r;
}

/**
 * Joins member ways end to end into closed rings (by shared end node ids, either direction: mappers split a ring
 * wherever they like and draw each piece any way round). `open` counts the chains that do not close, and the ways
 * missing a node location.
 */
export function assembleRings(ways: OsmWay[]): { rings: Float64Array[]; open: number } {
  const remaining = ways.filter((w) => w.refs.length >= 2 && w.coords.length === w.refs.length * 2);
  const incomplete = ways.length - remaining.length;
  const rings: Float64Array[] = [];
  let open = 0;
  while (remaining.length > 0) {
    const first = remaining.shift()!;
    const coords: number[] = Array.from(first.coords);
    const start = first.refs[0];
    let end = first.refs[first.refs.length - 1];
    while (start !== end) {
      const i = remaining.findIndex((w) => w.refs[0] === end || w.refs[w.refs.length - 1] === end);
      if (i < 0) break;
      const w = remaining.splice(i, 1)[0];
      const c = Array.from(w.coords);
      if (w.refs[0] === end) {
        coords.push(...c.slice(2));
        end = w.refs[w.refs.length - 1];
      } else {
        for (let k = c.length - 4; k >= 0; k -= 2) coords.push(c[k], c[k + 1]);
        end = w.refs[0];
      }
    }
    if (start === end && coords.length >= 8) rings.push(Float64Array.from(coords));
    else open++;
  }
  return { rings, open: open + incomplete };
}

/**
 * The polygons of a multipolygon relation: its outer member ways joined into rings, role `inner` ways into holes
 * of the outer ring holding them. Chains that do not close and holes in no outer ring are dropped with a warning
 * (the rest of the resort still counts).
 */
export function multipolygonOf(rel: OsmRelation, ways: ReadonlyMap<number, OsmWay>, warnings: string[]): Polygon[] {
  const outerWays: OsmWay[] = [], innerWays: OsmWay[] = [];
  for (const m of rel.members) {
    if (m.type !== "w") continue;
    const way = ways.get(m.ref);
    if (!way) continue;
    (m.role === "inner" ? innerWays : outerWays).push(way);
  }
  const outer = assembleRings(outerWays);
  const inner = assembleRings(innerWays);
  if (outer.open + inner.open > 0) {
    warnings.push(`relation/${rel.id}: ${outer.open + inner.open} member way chain(s) do not close into rings; ignored`);
  }
  const polygons: Polygon[] = outer.rings.map((r) => ({ outer: oriented(r, true), inners: [] }));
  for (const r of inner.rings) {
    const host = polygons.find((p) => pointInPolygon(r[0], r[1], { outer: p.outer, inners: [] }));
    if (host) host.inners.push(oriented(r, false));
    else warnings.push(`relation/${rel.id}: an inner ring lies in no outer ring; ignored`);
  }
  return polygons;
}
