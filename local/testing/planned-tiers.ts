import { STATE_NAMES } from "../../run-model/state-names.ts";
import type { AttemptRecord } from "../../run-model/interpret.ts";
import { SKI_ATLAS_SIZE_POLICIES, type SkiAtlasSizedStep } from "../../workflows/ski-atlas-sizing.ts";
import { pickTier, type TierName } from "../../workflows/tiers.ts";
import type { ExecutionResult } from "../engine.ts";

/** The inputs the engine tests run (the generated sample region, Andorra) are all under this size. */
const SMALL_INPUT_BYTES = 2_000_000;

/** The tier Plan picks for a ski-atlas step of a small test input, from the size policies (they change with refits). */
export function smallInputTier(step: SkiAtlasSizedStep): TierName {
  return pickTier(SKI_ATLAS_SIZE_POLICIES[step], SMALL_INPUT_BYTES);
}

/** A step's one Task state (`Extract`), whatever tier it runs on. */
export function stepState(step: string): string {
  return STATE_NAMES.step(step);
}

/** Every attempt of a state in a run, in order, across its visits (the run model's, run-model/interpret.ts). */
export function attemptsOf(result: ExecutionResult, state: string): AttemptRecord[] {
  return (result.model?.visits ?? []).filter((v) => v.name === state).flatMap((v) => v.attempts);
}
