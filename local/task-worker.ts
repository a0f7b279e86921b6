import { randomUUID } from "node:crypto";
import { mkdir, readdir, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { GetQueueAttributesCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { LOCAL_PROVIDER, OCR_PROVIDER_ENV } from "../containers/ocr/provider.ts";
import { UNFINISHED_ENDS } from "../functions/task-execution-ended.ts";
import { LocalExecutionRegistry } from "../lib/execution-history.ts";
import { PROJECT_ROOT } from "../lib/project-root.ts";
import { makeS3Client } from "../lib/s3.ts";
import { listObjects } from "../lib/s3-objects.ts";
import type { TaskTable } from "../lib/tasks/task-table.ts";
import { QUEUES, type QueueName } from "../lib/tasks/task-types.ts";
import { createRunDir, RUNS_ROOT, type RunRecord } from "../run-records/record.ts";
import { resolvedDefinitions, resolvedResources } from "../stacks/resolve-asl.ts";
import { taskWorkflowName } from "../workflows/tasks.ts";
import { LocalEngine, type ExecutionResult } from "./engine.ts";
import { FaultPlan, type Fault } from "./faults.ts";
import { invokeLocalFunction } from "./lambda-runner.ts";
import { startPipePoller, type PipePoller, type PipeProperties } from "./pipe-poller.ts";
import { RunRecorder } from "./run-recorder.ts";

/**
 * The task platform's moving parts offline, on this machine: what EventBridge Pipes, Step Functions, ECS, Lambda,
 * EventBridge and EventBridge Scheduler do for it on AWS.
 * - The pipes, from the synthesized `AWS::Pipes::Pipe` resources (their queue, batch size, target and input
 *   template; stacks/resolve-asl.ts), polling the embedded queues (local/pipe-poller.ts); each message starts an
 *   execution of its target, named as Step Functions names a pipe's executions (a UUID).
 * - The task machines, the synthesized definitions, on the local engine; the GPU tasks as local child processes on
 *   ONNX Runtime's CPU provider.
 * - The execution-ended rule: an execution that ends FAILED, TIMED_OUT or ABORTED goes to
 *   functions/task-execution-ended.ts, as EventBridge sends it on AWS; so do executions a previous worker left
 *   RUNNING when it was killed (they read ABORTED), once, when a worker starts.
 * - The dead-letter sweep (functions/dead-lettered-tasks.ts), every `sweepIntervalMs` instead of every 5 minutes.
 * Each execution gets a run record of its own under the runs folder, like any run of `npm start`, so `npm run runs`
 * and the console show task runs too.
 */
export interface TaskPlatformHandle {
  /** What the tasks and helpers need to reach the platform's servers: endpoints, credentials, names, queue URLs. */
  env: Record<string, string>;
  sqs: SQSClient;
  table: TaskTable;
  queues: Record<QueueName, { url: string; arn: string; dlqUrl: string; dlqArn: string }>;
}

export interface TaskWorkerOptions {
  platform: TaskPlatformHandle;
  /** The worker's own folder: the execution registry (`executions/`) and which ended executions were handled. */
  dir: string;
  /** Where each execution's run folder goes (default `.data/runs`, or `$ATLAS_RUNS_DIR`). */
  runsRoot?: string;
  /**
   * ATLAS_FAULTS entries: a task's container step (`ocr`, `thumbnail`), a helper (`finish-task`), or a pipe's
   * target, by machine (`tasks-cpu:refused:5`: its first 5 StartExecution calls fail, as when the machine is missing).
   */
  faults?: Fault[];
  /** Replaces every Retry interval and Wait of the machines (tests: the slot wait, the capacity retries). */
  retryWaitMs?: number;
  timeoutOverrides?: Record<string, number>;
  /** Long-poll wait of each pipe's receive (Pipes: 20 s; default 2 s, so that a stop is quick). */
  pollWaitSeconds?: number;
  /** How often the dead-letter queues are swept (default 5 s; 0: only when `sweep()` is called, for tests). */
  sweepIntervalMs?: number;
  /** One line per task execution as it ends. */
  onLine?: (line: string) => void;
}

export interface TaskWorker {
  /** Executions running now. */
  inFlight(): number;
  /** True when no execution runs and no message waits or is in flight in a task queue. */
  idle(): Promise<boolean>;
  /** Every execution this worker started, as each ended (in order). */
  readonly ended: ExecutionResult[];
  /** One dead-letter sweep now (after any in progress). */
  sweep(): Promise<void>;
  /** Stops polling and sweeping, lets the executions in flight finish, writes their records. */
  stop(): Promise<void>;
}

/** The error StartExecution answers for a machine that is not there (what a `refused` fault makes a pipe see). */
export class StateMachineDoesNotExistError extends Error {
  constructor(machineArn: string) {
    super(`State Machine Does Not Exist: '${machineArn}'`);
    this.name = "StateMachineDoesNotExist";
  }
}

const DEFAULT_SWEEP_MS = 5_000;

export async function startTaskWorker(options: TaskWorkerOptions): Promise<TaskWorker> {
  const { platform } = options;
  const runsRoot = options.runsRoot ?? RUNS_ROOT;
  const executionsDir = path.join(options.dir, "executions");
  const handledDir = path.join(options.dir, "ended");
  await mkdir(handledDir, { recursive: true });
  const [definitions, pipes] = await Promise.all([resolvedDefinitions(), resolvedResources("AWS::Pipes::Pipe")]);

  // The containers get the task definitions' environment (TASKS_URI) and the local servers; the helpers run in
  // this process and read the same from process.env while the worker runs.
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? options.dir,
    TMPDIR: process.env.TMPDIR ?? "/tmp",
    ATLAS_LOCAL: "1",
    TASKS_URI: `s3://${platform.env.ATLAS_BUCKET}/tasks/`,
    ...platform.env,
  };
  const savedEnv = { ...process.env };
  Object.assign(process.env, env);

  const faults = options.faults ?? [];
  const machines = new Set(QUEUES.map(taskWorkflowName));
  const pipeFaults = new FaultPlan(faults.filter((f) => machines.has(f.step)));
  const recorders = new Map<string, RunRecorder>();
  const ended: ExecutionResult[] = [];
  const running = new Set<Promise<void>>();
  const s3 = makeS3Client(env);
  const say = options.onLine ?? (() => {});

  const engine = new LocalEngine({
    repoRoot: PROJECT_ROOT,
    runDir: options.dir,
    executionsDir,
    definitions,
    env,
    faults: faults.filter((f) => !machines.has(f.step)),
    retryWaitMs: options.retryWaitMs,
    timeoutOverrides: options.timeoutOverrides,
    onHistory: (execution, machine, event) => recorders.get(execution)?.onHistory(execution, machine, event),
    onEcsTask: (execution, note) => recorders.get(execution)?.onEcsTask(execution, note),
    logDirFor: (execution) => path.join(recorders.get(execution)?.options.runDir ?? options.dir, "logs", execution),
    capacityProviderEnv: { [OCR_PROVIDER_ENV]: LOCAL_PROVIDER },
    // The stack has one table, the task table: offline, the platform's.
    dynamoDbTable: () => platform.table.tableName,
  });

  /** What EventBridge's rule does for an execution that did not end on its own terms. */
  const afterUnfinished = async (machine: string, name: string, status: string, input: string, error?: string, cause?: string) => {
    if (!(UNFINISHED_ENDS as readonly string[]).includes(status)) return;
    const executionArn = `arn:aws:states:local:000000000000:execution:${machine}:${name}`;
    const detail = { executionArn, name, status, input, error: error ?? null, cause: cause ?? null };
    await invokeLocalFunction({ FunctionName: "task-execution-ended", Payload: { detail } }, { repoRoot: PROJECT_ROOT, executionName: name });
    await writeFile(path.join(handledDir, name), status);
  };

  const finished = async (result: ExecutionResult, recorder: RunRecorder) => {
    ended.push(result);
    await afterUnfinished(result.machine, result.name, result.status, JSON.stringify(result.input), result.error, result.cause).catch((err) => say(`task-execution-ended for ${result.name}: ${(err as Error).message}`));
    const record = await recorder.finish(s3, { outputs: await taskOutputs(result) });
    const task = (result.input as { task?: { taskId?: string; type?: string } }).task;
    say(`${result.machine} ${result.name}: ${record.status}${task?.taskId ? ` (task ${task.taskId}, ${task.type})` : ""}${record.error ? `: ${record.error.line}` : ""}`);
  };

  /** A succeeded task's results, as the run record's outputs (the files stay in the bucket). */
  const taskOutputs = async (result: ExecutionResult): Promise<RunRecord["outputs"] | undefined> => {
    const taskId = (result.input as { task?: { taskId?: string } }).task?.taskId;
    if (result.status !== "SUCCEEDED" || !taskId) return undefined;
    const record = await platform.table.get(taskId);
    if (record?.status !== "SUCCEEDED" || record.runId !== result.name || !record.result) return undefined;
    const files = await listObjects(s3, record.result.outputUri);
    return { location: record.result.outputUri, files: files.map((f) => ({ key: f.key, name: f.name, bytes: f.size, path: null })) };
  };

  /** StartExecution as the pipe calls it: the execution is started, and runs on its own (FIRE_AND_FORGET). */
  const startExecution = async (target: string, input: string) => {
    const machine = target.split(":").pop()!;
    if (!definitions[machine]) throw new StateMachineDoesNotExistError(target);
    if (pipeFaults.next(machine) === "refused") throw new StateMachineDoesNotExistError(target);
    let parsed: unknown;
    try {
      parsed = JSON.parse(input);
    } catch {
      throw Object.assign(new Error("Invalid State Machine Execution Input: the input is not valid JSON"), { name: "InvalidExecutionInput" });
    }
    const name = randomUUID();
    const { id, runDir } = await createRunDir(runsRoot, machine);
    const recorder = new RunRecorder({ id, runDir, definitions });
    recorders.set(name, recorder);
    const done = engine
      .run(machine, parsed, name)
      .then((result) => finished(result, recorder))
      .catch((err) => say(`${machine} ${name}: the local engine failed: ${(err as Error).message}`))
      .finally(() => {
        recorders.delete(name);
        running.delete(done);
      });
    running.add(done);
  };

  await handleLeftBehind(executionsDir, handledDir, machines, afterUnfinished, say);

  const pollers: PipePoller[] = Object.values(pipes).map((properties) => {
    const pipe = properties as unknown as PipeProperties;
    return startPipePoller({
      pipe,
      sqs: platform.sqs,
      waitSeconds: options.pollWaitSeconds ?? 2,
      queueUrl: (arn) => {
        const queue = arn.split(":").pop() as QueueName;
        const url = platform.queues[queue]?.url;
        if (!url) throw new Error(`the pipe's source ${arn} is no task queue of the offline platform`);
        return url;
      },
      start: (target, input) => startExecution(target, input),
      onStartFailed: (err, messages) => say(`pipe ${pipe.Target.split(":").pop()}: StartExecution failed for message ${messages[0]?.MessageId}: ${(err as Error).name}: ${(err as Error).message}`),
    });
  });

  let sweeping: Promise<unknown> = Promise.resolve();
  const sweepOnce = () => {
    sweeping = sweeping
      .then(() => invokeLocalFunction({ FunctionName: "dead-lettered-tasks", Payload: { waitSeconds: 0 } }, { repoRoot: PROJECT_ROOT, executionName: "dead-letter-sweep" }))
      .catch((err) => say(`dead-letter sweep: ${(err as Error).message}`));
    return sweeping.then(() => undefined);
  };
  const interval = options.sweepIntervalMs ?? DEFAULT_SWEEP_MS;
  const sweep = interval > 0 ? setInterval(() => void sweepOnce(), interval) : undefined;

  let stopped: Promise<void> | undefined;
  return {
    inFlight: () => running.size,
    ended,
    sweep: sweepOnce,
    async idle() {
      if (running.size) return false;
      for (const q of QUEUES) {
        const a = (await platform.sqs.send(new GetQueueAttributesCommand({ QueueUrl: platform.queues[q].url, AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"] }))).Attributes ?? {};
        if (Number(a.ApproximateNumberOfMessages ?? 0) + Number(a.ApproximateNumberOfMessagesNotVisible ?? 0) > 0) return false;
      }
      return running.size === 0;
    },
    stop() {
      stopped ??= (async () => {
        await Promise.all(pollers.map((p) => p.stop()));
        if (sweep) clearInterval(sweep);
        await sweeping;
        while (running.size) await Promise.all([...running]);
        s3.destroy();
        for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
        Object.assign(process.env, savedEnv);
      })();
      return stopped;
    },
  };
}

/**
 * Executions of the task machines that a worker killed outright left RUNNING: the registry reads them ABORTED now
 * (their engine is gone), and they get the clean-up EventBridge would have sent, once.
 */
async function handleLeftBehind(
  executionsDir: string,
  handledDir: string,
  machines: Set<string>,
  afterUnfinished: (machine: string, name: string, status: string, input: string, error?: string, cause?: string) => Promise<void>,
  say: (line: string) => void,
): Promise<void> {
  const registry = new LocalExecutionRegistry(executionsDir);
  const handled = new Set(await readdir(handledDir).catch(() => []));
  for (const machine of machines) {
    const names = (await readdir(path.join(executionsDir, machine)).catch(() => [] as string[])).filter((f) => f.endsWith(".json")).map((f) => f.slice(0, -5));
    for (const name of names) {
      if (handled.has(name)) continue;
      const record = await registry.read(machine, name);
      if (!record || record.status === "RUNNING" || record.status === "SUCCEEDED") continue;
      say(`${machine} ${name}: ended ${record.status} without its clean-up (a worker stopped): giving back its slot and its task`);
      await afterUnfinished(machine, name, record.status, record.input, record.error, record.cause);
    }
  }
}
