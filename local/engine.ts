import { randomUUID } from "node:crypto";
import * as path from "node:path";
import { ExecutionError, ExecutionTimeoutError, StateMachine } from "aws-local-stepfunctions";
import { ExecutionAlreadyExistsError, LocalExecutionRegistry, type ExecutionRecord } from "../lib/execution-history.ts";
import type { AslDefinition } from "../stacks/resolve-asl.ts";
import { RunTaskFailuresError, runEcsTask, toStepFunctionsResult, type EcsTaskResult, type RunTaskParameters } from "./ecs-runner.ts";
import { describeFault, FaultPlan, type Fault, type FaultKind } from "./faults.ts";
import { newWorkHalted } from "./run-halt.ts";
import { functionNameOf, invokeLocalFunction, type LambdaInvokeParameters } from "./lambda-runner.ts";
import { forEachState } from "../run-model/definition.ts";
import type { HistoryEventRecord } from "../run-model/history.ts";
import { RunInterpreter, stateSummaries, type EcsAttemptNote, type RunModel, type StateSummary } from "../run-model/interpret.ts";
import type { ProgressEvent } from "../run-model/progress-events.ts";
import { HistoryWriter, type InterpreterEvent } from "./history-writer.ts";
import { localAssumeRole, STS_ASSUME_ROLE_RESOURCE, type AssumeRoleParameters } from "./sts-runner.ts";
import { isDynamoDbResource, localDynamoDb } from "./dynamodb-runner.ts";

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
  /**
   * Every event of every execution's history, as it happens, in GetExecutionHistory's shape (local/history-writer.ts):
   * the run record is written from these.
   */
  onHistory?: (execution: string, machine: string, event: HistoryEventRecord) => void;
  /** Each ECS task attempt as it stops: its peak memory, log file and `error:` line (for the run record). */
  onEcsTask?: (execution: string, note: EcsAttemptNote) => void;
  /** Where an execution's task logs go (default `<runDir>/logs/<execution>`): the task platform gives each its own run folder. */
  logDirFor?: (execution: string) => string;
  /**
   * What a task launched on an ECS capacity provider gets in its environment locally, standing in for the hardware
   * of the provider's instances (the GPU tasks: ONNX Runtime's CPU provider instead of CUDA).
   */
  capacityProviderEnv?: Record<string, string>;
  /**
   * The local table a DynamoDB state's `TableName` (a placeholder in the resolved definition, as every ARN is) stands
   * for. Without it, the name is used as it is.
   */
  dynamoDbTable?: (tableName: string) => string;
}

/** A state of a finished execution: its status, attempts and time (run-model/interpret.ts `stateSummaries`). */
export type StateRecord = StateSummary;

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
  /** The run as the run model reads its history (run-model/interpret.ts). */
  model?: RunModel;
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
  /** The states of every execution this engine ran, as each ended. */
  readonly states: StateRecord[] = [];

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
    // Progress, the record and the result all come from the execution's history, read by the one run model.
    const interpreter = new RunInterpreter({ execution: name, machine, waitMs: this.options.retryWaitMs });
    const history = new HistoryWriter(this.options.definitions[machine], (event) => {
      this.options.onHistory?.(name, machine, event);
      for (const progress of interpreter.push(event)) this.emitEvent(progress);
    });

    const sm = new StateMachine(definition as never, { validationOptions: { checkArn: false, checkPaths: true } });
    const handlers = this.bindHandlers(definition, name, history, interpreter);
    const overrides = this.waitOverrides(definition);
    const execution = sm.run(input as never, {
      overrides: { taskResourceLocalHandlers: handlers as never, ...overrides },
      context: {
        Execution: { Id: executionArn, Name: name, StartTime: new Date(startedAt).toISOString(), Input: input as never },
        StateMachine: { Id: executionArn.replace(":execution:", ":stateMachine:").replace(`:${name}`, ""), Name: machine },
        State: stateContext(),
      },
    });

    const follow = (async () => {
      for await (const event of execution.eventLogs) history.push(event as InterpreterEvent);
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
    const model = interpreter.model();
    result.model = model;
    result.states = stateSummaries(model, name);
    this.states.push(...result.states);
    if (result.status !== "SUCCEEDED") result.failure = model.failure?.line;
    return result;
  }

  /** What an interrupted run's dying steps do is not progress: once it is being stopped (run-halt.ts), nothing is shown. */
  private emit(execution: string, event: WithoutStamp<ProgressEvent>): void {
    this.emitEvent({ ...event, execution, time: Date.now() } as ProgressEvent);
  }

  private emitEvent(event: ProgressEvent): void {
    if (newWorkHalted()) return;
    this.options.onEvent?.(event);
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

  private bindHandlers(definition: AslDefinition, execution: string, history: HistoryWriter, interpreter: RunInterpreter) {
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
      if (resource === RESOURCES.lambda) {
        handlers[stateName] = (input) => {
          const { parameters, timeoutMs } = withTimeout(input, state);
          history.scheduled(stateName, parameters);
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
          history.scheduled(stateName, parameters);
          const params = parameters as RunTaskParameters;
          const step = params.Overrides?.ContainerOverrides?.[0]?.Command?.[0] ?? stateName;
          let logFile: string | undefined;
          // What only the runner knows, for the attempt's record and its progress line: handed over before the
          // state's end reaches the history, so the run model has it when it reads that end.
          const note = (task: EcsTaskResult | undefined, message?: string) => {
            const extras: EcsAttemptNote = {
              state: stateName,
              peak_rss_bytes: task?.Local?.peakRssBytes || null,
              log_file: task?.Local?.logFile ?? logFile ?? null,
              message: message ?? task?.Local?.lastError ?? null,
            };
            interpreter.note(extras);
            this.options.onEcsTask?.(execution, extras);
          };
          try {
            const task = await runEcsTask(params, Date.now() + timeoutMs, {
              repoRoot: this.options.repoRoot,
              baseEnv: this.options.env,
              logDir: this.options.logDirFor?.(execution) ?? path.join(this.options.runDir, "logs", execution),
              capacityProviderEnv: this.options.capacityProviderEnv,
              fault: faultFor(step, timeoutMs),
              s3Outage: this.options.s3Outage && (() => this.options.s3Outage!(300)),
              onStarted: (started) => (logFile = started.logFile),
              onLog: (line) => this.emit(execution, { kind: "log", state: stateName, line }),
              onHeartbeat: ({ elapsedMs, rssBytes }) => this.emit(execution, { kind: "heartbeat", state: stateName, elapsedMs, rssBytes }),
            });
            note(task);
            return toStepFunctionsResult(task);
          } catch (err) {
            const task = (err as { task?: EcsTaskResult }).task;
            note(task, err instanceof RunTaskFailuresError ? err.failures[0]?.Reason : undefined);
            throw err;
          }
        };
      } else if (resource === RESOURCES.startExecution) {
        handlers[stateName] = (input) => {
          const { parameters } = withTimeout(input, state);
          history.scheduled(stateName, parameters);
          return this.startNested(parameters as NestedStart);
        };
      } else if (isDynamoDbResource(resource)) {
        handlers[stateName] = async (input) => {
          const { parameters } = withTimeout(input, state);
          history.scheduled(stateName, parameters);
          const request = parameters as Record<string, unknown>;
          const local = this.options.dynamoDbTable?.(String(request.TableName));
          return localDynamoDb(resource, local ? { ...request, TableName: local } : request, this.options.env);
        };
      } else if (resource === STS_ASSUME_ROLE_RESOURCE) {
        handlers[stateName] = async (input) => {
          const { parameters } = withTimeout(input, state);
          history.scheduled(stateName, parameters);
          return localAssumeRole(parameters as AssumeRoleParameters, this.options.env);
        };
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
 * `$$.State` of the context object. aws-local-stepfunctions 3.0 gives a state only the context it was started with
 * (`$$.Execution`, `$$.StateMachine`), and `$$.State.EnteredTime` fails as States.Runtime there; the task workflows
 * stamp their writes with it. The library keeps the object it is given (it copies the context shallowly), so a
 * getter answers when a state's Parameters read it, which is the moment the state is entered, give or take the
 * milliseconds of its InputPath. One difference stays: a state retried by its own Retry reads its retry's time
 * where Step Functions keeps the first entry's.
 */
function stateContext(): Record<string, unknown> {
  return {
    get EnteredTime() {
      return new Date().toISOString();
    },
  };
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
