import type { OsmData } from "./osm-data.ts";
import { assignToSkiAreas } from "./model/assign.ts";
import { mergeIntoSites } from "./model/merge-into-sites.ts";
import { mergeParts } from "./model/merge-parts.ts";
import { byId } from "./model/osm-ids.ts";
import { liftsAndPistes, representativePoints } from "./model/lifts-and-pistes.ts";
import { PoiCollector } from "./model/pois.ts";
import { routeTagsOfWays } from "./model/route-relations.ts";
import { siteRelations } from "./model/site-relations.ts";
import { landuseCandidates, siteCandidates } from "./model/ski-area-candidates.ts";
import { skiAreasOf } from "./model/ski-area-rows.ts";
import { skiAreaStats } from "./model/stats.ts";
import type { SkiAreasModel, SkiModel } from "./model/types.ts";

export { LIFT_TYPES } from "./model/lift-rule.ts";
export { compareOsmIds } from "./model/osm-ids.ts";
export { DIFFICULTIES } from "./model/piste-rule.ts";
export { PoiCollector } from "./model/pois.ts";
export { round } from "./model/stats.ts";
export type { SkiAreasModel, SkiAreaStats, SkiModel } from "./model/types.ts";

/**
 * The ski model of an extract: ski areas, lifts, pistes, nearby POIs and the statistics per ski area. Pure: no I/O.
 * Each phase and rule is a module of model/ (README.md "Analysis rules" gives each with its reason; the distances
 * are in model/thresholds.ts). analyze streams the extract through the same three stages (analyze.ts
 * `analyzeExtract`): buildSkiAreas from the ski features, a PoiCollector fed every POI candidate, finishSkiModel.
 */

/**
 * Ski areas, lifts and pistes, and the assignment of lifts and pistes to areas, from the ski features of an extract
 * (`data` needs no POI: POIs go through a PoiCollector afterwards).
 */
export function buildSkiAreas(data: OsmData): SkiAreasModel {
  const warnings: string[] = [];
  const relations = [...data.relations.values()].sort(byId);
  const sites = siteRelations(relations, data);
  // Lifts and pistes first: merging a polygon into a site looks at where the site's members lie.
  const { lifts, pistes } = liftsAndPistes(data, sites.resortWays, routeTagsOfWays(relations), warnings);
  const points = representativePoints([...lifts, ...pistes]);
  const siteRows = siteCandidates(relations, sites);
  const standalone = mergeIntoSites(siteRows, landuseCandidates(relations, data, warnings), points, data);
  const rows = mergeParts(siteRows, standalone);
  const { skiAreas, membersOf } = skiAreasOf(rows, data, sites.groupOf, warnings);
  assignToSkiAreas(skiAreas, membersOf, [...lifts, ...pistes], points);
  return { skiAreas, lifts, pistes, warnings };
}

/** The whole model of an extract held in memory (tests, small files). */
export function buildSkiModel(data: OsmData): SkiModel {
  const base = buildSkiAreas(data);
  const pois = new PoiCollector(base.skiAreas);
  for (const node of data.taggedNodes) pois.node(node.id, node.tags, node.lon, node.lat);
  for (const way of data.ways.values()) pois.way(way);
  return finishSkiModel(base, pois);
}

/** The statistics per resort and for the region, once every POI candidate went through `pois`. */
export function finishSkiModel(base: SkiAreasModel, pois: PoiCollector): SkiModel {
  const { skiAreas, lifts, pistes, warnings } = base;
  const { stats, totals } = skiAreaStats(skiAreas, lifts, pistes, pois.poiCount);
  return { skiAreas, lifts, pistes, pois: pois.sorted(), stats, totals, warnings };
}
