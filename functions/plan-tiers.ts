import { TIER_NAMES, type TierName } from "../workflows/tiers.ts";
import { UnknownTierError } from "./errors.ts";

/**
 * A Plan's tiers as the state machine uses them: each step's tier by name (what Plan chose, for people and
 * Metrics) and by its position in the machine's tier table (`$.tiers.name`, which the machine passes to Plan as
 * `tierNames`), which the machine indexes its table with and escalates by adding one. A tier the machine's table
 * does not have fails the run here, with one line, before any task starts (a Plan and a machine deployed from
 * different tables).
 */
export interface PlannedTiers<S extends string> {
  tiers: Record<S, TierName>;
  tierIndex: Record<S, number>;
}

export function plannedTiers<S extends string>(tiers: Record<S, TierName>, machineTierNames?: unknown): PlannedTiers<S> {
  const names: readonly string[] = Array.isArray(machineTierNames) && machineTierNames.every((n) => typeof n === "string") ? machineTierNames : TIER_NAMES;
  const tierIndex = {} as Record<S, number>;
  for (const [step, tier] of Object.entries(tiers) as [S, TierName][]) {
    const index = names.indexOf(tier);
    if (index < 0) throw new UnknownTierError(`Plan chose tier '${tier}' for ${step}, which this state machine's tier table does not have (${names.join(", ")})`);
    tierIndex[step] = index;
  }
  return { tiers, tierIndex };
}
