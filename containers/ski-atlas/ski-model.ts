import {
  bboxOf, convexHull, expandBBox, haversineKm, inBBox, lineLengthKm, lineMidpoint, meanPoint, pointInPolygon,
  pointInRing, pointPolygonDistanceKm, pointRingDistanceKm, pointSegmentKm, polygonAreaKm2, ringCentroid, ringAreaKm2, signedRingArea,
  type BBox, type Coords, type Polygon,
} from "./geo.ts";
import { countryCode } from "./country.ts";
import type { OsmData, OsmRelation, OsmWay, PoiWay, Tags } from "./osm-data.ts";
import { poiCategory } from "./poi-tags.ts";
import {
  DIFFICULTIES, elevationM, harder, landuseIsSkiing, leadingInt, LIFECYCLE_STATES, LIFT_TYPES, liftKind,
  normalizeDifficulty, PISTE_KM_TYPES, splitValues, statusAndValue, type Difficulty, type LiftType, type Status,
} from "./ski-rules.ts";

export { DIFFICULTIES, LIFT_TYPES, PISTE_KM_TYPES, type Difficulty };

/**
 * Builds ski areas, lifts, pistes and nearby POIs from an extract. Pure: no I/O. Rules are documented in
 * README.md ("Analysis rules"); tag rules are in ski-rules.ts; the constants below are the documented distances.
 */

/** A lift or piste that is neither a member nor inside a polygon joins a polygon-less resort within this
 * distance (from its midpoint to the convex hull of the resort's member geometry). */
export const NEAR_KM = 1;
/** …or a polygon-mapped resort when one of its ends lies within this distance of the polygon (a bottom station
 * just outside the drawn boundary). Shorter than NEAR_KM: a polygon is drawn around the resort, a member hull only
 * spans its members. */
export const POLYGON_NEAR_KM = 0.3;
/** POIs within this distance of a ski area's footprint (polygon, or member hull) are kept. */
export const POI_KM = 2;
/** Share of a site relation's member lifts/pistes/nodes that must lie in a landuse polygon to merge them. */
export const MERGE_SHARE = 0.5;
/** Two landuse polygons with the same name this close (km) are one resort drawn in parts. */
export const SAME_NAME_KM = 1;
/** An unnamed landuse polygon this close (km) to another resort's polygon is part of it (touching parts). */
export const TOUCH_KM = 0.01;

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
  status: Status;
  /** ISO 3166-1 alpha-2 of the country holding the resort's centre (country-coder's boundaries), or null. */
  country: string | null;
  /** The agglomeration (a site=piste relation listing this one) and its name. */
  groupId: string | null;
  groupName: string | null;
}

export interface Lift {
  id: string;
  osmId: number;
  name: string | null;
  aerialway: string;
  liftType: LiftType;
  status: Status;
  lengthKm: number;
  capacity: number | null;
  occupancy: number | null;
  /** `ele` (m) of the way's nodes tagged aerialway=station. */
  stationEles: number[];
  skiAreaId: string | null;
  assignedBy: AssignedBy | null;
  coords: Float64Array;
}

export interface Piste {
  id: string;
  osmId: number;
  name: string | null;
  /** Normalized `piste:type` values joined with `;` (`downhill;nordic`). */
  pisteType: string;
  types: string[];
  difficulty: Difficulty | null;
  grooming: string | null;
  status: Status;
  /** The route=piste relation it inherited tags from (lowest id), or null. */
  routeId: number | null;
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
  downhill_km_by_difficulty: Record<Difficulty | "unknown", number>;
  skitour_km: number;
  sled_km: number;
  snow_park_km: number;
  lift_count_by_type: Record<LiftType, number>;
  lift_km_by_type: Record<LiftType, number>;
  lift_capacity_pph: number | null;
  lift_station_ele_max_m: number | null;
  lift_station_ele_min_m: number | null;
  poi_count: number;
  status: Status;
  country: string | null;
  group_id: string | null;
  group_name: string | null;
  sources: string;
  osm_ids: string;
}

export interface SkiModel {
  skiAreas: SkiArea[];
  lifts: Lift[];
  pistes: Piste[];
  pois: Poi[];
  stats: SkiAreaStats[];
  /** Region totals (shared segments once), for the summary. */
  totals: { liftKm: number; downhillKm: number; nordicKm: number };
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
function isClosed(way: Pick<PoiWay, "refs" | "coords">): boolean {
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

/**
 * Ways, nodes and relations reachable from a relation through its members, recursively (cycle-safe). Another
 * site=piste relation among them is a resort of its own: it is listed in `childSites` and not descended into
 * (an agglomeration's children keep their members).
 */
export function resolveMembers(
  relId: number,
  data: OsmData,
): { ways: Set<number>; nodes: Set<number>; relations: Set<number>; childSites: Set<number> } {
  const ways = new Set<number>(), nodes = new Set<number>(), relations = new Set<number>(), childSites = new Set<number>();
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
        if (data.relations.get(m.ref)?.tags.site === "piste") {
          childSites.add(m.ref);
          continue;
        }
        relations.add(m.ref);
        stack.push(m.ref);
      }
    }
  }
  return { ways, nodes, relations, childSites };
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
  /** Sum of the polygons' areas (km²), for choosing the row that absorbs another. */
  areaKm2: number;
}

/** Keys a way inherits from its route=piste relation when it lacks them (the way's own tags win). */
const INHERITED_KEYS = [
  "piste:type", "piste:difficulty", "piste:grooming", "name", "piste:name",
  ...LIFECYCLE_STATES.flatMap((s) => [s, `piste:${s}`, `${s}:piste:type`]),
];

const isSite = (rel: OsmRelation) => rel.tags.site === "piste";

/**
 * Ski areas, lifts and pistes, and the assignment of lifts and pistes to areas, from the ski features of an extract
 * (`data` needs no POI: POIs go through a PoiCollector afterwards).
 */
export function buildSkiAreas(data: OsmData): SkiAreasModel {
  const warnings: string[] = [];
  const relationsById = [...data.relations.values()].sort(byIdOf);

  // Site relations: agglomerations (a site listing other sites) are no resort rows; their children record them.
  const siteMembers = new Map<number, ReturnType<typeof resolveMembers>>();
  for (const rel of relationsById) if (isSite(rel)) siteMembers.set(rel.id, resolveMembers(rel.id, data));
  const groupOf = new Map<number, OsmRelation>(); // child site id → its group (the lowest-id site listing it)
  for (const rel of relationsById) {
    for (const child of siteMembers.get(rel.id)?.childSites ?? []) if (!groupOf.has(child) && siteMembers.has(child)) groupOf.set(child, rel);
  }
  const isGroup = (id: number) => (siteMembers.get(id)?.childSites.size ?? 0) > 0;
  const siteWays = new Set<number>();
  for (const [id, m] of siteMembers) if (!isGroup(id)) for (const w of m.ways) siteWays.add(w);

  // route=piste relations: member ways inherit the relation's piste tags (lowest relation id first).
  const inherited = new Map<number, { routeId: number; tags: Tags }>();
  for (const rel of relationsById) {
    if (rel.tags.route !== "piste" || rel.tags.type === "multipolygon") continue;
    for (const m of rel.members) {
      if (m.type !== "w") continue;
      const entry = inherited.get(m.ref) ?? { routeId: rel.id, tags: {} };
      for (const k of INHERITED_KEYS) if (rel.tags[k] !== undefined && entry.tags[k] === undefined) entry.tags[k] = rel.tags[k];
      inherited.set(m.ref, entry);
    }
  }

  const nodeTags = new Map<number, Tags>();
  for (const n of data.taggedNodes) nodeTags.set(n.id, n.tags);

  // Lifts and pistes first: site merging looks at where a site's members lie.
  const lifts: Lift[] = [];
  const pistes: Piste[] = [];
  let skipped = 0;
  for (const way of data.ways.values()) {
    const kind = liftKind(way.tags, siteWays.has(way.id));
    if (kind) {
      if (way.coords.length < 4) skipped++;
      else {
        const stationEles: number[] = [];
        for (const ref of way.refs) {
          const t = nodeTags.get(ref);
          const ele = t?.aerialway === "station" ? elevationM(t.ele) : null;
          if (ele !== null) stationEles.push(ele);
        }
        lifts.push({
          id: `way/${way.id}`, osmId: way.id, name: name(way.tags), aerialway: kind.value, liftType: kind.liftType,
          status: kind.status, lengthKm: lineLengthKm(way.coords),
          capacity: leadingInt(way.tags["aerialway:capacity"]),
          occupancy: leadingInt(way.tags["aerialway:occupancy"]),
          stationEles, skiAreaId: null, assignedBy: null, coords: way.coords,
        });
      }
    }
    const route = inherited.get(way.id);
    const tags = route ? { ...route.tags, ...way.tags } : way.tags;
    const { status, value } = statusAndValue("piste:type", tags);
    const types = splitValues(value);
    if (types.length === 0) continue;
    if (way.coords.length < 4) {
      skipped++;
      continue;
    }
    // OpenSkiMap's convention (osmtogeojson polygonFeatures in OSMToGeoJSONConverter.ts): a closed downhill way
    // is an area unless area=no; any closed way with area=yes is an area.
    const closed = isClosed(way);
    const isArea = closed && (tags.area === "yes" || (types.includes("downhill") && tags.area !== "no"));
    pistes.push({
      id: `way/${way.id}`, osmId: way.id, name: name(tags), pisteType: types.join(";"), types,
      difficulty: normalizeDifficulty(tags["piste:difficulty"]),
      grooming: splitValues(tags["piste:grooming"]).join(";") || null,
      status, routeId: route?.routeId ?? null,
      isArea,
      lengthKm: isArea ? null : lineLengthKm(way.coords),
      areaKm2: isArea ? ringAreaKm2(way.coords) : null,
      skiAreaId: null, assignedBy: null,
      coords: isArea ? oriented(way.coords, true) : way.coords,
    });
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

  // Candidates: site=piste relations (not groups), and landuse=winter_sports polygons for skiing.
  const sites: Candidate[] = [];
  const polys: Candidate[] = [];
  let otherSport = 0;
  const polyArea = (ps: Polygon[]) => ps.reduce((s, p) => s + polygonAreaKm2(p), 0);
  for (const rel of relationsById) {
    if (isSite(rel)) {
      if (!isGroup(rel.id)) sites.push({ osmType: "relation", osmId: rel.id, tags: rel.tags, polygons: [], isSite: true, members: siteMembers.get(rel.id), merged: [], areaKm2: 0 });
    } else if (rel.tags.landuse === "winter_sports") {
      if (!landuseIsSkiing(rel.tags)) {
        otherSport++;
        continue;
      }
      const polygons = polygonsFromRelation(rel, data, warnings);
      if (polygons.length === 0) warnings.push(`relation/${rel.id} (landuse=winter_sports) has no closed ring; skipped`);
      else polys.push({ osmType: "relation", osmId: rel.id, tags: rel.tags, polygons, isSite: false, merged: [], areaKm2: polyArea(polygons) });
    }
  }
  for (const way of [...data.ways.values()].sort(byIdOf)) {
    if (way.tags.landuse !== "winter_sports") continue;
    if (!landuseIsSkiing(way.tags)) {
      otherSport++;
      continue;
    }
    if (!isClosed(way)) {
      warnings.push(`way/${way.id} (landuse=winter_sports) is not a closed way; skipped`);
      continue;
    }
    const polygons = [{ outer: oriented(way.coords, true), inners: [] }];
    polys.push({ osmType: "way", osmId: way.id, tags: way.tags, polygons, isSite: false, merged: [], areaKm2: polyArea(polygons) });
  }
  if (otherSport) warnings.push(`${otherSport} landuse=winter_sports polygon(s) for another sport (sport=*); not resorts`);

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
    if (target) {
      target.merged.push(poly);
      target.areaKm2 += poly.areaKm2;
    } else standalone.push(poly);
  }

  // Nested and multi-part polygons: a standalone polygon inside another resort's polygon, an unnamed one touching
  // it, or one with the same name within SAME_NAME_KM, is part of that resort (one row).
  const units = [...sites.filter((s) => s.merged.length > 0), ...standalone];
  const unitPolygons = units.map((u) => [...u.polygons, ...u.merged.flatMap((m) => m.polygons)]);
  const unitBoxes = unitPolygons.map((ps) => ps.reduce<BBox | undefined>((b, p) => bboxOf(p.outer, b), undefined)!);
  const parent = units.map((_, i) => i);
  const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i])));
  // The row that absorbs another: a site first, then the larger area, then the lower id.
  const better = (a: number, b: number) => {
    const ua = units[a], ub = units[b];
    if (ua.isSite !== ub.isSite) return ua.isSite ? a : b;
    if (ua.areaKm2 !== ub.areaKm2) return ua.areaKm2 > ub.areaKm2 ? a : b;
    return compareOsmIds(`${ua.osmType}/${ua.osmId}`, `${ub.osmType}/${ub.osmId}`) <= 0 ? a : b;
  };
  const union = (a: number, b: number) => {
    const ra = find(a), rb = find(b);
    if (ra === rb || (units[ra].isSite && units[rb].isSite)) return; // two site relations stay two resorts
    const keep = better(ra, rb);
    parent[keep === ra ? rb : ra] = keep;
  };
  const unitIndex = new BoxIndex(unitBoxes.map((b) => expandBBox(b, SAME_NAME_KM)));
  const normName = (c: Candidate) => name(c.tags)?.trim().toLowerCase() || null;
  for (let i = units.length - standalone.length; i < units.length; i++) {
    const u = units[i];
    const candidates = new Set(u.polygons.flatMap((p) => unitIndex.queryCoords(p.outer, p.outer.length / 2)));
    for (const j of [...candidates].sort((x, y) => x - y)) {
      if (j === i) continue;
      const other = unitPolygons[j];
      let joined = u.areaKm2 <= units[j].areaKm2 && u.polygons.every((p) => liesInside(p.outer, other));
      if (!joined) {
        const a = normName(u), b = normName(units[j]);
        const limit = a !== null && a === b ? SAME_NAME_KM : a === null ? TOUCH_KM : -1;
        if (limit >= 0 && polygonsDistanceKm(u.polygons, other, limit) <= limit) joined = true;
      }
      if (joined) union(i, j);
    }
  }
  const roots = groupBy(units.map((_, i) => i), (i) => String(find(i)));
  const rows: Candidate[] = [...sites.filter((s) => s.merged.length === 0)];
  for (const [key, members] of roots) {
    const r = Number(key);
    const root = units[r];
    for (const i of members) {
      if (i === r) continue;
      root.merged.push({ ...units[i], merged: [] }, ...units[i].merged);
    }
    rows.push(root);
  }

  // One SkiArea per row.
  const skiAreas: SkiArea[] = [];
  const siteMembersByArea = new Map<string, ReturnType<typeof resolveMembers>>();
  for (const c of rows) {
    const id = `${c.osmType}/${c.osmId}`;
    // A part nested in a larger part adds nothing to the footprint (nor twice to its area).
    const parts = [...c.polygons, ...c.merged.flatMap((m) => m.polygons)];
    const partArea = parts.map((p) => polygonAreaKm2(p));
    const polygons = parts.filter((p, i) => !parts.some((q, j) => j !== i && partArea[j] > partArea[i] && liesInside(p.outer, [q])));
    const osmIds = [id, ...c.merged.map((m) => `${m.osmType}/${m.osmId}`)].sort(compareOsmIds);
    const sources = new Set<string>();
    if (c.isSite || c.merged.some((m) => m.isSite)) sources.add("site=piste");
    if (!c.isSite || c.merged.length > 0 || c.tags.landuse === "winter_sports") sources.add("landuse=winter_sports");
    const members = c.members ?? c.merged.find((m) => m.members)?.members;
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
      for (const w of members?.ways ?? []) {
        const way = data.ways.get(w);
        if (way) for (let i = 0; i < way.coords.length; i++) pts.push(way.coords[i]);
      }
      for (const n of members?.nodes ?? []) {
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
    // The largest named part names a merged row when the row's own object has no name.
    const namedParts = [...c.merged].sort((a, b) => b.areaKm2 - a.areaKm2 || a.osmId - b.osmId);
    const mergedName = name(c.tags) ?? namedParts.map((m) => name(m.tags)).find((n) => n !== null) ?? null;
    const group = c.isSite ? groupOf.get(c.osmId) : undefined;
    skiAreas.push({
      id, osmType: c.osmType, osmId: c.osmId, name: mergedName,
      sources: [...sources].sort(), osmIds, footprint,
      areaKm2: polygons.length > 0 ? polygons.reduce((s, p) => s + polygonAreaKm2(p), 0) : null,
      lon: center ? center[0] : null, lat: center ? center[1] : null,
      status: statusAndValue(c.isSite ? "site" : "landuse", c.tags).status,
      country: center ? countryCode(center[0], center[1]) : null,
      groupId: group ? `relation/${group.id}` : null,
      groupName: group ? name(group.tags) : null,
    });
    if (members) siteMembersByArea.set(id, members);
  }
  skiAreas.sort((a, b) => compareOsmIds(a.id, b.id));

  // Assignment of lifts and pistes: membership, then polygon (majority of vertices; the midpoint breaks a tie;
  // smallest polygon wins), then proximity (nearest wins; ties: lowest area id): the midpoint within NEAR_KM of a
  // polygon-less resort's member geometry, or an end within POLYGON_NEAR_KM of a resort's polygon, never for a
  // feature that enters another resort's polygon.
  const memberOf = new Map<number, string>();
  for (const area of skiAreas) {
    for (const w of siteMembersByArea.get(area.id)?.ways ?? []) if (!memberOf.has(w)) memberOf.set(w, area.id);
  }
  const polygonAreas = skiAreas.filter((a) => a.footprint.kind === "polygon");
  const otherAreas = skiAreas.filter((a) => a.footprint.kind === "member_hull" || a.footprint.kind === "member_points");
  const nearBoxes = new Map(otherAreas.map((a) => [a.id, expandBBox(a.footprint.bbox!, NEAR_KM)]));
  const polygonNearBoxes = polygonAreas.map((a) => expandBBox(a.footprint.bbox!, POLYGON_NEAR_KM));
  // Grid indexes over the areas' boxes: candidates come back in the lists' order, so ties resolve as before.
  const polygonIndex = new BoxIndex(polygonAreas.map((a) => a.footprint.bbox!));
  const polygonNearIndex = new BoxIndex(polygonNearBoxes);
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
    const entered = new Set<string>(); // polygon resorts the feature has a vertex in
    for (const k of polygonIndex.queryCoords(c, n)) {
      const area = polygonAreas[k];
      const b = area.footprint.bbox!;
      let inside = 0;
      for (let i = 0; i < n * 2; i += 2) if (inBBox(c[i], c[i + 1], b) && inPolygons(c[i], c[i + 1], area.footprint.polygons)) inside++;
      if (inside > 0) entered.add(area.id);
      const ok = inside * 2 > n || (inside * 2 === n && inside > 0 && inPolygons(mx, my, area.footprint.polygons));
      if (ok && (!best || area.areaKm2! < best.areaKm2!)) best = area;
    }
    if (best) {
      f.skiAreaId = best.id;
      f.assignedBy = "polygon";
      continue;
    }
    const nearest: { area?: SkiArea; km: number } = { km: Infinity };
    const consider = (area: SkiArea, d: number) => {
      if (d >= nearest.km || [...entered].some((id) => id !== area.id)) return;
      nearest.km = d;
      nearest.area = area;
    };
    for (const k of nearIndex.queryPoint(mx, my)) {
      const area = otherAreas[k];
      if (!inBBox(mx, my, nearBoxes.get(area.id)!)) continue;
      const d = footprintDistanceKm(mx, my, area.footprint);
      if (d <= NEAR_KM) consider(area, d);
    }
    const ends = [c[0], c[1], c[c.length - 2], c[c.length - 1]];
    for (const k of polygonNearIndex.queryCoords(ends, 2)) {
      const area = polygonAreas[k];
      let d = Infinity;
      for (let i = 0; i < 4; i += 2) {
        if (!inBBox(ends[i], ends[i + 1], polygonNearBoxes[k])) continue;
        // Inside counts as 0; an end in a hole does not count (a hole is cut out of the resort on purpose).
        for (const p of area.footprint.polygons) {
          if (pointInPolygon(ends[i], ends[i + 1], p)) d = 0;
          else if (!pointInRing(ends[i], ends[i + 1], p.outer)) d = Math.min(d, pointRingDistanceKm(ends[i], ends[i + 1], p.outer));
        }
      }
      if (d <= POLYGON_NEAR_KM) consider(area, d);
    }
    if (nearest.area) {
      f.skiAreaId = nearest.area.id;
      f.assignedBy = "proximity";
    }
  }

  return { skiAreas, lifts, pistes, warnings };
}

/** What buildSkiAreas gives: everything but the POIs and the statistics (which count the POIs). */
export interface SkiAreasModel {
  skiAreas: SkiArea[];
  lifts: Lift[];
  pistes: Piste[];
  warnings: string[];
}

/**
 * The whole model of an extract held in memory (tests, small files). analyze streams the extract instead
 * (extract-reader.ts `readSkiFeatures`, `streamPoiCandidates`): the same three stages, with only the ski features in memory.
 */
export function buildSkiModel(data: OsmData): SkiModel {
  const base = buildSkiAreas(data);
  const pois = new PoiCollector(base.skiAreas);
  for (const node of data.taggedNodes) pois.node(node.id, node.tags, node.lon, node.lat);
  for (const way of data.ways.values()) pois.way(way);
  return finishSkiModel(base, pois);
}

/**
 * POIs: tagged nodes, and ways (by centroid), within POI_KM of a footprint; the nearest area is recorded. Fed one
 * candidate at a time (in any order: the result is sorted, the counts are sums), so a caller can stream a
 * continent's candidates and hold only those near a ski area.
 */
export class PoiCollector {
  private readonly poiBoxes: Map<string, BBox>;
  private readonly poiAreas: SkiArea[];
  private readonly poiIndex: BoxIndex;
  readonly poiCount = new Map<string, number>();
  private readonly pois: Poi[] = [];

  constructor(skiAreas: readonly SkiArea[]) {
    this.poiBoxes = new Map(skiAreas.filter((a) => a.footprint.bbox).map((a) => [a.id, expandBBox(a.footprint.bbox!, POI_KM)]));
    this.poiAreas = skiAreas.filter((a) => this.poiBoxes.has(a.id));
    this.poiIndex = new BoxIndex(this.poiAreas.map((a) => this.poiBoxes.get(a.id)!));
  }

  /** A node: kept when it has a POI tag and lies within POI_KM of a footprint. */
  node(id: number, tags: Tags, lon: number, lat: number): void {
    this.consider("node", id, tags, lon, lat);
  }

  /** A way (its coords resolved): kept when it has a POI tag and its centroid lies within POI_KM of a footprint. */
  way(way: PoiWay): void {
    if (way.coords.length < 2 || !poiCategory(way.tags)) return;
    const [lon, lat] = isClosed(way) ? ringCentroid(way.coords) : meanPoint(way.coords);
    this.consider("way", way.id, way.tags, lon, lat);
  }

  private consider(osmType: "node" | "way", osmId: number, tags: Tags, lon: number, lat: number): void {
    const category = poiCategory(tags);
    if (!category) return;
    let best: SkiArea | undefined;
    let bestDist = Infinity;
    for (const k of this.poiIndex.queryPoint(lon, lat)) {
      const area = this.poiAreas[k];
      const box = this.poiBoxes.get(area.id);
      if (!box || !inBBox(lon, lat, box)) continue;
      const d = footprintDistanceKm(lon, lat, area.footprint);
      if (d > POI_KM) continue;
      this.poiCount.set(area.id, (this.poiCount.get(area.id) ?? 0) + 1);
      if (d < bestDist) {
        bestDist = d;
        best = area;
      }
    }
    if (best) {
      this.pois.push({
        id: `${osmType}/${osmId}`, osmType, osmId, category, name: name(tags), lon, lat,
        skiAreaId: best.id, distanceKm: bestDist, tags,
      });
    }
  }

  /** The kept POIs, sorted by id (nodes, then ways). */
  sorted(): Poi[] {
    return this.pois.sort((a, b) => compareOsmIds(a.id, b.id));
  }
}

/** The statistics per resort and for the region, once every POI candidate went through `pois`. */
export function finishSkiModel(base: SkiAreasModel, poiCollector: PoiCollector): SkiModel {
  const { skiAreas, lifts, pistes, warnings } = base;
  const pois = poiCollector.sorted();
  const poiCount = poiCollector.poiCount;
  const active = <T extends { status: Status }>(xs: T[]) => xs.filter((x) => x.status === "operating");
  const liftsOf = groupBy(active(lifts), (l) => l.skiAreaId), pistesOf = groupBy(active(pistes), (p) => p.skiAreaId);
  const stats = skiAreas.map((area) => areaStats(area, liftsOf.get(area.id) ?? [], pistesOf.get(area.id) ?? [], poiCount.get(area.id) ?? 0));
  const region: SkiArea = {
    id: "", osmType: "relation", osmId: 0, name: null, sources: [], osmIds: [], footprint: { kind: "none", polygons: [], points: [], bbox: null },
    areaKm2: null, lon: null, lat: null, status: "operating", country: null, groupId: null, groupName: null,
  };
  const all = areaStats(region, active(lifts), active(pistes), 0);
  const totals = { liftKm: all.lift_length_km, downhillKm: all.downhill_km, nordicKm: all.nordic_km };
  return { skiAreas, lifts, pistes, pois, stats, totals, warnings };
}

/** Whether a ring lies inside polygons: its centroid and most of its vertices do. */
function liesInside(outer: Coords, polygons: Polygon[]): boolean {
  const [cx, cy] = ringCentroid(outer);
  if (!inPolygons(cx, cy, polygons)) return false;
  const n = outer.length / 2;
  let inside = 0;
  for (let k = 0; k < outer.length; k += 2) if (inPolygons(outer[k], outer[k + 1], polygons)) inside++;
  return inside * 2 > n;
}

/** Smallest distance (km) between two sets of polygons, computed only up to `limit` (Infinity beyond it). */
function polygonsDistanceKm(a: Polygon[], b: Polygon[], limit: number): number {
  let best = Infinity;
  const boxB = expandBBox(b.reduce<BBox | undefined>((x, p) => bboxOf(p.outer, x), undefined)!, limit);
  const boxA = expandBBox(a.reduce<BBox | undefined>((x, p) => bboxOf(p.outer, x), undefined)!, limit);
  const side = (from: Polygon[], to: Polygon[], box: BBox) => {
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


/**
 * Distinct segments (two consecutive vertices, either direction: two ways over the same nodes share theirs), numbered
 * in the order first seen. An open-addressing hash table over the canonical coordinates in typed arrays: a resort
 * with a million segments costs tens of MB, where string keys cost ten times that and most of the CPU.
 */
export class SegmentSet {
  private coords = new Float64Array(4 * 64);
  private slots = new Int32Array(128).fill(-1);
  size = 0;

  /** The segment's number, or -1 when it is new (it then gets number `size - 1`). */
  add(x1: number, y1: number, x2: number, y2: number): number {
    // -0 and 0 are the same coordinate (adding 0 turns -0 into 0); the canonical order makes direction irrelevant.
    x1 += 0; y1 += 0; x2 += 0; y2 += 0;
    if (!(x1 < x2 || (x1 === x2 && y1 <= y2))) [x1, y1, x2, y2] = [x2, y2, x1, y1];
    const mask = this.slots.length - 1;
    for (let h = hashSegment(x1, y1, x2, y2) & mask; ; h = (h + 1) & mask) {
      const i = this.slots[h];
      if (i < 0) break;
      const c = this.coords;
      if (c[4 * i] === x1 && c[4 * i + 1] === y1 && c[4 * i + 2] === x2 && c[4 * i + 3] === y2) return i;
    }
    if (4 * (this.size + 1) > this.coords.length) {
      const grown = new Float64Array(this.coords.length * 2);
      grown.set(this.coords);
      this.coords = grown;
    }
    const i = this.size++;
    const c = this.coords;
    c[4 * i] = x1;
    c[4 * i + 1] = y1;
    c[4 * i + 2] = x2;
    c[4 * i + 3] = y2;
    if (2 * this.size > this.slots.length) this.rehash();
    else this.place(i);
    return -1;
  }

  private place(i: number): void {
    const c = this.coords, mask = this.slots.length - 1;
    let h = hashSegment(c[4 * i], c[4 * i + 1], c[4 * i + 2], c[4 * i + 3]) & mask;
    while (this.slots[h] >= 0) h = (h + 1) & mask;
    this.slots[h] = i;
  }

  private rehash(): void {
    this.slots = new Int32Array(this.slots.length * 2).fill(-1);
    for (let i = 0; i < this.size; i++) this.place(i);
  }
}

const hashView = new Float64Array(1);
const hashWords = new Int32Array(hashView.buffer);
/** A 32-bit hash of four doubles' bit patterns (MurmurHash3's mixing over their eight 32-bit words). */
function hashSegment(x1: number, y1: number, x2: number, y2: number): number {
  let h = mixDouble(mixDouble(mixDouble(mixDouble(0x9747b28c, x1), y1), x2), y2);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
function mixDouble(h: number, v: number): number {
  hashView[0] = v;
  return mixWord(mixWord(h, hashWords[0]), hashWords[1]);
}
function mixWord(h: number, w: number): number {
  let k = Math.imul(w, 0xcc9e2d51);
  k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** Length (km) of the union of lines: a segment shared by several lines counts once. */
class SegmentLength {
  private seen = new SegmentSet();
  km = 0;
  add(c: Coords): void {
    for (let i = 2; i + 1 < c.length; i += 2) {
      if (this.seen.add(c[i - 2], c[i - 1], c[i], c[i + 1]) >= 0) continue;
      this.km += haversineKm(c[i - 2], c[i - 1], c[i], c[i + 1]);
    }
  }
}

/** Statistics of one resort from its operating lifts and pistes (lifecycle-tagged ones count nowhere). */
function areaStats(area: SkiArea, myLifts: Lift[], myPistes: Piste[], poiCount: number): SkiAreaStats {
  // Downhill: each segment once, under the hardest difficulty among the pistes on it (unknown if none has one),
  // so the difficulty columns add up to downhill_km.
  const downhill = new SegmentSet();
  const downhillKmOf: number[] = [], downhillDifficulty: (Difficulty | null)[] = []; // by segment number
  const byType = new Map<string, SegmentLength>(PISTE_KM_TYPES.filter((t) => t !== "downhill").map((t) => [t, new SegmentLength()]));
  for (const p of myPistes) {
    if (p.isArea) continue;
    const c = p.coords;
    for (const t of p.types) byType.get(t)?.add(c);
    if (!p.types.includes("downhill")) continue;
    for (let i = 2; i + 1 < c.length; i += 2) {
      const seg = downhill.add(c[i - 2], c[i - 1], c[i], c[i + 1]);
      if (seg >= 0) downhillDifficulty[seg] = harder(downhillDifficulty[seg], p.difficulty);
      else {
        downhillKmOf.push(haversineKm(c[i - 2], c[i - 1], c[i], c[i + 1]));
        downhillDifficulty.push(p.difficulty);
      }
    }
  }
  const byDifficulty = Object.fromEntries([...DIFFICULTIES, "unknown"].map((d) => [d, 0])) as Record<Difficulty | "unknown", number>;
  let downhillKm = 0;
  for (let seg = 0; seg < downhillKmOf.length; seg++) {
    const km = downhillKmOf[seg];
    downhillKm += km;
    byDifficulty[downhillDifficulty[seg] ?? "unknown"] += km;
  }
  for (const d of Object.keys(byDifficulty) as (Difficulty | "unknown")[]) byDifficulty[d] = round(byDifficulty[d], 3);

  const liftKm = new SegmentLength();
  const count = Object.fromEntries(LIFT_TYPES.map((t) => [t, 0])) as Record<LiftType, number>;
  const typeKm = new Map(LIFT_TYPES.map((t) => [t, new SegmentLength()]));
  let capacity: number | null = null;
  const eles: number[] = [];
  for (const l of myLifts) {
    liftKm.add(l.coords);
    count[l.liftType]++;
    typeKm.get(l.liftType)!.add(l.coords);
    if (l.capacity !== null) capacity = (capacity ?? 0) + l.capacity;
    eles.push(...l.stationEles);
  }
  const kmOf = (t: string) => round(byType.get(t)!.km, 3);
  return {
    id: area.id,
    name: area.name,
    lat: area.lat === null ? null : round(area.lat, 7),
    lon: area.lon === null ? null : round(area.lon, 7),
    area_km2: area.areaKm2 === null ? null : round(area.areaKm2, 4),
    lift_count: myLifts.length,
    lift_length_km: round(liftKm.km, 3),
    piste_count: myPistes.length,
    downhill_km: round(downhillKm, 3),
    nordic_km: kmOf("nordic"),
    downhill_km_by_difficulty: byDifficulty,
    skitour_km: kmOf("skitour"),
    sled_km: kmOf("sled"),
    snow_park_km: kmOf("snow_park"),
    lift_count_by_type: count,
    lift_km_by_type: Object.fromEntries(LIFT_TYPES.map((t) => [t, round(typeKm.get(t)!.km, 3)])) as Record<LiftType, number>,
    lift_capacity_pph: capacity,
    lift_station_ele_max_m: eles.length ? Math.max(...eles) : null,
    lift_station_ele_min_m: eles.length ? Math.min(...eles) : null,
    poi_count: poiCount,
    status: area.status,
    country: area.country,
    group_id: area.groupId,
    group_name: area.groupName,
    sources: area.sources.join(","),
    osm_ids: area.osmIds.join(","),
  };
}
