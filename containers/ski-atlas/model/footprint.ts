import {
  bboxOf, convexHull, haversineKm, meanPoint, pointPolygonDistanceKm, pointSegmentKm, ringAreaKm2, ringCentroid, type Polygon,
} from "../geo.ts";
import type { OsmData } from "../osm-data.ts";
import { bboxOfPolygons } from "./polygon-sets.ts";
import type { SiteMembers } from "./site-relations.ts";
import type { Footprint } from "./types.ts";

/**
 * A ski area's footprint, what "inside" and "near" are measured against: its polygons; else the convex hull of its
 * member geometry (a resort mapped only as a site relation has no drawn boundary, and its lifts and pistes span it);
 * else its member points (all on a line: no hull). The centre is the area-weighted centroid of the polygons or of
 * the hull (the mean of the points).
 */
export interface Located {
  footprint: Footprint;
  center: [number, number] | null;
}

export function polygonFootprint(polygons: Polygon[]): Located {
  const footprint: Footprint = { kind: "polygon", polygons, points: [], bbox: bboxOfPolygons(polygons) };
  // Area-weighted centroid of the outer rings.
  let sx = 0, sy = 0, sw = 0;
  for (const p of polygons) {
    const w = ringAreaKm2(p.outer) || 1e-12;
    const [x, y] = ringCentroid(p.outer);
    sx += x * w;
    sy += y * w;
    sw += w;
  }
  return { footprint, center: [sx / sw, sy / sw] };
}

/** The footprint of a site's members: their way vertices and node locations (flat), or none when none is located. */
export function memberFootprint(members: SiteMembers | undefined, data: Pick<OsmData, "ways" | "nodeLocation">): Located {
  const pts: number[] = [];
  for (const w of members?.ways ?? []) {
    const way = data.ways.get(w);
    if (way) for (let i = 0; i < way.coords.length; i++) pts.push(way.coords[i]);
  }
  for (const n of members?.nodes ?? []) {
    const p = data.nodeLocation(n);
    if (p) pts.push(p[0], p[1]);
  }
  if (pts.length === 0) return { footprint: noFootprint(), center: null };
  const hull = convexHull(pts);
  if (hull.degenerate) {
    return { footprint: { kind: "member_points", polygons: [], points: hull.ring, bbox: bboxOf(hull.ring) }, center: meanPoint(hull.ring) };
  }
  return {
    footprint: { kind: "member_hull", polygons: [{ outer: hull.ring, inners: [] }], points: [], bbox: bboxOf(hull.ring) },
    center: ringCentroid(hull.ring),
  };
}

export function noFootprint(): Footprint {
  return { kind: "none", polygons: [], points: [], bbox: null };
}

/** Distance (km) from a point to a footprint: 0 inside a polygon or hull, Infinity for none. */
export function footprintDistanceKm(lon: number, lat: number, f: Footprint): number {
  if (f.kind === "polygon" || f.kind === "member_hull") {
    let best = Infinity;
    for (const p of f.polygons) best = Math.min(best, pointPolygonDistanceKm(lon, lat, p));
    return best;
  }
  if (f.kind === "member_points") {
    const p = f.points;
    if (p.length === 2) return haversineKm(lon, lat, p[0], p[1]);
    let best = Infinity;
    for (let i = 2; i + 1 < p.length; i += 2) best = Math.min(best, pointSegmentKm(lon, lat, p[i - 2], p[i - 1], p[i], p[i + 1]));
    return best;
  }
  return Infinity;
}
