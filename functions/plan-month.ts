import { decideAttempt } from "../lib/attempts.ts";
import { executionHistoryFromEnv, type ExecutionHistory, type ExecutionStatus } from "../lib/execution-history.ts";
import { checkMonthInput, periodOfStartTime, type CheckedMonthInput } from "../lib/input-checks.ts";
import { loadConfig, type AtlasConfig } from "./config.ts";

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

export function planMonth(event: PlanMonthEvent, config: Pick<AtlasConfig, "local">): PlanMonthOutput {
  return itemsOf(event, checkMonthInput(event?.input, event?.defaults?.regions, config));
}

function itemsOf(event: PlanMonthEvent, { regions, period: givenPeriod, sources }: CheckedMonthInput): PlanMonthOutput {
  const period = givenPeriod ?? periodOfStartTime(event?.execution?.startTime);
  return {
    period,
    items: regions.map((region) => ({ region, period, name: `${region}-${period}`, source: sources[region] ?? null })),
  };
}

/** The machine each region runs on: its attempts are that machine's executions. */
export const REGION_MACHINE = "ski-atlas";

/**
 * A month, run or rerun: for each region, reuse the attempt that SUCCEEDED (nothing is downloaded or published
 * again), start nothing beside one still RUNNING, and otherwise start the next attempt (`{region}-{period}`, then
 * `-2`, `-3`, … after a failure, a timeout, an abort, or a forced rerun). A manual `{region}-{period}` run counts.
 */
export async function planRerun(event: PlanMonthEvent, config: Pick<AtlasConfig, "local">, history: ExecutionHistory): Promise<PlannedMonth> {
  // The same checks the CLI runs before it starts anything (lib/input-checks.ts).
  const checked = checkMonthInput(event?.input, event?.defaults?.regions, config);
  const plan = itemsOf(event, checked);
  const { forced } = checked;
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
