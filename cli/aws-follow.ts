import {
  DescribeExecutionCommand,
  DescribeStateMachineCommand,
  GetExecutionHistoryCommand,
  ListStateMachinesCommand,
  StartExecutionCommand,
  type DescribeExecutionCommandOutput,
  type GetExecutionHistoryCommandOutput,
  type HistoryEvent,
  type SFNClient,
} from "@aws-sdk/client-sfn";
import { forEachState, oneLineError, tierFromState } from "../local/engine.ts";
import type { ProgressEvent } from "../local/progress-events.ts";
import { outcomeLine, runOutcome } from "../local/run-outcome.ts";
import { CONTAINER_FAILURE_EVENTS, detailsOf, TASK_FAILURE_EVENTS, TASK_START_EVENTS } from "../local/run-record.ts";

/**
 * Runs a deployed state machine and follows it: the AWS counterpart of `LocalEngine.run`. The execution history
 * is turned into the same `ProgressEvent`s the local engine emits, so the progress view does not care where the
 * execution ran.
 */

export interface AwsRunOptions {
  client: SFNClient;
  stateMachineArn: string;
  input: unknown;
  name?: string;
  /** Time between polls of the history and the status (default 2000). */
  pollMs?: number;
  onEvent: (e: ProgressEvent) => void;
  /** Each new history event as it is read, with the execution's ARN (the run record is kept live from these). */
  onHistoryEvent?: (event: HistoryEvent, executionArn: string) => void;
  /** As soon as StartExecution answers: the execution's ARN (say it before anything else can go wrong). */
  onStarted?: (executionArn: string) => void;
  /** Stops following (not the execution, which keeps running on AWS): the promise rejects with an AbortError. */
  signal?: AbortSignal;
  /** How progress lines name the machine; default: the state machine's name from the execution ARN. */
  machine?: string;
}

export type AwsExecutionStatus = "SUCCEEDED" | "FAILED" | "TIMED_OUT" | "ABORTED";

export interface AwsStateRecord {
  name: string;
  status: string;
  attempts: number;
  duration_ms: number;
  tier?: string;
}

export interface AwsRunResult {
  executionArn: string;
  status: AwsExecutionStatus;
  output?: unknown;
  error?: string;
  cause?: string;
  startedAt: number;
  stoppedAt: number;
  states: AwsStateRecord[];
}

export interface HistoryToProgressOptions {
  /** Machine name for execution-started/-finished; default: taken from `execution` when it is an execution ARN. */
  machine?: string;
  /** Wait states' `Seconds`, by state name: how long a "wait before retry" waits (0 when unknown). */
  waitSeconds?: Record<string, number>;
}

const DEFAULT_POLL_MS = 2000;
const MAX_BACKOFF_MS = 30_000;
/** Polls to wait for the terminal history event once DescribeExecution says the execution has stopped. */
const SETTLE_POLLS = 5;
const TERMINAL: ReadonlySet<string> = new Set(["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"]);

/**
 * Starts an execution and follows it until it stops: history and status are polled every `pollMs`, each new
 * history event is converted (see `historyToProgress`) and handed to `onEvent`, in order. Never throws for a
 * failed execution: see `status`. Throttled polls back off and go on.
 */
export async function startAndFollow(opts: AwsRunOptions): Promise<AwsRunResult> {
  const { client, signal } = opts;
  const pollMs = Math.max(1, opts.pollMs ?? DEFAULT_POLL_MS);
  const http = signal ? { abortSignal: signal } : {};

  throwIfAborted(signal);
  const started = await client.send(
    new StartExecutionCommand({
      stateMachineArn: opts.stateMachineArn,
      input: JSON.stringify(opts.input ?? {}),
      ...(opts.name ? { name: opts.name } : {}),
    }),
    http,
  );
  const executionArn = (started as typeof started | undefined)?.executionArn;
  if (!executionArn) throw new Error(`StartExecution on ${opts.stateMachineArn} returned no executionArn`);
  opts.onStarted?.(executionArn);
  const { name: executionName, machine: machineFromArn } = parseExecutionArn(executionArn);
  const waitSeconds = await waitSecondsOf(client, opts.stateMachineArn, signal);
  const converter = new HistoryConverter(executionName, { machine: opts.machine ?? machineFromArn, waitSeconds });

  let nextToken: string | undefined;
  let lastId = 0;
  /** One page of history; returns whether the history said there is more. */
  const pollHistory = async (): Promise<boolean> => {
    throwIfAborted(signal);
    const page: GetExecutionHistoryCommandOutput | undefined = await client.send(
      new GetExecutionHistoryCommand({ executionArn, maxResults: 1000, ...(nextToken ? { nextToken } : {}) }),
      http,
    );
    for (const event of page?.events ?? []) {
      // Without a token the next poll starts again from the first event: skip what was seen already.
      if (typeof event.id === "number") {
        if (event.id <= lastId) continue;
        lastId = event.id;
      }
      opts.onHistoryEvent?.(event, executionArn);
      for (const progress of converter.push(event)) opts.onEvent(progress);
    }
    nextToken = page?.nextToken || undefined;
    return nextToken !== undefined;
  };

  let delay = pollMs;
  let settling = 0;
  let description: DescribeExecutionCommandOutput | undefined;
  for (;;) {
    let more: boolean;
    try {
      // Status first, then history: once the status says stopped, the history read after it is complete.
      throwIfAborted(signal);
      description = await client.send(new DescribeExecutionCommand({ executionArn }), http);
      more = await pollHistory();
      delay = pollMs;
    } catch (err) {
      if (!isThrottling(err)) throw err;
      delay = Math.min(Math.max(delay, pollMs) * 2, Math.max(MAX_BACKOFF_MS, pollMs));
      await sleep(delay, signal);
      continue;
    }
    const status = description?.status ?? "RUNNING";
    if (TERMINAL.has(status) && !more && (converter.finished || ++settling > SETTLE_POLLS)) break;
    if (!more) await sleep(delay, signal);
  }

  const status = description!.status as AwsExecutionStatus;
  const startedAt = toMillis(description?.startDate) ?? toMillis(started.startDate) ?? converter.startedAt ?? Date.now();
  const stoppedAt = toMillis(description?.stopDate) ?? converter.stoppedAt ?? Date.now();
  if (!converter.finished) {
    // The history never showed how it ended: say it from the status so the progress view still gets an ending.
    for (const progress of converter.finish(status, description?.error, description?.cause, stoppedAt)) opts.onEvent(progress);
  }
  return {
    executionArn,
    status,
    ...(description?.output !== undefined ? { output: parseJson(description.output) } : {}),
    ...(description?.error !== undefined ? { error: description.error } : {}),
    ...(description?.cause !== undefined ? { cause: description.cause } : {}),
    startedAt,
    stoppedAt,
    states: converter.states(),
  };
}

/**
 * The progress events an execution history stands for. Pure: the same events give the same answer, and a
 * longer history only adds events at the end (so it can be applied to a history as it grows).
 *
 * `execution` is the execution's name (what the progress view shows), or its ARN (the name and the machine are
 * then taken from it).
 */
export function historyToProgress(events: HistoryEvent[], execution: string, options: HistoryToProgressOptions = {}): ProgressEvent[] {
  const parsed = execution.startsWith("arn:") ? parseExecutionArn(execution) : { name: execution, machine: "" };
  const converter = new HistoryConverter(parsed.name, { ...options, machine: options.machine ?? parsed.machine });
  return events.flatMap((event) => converter.push(event));
}

/**
 * The ARN of a workflow's deployed state machine. CDK names it after its logical id: `ski-atlas` becomes
 * `skiatlasStateMachine8AE2B847-AbC123`. Only `<name without dashes>StateMachine` counts, so `ski-atlas` does
 * not pick `skiatlasmonthlyStateMachine…`.
 */
export async function findStateMachineArn(client: SFNClient, workflow: string): Promise<string> {
  const nodash = workflow.replace(/[^A-Za-z0-9]/g, "");
  const prefix = `${nodash}StateMachine`.toLowerCase();
  const matches: { name: string; arn: string }[] = [];
  let nextToken: string | undefined;
  do {
    const page = await client.send(new ListStateMachinesCommand({ ...(nextToken ? { nextToken } : {}) }));
    for (const machine of page?.stateMachines ?? []) {
      if (machine.name && machine.stateMachineArn && nodash && machine.name.toLowerCase().startsWith(prefix)) {
        matches.push({ name: machine.name, arn: machine.stateMachineArn });
      }
    }
    nextToken = page?.nextToken || undefined;
  } while (nextToken);

  if (matches.length === 1) return matches[0].arn;
  const output = `${workflow.replace(/(^|-)([a-z0-9])/g, (_, __, c: string) => c.toUpperCase())}StateMachineArn`;
  const hint = `pass --state-machine-arn (the stack output ${output})`;
  if (matches.length === 0) {
    throw new Error(
      `no state machine named ${nodash}StateMachine… for workflow '${workflow}' in this account and region: ` +
        `is the stack deployed here? Or ${hint}`,
    );
  }
  throw new Error(`${matches.length} state machines match workflow '${workflow}' (${matches.map((m) => m.name).join(", ")}): ${hint}`);
}

// ---- history → progress ----

interface StateInstance {
  key: string;
  name: string;
  type: string;
  thread: string;
  record: AwsStateRecord;
  /** When the current attempt began (the state's entry, or the retry's TaskScheduled). */
  attemptStart: number;
  /** The current attempt failed and nothing has happened since: a retry, a catch or the end follows. */
  failure?: { at: number; error: string };
}

/** Types whose state stays open while other states run inside it. */
const CONTAINER_TYPES = new Set(["Map", "Parallel"]);
const ABORT_EVENTS = new Set(["TaskStateAborted", "MapStateAborted", "ParallelStateAborted", "WaitStateAborted"]);
const EXECUTION_END: Record<string, AwsExecutionStatus> = {
  ExecutionSucceeded: "SUCCEEDED",
  ExecutionFailed: "FAILED",
  ExecutionTimedOut: "TIMED_OUT",
  ExecutionAborted: "ABORTED",
};

const ESCALATE = ": escalate ";
const WAIT_BEFORE_RETRY = ": wait before retry";

/**
 * Reads history events one at a time. States inside a Map iteration are told apart by following
 * `previousEventId` back to their `MapIterationStarted` (the "thread" below), so concurrent iterations of the
 * same state are not mistaken for retries.
 */
class HistoryConverter {
  finished = false;
  startedAt?: number;
  stoppedAt?: number;
  private readonly records: AwsStateRecord[] = [];
  private readonly byKey = new Map<string, AwsStateRecord>();
  private readonly threadOf = new Map<number, string>();
  private readonly open = new Map<string, StateInstance[]>();
  /** Key of the last state entered in each thread. */
  private readonly lastEntered = new Map<string, string>();
  /** The last failed task in each thread (for the attempt number a "wait before retry" leads to). */
  private readonly lastFailure = new Map<string, { name: string; key: string; error: string }>();
  private seq = 0;

  constructor(
    private readonly execution: string,
    private readonly options: HistoryToProgressOptions,
  ) {}

  push(event: HistoryEvent): ProgressEvent[] {
    const out: ProgressEvent[] = [];
    const time = toMillis(event.timestamp) ?? this.stoppedAt ?? this.startedAt ?? 0;
    const emit = (e: DistributiveOmit<ProgressEvent, "execution" | "time">) =>
      out.push({ ...e, execution: this.execution, time } as ProgressEvent);
    const type = String(event.type ?? "");
    const details = detailsOf(event);
    const thread = this.threadFor(event, type, details);

    if (type === "ExecutionStarted") {
      this.startedAt = time;
      emit({ kind: "execution-started", machine: this.machine });
    } else if (Object.hasOwn(EXECUTION_END, type)) {
      for (const e of this.finish(EXECUTION_END[type], str(details.error), str(details.cause), time, typeof details.output === "string" ? parseJson(details.output) : undefined)) out.push(e);
    } else if (type.endsWith("StateEntered")) {
      this.entered(type.slice(0, -"StateEntered".length), str(details.name) ?? "", thread, time, emit);
    } else if (type.endsWith("StateExited")) {
      this.exited(str(details.name) ?? "", thread, time, emit);
    } else if (TASK_START_EVENTS.has(type)) {
      const instance = this.current(thread, (i) => i.type === "Task");
      if (instance?.failure) this.retry(instance, time, emit);
    } else if (TASK_FAILURE_EVENTS.has(type) || CONTAINER_FAILURE_EVENTS.has(type)) {
      const container = CONTAINER_FAILURE_EVENTS.has(type);
      const instance = this.current(thread, (i) => (container ? CONTAINER_TYPES.has(i.type) : i.type === "Task"));
      if (instance && !instance.failure) {
        const error = oneLineError(str(details.error) ?? defaultError(type), details.cause);
        this.fail(instance, time, error);
        emit({ kind: "state-failed", state: instance.name, type: instance.type, error });
      }
    } else if (ABORT_EVENTS.has(type)) {
      const instance = this.current(thread, (i) => type.startsWith(i.type));
      if (instance) {
        instance.record.status = "ABORTED";
        this.close(instance);
      }
    }
    if (typeof event.id === "number") this.threadOf.set(event.id, thread);
    return out;
  }

  /** Ends the execution: what is still open failed with it. */
  finish(status: AwsExecutionStatus, error: string | undefined, cause: unknown, time: number, output?: unknown): ProgressEvent[] {
    if (this.finished) return [];
    this.finished = true;
    this.stoppedAt = time;
    const out: ProgressEvent[] = [];
    const line = error !== undefined || cause !== undefined ? oneLineError(error, cause) : undefined;
    for (const instance of [...this.open.values()].flat().reverse()) {
      if (status === "SUCCEEDED") {
        instance.record.status = "SUCCEEDED";
      } else if (!instance.failure) {
        instance.record.status = status === "ABORTED" ? "ABORTED" : "FAILED";
        instance.record.duration_ms += Math.max(0, time - instance.attemptStart);
        if (instance.type === "Task" || instance.type === "Map") {
          const stateError = line ?? (status === "TIMED_OUT" ? "States.Timeout: the execution timed out" : `execution ${status.toLowerCase()}`);
          out.push({ kind: "state-failed", execution: this.execution, time, state: instance.name, type: instance.type, error: stateError });
        }
      }
    }
    this.open.clear();
    // What the run came to: a fan-out that succeeded may say PARTIAL or FAILED in its digest (local/run-outcome.ts).
    const finalLine = line ?? outcomeLine(status, output, undefined);
    out.push({
      kind: "execution-finished",
      execution: this.execution,
      time,
      machine: this.machine,
      status: runOutcome(status, output),
      ...(finalLine !== undefined ? { error: finalLine } : {}),
      durationMs: Math.max(0, time - (this.startedAt ?? time)),
    });
    return out;
  }

  states(): AwsStateRecord[] {
    return this.records.map((r) => ({ ...r }));
  }

  private get machine(): string {
    return this.options.machine ?? "";
  }

  private threadFor(event: HistoryEvent, type: string, details: Record<string, unknown>): string {
    const previous = typeof event.previousEventId === "number" ? this.threadOf.get(event.previousEventId) : undefined;
    const parent = previous ?? "";
    if (type === "MapIterationStarted") return `${parent}/${str(details.name) ?? ""}[${String(details.index ?? "")}]`;
    if (type.startsWith("MapIteration")) {
      // Succeeded / Failed / Aborted: the iteration is over, what follows belongs to the Map's own thread.
      const own = `/${str(details.name) ?? ""}[${String(details.index ?? "")}]`;
      return parent.endsWith(own) ? parent.slice(0, -own.length) : parent;
    }
    return parent;
  }

  private entered(type: string, name: string, thread: string, time: number, emit: Emit): void {
    const key = `${thread}/${name}`;
    const again = this.open.get(thread)?.find((i) => i.key === key);
    if (again && type === "Task" && this.lastEntered.get(thread) === key) {
      // Entered again with no other state in between: a Retry fired.
      this.retry(again, time, emit);
      return;
    }
    // Whatever failed in this thread and is still open was caught: the execution went on to this state.
    for (const stale of (this.open.get(thread) ?? []).filter((i) => i.failure && !CONTAINER_TYPES.has(i.type))) {
      stale.record.status = "CAUGHT";
      this.close(stale);
    }
    this.lastEntered.set(thread, key);

    // A state entered while another instance of it is still open runs concurrently: keep them apart.
    const instanceKey = again ? `${key}@${++this.seq}` : key;
    let record = this.byKey.get(instanceKey);
    if (!record) {
      record = { name, status: "RUNNING", attempts: 0, duration_ms: 0 };
      const tier = tierFromState(name);
      if (tier) record.tier = tier;
      this.byKey.set(instanceKey, record);
      this.records.push(record);
    }
    record.attempts += 1;
    record.status = "RUNNING";
    const instance: StateInstance = { key: instanceKey, name, type, thread, record, attemptStart: time };
    const stack = this.open.get(thread) ?? [];
    stack.push(instance);
    this.open.set(thread, stack);

    if (type === "Task" || type === "Map") {
      emit({ kind: "state-started", state: name, type, attempt: record.attempts, ...tierOf(name) });
    } else if (type === "Pass" && name.includes(ESCALATE)) {
      emit({ kind: "tier-escalated", state: name, detail: name.slice(name.indexOf(ESCALATE) + ESCALATE.length) });
    } else if (type === "Wait" && name.endsWith(WAIT_BEFORE_RETRY)) {
      const base = name.slice(0, -WAIT_BEFORE_RETRY.length);
      const failed = this.lastFailure.get(thread);
      const retried = failed && (failed.name === base || failed.name.startsWith(`${base} (`)) ? failed : undefined;
      const attempt = (retried ? (this.byKey.get(retried.key)?.attempts ?? 0) : record.attempts) + 1;
      emit({
        kind: "retrying",
        state: base,
        attempt,
        waitMs: (this.options.waitSeconds?.[name] ?? 0) * 1000,
        ...(retried ? { error: retried.error } : {}),
      });
    }
  }

  private exited(name: string, thread: string, time: number, emit: Emit): void {
    const instance = this.current(thread, (i) => i.name === name);
    if (!instance) return;
    this.close(instance);
    if (instance.failure) {
      // A Catch took the failure: the state is left, but it did not succeed.
      instance.record.status = "CAUGHT";
      return;
    }
    const durationMs = Math.max(0, time - instance.attemptStart);
    instance.record.duration_ms += durationMs;
    instance.record.status = "SUCCEEDED";
    if (instance.type === "Task" || instance.type === "Map") {
      emit({ kind: "state-succeeded", state: name, type: instance.type, durationMs, ...tierOf(name) });
    }
  }

  private retry(instance: StateInstance, time: number, emit: Emit): void {
    const failure = instance.failure;
    instance.record.attempts += 1;
    instance.record.status = "RUNNING";
    instance.failure = undefined;
    instance.attemptStart = time;
    emit({
      kind: "retrying",
      state: instance.name,
      attempt: instance.record.attempts,
      waitMs: failure ? Math.max(0, time - failure.at) : 0,
      ...(failure ? { error: failure.error } : {}),
    });
    emit({ kind: "state-started", state: instance.name, type: instance.type, attempt: instance.record.attempts, ...tierOf(instance.name) });
  }

  private fail(instance: StateInstance, time: number, error: string): void {
    instance.failure = { at: time, error };
    instance.record.status = "FAILED";
    instance.record.duration_ms += Math.max(0, time - instance.attemptStart);
    if (instance.type === "Task") this.lastFailure.set(instance.thread, { name: instance.name, key: instance.key, error });
  }

  /** The innermost open state matching `test`: in this thread if there is one, else the latest anywhere. */
  private current(thread: string, test: (i: StateInstance) => boolean): StateInstance | undefined {
    const own = (this.open.get(thread) ?? []).findLast(test);
    if (own) return own;
    let latest: StateInstance | undefined;
    for (const stack of this.open.values()) {
      const candidate = stack.findLast(test);
      if (candidate && (!latest || this.records.indexOf(candidate.record) > this.records.indexOf(latest.record))) latest = candidate;
    }
    return latest;
  }

  private close(instance: StateInstance): void {
    const stack = this.open.get(instance.thread);
    if (!stack) return;
    const at = stack.lastIndexOf(instance);
    if (at >= 0) stack.splice(at, 1);
    if (stack.length === 0) this.open.delete(instance.thread);
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
type Emit = (e: DistributiveOmit<ProgressEvent, "execution" | "time">) => void;

function tierOf(name: string): { tier?: string } {
  const tier = tierFromState(name);
  return tier ? { tier } : {};
}

function defaultError(type: string): string {
  return type.endsWith("TimedOut") ? "States.Timeout" : "States.TaskFailed";
}

// ---- helpers ----

function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

function toMillis(value: unknown): number | undefined {
  if (value instanceof Date) return value.getTime();
  if (typeof value === "number") return value;
  if (typeof value === "string") {
    const ms = Date.parse(value);
    return Number.isNaN(ms) ? undefined : ms;
  }
  return undefined;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** `arn:aws:states:eu-west-1:123:execution:<machine>:<name>` → its parts (an express `:express:` ARN too). */
function parseExecutionArn(arn: string): { name: string; machine: string } {
  const parts = arn.split(":");
  const at = parts.findIndex((p) => p === "execution" || p === "express");
  if (at < 0 || parts.length < at + 3) return { name: parts.at(-1) ?? arn, machine: "" };
  return { machine: parts[at + 1], name: parts.slice(at + 2).join(":") };
}

/** Seconds of each Wait state, from the deployed definition; empty when it cannot be read (it only labels lines). */
async function waitSecondsOf(client: SFNClient, stateMachineArn: string, signal?: AbortSignal): Promise<Record<string, number>> {
  const seconds: Record<string, number> = {};
  try {
    const described = await client.send(new DescribeStateMachineCommand({ stateMachineArn }), signal ? { abortSignal: signal } : {});
    if (!described?.definition) return seconds;
    forEachState(JSON.parse(described.definition), (name, state) => {
      if (state.Type === "Wait" && typeof state.Seconds === "number") seconds[name] = state.Seconds;
    });
  } catch {
    throwIfAborted(signal);
  }
  return seconds;
}

function isThrottling(err: unknown): boolean {
  const e = err as { name?: string; $retryable?: { throttling?: boolean } } | undefined;
  return e?.name === "ThrottlingException" || e?.name === "TooManyRequestsException" || e?.$retryable?.throttling === true;
}

function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw abortError();
}

function abortError(): Error {
  return Object.assign(new Error("stopped following the execution (it keeps running on AWS)"), { name: "AbortError" });
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError());
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError());
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

