import { SKI_ATLAS_SIZE_POLICIES, type SkiAtlasSizedStep } from "../../workflows/ski-atlas-sizing.ts";
import { nextTier, pickTier, type TierName } from "../../workflows/tiers.ts";

/** The inputs the engine tests run (the generated sample region, Andorra) are all under this size. */
const SMALL_INPUT_BYTES = 2_000_000;

/** The tier Plan picks for a ski-atlas step of a small test input, from the size policies (they change with refits). */
export function smallInputTier(step: SkiAtlasSizedStep): TierName {
  return pickTier(SKI_ATLAS_SIZE_POLICIES[step], SMALL_INPUT_BYTES);
}

/** That step's state name, e.g. `Extract (xsmall)`; `escalated` gives the state one tier up (after an OOM kill). */
export function smallInputState(step: SkiAtlasSizedStep, escalated = false): string {
  const tier = smallInputTier(step);
  return `${step[0].toUpperCase()}${step.slice(1)} (${escalated ? nextTier(tier) : tier})`;
}
