import type { Tags } from "../osm-data.ts";

/**
 * Lifecycle status (openskidata-processor `src/transforms/Status.ts`). *Why:* a lift that no longer runs, or does
 * not run yet, is no lift a skier can ride (Andorra: 3.2 km of disused French pistes were added to GrandValira).
 * Status.ts knows disused, abandoned, proposed, planned, construction (kept, with that status) and
 * demolished/removed/razed (dropped); here every one of them is kept in lifts/pistes.parquet with its status (the
 * data stays auditable), and none counts in a statistic.
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
