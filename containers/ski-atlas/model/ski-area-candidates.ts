import { polygonAreaKm2, type Polygon } from "../geo.ts";
import type { OsmData, OsmRelation, Tags } from "../osm-data.ts";
import { byId } from "./osm-ids.ts";
import { isClosed, multipolygonOf, oriented } from "./rings.ts";
import { isAgglomeration, isSiteRelation, type SiteMembers, type Sites } from "./site-relations.ts";
import { splitValues } from "./tag-values.ts";

/**
 * The candidates for a ski area row: one per site=piste relation (not an agglomeration), per closed
 * `landuse=winter_sports` way and per `landuse=winter_sports` multipolygon. A resort may be mapped either way or
 * both: model/merge-into-sites.ts and model/merge-parts.ts then make one row per resort.
 */
export interface Candidate {
  osmType: "relation" | "way";
  osmId: number;
  tags: Tags;
  polygons: Polygon[];
  isSite: boolean;
  members?: SiteMembers;
  /** The candidates merged into this one. */
  merged: Candidate[];
  /** Sum of the polygons' areas (km²), for choosing the row that absorbs another. */
  areaKm2: number;
}

/** One candidate per site relation that is no agglomeration, in id order. `relations` in id order. */
export function siteCandidates(relations: readonly OsmRelation[], sites: Sites): Candidate[] {
  return relations
    .filter((rel) => isSiteRelation(rel) && !isAgglomeration(sites, rel.id))
    .map((rel): Candidate => ({ osmType: "relation", osmId: rel.id, tags: rel.tags, polygons: [], isSite: true, members: sites.members.get(rel.id), merged: [], areaKm2: 0 }));
}

/**
 * `landuse=winter_sports` is a ski resort unless `sport` names something else (SkiAreaFormatter.ts): ice rinks and
 * ski jumps alone are winter sports too.
 */
export function landuseIsSkiing(tags: Tags): boolean {
  const sports = splitValues(tags.sport);
  return sports.length === 0 || sports.includes("skiing") || sports.includes("ski");
}

/**
 * One candidate per landuse=winter_sports polygon for skiing: multipolygon relations (a site relation with the tag
 * is a site), then closed ways, each in id order. A polygon with no closed ring is skipped with a warning: it has no
 * inside to assign by. `relations` in id order.
 */
export function landuseCandidates(relations: readonly OsmRelation[], data: Pick<OsmData, "ways">, warnings: string[]): Candidate[] {
  const polys: Candidate[] = [];
  let otherSport = 0;
  for (const rel of relations) {
    if (isSiteRelation(rel) || rel.tags.landuse !== "winter_sports") continue;
    if (!landuseIsSkiing(rel.tags)) {
      otherSport++;
      continue;
    }
    const polygons = multipolygonOf(rel, data.ways, warnings);
    if (polygons.length === 0) warnings.push(`relation/${rel.id} (landuse=winter_sports) has no closed ring; skipped`);
    else polys.push({ osmType: "relation", osmId: rel.id, tags: rel.tags, polygons, isSite: false, merged: [], areaKm2: areaOf(polygons) });
  }
  for (const way of [...data.ways.values()].sort(byId)) {
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
    polys.push({ osmType: "way", osmId: way.id, tags: way.tags, polygons, isSite: false, merged: [], areaKm2: areaOf(polygons) });
  }
  if (otherSport) warnings.push(`${otherSport} landuse=winter_sports polygon(s) for another sport (sport=*); not resorts`);
  return polys;
}

const areaOf = (ps: Polygon[]) => ps.reduce((s, p) => s + polygonAreaKm2(p), 0);
