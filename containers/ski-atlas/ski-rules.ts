import type { Tags } from "./osm-data.ts";

/**
 * How OSM tags become lift/piste/resort attributes: lifecycle status, piste types and difficulty, lift types.
 * Pure functions of tags. The rules follow OpenSkiMap's processor (russellporter/openskidata-processor), cited per
 * rule; README.md "Analysis rules" gives each with its reason.
 */

/**
 * Lifecycle states. openskidata-processor `src/transforms/Status.ts` knows disused, abandoned, proposed, planned,
 * construction (kept, with that status) and demolished/removed/razed (dropped); here every one of them is kept in
 * lifts/pistes.parquet with its status, and none counts in a statistic.
 */
export const LIFECYCLE_STATES = ["disused", "abandoned", "proposed", "planned", "construction", "demolished", "removed", "razed"] as const;
export type Status = "operating" | (typeof LIFECYCLE_STATES)[number];
const LIFECYCLE = new Set<string>(LIFECYCLE_STATES);
/**
 * The prefixes extract keeps (`{prefix}:aerialway`, `{prefix}:piste:type`): OpenSkiMap's lifecycle states (its
 * download queries take `([A-Za-z]+:)?aerialway`). An object that is demolished/removed/razed under a prefix is gone
 * on the ground and not worth a filter rule; tagged `{key}=demolished` or `demolished=yes` it is still kept.
 */
export const EXTRACTED_LIFECYCLE_PREFIXES = ["disused", "abandoned", "proposed", "planned", "construction"] as const;

/**
 * The status of an object for one main key (`aerialway`, `railway`, `piste:type`, `landuse`, `site`) and the value
 * that key would have if the object were operating. Recognized, as in Status.ts: `{key}={state}` (value from
 * `{state}={value}`), `{state}:{key}={value}`, and `{state}=yes`; plus `piste:{state}=yes` (used on pistes).
 */
export function statusAndValue(key: string, tags: Tags): { status: Status; value: string | null } {
  const own = tags[key];
  if (own !== undefined && LIFECYCLE.has(own)) return { status: own as Status, value: tags[own] ?? null };
  if (own === undefined) {
    const prefixed = prefixedKeys(key);
    for (let i = 0; i < LIFECYCLE_STATES.length; i++) {
      const v = tags[prefixed[i]];
      if (v !== undefined) return { status: LIFECYCLE_STATES[i], value: v };
    }
  }
  for (let i = 0; i < LIFECYCLE_STATES.length; i++) {
    if (tags[LIFECYCLE_STATES[i]] === "yes" || tags[PISTE_STATE_KEYS[i]] === "yes") return { status: LIFECYCLE_STATES[i], value: own ?? null };
  }
  return { status: "operating", value: own ?? null };
}

/** `{state}:{key}` per lifecycle state, made once per key (statusAndValue runs for every way of an extract). */
const PREFIXED_KEYS = new Map<string, readonly string[]>();
function prefixedKeys(key: string): readonly string[] {
  let keys = PREFIXED_KEYS.get(key);
  if (!keys) PREFIXED_KEYS.set(key, (keys = LIFECYCLE_STATES.map((state) => `${state}:${key}`)));
  return keys;
}
const PISTE_STATE_KEYS = LIFECYCLE_STATES.map((state) => `piste:${state}`);

/** Splits a multi-valued tag (`downhill;nordic`, ` Downhill `) into lower-case, trimmed, distinct values. */
export function splitValues(v: string | null | undefined): string[] {
  if (!v) return [];
  const out: string[] = [];
  for (const part of v.split(";")) {
    const t = part.trim().toLowerCase();
    if (t && !out.includes(t)) out.push(t);
  }
  return out;
}

export const DIFFICULTIES = ["novice", "easy", "intermediate", "advanced", "expert", "freeride", "extreme"] as const;
export type Difficulty = (typeof DIFFICULTIES)[number];
const DIFFICULTY_SET = new Set<string>(DIFFICULTIES);

/** `piste:difficulty` normalized (case, `;` lists: the first known value), or null (the `unknown` column). */
export function normalizeDifficulty(v: string | null | undefined): Difficulty | null {
  return (splitValues(v).find((d) => DIFFICULTY_SET.has(d)) as Difficulty | undefined) ?? null;
}

/** The harder of two difficulties (a shared segment is reported once, under the harder of its pistes). */
export function harder(a: Difficulty | null, b: Difficulty | null): Difficulty | null {
  if (a === null) return b;
  if (b === null) return a;
  return DIFFICULTIES.indexOf(a) >= DIFFICULTIES.indexOf(b) ? a : b;
}

/** Piste types with a km column of their own in ski_areas_analyzed (`snow_park` → `snow_park_km`, …). */
export const PISTE_KM_TYPES = ["downhill", "nordic", "skitour", "sled", "snow_park"] as const;

/**
 * Lift types with a count and km column each: OpenSkiMap's LiftType values (openskidata-format; LiftFormatter.ts
 * takes them from `aerialway`, then from `railway`). Any other passenger aerialway value counts as `other`.
 */
export const LIFT_TYPES = [
  "cable_car", "gondola", "mixed_lift", "chair_lift", "drag_lift", "t-bar", "j-bar", "platter", "rope_tow",
  "magic_carpet", "funicular", "railway", "other",
] as const;
export type LiftType = (typeof LIFT_TYPES)[number];
const LIFT_TYPE_SET = new Set<string>(LIFT_TYPES);

/** aerialway values that are no lift a person rides: parts of one (nodes), freight, zip lines. */
export const NON_LIFT_AERIALWAYS = new Set(["pylon", "station", "goods", "zip_line", "zipline", "canopy", "no"]);

/**
 * Railway values that are lifts when a site=piste relation lists the way (a resort's own train). `funicular` is a
 * lift wherever it is (LiftFormatter.ts maps railway=funicular to the funicular lift type).
 */
export const RESORT_RAILWAYS = new Set(["rail", "narrow_gauge", "light_rail", "monorail", "tram", "rack"]);

/**
 * Ways that are not for passengers are no lifts (LiftFormatter.ts returns null for these): `usage=freight` or
 * `industrial`, `passenger=no`, `access=no`/`private`/`forestry`.
 */
export function isNotForPassengers(tags: Tags): boolean {
  return (
    tags.usage === "freight" || tags.usage === "industrial" || tags.passenger === "no" ||
    tags.access === "no" || tags.access === "private" || tags.access === "forestry"
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

/** `landuse=winter_sports` is a ski resort unless `sport` names something else (SkiAreaFormatter.ts). */
export function landuseIsSkiing(tags: Tags): boolean {
  const sports = splitValues(tags.sport);
  return sports.length === 0 || sports.includes("skiing") || sports.includes("ski");
}

/** A leading integer (`2400`, `2400 p/h`), or null. */
export function leadingInt(v: string | undefined): number | null {
  const m = v === undefined ? null : /^\s*(\d+)/.exec(v);
  return m ? Number(m[1]) : null;
}

/** An `ele` value in metres (`2510`, `2510.5`, `2510 m`), or null. */
export function elevationM(v: string | undefined): number | null {
  const m = v === undefined ? null : /^\s*(-?\d+(?:[.,]\d+)?)\s*(m)?\s*$/.exec(v);
  return m ? Number(m[1].replace(",", ".")) : null;
}
