import { polygonAreaKm2, type Polygon } from "../geo.ts";
import { countryCode } from "../country.ts";
import type { OsmData, OsmRelation } from "../osm-data.ts";
import { memberFootprint, polygonFootprint } from "./footprint.ts";
import { compareOsmIds } from "./osm-ids.ts";
import { liesInside } from "./polygon-sets.ts";
import type { SiteMembers } from "./site-relations.ts";
import type { Candidate } from "./ski-area-candidates.ts";
import { statusAndValue } from "./status.ts";
import { featureName } from "./tag-values.ts";
import type { SkiArea } from "./types.ts";

/**
 * One SkiArea per row (a candidate with what merged into it), sorted by id, and the site members of each (for
 * assignment by membership). A row with neither polygons nor located members gets no geometry, with a warning.
 */
export function skiAreasOf(
  rows: readonly Candidate[],
  data: Pick<OsmData, "ways" | "nodeLocation">,
  groupOf: ReadonlyMap<number, OsmRelation>,
  warnings: string[],
): { skiAreas: SkiArea[]; membersOf: Map<string, SiteMembers> } {
  const skiAreas: SkiArea[] = [];
  const membersOf = new Map<string, SiteMembers>();
  for (const c of rows) {
    const id = `${c.osmType}/${c.osmId}`;
    const polygons = outermostParts([...c.polygons, ...c.merged.flatMap((m) => m.polygons)]);
    const members = c.members ?? c.merged.find((m) => m.members)?.members;
    const { footprint, center } = polygons.length > 0 ? polygonFootprint(polygons) : memberFootprint(members, data);
    if (footprint.kind === "none") warnings.push(`${id}: none of its members are in the extract; it gets no geometry`);
    const group = c.isSite ? groupOf.get(c.osmId) : undefined;
    skiAreas.push({
      id, osmType: c.osmType, osmId: c.osmId, name: rowName(c),
      sources: sourcesOf(c), osmIds: [id, ...c.merged.map((m) => `${m.osmType}/${m.osmId}`)].sort(compareOsmIds), footprint,
      areaKm2: polygons.length > 0 ? polygons.reduce((s, p) => s + polygonAreaKm2(p), 0) : null,
      lon: center ? center[0] : null, lat: center ? center[1] : null,
      // The status of the mapped resort (a disused ski area keeps its row, outside every statistic).
      status: statusAndValue(c.isSite ? "site" : "landuse", c.tags).status,
      country: center ? countryCode(center[0], center[1]) : null,
      groupId: group ? `relation/${group.id}` : null,
      groupName: group ? featureName(group.tags) : null,
    });
    if (members) membersOf.set(id, members);
  }
  skiAreas.sort((a, b) => compareOsmIds(a.id, b.id));
  return { skiAreas, membersOf };
}

/** The parts that lie in no larger part: a part nested in a larger one adds nothing to the footprint (nor twice to its area). */
export function outermostParts(parts: readonly Polygon[]): Polygon[] {
  const partArea = parts.map((p) => polygonAreaKm2(p));
  return parts.filter((p, i) => !parts.some((q, j) => j !== i && partArea[j] > partArea[i] && liesInside(p.outer, [q])));
}

/** How the resort was mapped: `site=piste`, `landuse=winter_sports`, or both (a site relation carrying landuse too). */
function sourcesOf(c: Candidate): string[] {
  const sources = new Set<string>();
  if (c.isSite || c.merged.some((m) => m.isSite)) sources.add("site=piste");
  if (!c.isSite || c.merged.length > 0 || c.tags.landuse === "winter_sports") sources.add("landuse=winter_sports");
  return [...sources].sort();
}

/** The row's own name, else the largest named part's (ties: lowest id). */
function rowName(c: Candidate): string | null {
  const namedParts = [...c.merged].sort((a, b) => b.areaKm2 - a.areaKm2 || a.osmId - b.osmId);
  return featureName(c.tags) ?? namedParts.map((m) => featureName(m.tags)).find((n) => n !== null) ?? null;
}
