import { causeSentence, describeCause } from "../run-model/causes.ts";
import { fanOutCounts, fanOutItems, type FanOutItemStatus } from "../run-model/fan-out.ts";
import { digestOf, failedItemsOf } from "../run-model/outcome.ts";
import type { AttemptRecord, RunRecord, StateVisit } from "../run-records/record.ts";
import { allWorkflows } from "../workflows/index.ts";

/**
 * What the console's page shows of a run beyond its record, said by the run model's own code so the page does not
 * say it a second way: why the run failed in one sentence (`run-model/causes.ts`, as the CLI and the notification
 * say it) with its raw detail, the state to open the run on, each failed attempt's sentence, and each fan-out's
 * items (`run-model/fan-out.ts`, as the CLI's final table reads them) with their counts.
 */

export interface FailureView {
  /** A step failed the run; a fan-out's items failed (its digest); or nothing failed it: it was stopped or timed out. */
  kind: "step" | "fan-out" | "stopped";
  /** The state to open the run on: the step that failed it, a fan-out's Map whose items failed, or the state an interruption stopped. */
  state: string | null;
  /** Its Map iteration (`Regions[1]`), or null at the top level. */
  iteration: string | null;
  /** Its visit (index into `states`) and the attempt (1..N across the step's visits) that failed the run. */
  visit: number | null;
  attempt: number | null;
  /** How many attempts the step had, and the tier the failed one ran on. */
  attempts: number;
  tier: string | null;
  /** Why, in one sentence: the exit code and what it means, the Lambda's error, the digest's line… */
  sentence: string;
  /** The step's own last `error:` line (local runs), when it printed one. */
  message: string | null;
  /** The raw detail, shown collapsed: the Error, the Cause's readable lines, and the Cause as recorded. */
  error: string;
  details: string[];
  cause: string;
}

export interface FanOutItemView {
  iteration: string;
  /** The item's key (its region). */
  name: string;
  execution: string;
  status: FanOutItemStatus;
  /** The item's own run record (a child of this one), when there is one. */
  child: string | null;
  duration_ms: number | null;
  /** Why it did not succeed, in one sentence; for an item not started, whose earlier run stands. */
  sentence: string | null;
}

export interface FanOutView {
  /** The Map state. */
  state: string;
  counts: Record<FanOutItemStatus, number>;
  items: FanOutItemView[];
}

export interface RunView {
  failure: FailureView | null;
  fanOuts: FanOutView[];
  /** The one sentence of each failed attempt (`<visit>/<attempt>`) and of each failed state without attempts (`<visit>`). */
  sentences: Record<string, string>;
}

export function runView(record: RunRecord): RunView {
  const fanOuts = fanOutViews(record);
  return { failure: failureView(record, fanOuts), fanOuts, sentences: sentencesOf(record.states) };
}

/** The list's one-line account of a run that did not succeed: the failed step and the sentence. */
export function failureSummary(record: RunRecord): { state: string | null; sentence: string } | null {
  const failure = runView(record).failure;
  return failure ? { state: failure.state, sentence: failure.sentence } : null;
}

function failureView(record: RunRecord, fanOuts: FanOutView[]): FailureView | null {
  const error = record.error;
  if (!error) return null;
  const described = describeCause({ Error: error.error, Cause: error.cause });
  const base = { iteration: null, visit: null, attempt: null, attempts: 0, tier: null, message: null, error: error.error, details: described.details, cause: error.cause };

  // The step the run model found (its one rule: the last attempt whose Error and Cause are the execution's own).
  if (error.state) {
    const found = failedVisit(record.states, error.state, error.error, error.cause);
    const visit = found ? record.states[found.visit] : undefined;
    return {
      ...base,
      kind: "step",
      state: error.state,
      iteration: visit?.iteration ?? null,
      visit: found?.visit ?? null,
      attempt: found?.attempt?.number ?? null,
      attempts: visit ? attemptsOf(record.states, visit) : 0,
      tier: found?.attempt?.tier ?? null,
      sentence: described.sentence,
      message: found?.attempt?.message ?? null,
    };
  }
  // A fan-out that ran to its end while items failed: its digest's line, opened on the Map whose items failed.
  const digest = digestOf(record.output);
  if (digest) {
    const failedMap = fanOuts.find((f) => f.items.some((i) => i.status !== "SUCCEEDED" && i.status !== "NOT_STARTED")) ?? fanOuts[0];
    return {
      ...base,
      kind: "fan-out",
      state: failedMap?.state ?? null,
      sentence: error.line,
      details: failedItemsOf(digest).map((f) => `${f.item}: ${f.cause}`),
    };
  }
  // Interrupted or timed out: no step failed it; open on the state it stopped (a task or a Map rather than a Choice).
  const stopped = lastIndex(record.states, (v) => (v.status === "ABORTED" || v.status === "TIMED_OUT") && (v.type === "Task" || v.type === "Map"));
  const at = stopped >= 0 ? stopped : lastIndex(record.states, (v) => v.status === "ABORTED" || v.status === "TIMED_OUT");
  const visit = record.states[at];
  return {
    ...base,
    kind: "stopped",
    state: visit?.name ?? null,
    iteration: visit?.iteration ?? null,
    visit: visit ? at : null,
    attempt: visit?.attempts.at(-1)?.number ?? null,
    attempts: visit ? attemptsOf(record.states, visit) : 0,
    tier: visit?.attempts.at(-1)?.tier ?? null,
    sentence: error.line,
  };
}

/** The visit of `state` whose failure is the run's (the same Error and Cause), else its last failed visit. */
function failedVisit(states: StateVisit[], state: string, error: string, cause: string): { visit: number; attempt?: AttemptRecord } | undefined {
  let fallback: { visit: number; attempt?: AttemptRecord } | undefined;
  for (let i = states.length - 1; i >= 0; i--) {
    const v = states[i];
    if (v.name !== state) continue;
    const attempt = v.attempts.findLast((a) => a.error !== null);
    if ((attempt ?? v).error === error && ((attempt ?? v).cause ?? "") === cause) return { visit: i, attempt };
    if (!fallback && (attempt || v.error !== null)) fallback = { visit: i, attempt };
  }
  return fallback;
}

/** Attempts of a state in its iteration: a Task's numbered 1..N across its visits, any other state's visits. */
function attemptsOf(states: StateVisit[], visit: StateVisit): number {
  const same = states.filter((v) => v.name === visit.name && v.iteration === visit.iteration);
  return visit.type === "Task" ? Math.max(0, ...same.flatMap((v) => v.attempts.map((a) => a.number))) : same.length;
}

function lastIndex<T>(list: T[], test: (item: T) => boolean): number {
  for (let i = list.length - 1; i >= 0; i--) if (test(list[i])) return i;
  return -1;
}

function sentencesOf(states: StateVisit[]): Record<string, string> {
  const sentences: Record<string, string> = {};
  states.forEach((v, i) => {
    for (const a of v.attempts) if (a.error != null) sentences[`${i}/${a.number}`] = causeSentence(a.error, a.cause);
    if (v.error != null && !v.attempts.length) sentences[String(i)] = causeSentence(v.error, v.cause);
  });
  return sentences;
}

function fanOutViews(record: RunRecord): FanOutView[] {
  const items = fanOutItems(record.states, itemKeyOf(record.workflow));
  const maps = [...new Set(items.map((i) => i.map))];
  return maps.map((state) => {
    const mine = items.filter((i) => i.map === state);
    return {
      state,
      counts: fanOutCounts(mine),
      items: mine.map((item) => {
        const child = record.children.find((c) => c.name === item.execution);
        const earlier = item.previous;
        return {
          iteration: item.iteration,
          name: item.region,
          execution: item.started ? item.execution : (earlier?.name ?? item.execution),
          status: item.status,
          child: child?.id ?? null,
          duration_ms: child?.duration_ms ?? null,
          sentence: item.error
            ? causeSentence(item.error.error, item.error.cause)
            : item.started
              ? null
              : `not started: ${earlier?.name ?? "its earlier execution"} ${String(earlier?.status ?? "SUCCEEDED").toLowerCase()} stands`,
        };
      }),
    };
  });
}

/** The item field that names a workflow's fan-out items (`itemKey`: the region), "region" when unknown. */
function itemKeyOf(workflow: string): string {
  try {
    const step = allWorkflows().find((w) => w.name === workflow)?.steps.find((s) => s.kind === "fanOut");
    return step?.kind === "fanOut" ? step.itemKey : DEFAULT_ITEM_KEY;
  } catch {
    // The workflows' configuration (environment) is not this page's concern: a bad value leaves the default key.
    return DEFAULT_ITEM_KEY;
  }
}
const DEFAULT_ITEM_KEY = "region";
