import { expandBBox, type Polygon } from "../geo.ts";
import { BoxIndex } from "./box-index.ts";
import { groupBy } from "./group-by.ts";
import { compareOsmIds } from "./osm-ids.ts";
import { bboxOfPolygons, liesInside, polygonsDistanceKm } from "./polygon-sets.ts";
import type { Candidate } from "./ski-area-candidates.ts";
import { featureName } from "./tag-values.ts";
import { SAME_NAME_KM, TOUCH_KM } from "./thresholds.ts";

/**
 * Nested and multi-part polygons: a polygon that joined no site and lies inside another resort's polygon (a kids'
 * area inside its resort), touches it while unnamed (TOUCH_KM), or has the same name (case-insensitive) within
 * SAME_NAME_KM (a resort drawn in several parts) is part of that resort: one row. The row is the site relation if
 * there is one, else the largest polygon (ties: lowest id); two site relations are never merged (each is a resort
 * its mappers listed on purpose). Returns the rows: the sites that took no polygon, then one per merged group.
 */
export function mergeParts(sites: readonly Candidate[], standalone: readonly Candidate[]): Candidate[] {
  const units = [...sites.filter((s) => s.merged.length > 0), ...standalone];
  const unitPolygons = units.map((u) => [...u.polygons, ...u.merged.flatMap((m) => m.polygons)]);
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
    if (ra === rb || (units[ra].isSite && units[rb].isSite)) return;
    const keep = better(ra, rb);
    parent[keep === ra ? rb : ra] = keep;
  };
  const unitIndex = new BoxIndex(unitPolygons.map((ps) => expandBBox(bboxOfPolygons(ps), SAME_NAME_KM)));
  for (let i = units.length - standalone.length; i < units.length; i++) {
    const u = units[i];
    const near = new Set(u.polygons.flatMap((p) => unitIndex.queryCoords(p.outer, p.outer.length / 2)));
    for (const j of [...near].sort((x, y) => x - y)) {
      if (j !== i && isPartOf(u, units[j], unitPolygons[j])) union(i, j);
    }
  }
  const rows: Candidate[] = [...sites.filter((s) => s.merged.length === 0)];
  for (const [r, members] of groupBy(units.map((_, i) => i), find)) {
    const root = units[r];
    for (const i of members) {
      if (i === r) continue;
      root.merged.push({ ...units[i], merged: [] }, ...units[i].merged);
    }
    rows.push(root);
  }
  return rows;
}

/** Whether polygon candidate `u` is part of `other` (whose parts are `otherPolygons`): nested, touching, same name. */
function isPartOf(u: Candidate, other: Candidate, otherPolygons: readonly Polygon[]): boolean {
  if (u.areaKm2 <= other.areaKm2 && u.polygons.every((p) => liesInside(p.outer, otherPolygons))) return true;
  const a = normalizedName(u), b = normalizedName(other);
  const limit = a !== null && a === b ? SAME_NAME_KM : a === null ? TOUCH_KM : -1;
  return limit >= 0 && polygonsDistanceKm(u.polygons, otherPolygons, limit) <= limit;
}

const normalizedName = (c: Candidate) => featureName(c.tags)?.trim().toLowerCase() || null;
