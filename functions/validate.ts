import { getRegion, periodOf, periodProblem, regionProblem, type RegionInfo } from "../lib/regions.ts";
import { InvalidInputError } from "./errors.ts";

/** The registry entry of a valid, known region, or InvalidInputError saying what is allowed. */
export function requireRegion(name: unknown): RegionInfo {
  const problem = regionProblem(name);
  if (problem) throw new InvalidInputError(problem);
  return getRegion(name as string)!;
}

export function requirePeriod(period: unknown, now?: Date): string {
  const problem = periodProblem(period, now);
  if (problem) throw new InvalidInputError(problem);
  return period as string;
}

/** The UTC month of the execution's start time (`$$.Execution.StartTime`, an ISO timestamp). */
export function periodOfStartTime(startTime: unknown): string {
  const date = typeof startTime === "string" || typeof startTime === "number" ? new Date(startTime) : undefined;
  if (!date || Number.isNaN(date.getTime())) {
    throw new InvalidInputError(
      `no period given and the execution start time ${JSON.stringify(startTime)} is not a date: pass period as YYYY-MM`,
    );
  }
  return periodOf(date);
}

/** An execution input must be a JSON object; a scheduled run with no input may pass null. */
export function inputObject(input: unknown, what: string): Record<string, unknown> {
  if (input === undefined || input === null) return {};
  if (typeof input !== "object" || Array.isArray(input)) {
    throw new InvalidInputError(`${what} must be a JSON object, got ${Array.isArray(input) ? "an array" : typeof input}`);
  }
  return input as Record<string, unknown>;
}

/** Rejects fields the input does not define, so a typo ("regoin") fails loudly instead of being ignored. */
export function rejectUnknownFields(input: Record<string, unknown>, allowed: readonly string[], what: string): void {
  // Step Functions adds AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID to a nested execution's input.
  const unknown = Object.keys(input).filter((k) => !allowed.includes(k) && !k.startsWith("AWS_STEP_FUNCTIONS_"));
  if (unknown.length > 0) {
    throw new InvalidInputError(
      `unknown ${what} field${unknown.length > 1 ? "s" : ""} ${unknown.map((k) => `"${k}"`).join(", ")}: ` +
        `expected ${allowed.join(", ")}`,
    );
  }
}
