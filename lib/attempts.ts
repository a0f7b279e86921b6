import type { ExecutionHistory, ExecutionSummary } from "./execution-history.ts";

/**
 * Attempts of one unit of work (a region's month) as executions of one machine: `{base}`, then `{base}-2`,
 * `{base}-3`, … Step Functions keeps a closed execution's name for 90 days, so a new attempt needs a new name; the
 * numbering lets a rerun find every earlier attempt by name, on AWS (DescribeExecution) and offline alike.
 */
export function attemptName(base: string, attempt: number): string {
  return attempt === 1 ? base : `${base}-${attempt}`;
}

/** How far the attempts are looked up: a month is not retried this often, and the walk must end. */
export const MAX_ATTEMPTS = 50;

export interface LatestAttempt {
  /** 0 when no attempt exists. */
  attempt: number;
  execution?: ExecutionSummary;
}

/**
 * The last attempt that exists (attempts are numbered without gaps: each is started only after the previous), looked
 * up from attempt `from` on.
 */
export async function latestAttempt(history: ExecutionHistory, machine: string, base: string, from = 1): Promise<LatestAttempt> {
  let latest: LatestAttempt = { attempt: from - 1 };
  for (let attempt = from; attempt <= MAX_ATTEMPTS; attempt++) {
    const execution = await history.describe(machine, attemptName(base, attempt));
    if (!execution) return latest;
    latest = { attempt, execution };
  }
  throw new Error(`${base}: ${MAX_ATTEMPTS} attempts already exist in 90 days; look at why it keeps failing before running it again`);
}

export type AttemptDecision =
  /** The latest attempt succeeded: use its output, start nothing. */
  | { action: "reuse"; name: string; previous: ExecutionSummary }
  /** The latest attempt is still running (a manual run, an overlapping rerun): start nothing beside it. */
  | { action: "running"; name: string; previous: ExecutionSummary }
  /** Start this attempt: the first one, or the next after one that failed, timed out, was aborted, or is forced. */
  | { action: "start"; name: string; previous?: ExecutionSummary };

/**
 * What a rerun does with one unit of work: reuse what SUCCEEDED (unless forced), never start a second attempt
 * beside a RUNNING one, and otherwise start the next attempt.
 */
export async function decideAttempt(history: ExecutionHistory, machine: string, base: string, force: boolean): Promise<AttemptDecision> {
  const { attempt, execution } = await latestAttempt(history, machine, base);
  if (!execution) return { action: "start", name: base };
  if (execution.status === "RUNNING") return { action: "running", name: execution.name, previous: execution };
  if (execution.status === "SUCCEEDED" && !force) return { action: "reuse", name: execution.name, previous: execution };
  return { action: "start", name: attemptName(base, attempt + 1), previous: execution };
}

/** Whether an earlier execution did the same work as the one being re-run (the CLI compares their inputs). */
export type SameWork = (earlier: ExecutionSummary) => boolean;

/**
 * Which attempt an execution name stands for. `{base}-N` (2 ≤ N ≤ MAX_ATTEMPTS) is attempt N of `base` when attempt
 * N-1 exists and did the same work; any other name (and one that only looks numbered, such as a run named after a
 * day, `weather-2026-07-12`, beside another day's `weather-2026-07-11`) is the first attempt of itself.
 */
export async function attemptOf(history: ExecutionHistory, machine: string, name: string, sameWork: SameWork): Promise<{ base: string; attempt: number }> {
  const numbered = /^(.+)-([1-9]\d*)$/.exec(name);
  const attempt = Number(numbered?.[2]);
  if (numbered && attempt >= 2 && attempt <= MAX_ATTEMPTS) {
    const previous = await history.describe(machine, attemptName(numbered[1], attempt - 1));
    if (previous && sameWork(previous)) return { base: numbered[1], attempt };
  }
  return { base: name, attempt: 1 };
}

/**
 * What re-running one attempt (`name`, which ended without success) does: start the next free attempt after it,
 * unless a later attempt of the same work is RUNNING (never two beside each other) or SUCCEEDED already (nothing left
 * to do). A later name taken by other work is skipped, since Step Functions keeps every closed name for 90 days.
 */
export async function decideRerun(history: ExecutionHistory, machine: string, name: string, sameWork: SameWork): Promise<AttemptDecision> {
  const { base, attempt } = await attemptOf(history, machine, name, sameWork);
  let previous = await history.describe(machine, name);
  for (let next = attempt + 1; next <= MAX_ATTEMPTS; next++) {
    const candidate = attemptName(base, next);
    const later = await history.describe(machine, candidate);
    if (!later) return { action: "start", name: candidate, ...(previous ? { previous } : {}) };
    if (!sameWork(later)) continue;
    if (later.status === "RUNNING") return { action: "running", name: later.name, previous: later };
    if (later.status === "SUCCEEDED") return { action: "reuse", name: later.name, previous: later };
    previous = later;
  }
  throw new Error(`${base}: ${MAX_ATTEMPTS} attempts already exist in 90 days; look at why it keeps failing before running it again`);
}
