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

/** The last attempt that exists (attempts are numbered without gaps: each is started only after the previous). */
export async function latestAttempt(history: ExecutionHistory, machine: string, base: string): Promise<LatestAttempt> {
  let latest: LatestAttempt = { attempt: 0 };
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
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
