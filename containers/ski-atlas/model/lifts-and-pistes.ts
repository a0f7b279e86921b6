import { lineLengthKm, lineMidpoint, ringAreaKm2, ringCentroid } from "../geo.ts";
import type { OsmData, OsmWay, Tags } from "../osm-data.ts";
import { liftKind, stationElevations, type LiftKind } from "./lift-rule.ts";
import { isAreaPiste, normalizeDifficulty, pisteKind, type PisteKind } from "./piste-rule.ts";
import { isClosed, oriented } from "./rings.ts";
import { withRouteTags, type RouteTags } from "./route-relations.ts";
import { featureName, leadingInt, splitValues } from "./tag-values.ts";
import type { Lift, Piste } from "./types.ts";

/**
 * Lifts and pistes from the ways of an extract, each in id order, not yet assigned to a ski area. A way may be both
 * (a lift with `piste:type`: each rule looks at it). A way with fewer than two located nodes has no geometry to
 * measure: it is skipped with a warning.
 */
export function liftsAndPistes(
  data: Pick<OsmData, "ways" | "taggedNodes">,
  resortWays: ReadonlySet<number>,
  routeTags: ReadonlyMap<number, RouteTags>,
  warnings: string[],
): { lifts: Lift[]; pistes: Piste[] } {
  const nodeTags = new Map<number, Tags>();
  for (const n of data.taggedNodes) nodeTags.set(n.id, n.tags);
  const lifts: Lift[] = [];
  const pistes: Piste[] = [];
  let skipped = 0;
  for (const way of data.ways.values()) {
    const kind = liftKind(way.tags, resortWays.has(way.id));
    if (kind) {
      if (hasGeometry(way)) lifts.push(toLift(way, kind, nodeTags));
      else skipped++;
    }
    const route = routeTags.get(way.id);
    const tags = withRouteTags(way, route);
    const piste = pisteKind(tags);
    if (!piste) continue;
    if (hasGeometry(way)) pistes.push(toPiste(way, tags, piste, route?.routeId ?? null));
    else skipped++;
  }
  if (skipped) warnings.push(`${skipped} lift/piste way(s) without at least two located nodes; skipped`);
  const byOsmId = (a: { osmId: number }, b: { osmId: number }) => a.osmId - b.osmId;
  return { lifts: lifts.sort(byOsmId), pistes: pistes.sort(byOsmId) };
}

const hasGeometry = (way: OsmWay) => way.coords.length >= 4;

function toLift(way: OsmWay, kind: LiftKind, nodeTags: ReadonlyMap<number, Tags>): Lift {
  return {
    id: `way/${way.id}`, osmId: way.id, name: featureName(way.tags), aerialway: kind.value, liftType: kind.liftType,
    status: kind.status, lengthKm: lineLengthKm(way.coords),
    capacity: leadingInt(way.tags["aerialway:capacity"]),
    occupancy: leadingInt(way.tags["aerialway:occupancy"]),
    stationEles: stationElevations(way.refs, nodeTags), skiAreaId: null, assignedBy: null, coords: way.coords,
  };
}

/** `tags`: the way's own with what it inherits from its route relation. An area piste has an area, no length. */
function toPiste(way: OsmWay, tags: Tags, kind: PisteKind, routeId: number | null): Piste {
  const { status, types } = kind;
  const isArea = isAreaPiste(isClosed(way), tags, types);
  return {
    id: `way/${way.id}`, osmId: way.id, name: featureName(tags), pisteType: types.join(";"), types,
    difficulty: normalizeDifficulty(tags["piste:difficulty"]),
    grooming: splitValues(tags["piste:grooming"]).join(";") || null,
    status, routeId,
    isArea,
    lengthKm: isArea ? null : lineLengthKm(way.coords),
    areaKm2: isArea ? ringAreaKm2(way.coords) : null,
    skiAreaId: null, assignedBy: null,
    coords: isArea ? oriented(way.coords, true) : way.coords,
  };
}

/**
 * The point that stands for a lift or piste when one point must (merging a polygon into a site, proximity): a line's
 * midpoint along its length, an area piste's centroid. By way id.
 */
export function representativePoints(features: readonly (Lift | Piste)[]): Map<number, [number, number]> {
  const points = new Map<number, [number, number]>();
  for (const f of features) points.set(f.osmId, isArea(f) ? ringCentroid(f.coords) : lineMidpoint(f.coords));
  return points;
}

export const isArea = (f: Lift | Piste): boolean => "isArea" in f && f.isArea;
