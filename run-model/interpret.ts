import { TASK_ENV } from "../lib/task-env.ts";
import { causeSentence } from "./causes.ts";
import {
  CONTAINER_FAILURE_EVENTS,
  detailsOf,
  EXECUTION_END,
  parseJsonText,
  STATE_ABORT_EVENTS,
  STATE_TYPES,
  TASK_FAILURE_EVENTS,
  TASK_START_EVENTS,
  TASK_SUCCESS_EVENTS,
  toMillis,
  type ExecutionStatus,
  type HistoryEvent,
} from "./history.ts";
import { outcomeLine, runOutcome } from "./outcome.ts";
import type { ProgressEvent } from "./progress-events.ts";
import { STATE_NAMES, taskAttemptPlanOf } from "./state-names.ts";

/**
 * The one interpreter from an execution history to a run: every state visit, every attempt of a task (numbered
 * 1..N per state across its Retry attempts and its re-entries by the shared retry and escalation states), the tier
 * each attempt ran on, the Cause of each failure, which step failed the run and what the run came to. The local
 * engine's progress, the `--aws` follow, the run records and the console all read a run through it.
 *
 * It reads a history as it grows (`push`, one event at a time, returning the progress events it stands for), or
 * whole (`interpretHistory`). States inside a Map iteration are told apart by following `previousEventId` back to
 * their `MapIterationStarted` (the "thread"), so concurrent iterations of one state are never taken for retries.
 */

export type RunStatus = "RUNNING" | ExecutionStatus | "PARTIAL";
export type AttemptStatus = "RUNNING" | "SUCCEEDED" | "FAILED" | "TIMED_OUT" | "ABORTED";
export type VisitStatus = AttemptStatus | "CAUGHT";

/** One try of a Task state: Step Functions' TaskScheduled … TaskSucceeded/TaskFailed. */
export interface AttemptRecord {
  /** 1..N across every visit of the state (in its Map iteration): the run's attempts of that step, in order. */
  number: number;
  started_at: string;
  stopped_at: string | null;
  duration_ms: number | null;
  status: AttemptStatus;
  error: string | null;
  cause: string | null;
  /** ECS steps: the size tier the attempt ran on (its `ATLAS_TIER`, from what RunTask was asked for). */
  tier: string | null;
  /** ECS steps run locally: the highest resident memory of the task's process tree. */
  peak_rss_bytes: number | null;
  /** ECS steps run locally: the step's log (stdout and stderr). */
  log_file: string | null;
  /** ECS steps run locally: the last `error:` line the step printed (what to fix, in the step's words). */
  message: string | null;
}

/** One entry into a state (a state entered again, e.g. a step run again after a retry, is a new visit). */
export interface StateVisit {
  name: string;
  type: string;
  /** Inside a Map iteration: `Regions[0]`; null at the top level. */
  iteration: string | null;
  entered_at: string;
  exited_at: string | null;
  status: VisitStatus;
  input: unknown;
  output: unknown;
  error: string | null;
  cause: string | null;
  attempts: AttemptRecord[];
}

/** What only the local ECS runner knows about an attempt, matched to the attempts of the named state in order. */
export interface EcsAttemptNote {
  state: string;
  peak_rss_bytes: number | null;
  log_file: string | null;
  message: string | null;
}

/** Why the run failed: the step whose failure ended it (when one did), and the one line a person acts on. */
export interface RunFailure {
  /** The state whose failure became the run's (`Extract`), or null (a timeout, an interruption). */
  state: string | null;
  error: string;
  cause: string;
  line: string;
}

export interface RunModel {
  /** The execution's status as Step Functions gives it (RUNNING until the history ends). */
  status: "RUNNING" | ExecutionStatus;
  /** What the run came to: the status, except that a fan-out's digest may make a SUCCEEDED run PARTIAL or FAILED. */
  outcome: RunStatus;
  startedAt?: number;
  stoppedAt?: number;
  input: unknown;
  output: unknown;
  /** The execution's own Error and Cause, when it did not succeed. */
  error: { error: string; cause: string } | null;
  visits: StateVisit[];
  failure: RunFailure | null;
}

export interface InterpretOptions {
  /** How progress events name the execution (its name). */
  execution?: string;
  machine?: string;
  /** What the local ECS runner said about each attempt, in the order the attempts ended (per state). */
  notes?: EcsAttemptNote[];
  /** The local engine replaces every wait with this many milliseconds: a "Wait before retry" then lasts this long. */
  waitMs?: number;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
type Progress = DistributiveOmit<ProgressEvent, "execution" | "time">;

const STATE_TYPE_SET: ReadonlySet<string> = new Set(STATE_TYPES);
/** Types whose state stays open while other states run inside it. */
const CONTAINER_TYPES: ReadonlySet<string> = new Set(["Map", "Parallel"]);

export class RunInterpreter {
  private readonly visitList: StateVisit[] = [];
  private readonly threadOf = new Map<number, string>();
  private readonly open = new Map<string, StateVisit[]>();
  private readonly attemptCounts = new Map<string, number>();
  /** The last failed attempt of each state, per thread: what a "Wait before retry" retries. */
  private readonly lastFailure = new Map<string, { visit: StateVisit; line: string }>();
  private readonly notes = new Map<string, EcsAttemptNote[]>();
  private status: RunModel["status"] = "RUNNING";
  private startedAt?: number;
  private stoppedAt?: number;
  private input: unknown = null;
  private output: unknown = null;
  private error: RunModel["error"] = null;
  private failureOf: RunFailure | null = null;
  private endType?: string;

  constructor(private readonly options: InterpretOptions = {}) {
    for (const note of options.notes ?? []) this.note(note);
  }

  get finished(): boolean {
    return this.status !== "RUNNING";
  }

  /** A local attempt's extras, for the next attempt of `note.state` to end. */
  note(note: EcsAttemptNote): void {
    this.notes.set(note.state, [...(this.notes.get(note.state) ?? []), note]);
  }

  /** Reads one more event; returns the progress events it stands for. */
  push(event: HistoryEvent): ProgressEvent[] {
    const out: Progress[] = [];
    const type = String(event.type ?? "");
    const d = detailsOf(event);
    const time = toMillis(event.timestamp) ?? this.stoppedAt ?? this.startedAt ?? 0;
    const at = new Date(time).toISOString();
    const thread = this.threadFor(event, type, d);

    if (type === "ExecutionStarted") {
      this.startedAt = time;
      this.input = parseJsonText(d.input);
      out.push({ kind: "execution-started", machine: this.options.machine ?? "" });
    } else if (EXECUTION_END[type]) {
      out.push(...this.end(type, text(d.error), text(d.cause), time, type === "ExecutionSucceeded" ? parseJsonText(d.output) : null));
    } else if (type.endsWith("StateEntered") && STATE_TYPE_SET.has(type.slice(0, -"StateEntered".length))) {
      this.entered(type.slice(0, -"StateEntered".length), text(d.name) ?? "", thread, at, parseJsonText(d.input), out);
    } else if (type.endsWith("StateExited")) {
      this.exited(text(d.name) ?? "", thread, at, parseJsonText(d.output), out);
    } else if (TASK_START_EVENTS.has(type)) {
      this.scheduled(thread, at, d, out);
    } else if (TASK_SUCCESS_EVENTS.has(type)) {
      const attempt = this.innermost(thread, (v) => v.type === "Task")?.attempts.at(-1);
      if (attempt?.status === "RUNNING") this.endAttempt(this.innermost(thread, (v) => v.type === "Task")!, attempt, at, "SUCCEEDED", d.output);
    } else if (TASK_FAILURE_EVENTS.has(type) || CONTAINER_FAILURE_EVENTS.has(type)) {
      this.failed(type, thread, at, d, out);
    } else if (STATE_ABORT_EVENTS.has(type)) {
      const visit = this.innermost(thread, (v) => type.startsWith(v.type));
      if (visit) {
        const attempt = visit.attempts.at(-1);
        if (attempt?.status === "RUNNING") this.endAttempt(visit, attempt, at, "ABORTED");
        visit.status = "ABORTED";
        visit.exited_at ??= at;
        this.close(thread, visit);
      }
    }
    if (typeof event.id === "number") this.threadOf.set(event.id, thread);
    return out.map((e) => ({ ...e, execution: this.options.execution ?? "", time }) as ProgressEvent);
  }

  /**
   * Ends a run whose history never showed how it ended (DescribeExecution says it stopped): as an end event would.
   */
  finish(status: ExecutionStatus, error: string | undefined, cause: string | undefined, time: number, output?: unknown): ProgressEvent[] {
    if (this.finished) return [];
    const type = Object.entries(EXECUTION_END).find(([, s]) => s === status)?.[0] ?? "ExecutionFailed";
    return this.end(type, error, cause, time, output ?? null).map((e) => ({ ...e, execution: this.options.execution ?? "", time }) as ProgressEvent);
  }

  model(): RunModel {
    return {
      status: this.status,
      outcome: runOutcome(this.status, this.output),
      startedAt: this.startedAt,
      stoppedAt: this.stoppedAt,
      input: this.input,
      output: this.output,
      error: this.error,
      visits: this.visitList,
      failure: this.failureOf,
    };
  }

  // ---- threads and open states ----

  private threadFor(event: HistoryEvent, type: string, d: Record<string, unknown>): string {
    const previous = typeof event.previousEventId === "number" ? (this.threadOf.get(event.previousEventId) ?? "") : "";
    if (type === "MapIterationStarted") return `${previous}/${text(d.name) ?? ""}[${String(d.index ?? "")}]`;
    if (type.startsWith("MapIteration")) {
      // Succeeded / Failed / Aborted: the iteration is over, what follows belongs to the Map's own thread.
      const own = `/${text(d.name) ?? ""}[${String(d.index ?? "")}]`;
      return previous.endsWith(own) ? previous.slice(0, -own.length) : previous;
    }
    return previous;
  }

  /** The innermost open visit matching `test`: in this thread if there is one, else the latest anywhere. */
  private innermost(thread: string, test: (v: StateVisit) => boolean): StateVisit | undefined {
    const own = (this.open.get(thread) ?? []).findLast(test);
    if (own) return own;
    let latest: StateVisit | undefined;
    for (const stack of this.open.values()) {
      const candidate = stack.findLast(test);
      if (candidate && (!latest || this.visitList.indexOf(candidate) > this.visitList.indexOf(latest))) latest = candidate;
    }
    return latest;
  }

  private close(thread: string, visit: StateVisit): void {
    const stack = this.open.get(thread);
    if (!stack) return;
    const at = stack.lastIndexOf(visit);
    if (at >= 0) stack.splice(at, 1);
    if (!stack.length) this.open.delete(thread);
  }

  // ---- states ----

  private entered(type: string, name: string, thread: string, at: string, input: unknown, out: Progress[]): void {
    // Whatever failed in this thread and is still open was caught: the execution went on to this state.
    for (const stale of (this.open.get(thread) ?? []).filter((v) => v.status === "FAILED" && !CONTAINER_TYPES.has(v.type))) {
      stale.status = "CAUGHT";
      stale.exited_at ??= at;
      this.close(thread, stale);
    }
    const visit: StateVisit = {
      name,
      type,
      iteration: thread ? thread.split("/").filter(Boolean).join("/") : null,
      entered_at: at,
      exited_at: null,
      status: "RUNNING",
      input,
      output: null,
      error: null,
      cause: null,
      attempts: [],
    };
    this.visitList.push(visit);
    this.open.set(thread, [...(this.open.get(thread) ?? []), visit]);

    if (type === "Map") {
      out.push({ kind: "state-started", state: name, type, attempt: this.visitsOf(thread, name) });
      return;
    }
    const plan = taskAttemptPlanOf(input);
    if (name === STATE_NAMES.escalate && plan) {
      out.push({ kind: "tier-escalated", state: plan.state, detail: `${plan.tier} to ${plan.nextTier ?? "the next tier"}` });
    } else if (name === STATE_NAMES.waitBeforeRetry && plan) {
      const failed = this.lastFailure.get(`${thread}/${plan.state}`);
      out.push({
        kind: "retrying",
        state: plan.state,
        attempt: (this.attemptCounts.get(`${thread}/${plan.state}`) ?? 0) + 1,
        waitMs: this.options.waitMs ?? plan.retryWaitSeconds * 1000,
        ...(failed ? { error: failed.line } : {}),
        ...(failed?.visit.attempts.at(-1)?.log_file ? { logFile: failed.visit.attempts.at(-1)!.log_file! } : {}),
      });
    }
  }

  private exited(name: string, thread: string, at: string, output: unknown, out: Progress[]): void {
    const visit = this.innermost(thread, (v) => v.name === name);
    if (!visit) return;
    this.close(thread, visit);
    visit.exited_at = at;
    visit.output = output;
    const last = visit.attempts.at(-1);
    if (last?.status === "RUNNING") this.endAttempt(visit, last, at, "SUCCEEDED");
    // A Catch took the failure: the state is left, but it did not succeed.
    if (visit.status === "FAILED" || (visit.error !== null && last && last.status !== "SUCCEEDED")) {
      visit.status = "CAUGHT";
      return;
    }
    visit.status = "SUCCEEDED";
    if (visit.type === "Task" || visit.type === "Map") {
      const from = visit.type === "Task" && last ? last.started_at : visit.entered_at;
      out.push({ kind: "state-succeeded", state: name, type: visit.type, durationMs: Math.max(0, Date.parse(at) - Date.parse(from)), ...tierOf(last) });
    }
  }

  private scheduled(thread: string, at: string, d: Record<string, unknown>, out: Progress[]): void {
    const visit = this.innermost(thread, (v) => v.type === "Task");
    if (!visit) return;
    const previous = visit.attempts.at(-1);
    const key = `${thread}/${visit.name}`;
    const number = (this.attemptCounts.get(key) ?? 0) + 1;
    this.attemptCounts.set(key, number);
    const attempt: AttemptRecord = {
      number,
      started_at: at,
      stopped_at: null,
      duration_ms: null,
      status: "RUNNING",
      error: null,
      cause: null,
      tier: tierOfTaskJson(parseJsonText(d.parameters)),
      peak_rss_bytes: null,
      log_file: null,
      message: null,
    };
    visit.attempts.push(attempt);
    visit.status = "RUNNING";
    if (previous && previous.status !== "RUNNING" && previous.status !== "SUCCEEDED") {
      // The state's own Retry fired: the wait was the time since the failure.
      out.push({
        kind: "retrying",
        state: visit.name,
        attempt: number,
        waitMs: Math.max(0, Date.parse(at) - Date.parse(previous.stopped_at ?? at)),
        ...(this.lastFailure.get(key) ? { error: this.lastFailure.get(key)!.line } : {}),
        ...(previous.log_file ? { logFile: previous.log_file } : {}),
      });
    }
    out.push({ kind: "state-started", state: visit.name, type: "Task", attempt: number, ...tierOf(attempt) });
  }

  private failed(type: string, thread: string, at: string, d: Record<string, unknown>, out: Progress[]): void {
    const container = CONTAINER_FAILURE_EVENTS.has(type);
    const visit = this.innermost(thread, (v) => (container ? CONTAINER_TYPES.has(v.type) : v.type === "Task"));
    if (!visit || visit.status === "FAILED") return;
    const error = text(d.error) ?? (type.endsWith("TimedOut") ? "States.Timeout" : "States.TaskFailed");
    const cause = text(d.cause) ?? "";
    visit.error = error;
    visit.cause = cause;
    visit.status = "FAILED";
    const attempt = visit.attempts.at(-1);
    if (attempt?.status === "RUNNING") {
      this.endAttempt(visit, attempt, at, type.endsWith("TimedOut") || error === "States.Timeout" ? "TIMED_OUT" : "FAILED", undefined, error, cause);
    }
    const line = attemptLine(attempt, error, cause);
    if (visit.type === "Task") this.lastFailure.set(`${thread}/${visit.name}`, { visit, line });
    out.push({ kind: "state-failed", state: visit.name, type: visit.type, error: line, ...(attempt?.log_file ? { logFile: attempt.log_file } : {}) });
  }

  private endAttempt(visit: StateVisit, attempt: AttemptRecord, at: string, status: AttemptStatus, output?: unknown, error?: string, cause?: string): void {
    attempt.stopped_at = at;
    attempt.duration_ms = Math.max(0, Date.parse(at) - Date.parse(attempt.started_at));
    attempt.status = status;
    if (error !== undefined) {
      attempt.error = error;
      attempt.cause = cause ?? "";
    }
    // The task's own answer names its tier too (the stopped ECS task echoes its overrides).
    attempt.tier ??= tierOfTaskJson(parseJsonText(output ?? cause));
    const note = this.notes.get(visit.name)?.shift();
    if (note) {
      attempt.peak_rss_bytes = note.peak_rss_bytes;
      attempt.log_file = note.log_file;
      attempt.message = note.message;
    }
  }

  private visitsOf(thread: string, name: string): number {
    return this.visitList.filter((v) => v.name === name && (v.iteration ?? "") === thread.split("/").filter(Boolean).join("/")).length;
  }

  // ---- the end ----

  private end(type: string, error: string | undefined, cause: string | undefined, time: number, output: unknown): Progress[] {
    if (this.finished) return [];
    const status = EXECUTION_END[type];
    const at = new Date(time).toISOString();
    this.status = status;
    this.endType = type;
    this.stoppedAt = time;
    this.output = output;
    const out: Progress[] = [];
    if (status !== "SUCCEEDED") {
      const err = error ?? (status === "TIMED_OUT" ? "States.Timeout" : status === "ABORTED" ? "Aborted" : "");
      this.error = { error: err, cause: cause ?? "" };
      this.failureOf = this.failureLine(err, cause ?? "");
    }
    // What is still open ends with the execution.
    for (const visit of [...this.open.values()].flat().reverse()) {
      const attempt = visit.attempts.at(-1);
      if (attempt?.status === "RUNNING") this.endAttempt(visit, attempt, at, status === "SUCCEEDED" ? "SUCCEEDED" : status);
      if (visit.status === "RUNNING") {
        visit.status = status;
        if (status !== "SUCCEEDED" && (visit.type === "Task" || visit.type === "Map")) {
          const line = status === "TIMED_OUT" ? "States.Timeout: the execution timed out" : status === "ABORTED" ? "the execution was stopped" : (this.failureOf?.line ?? `execution ${status.toLowerCase()}`);
          out.push({ kind: "state-failed", state: visit.name, type: visit.type, error: line });
        }
      }
      visit.exited_at ??= at;
    }
    this.open.clear();
    out.push({
      kind: "execution-finished",
      machine: this.options.machine ?? "",
      status: runOutcome(status, output),
      ...(outcomeLine(status, output, this.failureOf?.line) !== undefined ? { error: outcomeLine(status, output, this.failureOf?.line)! } : {}),
      durationMs: Math.max(0, time - (this.startedAt ?? time)),
    });
    return out;
  }

  /**
   * Which step failed the run, said once for every reader: the last task attempt (or Map) whose failure is the
   * execution's own Error and Cause (a Catch put it in `$.error`, the Fail state raised it), so a failure-path step
   * that failed after it (Metrics or Notify, whose errors are caught and stored) is never taken for it. Its line is
   * the step's name and what it said (locally its own `error:` line), else the Cause in words.
   */
  private failureLine(error: string, cause: string): RunFailure {
    if (this.endType === "ExecutionAborted") return { state: null, error, cause, line: "aborted: the run was interrupted" };
    for (const visit of [...this.visitList].reverse()) {
      if (visit.type !== "Task" && !CONTAINER_TYPES.has(visit.type)) continue;
      const attempt = visit.type === "Task" ? [...visit.attempts].reverse().find((a) => a.error !== null) : undefined;
      const failed = attempt ? { error: attempt.error!, cause: attempt.cause ?? "" } : visit.error !== null ? { error: visit.error, cause: visit.cause ?? "" } : undefined;
      if (failed && failed.error === error && failed.cause === cause) {
        return { state: visit.name, error, cause, line: `${visit.name}: ${attemptLine(attempt, error, cause)}` };
      }
    }
    return { state: null, error, cause, line: causeSentence(error, cause) };
  }
}

/** Interprets a whole history. */
export function interpretHistory(events: HistoryEvent[], options: InterpretOptions = {}): RunModel {
  const interpreter = new RunInterpreter(options);
  for (const event of [...events].sort((a, b) => a.id - b.id)) interpreter.push(event);
  return interpreter.model();
}

/** What a failed attempt said: locally the step's own `error:` line, else its Cause in words. */
function attemptLine(attempt: AttemptRecord | undefined, error: string, cause: string): string {
  return attempt?.message ?? causeSentence(error, cause);
}

/**
 * The tier of an ECS task, from RunTask's parameters or the stopped task (both hold `Overrides`): its container
 * override's `ATLAS_TIER`.
 */
function tierOfTaskJson(value: unknown): string | null {
  const overrides = (value as { Overrides?: { ContainerOverrides?: { Environment?: { Name?: string; Value?: unknown }[] }[] } } | null)?.Overrides;
  for (const container of overrides?.ContainerOverrides ?? []) {
    const tier = container?.Environment?.find((e) => e?.Name === TASK_ENV.tier)?.Value;
    if (typeof tier === "string") return tier;
  }
  return null;
}

function tierOf(attempt: AttemptRecord | undefined): { tier?: string } {
  return attempt?.tier ? { tier: attempt.tier } : {};
}

function text(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/** One row per state (and Map iteration) of a run: its status, attempts and time, for tables and tests. */
export interface StateSummary {
  execution: string;
  name: string;
  type: string;
  iteration: string | null;
  status: VisitStatus;
  /** Task attempts across every visit; for any other state, its visits. */
  attempts: number;
  duration_ms: number;
  /** The tier of the last attempt that has one. */
  tier?: string;
  peak_rss_bytes?: number;
  error?: string;
}

export function stateSummaries(model: RunModel, execution: string): StateSummary[] {
  const rows = new Map<string, StateSummary>();
  for (const visit of model.visits) {
    const key = `${visit.iteration ?? ""}/${visit.name}`;
    const row = rows.get(key) ?? { execution, name: visit.name, type: visit.type, iteration: visit.iteration, status: visit.status, attempts: 0, duration_ms: 0 };
    rows.set(key, row);
    row.status = visit.status;
    if (visit.type === "Task") {
      row.attempts += visit.attempts.length;
      for (const a of visit.attempts) {
        row.duration_ms += a.duration_ms ?? 0;
        if (a.tier) row.tier = a.tier;
        if (a.peak_rss_bytes) row.peak_rss_bytes = Math.max(row.peak_rss_bytes ?? 0, a.peak_rss_bytes);
        if (a.error) row.error = a.message ?? causeSentence(a.error, a.cause);
      }
    } else {
      row.attempts += 1;
      if (visit.exited_at) row.duration_ms += Math.max(0, Date.parse(visit.exited_at) - Date.parse(visit.entered_at));
      if (visit.error) row.error = causeSentence(visit.error, visit.cause);
    }
  }
  return [...rows.values()];
}
