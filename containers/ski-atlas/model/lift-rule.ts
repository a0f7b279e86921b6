import type { Tags } from "../osm-data.ts";
import { statusAndValue, type Status } from "./status.ts";
import { elevationM, splitValues } from "./tag-values.ts";

/**
 * Which ways are lifts, and of what type (openskidata-processor `src/transforms/LiftFormatter.ts`). Pure functions
 * of tags.
 */

/**
 * Lift types with a count and km column each: OpenSkiMap's LiftType values (openskidata-format; LiftFormatter.ts
 * takes them from `aerialway`, then from `railway`). Any other passenger aerialway value counts as `other`: a lift
 * mapped with a rare value still carries skiers.
 */
export const LIFT_TYPES = [
  "cable_car", "gondola", "mixed_lift", "chair_lift", "drag_lift", "t-bar", "j-bar", "platter", "rope_tow",
  "magic_carpet", "funicular", "railway", "other",
] as const;
export type LiftType = (typeof LIFT_TYPES)[number];
const LIFT_TYPE_SET = new Set<string>(LIFT_TYPES);

/**
 * aerialway values that are no lift a person rides: parts of one (`pylon`, `station`: nodes), freight (`goods`),
 * rides rather than lifts (`zip_line`, `zipline`, `canopy`), and `no`.
 */
const NON_LIFT_AERIALWAYS = new Set(["pylon", "station", "goods", "zip_line", "zipline", "canopy", "no"]);

/**
 * Railway values that are lifts when a site=piste relation lists the way (a resort's own train; a public railway
 * passing by is not one): LiftFormatter.ts `getStatusAndLiftType` maps exactly these to the railway lift type (a rack
 * railway is one of them with a `rack=*` tag, not a railway value of its own). `funicular` is a lift wherever it is
 * (LiftFormatter.ts maps railway=funicular to the funicular lift type).
 */
const RESORT_RAILWAYS = new Set(["rail", "narrow_gauge", "light_rail", "tram", "subway", "monorail"]);

/**
 * Ways that are not for passengers are no lifts, as LiftFormatter.ts `formatLift` returns null for them
 * (russellporter/openskidata-processor@6354e81, the file last changed in 2070270): `passenger=no`, `access=no` or
 * `forestry`, `foot=no` or `private` (no one may ride or walk onto it), `usage=freight` or `industrial`, and freight
 * railways (`railway:traffic_mode=freight`). `access=private` is no such reason: a private lift (a hotel's, a club's)
 * still carries skiers, and LiftFormatter.ts stopped dropping it in 18a08fd (2026-02-14), recording the access instead.
 */
function isNotForPassengers(tags: Tags): boolean {
  return (
    tags.passenger === "no" || tags.access === "no" || tags.access === "forestry" || tags.foot === "no" ||
    tags.foot === "private" || tags.usage === "freight" || tags.usage === "industrial" || tags["railway:traffic_mode"] === "freight"
  );
}

export interface LiftKind {
  status: Status;
  /** The raw value (aerialway value, or `funicular`, or the railway value). */
  value: string;
  liftType: LiftType;
}

/**
 * What kind of lift a way is, or null when it is none. `memberOfSite`: a site=piste relation lists the way (makes a
 * resort railway a lift).
 */
export function liftKind(tags: Tags, memberOfSite: boolean): LiftKind | null {
  let { status, value } = statusAndValue("aerialway", tags);
  let fromRailway = false;
  if (value === null) {
    ({ status, value } = statusAndValue("railway", tags));
    fromRailway = true;
  }
  if (value === null) return null;
  const v = splitValues(value)[0];
  if (v === undefined || isNotForPassengers(tags)) return null;
  if (!fromRailway) {
    if (NON_LIFT_AERIALWAYS.has(v)) return null;
    return { status, value: v, liftType: LIFT_TYPE_SET.has(v) && v !== "railway" ? (v as LiftType) : "other" };
  }
  if (v === "funicular") return { status, value: v, liftType: "funicular" };
  if (memberOfSite && RESORT_RAILWAYS.has(v)) return { status, value: v, liftType: "railway" };
  return null;
}

/**
 * The `ele` (m) of a lift way's nodes tagged aerialway=station, in the way's order: the stations are where a lift
 * starts and ends, so they give the resort's lowest and highest lifted point (a pylon's height says nothing).
 */
export function stationElevations(refs: readonly number[], nodeTags: ReadonlyMap<number, Tags>): number[] {
  const eles: number[] = [];
  for (const ref of refs) {
    const t = nodeTags.get(ref);
    const ele = t?.aerialway === "station" ? elevationM(t.ele) : null;
    if (ele !== null) eles.push(ele);
  }
  return eles;
}
