import { randomUUID } from "node:crypto";
import * as path from "node:path";
import { ExecutionError, ExecutionTimeoutError, StateMachine } from "aws-local-stepfunctions";
import { ExecutionAlreadyExistsError, LocalExecutionRegistry, type ExecutionRecord } from "../lib/execution-history.ts";
import type { AslDefinition } from "../stacks/resolve-asl.ts";
import { TASK_ENV } from "../lib/task-env.ts";
import { RunTaskFailuresError, runEcsTask, toStepFunctionsResult, type EcsTaskResult, type RunTaskParameters } from "./ecs-runner.ts";
import { describeFault, FaultPlan, type Fault, type FaultKind } from "./faults.ts";
import { newWorkHalted } from "./run-halt.ts";
import { functionNameOf, invokeLocalFunction, type LambdaInvokeParameters } from "./lambda-runner.ts";
import type { ProgressEvent } from "./progress-events.ts";
import { outcomeLine, runOutcome } from "./run-outcome.ts";
import { localAssumeRole, STS_ASSUME_ROLE_RESOURCE, type AssumeRoleParameters } from "./sts-runner.ts";

export const RESOURCES = {
  lambda: "arn:aws:states:::lambda:invoke",
  ecs: "arn:aws:states:::ecs:runTask.sync",
  startExecution: "arn:aws:states:::states:startExecution.sync:2",
} as const;

export interface LocalEngineOptions {
  repoRoot: string;
  /** Everything a run leaves behind: logs, local metrics and notifications. */
  runDir: string;
  /**
   * Where execution names are kept across runs of the engine, as Step Functions keeps them (see
   * `LocalExecutionRegistry`). Default: `<runDir>/executions`, i.e. names live as long as this run's folder.
   */
  executionsDir?: string;
  /** The resolved definitions (`npm run asl`), by state machine name. */
  definitions: Record<string, AslDefinition>;
  /** Environment every container and function gets locally (S3 endpoint, bucket, ATLAS_LOCAL=1, …). */
  env: Record<string, string>;
  faults?: Fault[];
  /** Takes the embedded S3 server away for a moment after `delayMs` (for the `s3down` fault). */
  s3Outage?: (delayMs: number) => Promise<void>;
  /**
   * Locally there is no capacity to wait for: replace every Retry interval and Wait state with this many
   * milliseconds. Undefined keeps the definition's own waits.
   */
  retryWaitMs?: number;
  /** Tests only: shorter TimeoutSeconds for the named states (to exercise hangs without waiting half an hour). */
  timeoutOverrides?: Record<string, number>;
  /** Progress as it happens, including each line a step prints (`log`) and a running step's `heartbeat`. */
  onEvent?: (event: ProgressEvent) => void;
  /** Every interpreter event of every execution, as it happens (the run record is written from these). */
  onHistory?: (execution: string, machine: string, event: unknown) => void;
  /** Each ECS task attempt as it stops: its tier, peak memory and log file (for the run record). */
  onEcsTask?: (execution: string, state: string, task: EcsTaskResult) => void;
}

export interface StateRecord {
  execution: string;
  name: string;
  type: string;
  status: "SUCCEEDED" | "FAILED" | "CAUGHT" | "RUNNING";
  attempts: number;
  duration_ms: number;
  tier?: string;
  peak_rss_bytes?: number;
  error?: string;
}

export interface ExecutionResult {
  executionArn: string;
  name: string;
  machine: string;
  status: "SUCCEEDED" | "FAILED" | "TIMED_OUT";
  input: unknown;
  output?: Record<string, unknown>;
  error?: string;
  cause?: string;
  startedAt: number;
  stoppedAt: number;
  states: StateRecord[];
  /** For a failed run: one line saying which step failed and what it said. */
  failure?: string;
}

/**
 * Runs the synthesized state machines on this machine with aws-local-stepfunctions. Task states are bound by
 * their Resource ARN: ECS tasks become child processes, Lambda invokes call `functions/` in-process, and nested
 * executions run here too. The workflow's logic lives only in the definition.
 */
export class LocalEngine {
  private readonly faults: FaultPlan;
  /** Executions this engine is running now, by `machine/name`: a same-name start must not race the registry. */
  private readonly executions = new Map<string, { input: string; result: Promise<ExecutionResult> }>();
  readonly registry: LocalExecutionRegistry;
  readonly states: StateRecord[] = [];
  /** What the ECS runner learnt about a task state (tier, peak memory, the step's error line), by execution/state. */
  private readonly taskNotes = new Map<string, { tier?: string; peakRssBytes?: number; lastError?: string; logFile?: string }>();

  constructor(private readonly options: LocalEngineOptions) {
    this.faults = new FaultPlan(options.faults ?? []);
    this.registry = new LocalExecutionRegistry(options.executionsDir ?? path.join(options.runDir, "executions"));
  }

  /**
   * StartExecution, then waits for the execution. Never throws for a failed execution (see `status`); throws
   * `ExecutionAlreadyExists` as Step Functions does when the name is taken: by a closed execution of the last 90
   * days whatever the input, or by a running one with a different input. A running one with the same input is
   * returned as is.
   */
  run(machine: string, input: unknown, name: string = randomUUID()): Promise<ExecutionResult> {
    this.definitionFor(machine); // an unknown machine fails before anything is recorded
    const key = `${machine}/${name}`;
    const inputText = JSON.stringify(input);
    const executionArn = `arn:aws:states:local:000000000000:execution:${machine}:${name}`;
    const running = this.executions.get(key);
    if (running) return running.input === inputText ? running.result : Promise.reject(new ExecutionAlreadyExistsError(executionArn));
    const result = (async () => {
      const reservation = await this.registry.reserve(machine, name, executionArn, inputText);
      // Started by another engine process and still running there: wait for it as a .sync caller would.
      if (reservation.kind === "running") return this.waitForOtherEngine(reservation.record);
      let outcome: ExecutionResult | undefined;
      try {
        outcome = await this.execute(machine, input, name, executionArn);
        return outcome;
      } finally {
        await this.registry.close(reservation.record, outcome
          ? { status: outcome.status, output: outcome.output, error: outcome.error, cause: outcome.cause }
          : { status: "ABORTED", error: "States.Aborted", cause: "the local engine failed while running it" });
      }
    })();
    this.executions.set(key, { input: inputText, result });
    // Once closed, the name is the registry's to answer for (ExecutionAlreadyExists for 90 days).
    const forget = () => this.executions.delete(key);
    result.then(forget, forget);
    return result;
  }

  private async waitForOtherEngine(record: ExecutionRecord): Promise<ExecutionResult> {
    let current: ExecutionRecord | undefined = record;
    while (current?.status === "RUNNING") {
      await new Promise((r) => setTimeout(r, 1000));
      current = await this.registry.read(record.machine, record.name);
    }
    const closed = current ?? record;
    return {
      executionArn: closed.executionArn,
      name: closed.name,
      machine: closed.machine,
      status: closed.status === "SUCCEEDED" || closed.status === "TIMED_OUT" ? closed.status : "FAILED",
      input: JSON.parse(closed.input),
      output: closed.output as Record<string, unknown> | undefined,
      error: closed.error,
      cause: closed.cause,
      startedAt: Date.parse(closed.startDate),
      stoppedAt: Date.parse(closed.stopDate ?? new Date().toISOString()),
      states: [],
    };
  }

  private async execute(machine: string, input: unknown, name: string, executionArn: string): Promise<ExecutionResult> {
    const definition = this.definitionFor(machine);
    const startedAt = Date.now();
    const states = new Map<string, StateRecord>();
    const open = new Map<string, number>();
    const emit = (e: WithoutStamp<ProgressEvent>) => this.emit(name, e);

    const sm = new StateMachine(definition as never, { validationOptions: { checkArn: false, checkPaths: true } });
    const handlers = this.bindHandlers(definition, name, states);
    const overrides = this.waitOverrides(definition);
    emit({ kind: "execution-started", machine });
    const execution = sm.run(input as never, {
      overrides: { taskResourceLocalHandlers: handlers as never, ...overrides },
      context: {
        Execution: { Id: executionArn, Name: name, StartTime: new Date(startedAt).toISOString(), Input: input as never },
        StateMachine: { Id: executionArn.replace(":execution:", ":stateMachine:").replace(`:${name}`, ""), Name: machine },
      },
    });

    const follow = (async () => {
      for await (const event of execution.eventLogs) {
        this.options.onHistory?.(name, machine, event);
        if (!("state" in event) || !event.state) continue;
        const { name: stateName, type } = event.state;
        const key = `${event.index ?? ""}/${stateName}`;
        let record = states.get(key);
        if (!record) {
          record = { execution: name, name: stateName, type, status: "RUNNING", attempts: 0, duration_ms: 0 };
          states.set(key, record);
          this.states.push(record);
        }
        switch (event.type) {
          case "StateEntered":
            record.attempts += 1;
            record.status = "RUNNING";
            open.set(key, event.timestamp);
            if (type === "Task" || type === "Map") emit({ kind: "state-started", state: stateName, type, attempt: record.attempts, tier: tierFromState(stateName) });
            else if (stateName.includes(": escalate ")) emit({ kind: "tier-escalated", state: stateName, detail: stateName.split(": escalate ")[1] });
            else if (stateName.endsWith(": wait before retry")) emit({ kind: "retrying", state: stateName.replace(": wait before retry", ""), attempt: record.attempts + 1, waitMs: this.options.retryWaitMs ?? waitSecondsOf(definition, stateName) * 1000 });
            break;
          case "StateExited": {
            this.applyNotes(name, stateName, record);
            // A caught failure also exits the state: it was reported when it failed.
            if (record.status === "CAUGHT") break;
            record.duration_ms += event.timestamp - (open.get(key) ?? event.timestamp);
            record.status = "SUCCEEDED";
            if (type === "Task" || type === "Map") emit({ kind: "state-succeeded", state: stateName, type, durationMs: event.timestamp - (open.get(key) ?? event.timestamp), tier: record.tier });
            break;
          }
          case "StateRetried": {
            const { retrier, attempt } = event.retry;
            const waitMs = this.options.retryWaitMs ?? retryDelayMs(retrier, attempt);
            // A Retry re-runs the state without entering it again: count the attempt here. The interpreter says
            // so after the wait, as the next attempt starts: its duration counts from now, not from the entry.
            record.attempts += 1;
            record.status = "RUNNING";
            open.set(key, event.timestamp);
            emit({ kind: "retrying", state: stateName, attempt: record.attempts, waitMs, error: describeError(event), logFile: this.taskNotes.get(`${name}/${stateName}`)?.logFile });
            break;
          }
          case "StateFailed":
            this.applyNotes(name, stateName, record);
            record.duration_ms += event.timestamp - (open.get(key) ?? event.timestamp);
            record.status = "FAILED";
            record.error = this.taskNotes.get(`${name}/${stateName}`)?.lastError ?? oneLineError(event.Error, event.Cause);
            if (type === "Task" || type === "Map") emit({ kind: "state-failed", state: stateName, type, error: record.error, logFile: this.taskNotes.get(`${name}/${stateName}`)?.logFile });
            break;
          case "StateCaught":
            record.status = "CAUGHT";
            break;
        }
      }
    })();

    let result: ExecutionResult;
    try {
      const output = (await execution.result) as Record<string, unknown>;
      result = { executionArn, name, machine, status: "SUCCEEDED", input, output, startedAt, stoppedAt: Date.now(), states: [] };
    } catch (err) {
      if (err instanceof ExecutionTimeoutError) {
        result = { executionArn, name, machine, status: "TIMED_OUT", input, error: "States.Timeout", cause: "the execution's TimeoutSeconds elapsed", startedAt, stoppedAt: Date.now(), states: [] };
      } else if (err instanceof ExecutionError) {
        const cause = (err as Error & { cause?: Error }).cause;
        result = { executionArn, name, machine, status: "FAILED", input, error: cause?.name ?? "Error", cause: cause?.message ?? err.message, startedAt, stoppedAt: Date.now(), states: [] };
      } else {
        throw err;
      }
    }
    await follow;
    result.states = [...states.values()];
    if (result.status !== "SUCCEEDED") result.failure = failureLine(result);
    // The headline says what the run came to: a fan-out's digest may say PARTIAL or FAILED (the record and exit
    // code say the same, local/run-outcome.ts); `result.status` stays Step Functions' own for the parent's Map.
    emit({
      kind: "execution-finished",
      machine,
      status: runOutcome(result.status, result.output),
      error: outcomeLine(result.status, result.output, result.failure),
      durationMs: result.stoppedAt - startedAt,
    });
    return result;
  }

  /** What an interrupted run's dying steps do is not progress: once it is being stopped (run-halt.ts), nothing is shown. */
  private emit(execution: string, event: WithoutStamp<ProgressEvent>): void {
    if (newWorkHalted()) return;
    this.options.onEvent?.({ ...event, execution, time: Date.now() } as ProgressEvent);
  }

  private applyNotes(execution: string, stateName: string, record: StateRecord): void {
    const notes = this.taskNotes.get(`${execution}/${stateName}`);
    if (!notes) return;
    if (notes.tier) record.tier = notes.tier;
    if (notes.peakRssBytes) record.peak_rss_bytes = Math.max(record.peak_rss_bytes ?? 0, notes.peakRssBytes);
  }

  private definitionFor(machine: string): AslDefinition {
    const found = this.options.definitions[machine];
    if (!found) throw new Error(`no state machine '${machine}' (known: ${Object.keys(this.options.definitions).join(", ")})`);
    const copy = structuredClone(found);
    forEachState(copy, (name, state) => {
      if (state.Type !== "Task") return;
      const seconds = this.options.timeoutOverrides?.[name];
      if (seconds !== undefined) {
        state.TimeoutSeconds = seconds;
        delete state.TimeoutSecondsPath;
      } else if (typeof state.TimeoutSecondsPath === "string") {
        movePathTimeoutIntoParameters(state);
      }
    });
    return copy;
  }

  private waitOverrides(definition: AslDefinition) {
    const ms = this.options.retryWaitMs;
    if (ms === undefined) return {};
    const waitTimeOverrides: Record<string, number> = {};
    const retryIntervalOverrides: Record<string, number> = {};
    forEachState(definition, (name, state) => {
      if (state.Type === "Wait") waitTimeOverrides[name] = ms;
      if (Array.isArray(state.Retry)) retryIntervalOverrides[name] = ms;
    });
    return { waitTimeOverrides, retryIntervalOverrides };
  }

  private bindHandlers(definition: AslDefinition, execution: string, states: Map<string, StateRecord>) {
    const handlers: Record<string, (input: unknown) => Promise<unknown>> = {};
    forEachState(definition, (stateName, state) => {
      if (state.Type !== "Task") return;
      const resource = state.Resource as string;
      // The fault (if any) this attempt gets, announced as it is injected.
      const faultFor = (step: string, timeoutMs: number): FaultKind | undefined => {
        const fault = this.faults.next(step);
        if (fault) this.options.onEvent?.({ kind: "fault-injected", execution, time: Date.now(), state: stateName, fault: describeFault(fault), timeoutMs });
        return fault;
      };
      const noteFor = () => {
        const key = `${execution}/${stateName}`;
        if (!this.taskNotes.has(key)) this.taskNotes.set(key, {});
        return this.taskNotes.get(key)!;
      };
      if (resource === RESOURCES.lambda) {
        handlers[stateName] = (input) => {
          const { parameters, timeoutMs } = withTimeout(input, state);
          const params = parameters as LambdaInvokeParameters;
          const fault = faultFor(functionNameOf(params.FunctionName), timeoutMs);
          return invokeLocalFunction(params, {
            repoRoot: this.options.repoRoot,
            fault,
            executionName: execution,
            s3Outage: this.options.s3Outage,
          }) as Promise<unknown>;
        };
      } else if (resource === RESOURCES.ecs) {
        handlers[stateName] = async (input) => {
          const { parameters, timeoutMs } = withTimeout(input, state);
          const params = parameters as RunTaskParameters;
          const step = params.Overrides?.ContainerOverrides?.[0]?.Command?.[0] ?? stateName;
          const notes = noteFor();
          const note = (task: EcsTaskResult) => {
            notes.tier = tierOfTask(task);
            notes.logFile = task.Local?.logFile;
            notes.peakRssBytes = Math.max(notes.peakRssBytes ?? 0, task.Local?.peakRssBytes ?? 0);
            this.options.onEcsTask?.(execution, stateName, task);
          };
          try {
            const task = await runEcsTask(params, Date.now() + timeoutMs, {
              repoRoot: this.options.repoRoot,
              baseEnv: this.options.env,
              logDir: path.join(this.options.runDir, "logs", execution),
              fault: faultFor(step, timeoutMs),
              s3Outage: this.options.s3Outage && (() => this.options.s3Outage!(300)),
              onStarted: ({ logFile }) => (notes.logFile = logFile),
              onLog: (line) => this.emit(execution, { kind: "log", state: stateName, line }),
              onHeartbeat: ({ elapsedMs, rssBytes }) => this.emit(execution, { kind: "heartbeat", state: stateName, elapsedMs, rssBytes }),
            });
            note(task);
            return toStepFunctionsResult(task);
          } catch (err) {
            const task = (err as { task?: EcsTaskResult }).task;
            if (task) {
              note(task);
              notes.lastError = task.Local?.lastError;
            }
            if (err instanceof RunTaskFailuresError) notes.lastError = err.failures[0]?.Reason;
            throw err;
          }
        };
      } else if (resource === RESOURCES.startExecution) {
        handlers[stateName] = (input) => this.startNested(withTimeout(input, state).parameters as NestedStart);
      } else if (resource === STS_ASSUME_ROLE_RESOURCE) {
        handlers[stateName] = async (input) => localAssumeRole(withTimeout(input, state).parameters as AssumeRoleParameters, this.options.env);
      } else {
        handlers[stateName] = async () => {
          throw new Error(`state '${stateName}': the local engine cannot run resource ${resource}`);
        };
      }
    });
    return handlers;
  }

  private async startNested(params: NestedStart) {
    const machine = params.StateMachineArn.split(":").pop()!;
    const input = typeof params.Input === "string" ? JSON.parse(params.Input) : params.Input;
    let result: ExecutionResult;
    try {
      result = await this.run(machine, input, params.Name ?? randomUUID());
    } catch (err) {
      // The optimized integration names a refused StartExecution `StepFunctions.<Code>Exception`, its Cause being
      // the service's message in the AWS SDK's words.
      if (err instanceof ExecutionAlreadyExistsError) {
        throw Object.assign(
          new Error(`${err.message} (Service: AWSStepFunctions; Status Code: 400; Error Code: ExecutionAlreadyExists; Request ID: ${randomUUID()}; Proxy: null)`),
          { name: "StepFunctions.ExecutionAlreadyExistsException" },
        );
      }
      throw err;
    }
    const description = {
      ExecutionArn: result.executionArn,
      StateMachineArn: params.StateMachineArn,
      Name: result.name,
      Status: result.status,
      StartDate: result.startedAt,
      StopDate: result.stoppedAt,
      Input: JSON.stringify(input),
      InputDetails: { Included: true },
    };
    if (result.status !== "SUCCEEDED") {
      throw Object.assign(new Error(JSON.stringify({ ...description, Error: result.error, Cause: result.cause })), {
        name: "States.TaskFailed",
      });
    }
    return { ...description, Output: result.output, OutputDetails: { Included: true } };
  }
}

type WithoutStamp<T> = T extends unknown ? Omit<T, "execution" | "time"> : never;

interface NestedStart {
  StateMachineArn: string;
  Name?: string;
  Input?: unknown;
}

/**
 * Where the engine puts a Task's `TimeoutSecondsPath` value: aws-local-stepfunctions 3.0 reads that path from the
 * state's effective input (after Parameters), Step Functions from the state's input. So the engine's copy of the
 * definition resolves the path in Parameters, under this key, and reads it from there; the handlers take the key
 * out before anything sees the parameters, so the task is called with exactly what Step Functions would send.
 */
const LOCAL_TIMEOUT_KEY = "LocalTimeoutSeconds";

function movePathTimeoutIntoParameters(state: Record<string, unknown>): void {
  const parameters = (state.Parameters ?? {}) as Record<string, unknown>;
  state.Parameters = { ...parameters, [`${LOCAL_TIMEOUT_KEY}.$`]: state.TimeoutSecondsPath };
  state.TimeoutSecondsPath = `$.${LOCAL_TIMEOUT_KEY}`;
}

/** The parameters as Step Functions sends them, and the state's timeout (from the path, or `TimeoutSeconds`). */
function withTimeout(input: unknown, state: Record<string, unknown>): { parameters: unknown; timeoutMs: number } {
  if (input && typeof input === "object" && LOCAL_TIMEOUT_KEY in input) {
    const { [LOCAL_TIMEOUT_KEY]: seconds, ...parameters } = input as Record<string, unknown>;
    return { parameters, timeoutMs: Number(seconds) * 1000 };
  }
  return { parameters: input, timeoutMs: Number(state.TimeoutSeconds ?? 60) * 1000 };
}

/** The tier a task ran on: the `ATLAS_TIER` of its container override (workflows/tiers.ts `tierEnvironment`). */
function tierOfTask(task: EcsTaskResult): string | undefined {
  return task.Overrides?.ContainerOverrides?.[0]?.Environment?.find((e) => e.Name === TASK_ENV.tier)?.Value;
}

type StateVisitor = (name: string, state: Record<string, unknown>) => void;

/** Visits every state, including those inside Map processors and Parallel branches. */
export function forEachState(definition: { States: Record<string, Record<string, unknown>> }, visit: StateVisitor): void {
  for (const [name, state] of Object.entries(definition.States)) {
    visit(name, state);
    const nested = [state.ItemProcessor, state.Iterator, ...((state.Branches as unknown[]) ?? [])].filter(Boolean) as {
      States: Record<string, Record<string, unknown>>;
    }[];
    for (const sub of nested) forEachState(sub, visit);
  }
}

const TIER_IN_STATE_NAME = /\((xsmall|small|medium|large|xlarge)\)$/;

/** `Extract (medium)` → `medium`. */
export function tierFromState(stateName: string): string | undefined {
  return TIER_IN_STATE_NAME.exec(stateName)?.[1];
}

function retryDelayMs(retrier: { IntervalSeconds?: number; BackoffRate?: number; MaxDelaySeconds?: number }, attempt: number): number {
  const seconds = (retrier.IntervalSeconds ?? 1) * (retrier.BackoffRate ?? 2) ** Math.max(0, attempt - 1);
  return Math.min(seconds, retrier.MaxDelaySeconds ?? Infinity) * 1000;
}

function waitSecondsOf(definition: AslDefinition, stateName: string): number {
  let seconds = 0;
  forEachState(definition, (name, state) => {
    if (name === stateName) seconds = Number(state.Seconds ?? 0);
  });
  return seconds;
}

function describeError(event: unknown): string | undefined {
  const e = event as { Error?: string; Cause?: unknown };
  return e.Error ? oneLineError(e.Error, e.Cause) : undefined;
}

/** The one line a failed run ends with: the failing step and what it said, when a step said something. */
function failureLine(result: ExecutionResult): string {
  const overall = oneLineError(result.error, result.cause);
  // The step that failed the run, not the clean-up that ran after it (the rollback reports into $.rollback).
  const failedTask = [...result.states]
    .reverse()
    .find((s) => s.type === "Task" && !s.name.startsWith("Roll back") && (s.status === "FAILED" || s.status === "CAUGHT") && s.error);
  if (result.error === "States.TaskFailed" && failedTask?.error) return `${failedTask.name.replace(/ \(.*\)$/, "")}: ${failedTask.error}`;
  return overall;
}

/**
 * One line a person can act on, from Step Functions' Error and Cause: the step's own `error:` line when the
 * Cause is a Lambda error, the stopped reason and exit code for an ECS task.
 */
export function oneLineError(error: string | undefined, cause: unknown): string {
  const text = typeof cause === "string" ? cause : cause === undefined ? "" : JSON.stringify(cause);
  try {
    const parsed = JSON.parse(text) as Record<string, unknown>;
    if (typeof parsed.errorMessage === "string") return `${parsed.errorType ?? error}: ${parsed.errorMessage}`;
    if (Array.isArray(parsed.Containers)) {
      const c = parsed.Containers[0] as { ExitCode?: number };
      return `${error}: ${parsed.StoppedReason} (exit code ${c?.ExitCode})`;
    }
    if (typeof parsed.Error === "string") return oneLineError(parsed.Error as string, parsed.Cause);
    // RunTask's `failures` (AmazonECS.Unknown): no task started, the first failure's reason says why.
    if (Array.isArray(parsed.Failures) && parsed.Failures.length > 0) return `${error}: ${(parsed.Failures[0] as { Reason?: string }).Reason}`;
  } catch {
    /* not JSON */
  }
  return [error, text].filter(Boolean).join(": ").split("\n")[0];
}
