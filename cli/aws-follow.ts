import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  ListStateMachinesCommand,
  StartExecutionCommand,
  type DescribeExecutionCommandOutput,
  type GetExecutionHistoryCommandOutput,
  type HistoryEvent,
  type SFNClient,
} from "@aws-sdk/client-sfn";
import type { HistoryEvent as RunHistoryEvent } from "../run-model/history.ts";
import { parseJsonText, toMillis } from "../run-model/history.ts";
import { RunInterpreter, stateSummaries, type StateSummary } from "../run-model/interpret.ts";
import type { ProgressEvent } from "../run-model/progress-events.ts";

/**
 * Runs a deployed state machine and follows it: the AWS counterpart of `LocalEngine.run`. The execution history
 * is read by the same run model as a local run's (run-model/interpret.ts), into the same `ProgressEvent`s, so the
 * progress view does not care where the execution ran.
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

export interface AwsRunResult {
  executionArn: string;
  status: AwsExecutionStatus;
  output?: unknown;
  error?: string;
  cause?: string;
  startedAt: number;
  stoppedAt: number;
  states: StateSummary[];
}

export interface HistoryToProgressOptions {
  /** Machine name for execution-started/-finished; default: taken from `execution` when it is an execution ARN. */
  machine?: string;
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
  const interpreter = new RunInterpreter({ execution: executionName, machine: opts.machine ?? machineFromArn });

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
      for (const progress of interpreter.push(event as RunHistoryEvent)) opts.onEvent(progress);
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
    if (TERMINAL.has(status) && !more && (interpreter.finished || ++settling > SETTLE_POLLS)) break;
    if (!more) await sleep(delay, signal);
  }

  const status = description!.status as AwsExecutionStatus;
  const startedAt = toMillis(description?.startDate) ?? toMillis(started.startDate) ?? interpreter.model().startedAt ?? Date.now();
  const stoppedAt = toMillis(description?.stopDate) ?? interpreter.model().stoppedAt ?? Date.now();
  if (!interpreter.finished) {
    // The history never showed how it ended: say it from the status so the progress view still gets an ending.
    const output = description?.output !== undefined ? parseJsonText(description.output) : undefined;
    for (const progress of interpreter.finish(status, description?.error, description?.cause, stoppedAt, output)) opts.onEvent(progress);
  }
  return {
    executionArn,
    status,
    ...(description?.output !== undefined ? { output: parseJsonText(description.output) } : {}),
    ...(description?.error !== undefined ? { error: description.error } : {}),
    ...(description?.cause !== undefined ? { cause: description.cause } : {}),
    startedAt,
    stoppedAt,
    states: stateSummaries(interpreter.model(), executionName),
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
  const interpreter = new RunInterpreter({ execution: parsed.name, machine: options.machine ?? parsed.machine });
  return events.flatMap((event) => interpreter.push(event as RunHistoryEvent));
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

// ---- helpers ----


/** `arn:aws:states:eu-west-1:123:execution:<machine>:<name>` → its parts (an express `:express:` ARN too). */
function parseExecutionArn(arn: string): { name: string; machine: string } {
  const parts = arn.split(":");
  const at = parts.findIndex((p) => p === "execution" || p === "express");
  if (at < 0 || parts.length < at + 3) return { name: parts.at(-1) ?? arn, machine: "" };
  return { machine: parts[at + 1], name: parts.slice(at + 2).join(":") };
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

