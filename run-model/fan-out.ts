import type { StateVisit } from "./interpret.ts";

/**
 * A fan-out's items as the run model reads them from a run's state visits: one per Map iteration, with the item the
 * Map handed over (its key, e.g. the region, and its execution's name) and what became of it. The CLI's final table
 * and the console both read a fan-out through here.
 */

/** What became of one item: its nested execution's end, or NOT_STARTED when an earlier execution's result stands. */
export type FanOutItemStatus = "RUNNING" | "SUCCEEDED" | "FAILED" | "TIMED_OUT" | "ABORTED" | "NOT_STARTED";

export interface FanOutItem {
  /** The Map state (`Regions`) and the iteration (`Regions[1]`, as the run model names it). */
  map: string;
  iteration: string;
  /** The item's key (`itemKey` of the fan-out step, e.g. its region); the iteration when the item has none. */
  region: string;
  /** The item's execution (`andorra-2021-06`, or `-2`, … for later attempts). */
  execution: string;
  /** Nothing started: an earlier execution's status stands (`previous`). */
  started: boolean;
  previous?: { name?: string; status?: string; stopDate?: string } | null;
  status: FanOutItemStatus;
  /** The failure of the item's execution, as its state recorded it (Error and Cause), when it failed. */
  error: { error: string; cause: string } | null;
  visits: StateVisit[];
}

/**
 * The run model names an iteration `<Map>[<index>]` (nested ones joined with `/`, `run-model/interpret.ts`): the Map
 * is the last part's name.
 */
const ITERATION = /(?:^|\/)([^/]*)\[(\d+)\]$/;

export function mapOfIteration(iteration: string): string | undefined {
  return ITERATION.exec(iteration)?.[1];
}

/** The items of every fan-out in a run, in the order their iterations began. */
export function fanOutItems(visits: StateVisit[], itemKey = "region"): FanOutItem[] {
  const byIteration = new Map<string, FanOutItem>();
  for (const visit of visits) {
    if (!visit.iteration) continue;
    let entry = byIteration.get(visit.iteration);
    if (!entry) {
      const item = (visit.input ?? {}) as Record<string, unknown> & { name?: unknown; start?: unknown; previous?: FanOutItem["previous"] };
      entry = {
        map: mapOfIteration(visit.iteration) ?? visit.iteration,
        iteration: visit.iteration,
        region: String(item[itemKey] ?? visit.iteration),
        execution: String(item.name ?? ""),
        started: item.start !== false,
        previous: item.previous,
        status: "RUNNING",
        error: null,
        visits: [],
      };
      byIteration.set(visit.iteration, entry);
    }
    entry.visits.push(visit);
  }
  for (const item of byIteration.values()) Object.assign(item, outcomeOf(item));
  return [...byIteration.values()];
}

/**
 * An item's outcome is its nested execution's Task (the state that started it and waited for its end): succeeded,
 * failed (a Catch took it: CAUGHT), timed out, stopped or still running. An item not started has no such Task.
 */
function outcomeOf(item: FanOutItem): Pick<FanOutItem, "status" | "error"> {
  const task = item.visits.findLast((v) => v.type === "Task");
  if (!task) return { status: item.started ? (item.visits.some((v) => v.status === "RUNNING") ? "RUNNING" : "ABORTED") : "NOT_STARTED", error: null };
  const last = task.attempts.at(-1);
  const error = task.error !== null ? { error: task.error, cause: task.cause ?? "" } : null;
  switch (task.status) {
    case "SUCCEEDED":
      return { status: "SUCCEEDED", error: null };
    case "RUNNING":
      return { status: "RUNNING", error: null };
    case "ABORTED":
      return { status: "ABORTED", error };
    case "TIMED_OUT":
      return { status: "TIMED_OUT", error };
    default:
      return { status: last?.status === "TIMED_OUT" ? "TIMED_OUT" : "FAILED", error };
  }
}

/** How many items came to each outcome. */
export function fanOutCounts(items: FanOutItem[]): Record<FanOutItemStatus, number> {
  const counts: Record<FanOutItemStatus, number> = { RUNNING: 0, SUCCEEDED: 0, FAILED: 0, TIMED_OUT: 0, ABORTED: 0, NOT_STARTED: 0 };
  for (const item of items) counts[item.status] += 1;
  return counts;
}
