import {
  bboxOf, convexHull, expandBBox, haversineKm, inBBox, lineLengthKm, lineMidpoint, meanPoint, pointInPolygon,
  pointPolygonDistanceKm, pointSegmentKm, polygonAreaKm2, ringCentroid, ringAreaKm2, signedRingArea,
  type BBox, type Coords, type Polygon,
} from "./geo.ts";
import type { OsmData, OsmRelation, OsmWay, Tags } from "./opl.ts";
import { poiCategory } from "./poi-tags.ts";

/**
 * Builds ski areas, lifts, pistes and nearby POIs from an extract. Pure: no I/O. Rules are documented in
 * README.md ("Analysis rules"); the constants below are the documented distances.
 */

/** A lift or piste that is neither a member nor inside a polygon joins a polygon-less resort within this
 * distance (from its midpoint to the convex hull of the resort's member geometry). */
export const NEAR_KM = 1;
/** POIs within this distance of a ski area's footprint (polygon, or member hull) are kept. */
export const POI_KM = 2;
/** Share of a site relation's member lifts/pistes/nodes that must lie in a landuse polygon to merge them. */
export const MERGE_SHARE = 0.5;

export const DIFFICULTIES = ["novice", "easy", "intermediate", "advanced", "expert", "freeride", "extreme"] as const;
export type Difficulty = (typeof DIFFICULTIES)[number];

/** aerialway=* values that are not lifts a skier rides (nodes, freight, zip lines, lifecycle states). */
export const NON_LIFT_AERIALWAYS = new Set([
  "pylon", "station", "goods", "zip_line", "zipline", "canopy", "construction", "proposed", "planned",
  "disused", "abandoned", "razed", "demolished", "removed", "no",
]);

export type AssignedBy = "membership" | "polygon" | "proximity";

export interface Footprint {
  kind: "polygon" | "member_hull" | "member_points" | "none";
  polygons: Polygon[];
  /** For member_points: the distinct points (flat). */
  points: number[];
  bbox: BBox | null;
}

export interface SkiArea {
  id: string;
  osmType: "relation" | "way";
  osmId: number;
  name: string | null;
  /** How it was mapped: "landuse=winter_sports", "site=piste", or both. */
  sources: string[];
  /** Every OSM object merged into this row, sorted (the row's own id included). */
  osmIds: string[];
  footprint: Footprint;
  areaKm2: number | null;
  lon: number | null;
  lat: number | null;
}

export interface Lift {
  id: string;
  osmId: number;
  name: string | null;
  aerialway: string;
  lengthKm: number;
  capacity: number | null;
  occupancy: number | null;
  skiAreaId: string | null;
  assignedBy: AssignedBy | null;
  coords: Float64Array;
}

export interface Piste {
  id: string;
  osmId: number;
  name: string | null;
  pisteType: string;
  difficulty: string | null;
  grooming: string | null;
  isArea: boolean;
  lengthKm: number | null;
  areaKm2: number | null;
  skiAreaId: string | null;
  assignedBy: AssignedBy | null;
  coords: Float64Array;
}

export interface Poi {
  id: string;
  osmType: "node" | "way";
  osmId: number;
  category: string;
  name: string | null;
  lon: number;
  lat: number;
  skiAreaId: string;
  distanceKm: number;
  tags: Tags;
}

export interface SkiAreaStats {
  id: string;
  name: string | null;
  lat: number | null;
  lon: number | null;
  area_km2: number | null;
  lift_count: number;
  lift_length_km: number;
  piste_count: number;
  downhill_km: number;
  nordic_km: number;
  downhill_km_by_difficulty: Record<Difficulty, number>;
  poi_count: number;
  sources: string;
  osm_ids: string;
}

export interface SkiModel {
  skiAreas: SkiArea[];
  lifts: Lift[];
  pistes: Piste[];
  pois: Poi[];
  stats: SkiAreaStats[];
  warnings: string[];
}

// ---------------------------------------------------------------------------------------------- helpers

export function compareOsmIds(a: string, b: string): number {
  const [ta, ia] = a.split("/");
  const [tb, ib] = b.split("/");
  if (ta !== tb) return ta < tb ? -1 : 1;
  return Number(ia) - Number(ib);
}

export const round = (x: number, digits: number) => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};

function name(tags: Tags): string | null {
  return tags.name ?? tags["piste:name"] ?? null;
}

function leadingInt(v: string | undefined): number | null {
  const m = v === undefined ? null : /^\s*(\d+)/.exec(v);
  return m ? Number(m[1]) : null;
}

function isClosed(way: OsmWay): boolean {
  return way.refs.length >= 4 && way.refs[0] === way.refs[way.refs.length - 1] && way.coords.length === way.refs.length * 2;
}

/** Outer rings counter-clockwise, inner rings clockwise (GeoParquet's recommended orientation). */
function oriented(ring: Coords, ccw: boolean): Float64Array {
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

/** Joins member ways end to end into closed rings (by shared end node ids). */
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

function polygonsFromRelation(rel: OsmRelation, data: OsmData, warnings: string[]): Polygon[] {
  const outerWays: OsmWay[] = [], innerWays: OsmWay[] = [];
  for (const m of rel.members) {
    if (m.type !== "w") continue;
    const way = data.ways.get(m.ref);
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

/** Ways, nodes and relations reachable from a relation through its members, recursively (cycle-safe). */
export function resolveMembers(
  relId: number,
  data: OsmData,
): { ways: Set<number>; nodes: Set<number>; relations: Set<number> } {
  const ways = new Set<number>(), nodes = new Set<number>(), relations = new Set<number>();
  const stack = [relId];
  const seen = new Set<number>([relId]);
  while (stack.length > 0) {
    const rel = data.relations.get(stack.pop()!);
    if (!rel) continue;
    for (const m of rel.members) {
      if (m.type === "n") nodes.add(m.ref);
      else if (m.type === "w") ways.add(m.ref);
      else if (!seen.has(m.ref)) {
        seen.add(m.ref);
        relations.add(m.ref);
        stack.push(m.ref);
      }
    }
  }
  return { ways, nodes, relations };
}

function footprintDistanceKm(lon: number, lat: number, f: Footprint): number {
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

function inPolygons(lon: number, lat: number, polygons: Polygon[]): boolean {
  return polygons.some((p) => pointInPolygon(lon, lat, p));
}

// ---------------------------------------------------------------------------------------------- model

interface Candidate {
  osmType: "relation" | "way";
  osmId: number;
  tags: Tags;
  polygons: Polygon[];
  isSite: boolean;
  members?: ReturnType<typeof resolveMembers>;
  merged: Candidate[];
}

export function buildSkiModel(data: OsmData): SkiModel {
  const warnings: string[] = [];

  // Lifts and pistes first: site merging looks at where a site's members lie.
  const lifts: Lift[] = [];
  const pistes: Piste[] = [];
  let skipped = 0;
  for (const way of data.ways.values()) {
    const aerialway = way.tags.aerialway;
    if (aerialway !== undefined && !NON_LIFT_AERIALWAYS.has(aerialway)) {
      if (way.coords.length < 4) skipped++;
      else
        lifts.push({
          id: `way/${way.id}`, osmId: way.id, name: name(way.tags), aerialway,
          lengthKm: lineLengthKm(way.coords),
          capacity: leadingInt(way.tags["aerialway:capacity"]),
          occupancy: leadingInt(way.tags["aerialway:occupancy"]),
          skiAreaId: null, assignedBy: null, coords: way.coords,
        });
    }
    const pisteType = way.tags["piste:type"];
    if (pisteType !== undefined) {
      if (way.coords.length < 4) {
        skipped++;
        continue;
      }
      const isArea = way.tags.area === "yes" && isClosed(way);
      pistes.push({
        id: `way/${way.id}`, osmId: way.id, name: name(way.tags), pisteType,
        difficulty: way.tags["piste:difficulty"] ?? null,
        grooming: way.tags["piste:grooming"] ?? null,
        isArea,
        lengthKm: isArea ? null : lineLengthKm(way.coords),
        areaKm2: isArea ? ringAreaKm2(way.coords) : null,
        skiAreaId: null, assignedBy: null,
        coords: isArea ? oriented(way.coords, true) : way.coords,
      });
    }
  }
  if (skipped) warnings.push(`${skipped} lift/piste way(s) without at least two located nodes; skipped`);
  const byId = (a: { osmId: number }, b: { osmId: number }) => a.osmId - b.osmId;
  lifts.sort(byId);
  pistes.sort(byId);
  const reprPoint = new Map<number, [number, number]>(); // way id → representative point
  for (const f of [...lifts, ...pistes]) {
    const isArea = "isArea" in f && f.isArea;
    reprPoint.set(f.osmId, isArea ? ringCentroid(f.coords) : lineMidpoint(f.coords));
  }

  // Candidates: site=piste relations, and landuse=winter_sports polygons (closed ways, multipolygon relations).
  const sites: Candidate[] = [];
  const polys: Candidate[] = [];
  for (const rel of [...data.relations.values()].sort(byIdOf)) {
    if (rel.tags.site === "piste") {
      sites.push({ osmType: "relation", osmId: rel.id, tags: rel.tags, polygons: [], isSite: true, members: resolveMembers(rel.id, data), merged: [] });
    } else if (rel.tags.landuse === "winter_sports") {
      const polygons = polygonsFromRelation(rel, data, warnings);
      if (polygons.length === 0) warnings.push(`relation/${rel.id} (landuse=winter_sports) has no closed ring; skipped`);
      else polys.push({ osmType: "relation", osmId: rel.id, tags: rel.tags, polygons, isSite: false, merged: [] });
    }
  }
  for (const way of [...data.ways.values()].sort(byIdOf)) {
    if (way.tags.landuse !== "winter_sports") continue;
    if (!isClosed(way)) {
      warnings.push(`way/${way.id} (landuse=winter_sports) is not a closed way; skipped`);
      continue;
    }
    polys.push({ osmType: "way", osmId: way.id, tags: way.tags, polygons: [{ outer: oriented(way.coords, true), inners: [] }], isSite: false, merged: [] });
  }

  // Merge: a polygon joins the site relation that lists it as a member (lowest site id wins), else the site
  // with the largest share (≥ MERGE_SHARE) of its member lifts/pistes/nodes inside the polygon (ties: lowest id).
  const standalone: Candidate[] = [];
  for (const poly of polys) {
    let target = sites.find((s) =>
      poly.osmType === "way" ? s.members!.ways.has(poly.osmId) : s.members!.relations.has(poly.osmId),
    );
    if (!target) {
      let bestShare = 0;
      for (const s of sites) {
        const pts: [number, number][] = [];
        for (const w of s.members!.ways) {
          const p = reprPoint.get(w);
          if (p) pts.push(p);
        }
        for (const n of s.members!.nodes) {
          const p = data.nodeLocation(n);
          if (p) pts.push(p);
        }
        if (pts.length === 0) continue;
        const share = pts.filter(([lon, lat]) => inPolygons(lon, lat, poly.polygons)).length / pts.length;
        if (share >= MERGE_SHARE && share > bestShare) {
          bestShare = share;
          target = s;
        }
      }
    }
    if (target) target.merged.push(poly);
    else standalone.push(poly);
  }

  // One SkiArea per site relation (with its merged polygons) and per unmerged polygon.
  const skiAreas: SkiArea[] = [];
  const siteMembersByArea = new Map<string, ReturnType<typeof resolveMembers>>();
  for (const c of [...sites, ...standalone]) {
    const id = `${c.osmType}/${c.osmId}`;
    const polygons = [...c.polygons, ...c.merged.flatMap((m) => m.polygons)];
    const osmIds = [id, ...c.merged.map((m) => `${m.osmType}/${m.osmId}`)].sort(compareOsmIds);
    const sources = new Set<string>();
    if (c.isSite) sources.add("site=piste");
    if (!c.isSite || c.merged.length > 0 || c.tags.landuse === "winter_sports") sources.add("landuse=winter_sports");
    let footprint: Footprint;
    let center: [number, number] | null = null;
    if (polygons.length > 0) {
      const bbox = polygons.reduce<BBox | undefined>((b, p) => bboxOf(p.outer, b), undefined)!;
      footprint = { kind: "polygon", polygons, points: [], bbox };
      // Area-weighted centroid of the outer rings.
      let sx = 0, sy = 0, sw = 0;
      for (const p of polygons) {
        const w = ringAreaKm2(p.outer) || 1e-12;
        const [x, y] = ringCentroid(p.outer);
        sx += x * w;
        sy += y * w;
        sw += w;
      }
      center = [sx / sw, sy / sw];
    } else {
      const pts: number[] = [];
      for (const w of c.members?.ways ?? []) {
        const way = data.ways.get(w);
        if (way) for (let i = 0; i < way.coords.length; i++) pts.push(way.coords[i]);
      }
      for (const n of c.members?.nodes ?? []) {
        const p = data.nodeLocation(n);
        if (p) pts.push(p[0], p[1]);
      }
      if (pts.length === 0) {
        footprint = { kind: "none", polygons: [], points: [], bbox: null };
        warnings.push(`${id}: none of its members are in the extract; it gets no geometry`);
      } else {
        const hull = convexHull(pts);
        if (hull.degenerate) {
          footprint = { kind: "member_points", polygons: [], points: hull.ring, bbox: bboxOf(hull.ring) };
          center = meanPoint(hull.ring);
        } else {
          footprint = { kind: "member_hull", polygons: [{ outer: hull.ring, inners: [] }], points: [], bbox: bboxOf(hull.ring) };
          center = ringCentroid(hull.ring);
        }
      }
    }
    const mergedName = name(c.tags) ?? c.merged.map((m) => name(m.tags)).find((n) => n !== null) ?? null;
    skiAreas.push({
      id, osmType: c.osmType, osmId: c.osmId, name: mergedName,
      sources: [...sources].sort(), osmIds, footprint,
      areaKm2: polygons.length > 0 ? polygons.reduce((s, p) => s + polygonAreaKm2(p), 0) : null,
      lon: center ? center[0] : null, lat: center ? center[1] : null,
    });
    if (c.members) siteMembersByArea.set(id, c.members);
  }
  skiAreas.sort((a, b) => compareOsmIds(a.id, b.id));

  // Assignment of lifts and pistes: membership, then polygon (majority of vertices; the midpoint breaks a tie;
  // smallest polygon wins), then proximity to a polygon-less resort (nearest wins). Ties: lowest area id.
  const memberOf = new Map<number, string>();
  for (const area of skiAreas) {
    for (const w of siteMembersByArea.get(area.id)?.ways ?? []) if (!memberOf.has(w)) memberOf.set(w, area.id);
  }
  const polygonAreas = skiAreas.filter((a) => a.footprint.kind === "polygon");
  const otherAreas = skiAreas.filter((a) => a.footprint.kind === "member_hull" || a.footprint.kind === "member_points");
  const nearBoxes = new Map(otherAreas.map((a) => [a.id, expandBBox(a.footprint.bbox!, NEAR_KM)]));
  // Grid indexes over the areas' boxes: candidates come back in the lists' order, so ties resolve as before.
  const polygonIndex = new BoxIndex(polygonAreas.map((a) => a.footprint.bbox!));
  const nearIndex = new BoxIndex(otherAreas.map((a) => nearBoxes.get(a.id)!));
  for (const f of [...lifts, ...pistes]) {
    const member = memberOf.get(f.osmId);
    if (member) {
      f.skiAreaId = member;
      f.assignedBy = "membership";
      continue;
    }
    const c = f.coords;
    const n = c.length / 2 - (("isArea" in f && f.isArea) ? 1 : 0); // a ring's closing vertex counts once
    const [mx, my] = reprPoint.get(f.osmId)!;
    let best: SkiArea | undefined;
    for (const k of polygonIndex.queryCoords(c, n)) {
      const area = polygonAreas[k];
      const b = area.footprint.bbox!;
      let inside = 0;
      for (let i = 0; i < n * 2; i += 2) if (inBBox(c[i], c[i + 1], b) && inPolygons(c[i], c[i + 1], area.footprint.polygons)) inside++;
      const ok = inside * 2 > n || (inside * 2 === n && inside > 0 && inPolygons(mx, my, area.footprint.polygons));
      if (ok && (!best || area.areaKm2! < best.areaKm2!)) best = area;
    }
    if (best) {
      f.skiAreaId = best.id;
      f.assignedBy = "polygon";
      continue;
    }
    let bestDist = Infinity;
    for (const k of nearIndex.queryPoint(mx, my)) {
      const area = otherAreas[k];
      if (!inBBox(mx, my, nearBoxes.get(area.id)!)) continue;
      const d = footprintDistanceKm(mx, my, area.footprint);
      if (d <= NEAR_KM && d < bestDist) {
        bestDist = d;
        best = area;
      }
    }
    if (best) {
      f.skiAreaId = best.id;
      f.assignedBy = "proximity";
    }
  }

  // POIs: tagged nodes, and ways (by centroid), within POI_KM of a footprint; the nearest area is recorded.
  const poiBoxes = new Map(skiAreas.filter((a) => a.footprint.bbox).map((a) => [a.id, expandBBox(a.footprint.bbox!, POI_KM)]));
  const poiAreas = skiAreas.filter((a) => poiBoxes.has(a.id));
  const poiIndex = new BoxIndex(poiAreas.map((a) => poiBoxes.get(a.id)!));
  const poiCount = new Map<string, number>();
  const pois: Poi[] = [];
  const considerPoi = (osmType: "node" | "way", osmId: number, tags: Tags, lon: number, lat: number) => {
    const category = poiCategory(tags);
    if (!category) return;
    let best: SkiArea | undefined;
    let bestDist = Infinity;
    for (const k of poiIndex.queryPoint(lon, lat)) {
      const area = poiAreas[k];
      const box = poiBoxes.get(area.id);
      if (!box || !inBBox(lon, lat, box)) continue;
      const d = footprintDistanceKm(lon, lat, area.footprint);
      if (d > POI_KM) continue;
      poiCount.set(area.id, (poiCount.get(area.id) ?? 0) + 1);
      if (d < bestDist) {
        bestDist = d;
        best = area;
      }
    }
    if (best) {
      pois.push({
        id: `${osmType}/${osmId}`, osmType, osmId, category, name: name(tags), lon, lat,
        skiAreaId: best.id, distanceKm: bestDist, tags,
      });
    }
  };
  for (const node of data.taggedNodes) considerPoi("node", node.id, node.tags, node.lon, node.lat);
  for (const way of data.ways.values()) {
    if (way.coords.length < 2 || !poiCategory(way.tags)) continue;
    const [lon, lat] = isClosed(way) ? ringCentroid(way.coords) : meanPoint(way.coords);
    considerPoi("way", way.id, way.tags, lon, lat);
  }
  pois.sort((a, b) => compareOsmIds(a.id, b.id));

  const liftsOf = groupBy(lifts, (l) => l.skiAreaId), pistesOf = groupBy(pistes, (p) => p.skiAreaId);
  const stats = skiAreas.map((area) => areaStats(area, liftsOf.get(area.id) ?? [], pistesOf.get(area.id) ?? [], poiCount.get(area.id) ?? 0));
  return { skiAreas, lifts, pistes, pois, stats, warnings };
}

function byIdOf(a: { id: number }, b: { id: number }) {
  return a.id - b.id;
}

/** Items grouped by key, each group in the items' order. */
function groupBy<T>(items: T[], key: (t: T) => string | null): Map<string | null, T[]> {
  const m = new Map<string | null, T[]>();
  for (const t of items) {
    const k = key(t);
    const list = m.get(k);
    if (list) list.push(t);
    else m.set(k, [t]);
  }
  return m;
}

/**
 * A uniform grid (GRID_DEG cells) over a list of boxes: `query*` returns the indexes of the boxes whose cells the
 * point or coordinates touch, ascending (a superset of the boxes that contain them: callers still test).
 */
const GRID_DEG = 0.25;
class BoxIndex {
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

function areaStats(area: SkiArea, myLifts: Lift[], myPistes: Piste[], poiCount: number): SkiAreaStats {
  const byDifficulty = Object.fromEntries(DIFFICULTIES.map((d) => [d, 0])) as Record<Difficulty, number>;
  let downhill = 0, nordic = 0;
  for (const p of myPistes) {
    if (p.lengthKm === null) continue;
    if (p.pisteType === "downhill") {
      downhill += p.lengthKm;
      const d = p.difficulty as Difficulty;
      if (d in byDifficulty) byDifficulty[d] += p.lengthKm;
    } else if (p.pisteType === "nordic") nordic += p.lengthKm;
  }
  for (const d of DIFFICULTIES) byDifficulty[d] = round(byDifficulty[d], 3);
  return {
    id: area.id,
    name: area.name,
    lat: area.lat === null ? null : round(area.lat, 7),
    lon: area.lon === null ? null : round(area.lon, 7),
    area_km2: area.areaKm2 === null ? null : round(area.areaKm2, 4),
    lift_count: myLifts.length,
    lift_length_km: round(myLifts.reduce((s, l) => s + l.lengthKm, 0), 3),
    piste_count: myPistes.length,
    downhill_km: round(downhill, 3),
    nordic_km: round(nordic, 3),
    downhill_km_by_difficulty: byDifficulty,
    poi_count: poiCount,
    sources: area.sources.join(","),
    osm_ids: area.osmIds.join(","),
  };
}
