import { decideAttempt } from "../lib/attempts.ts";
import { executionHistoryFromEnv, type ExecutionHistory, type ExecutionStatus } from "../lib/execution-history.ts";
import { getRegion } from "../lib/regions.ts";
import { loadConfig, type AtlasConfig } from "./config.ts";
import { InvalidInputError } from "./errors.ts";
import { inputObject, periodOfStartTime, rejectUnknownFields, requirePeriod, requireRegion } from "./validate.ts";

/**
 * Monthly fan-out planner:
 * `{ input: $.input, execution: { startTime: $$.Execution.StartTime }, defaults: { regions: [...] } }`.
 * `input.regions` may also be a comma-separated string ("iceland,andorra"). `input.force` reruns regions whose
 * month already succeeded: `true` for all of them, or a list of regions.
 */
export interface PlanMonthEvent {
  input?: { regions?: string[] | string; period?: string; sources?: Record<string, string>; force?: boolean | string[] } | null;
  execution: { startTime: string };
  defaults: { regions: string[] };
}

export interface PlanMonthItem {
  region: string;
  period: string;
  /** The nested execution's name: reruns of the same region and month dedupe on it. */
  name: string;
  /** A source URL overriding the registry's (null: the registry's). Always present: the Map reads it by path. */
  source: string | null;
}

export interface PlanMonthOutput {
  period: string;
  items: PlanMonthItem[];
}

/** One region of a (re)run: which attempt it gets, or why none is started. */
export interface PlannedRegion extends PlanMonthItem {
  /** false: nothing is started for this region (its month SUCCEEDED already, or an attempt is still RUNNING). */
  start: boolean;
  /** The latest earlier attempt (null: none). When `start` is false, its status is the item's result. */
  previous: { name: string; status: ExecutionStatus; stopDate: string | null } | null;
}

export interface PlannedMonth {
  period: string;
  items: PlannedRegion[];
}

function regionList(value: unknown, what: string): string[] {
  const list = typeof value === "string" ? value.split(",").map((r) => r.trim()) : value;
  if (!Array.isArray(list)) throw new InvalidInputError(`${what} must be a list of region names, e.g. ["iceland", "andorra"]`);
  if (list.length === 0) throw new InvalidInputError(`${what} is empty: list at least one region`);
  return list as string[];
}

export function planMonth(event: PlanMonthEvent, config: Pick<AtlasConfig, "local">): PlanMonthOutput {
  const input = inputObject(event?.input, "the execution input");
  rejectUnknownFields(input, ["regions", "period", "sources", "force"], "input");
  const sources = input.sources ?? {};
  if (typeof sources !== "object" || Array.isArray(sources) || Object.values(sources).some((s) => typeof s !== "string")) {
    throw new InvalidInputError('sources must map region names to source URLs, e.g. {"iceland": "https://…"}');
  }
  const requested =
    input.regions !== undefined ? regionList(input.regions, "regions") : regionList(event?.defaults?.regions, "the default regions");
  const period = input.period === undefined ? periodOfStartTime(event?.execution?.startTime) : requirePeriod(input.period);

  const regions = [...new Set(requested.map((r) => requireRegion(r).name))];
  const localOnly = regions.filter((r) => getRegion(r)?.localOnly);
  if (localOnly.length > 0 && !config.local) {
    throw new InvalidInputError(`region${localOnly.length > 1 ? "s" : ""} ${localOnly.join(", ")} only run with the local engine (ATLAS_LOCAL=1)`);
  }
  const unknownSources = Object.keys(sources).filter((r) => !regions.includes(r));
  if (unknownSources.length > 0) throw new InvalidInputError(`sources names regions that are not in this run: ${unknownSources.join(", ")}`);
  return {
    period,
    items: regions.map((region) => ({ region, period, name: `${region}-${period}`, source: (sources as Record<string, string>)[region] ?? null })),
  };
}

/** The regions `input.force` names: `true` is every region of the run. */
export function forcedRegions(force: unknown, regions: string[]): Set<string> {
  if (force === undefined || force === false) return new Set();
  if (force === true) return new Set(regions);
  if (!Array.isArray(force) || force.some((r) => typeof r !== "string")) {
    throw new InvalidInputError('force must be true or a list of regions of this run, e.g. ["andorra"]');
  }
  const outside = force.filter((r) => !regions.includes(r));
  if (outside.length > 0) throw new InvalidInputError(`force names regions that are not in this run: ${outside.join(", ")}`);
  return new Set(force as string[]);
}

/** The machine each region runs on: its attempts are that machine's executions. */
export const REGION_MACHINE = "ski-atlas";

/**
 * A month, run or rerun: for each region, reuse the attempt that SUCCEEDED (nothing is downloaded or published
 * again), start nothing beside one still RUNNING, and otherwise start the next attempt (`{region}-{period}`, then
 * `-2`, `-3`, … after a failure, a timeout, an abort, or a forced rerun). A manual `{region}-{period}` run counts.
 */
export async function planRerun(event: PlanMonthEvent, config: Pick<AtlasConfig, "local">, history: ExecutionHistory): Promise<PlannedMonth> {
  const plan = planMonth(event, config);
  const forced = forcedRegions(event?.input?.force, plan.items.map((i) => i.region));
  const items = await Promise.all(
    plan.items.map(async (item): Promise<PlannedRegion> => {
      const decision = await decideAttempt(history, REGION_MACHINE, item.name, forced.has(item.region));
      const previous = decision.previous
        ? { name: decision.previous.name, status: decision.previous.status, stopDate: decision.previous.stopDate ?? null }
        : null;
      return { ...item, name: decision.name, start: decision.action === "start", previous };
    }),
  );
  return { period: plan.period, items };
}

export async function handler(event: PlanMonthEvent): Promise<PlannedMonth> {
  return planRerun(event, loadConfig(), executionHistoryFromEnv());
}
