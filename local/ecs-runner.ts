import { spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdir, mkdtemp, rm, symlink } from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { TASK_DEFINITION_TIER, type TaskSizeOverrides } from "../workflows/tiers.ts";
import { CRASH_AFTER_COPIES_ENV, PAUSE_AFTER_COPIES_ENV } from "../lib/publish-prefix.ts";
import { INTERRUPT_AFTER_OUTPUTS_ENV } from "../lib/tasks/task-files.ts";
import { describeFault, FAULT_LINE_PREFIX, type FaultKind } from "./faults.ts";
import { startStalledS3, type StalledS3 } from "./s3-stall.ts";
import { treeRssBytes } from "./process-tree.ts";
import { haltNewWork, holdIfHalted, interruptsClaimed } from "./run-halt.ts";

/** A container override of RunTask, as Step Functions passes it (PascalCase). */
export interface ContainerOverride {
  Name: string;
  Command?: string[];
  Environment?: { Name: string; Value: string }[];
}

/** RunTask's `Overrides`: the task's size (the tier the state machine picked) and the container's command and environment. */
export interface TaskOverrides extends Partial<TaskSizeOverrides> {
  ContainerOverrides: ContainerOverride[];
}

/** The `ecs:runTask.sync` Parameters, as the engine hands them over after resolving the JSONPaths. */
export interface RunTaskParameters {
  TaskDefinition: string;
  Cluster?: string;
  Overrides: TaskOverrides;
  /** Set instead of a launch type for tasks on a capacity provider's EC2 instances (the GPU tasks). */
  CapacityProviderStrategy?: { CapacityProvider: string; Weight?: number; Base?: number }[];
}

export interface EcsRunnerOptions {
  repoRoot: string;
  /** Variables every container gets locally: the embedded S3 endpoint, credentials, ATLAS_LOCAL=1. */
  baseEnv: Record<string, string>;
  logDir: string;
  /** How often the memory of the task's processes is sampled. */
  memoryPollMs?: number;
  /** Called with each line the container prints (stdout and stderr), as it comes, for a live view (--verbose). */
  onLog?: (line: string) => void;
  /** Called every `heartbeatMs` while the task runs: time since it started and its processes' memory now. */
  onHeartbeat?: (beat: { elapsedMs: number; rssBytes: number }) => void;
  /** Default: HEARTBEAT_MS. */
  heartbeatMs?: number;
  /** Called once the task's process runs, with the file its output goes to (known before it fails or times out). */
  onStarted?: (task: { pid: number; logFile: string }) => void;
  /** Fault to inject for this attempt, if any. */
  fault?: FaultKind;
  /** Runs while a `s3down` fault is active: stops and restarts the embedded S3 server. */
  s3Outage?: () => Promise<void>;
  /**
   * What a task launched on a capacity provider gets in its environment besides `baseEnv`, standing in for its
   * instance's hardware (the GPU tasks: ONNX Runtime's CPU provider).
   */
  capacityProviderEnv?: Record<string, string>;
}

/** What Step Functions returns for a stopped task (DescribeTasks, PascalCase as the service integration shows it). */
export interface EcsTaskResult {
  TaskArn: string;
  TaskDefinitionArn: string;
  ClusterArn: string;
  LastStatus: "STOPPED";
  StopCode: string;
  StoppedReason: string;
  Cpu: string;
  Memory: string;
  CreatedAt: number;
  /** Absent for a task that never started (no capacity to place it). */
  StartedAt?: number;
  StoppedAt: number;
  /** A container that never ran, or whose host went away, has no exit code. */
  Containers: { Name: string; ExitCode?: number; LastStatus: "STOPPED"; Reason?: string }[];
  /** What RunTask was asked for, as DescribeTasks echoes it: the size and the container's command and environment. */
  Overrides: TaskOverrides;
  /** Not part of the AWS shape: local extras for the progress view. */
  Local?: { peakRssBytes: number; logFile: string; lastError?: string };
}

/**
 * How often a running task reports its elapsed time and memory (the progress view's heartbeat): often enough that a
 * long step is never silent, rarely enough that piped output gets one line per step every so often, not a flood.
 * `ATLAS_HEARTBEAT_MS` overrides it (tests).
 */
export const HEARTBEAT_MS = Number(process.env.ATLAS_HEARTBEAT_MS) > 0 ? Number(process.env.ATLAS_HEARTBEAT_MS) : 10_000;

/** A task whose process runs now: what stopping it, and cleaning up after it, needs. */
export interface RunningTask {
  pid: number;
  /** The container's command word (`publish`, `extract`, …). */
  step: string;
  /** The container's environment (PUBLISH_URI and the like; its S3 endpoint may be an injected stall). */
  env: Record<string, string>;
  /** The environment every local container gets: the real embedded S3 endpoint and its credentials. */
  baseEnv: Record<string, string>;
  /** Resolves once the process group's leader has exited. */
  exited: Promise<void>;
}

/**
 * The tasks running now, by the pid that leads each one's process group. If this process ends first (Ctrl-C, a test
 * worker torn down), their containers go with it, as a stopped ECS task's would: no orphan keeps a core busy.
 */
const runningTasks = new Map<number, RunningTask>();
function killGroup(pid: number): void {
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    /* already gone */
  }
}
process.once("exit", () => runningTasks.forEach((_, pid) => killGroup(pid)));
// The last resort when nobody handles the signal (a library user, a test worker): stop every task, exit at once
// (a signal's default action would end the process without the exit hook, leaving the tasks running). The CLI
// claims the signals (local/interrupt.ts) to stop the run in order: record, release a stopped publish's lease, then exit.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => {
    if (interruptsClaimed()) return;
    runningTasks.forEach((_, pid) => killGroup(pid));
    process.exit(128 + os.constants.signals[signal]);
  });
}

export function runningTaskCount(): number {
  return runningTasks.size;
}

/**
 * Stops every running task as a StopTask would (its whole process group, at once) and lets no new one start.
 * Resolves with the stopped tasks once each has exited, so nothing they held (an S3 lease) is still in use.
 */
export async function stopAllTasks(): Promise<RunningTask[]> {
  haltNewWork();
  const stopped = [...runningTasks.values()];
  for (const task of stopped) killGroup(task.pid);
  await Promise.all(stopped.map((t) => t.exited));
  return stopped;
}

/** How long after a state's deadline its task's processes are killed. */
export const TIMEOUT_KILL_GRACE_MS = 250;

/** A container killed for memory: its `Reason` in DescribeTasks (the task's StoppedReason says only that it exited). */
export const OUT_OF_MEMORY_REASON = "OutOfMemoryError: Container killed due to memory usage";
/** The task's StoppedReason when its essential container stopped, whatever the exit (an out-of-memory kill too). */
export const ESSENTIAL_CONTAINER_EXITED = "Essential container in task exited";

/** An ECS task that stopped with a non-zero exit: Step Functions' `States.TaskFailed`, task JSON as Cause. */
export class TaskFailedError extends Error {
  constructor(readonly task: EcsTaskResult) {
    super(JSON.stringify(stripLocal(task)));
    this.name = "States.TaskFailed";
  }
}

/**
 * The environment of a task's container, in Fargate's order: what every container gets locally (`baseEnv`, standing
 * in for the task definition's CODE_VERSION and AWS settings) and the task definition's `TMPDIR` (locally the task's
 * own work dir), then RunTask's container override, which adds to them and wins on a name both give (the tier's
 * variables and the step's own come from it, as on AWS).
 */
export function containerEnvironment(
  baseEnv: Record<string, string>,
  workDir: string,
  overrides: { Name: string; Value: string }[] = [],
): Record<string, string> {
  const env: Record<string, string> = { ...baseEnv, TMPDIR: workDir };
  for (const { Name, Value } of overrides) env[Name] = String(Value);
  return env;
}

/**
 * The task's size: RunTask's task-level overrides where given (the state machine always gives them), else the
 * task definition's (`TASK_DEFINITION_TIER`, the size the stacks give every container's one definition).
 */
export function taskSize(overrides: Partial<TaskSizeOverrides> | undefined): { cpu: number; memoryMiB: number } {
  return {
    cpu: Number(overrides?.Cpu ?? TASK_DEFINITION_TIER.vcpu * 1024),
    memoryMiB: Number(overrides?.Memory ?? TASK_DEFINITION_TIER.memoryMiB),
  };
}

/** What Fargate puts in RunTask's `failures` when it has no capacity for the task. */
export const CAPACITY_UNAVAILABLE_REASON =
  "Capacity is unavailable at this time. Please try again later or in a different availability zone";

/**
 * RunTask answered HTTP 200 with a non-empty `failures` list, so no task started: the `.sync` integration fails
 * the state with `AmazonECS.Unknown` (AWS docs, "connect-ecs"). AWS does not document this Cause; it is modelled
 * as the RunTask response (PascalCase compact JSON, as the integration shows ECS objects): `{"Failures":[…],"Tasks":[]}`.
 */
export class RunTaskFailuresError extends Error {
  constructor(readonly failures: { Arn: string; Reason: string }[]) {
    super(JSON.stringify({ Failures: failures, Tasks: [] }));
    this.name = "AmazonECS.Unknown";
  }
}

/**
 * A task on a capacity provider that found no instance: it waits in PROVISIONING (10 to 30 minutes on AWS, while
 * managed scaling tries to start one; aws/containers-roadmap#2381), then stops unplaced. ECS does not document the
 * words of its StoppedReason; the stop code is TaskFailedToStart and no container ran, which is what the task
 * workflow reads. Locally the task stops at once: the workflow's retries do the waiting.
 */
export function capacityProviderTimeoutReason(capacityProvider: string): string {
  return `Timeout waiting for capacity: no container instance of capacity provider ${capacityProvider} became available to place the task`;
}

/**
 * A task whose instance went away mid-way (the `interrupt<N>` fault): ECS stops it with its host and no exit code.
 * On EC2 the reason names the instance; on Fargate, the task retirement's words.
 */
export function hostGoneReason(onCapacityProvider: boolean): string {
  return onCapacityProvider ? "Host EC2 (instance i-0local000000000000) stopped/terminated" : "ECS is performing maintenance on the underlying infrastructure hosting the task";
}

/** Node's own words when it aborts on a full heap (exit 134). */
export const HEAP_EXHAUSTED_PATTERN = /JavaScript heap out of memory/;

/**
 * The task's work dir (its TMPDIR). tsx keeps its compile cache in TMPDIR (`tsx-<uid>`, tsx's own naming): the
 * machine's cache is linked in, or every local task would compile the step code again, which costs seconds on a
 * busy machine. The image runs compiled JavaScript and has no such cache. Removing the work dir removes the link only.
 */
async function newTaskWorkDir(container: string): Promise<string> {
  const workDir = await mkdtemp(path.join(os.tmpdir(), `atlas-task-${container}-`));
  const cacheName = `tsx-${process.geteuid?.() ?? os.userInfo().username}`;
  const sharedCache = path.join(os.tmpdir(), cacheName);
  await mkdir(sharedCache, { recursive: true });
  await symlink(sharedCache, path.join(workDir, cacheName));
  return workDir;
}

/**
 * Runs one ECS task as a child process of the container's entrypoint, with the task's environment, and
 * enforces what Fargate would: the task's memory, RunTask's override (the process tree is killed and reported as ECS reports an
 * OOM kill) and the state's timeout (`deadlineMs`; the engine raises States.Timeout, the child must die too).
 */
export async function runEcsTask(
  params: RunTaskParameters,
  deadlineMs: number,
  options: EcsRunnerOptions,
): Promise<EcsTaskResult> {
  const override = params.Overrides?.ContainerOverrides?.[0];
  if (!override) throw new Error("runTask Parameters carry no ContainerOverrides");
  const size = taskSize(params.Overrides);
  const command = override.Command ?? [];
  const step = command[0] ?? override.Name;
  const capacityProvider = params.CapacityProviderStrategy?.[0]?.CapacityProvider;
  // No capacity: nothing starts, nothing is billed, the state fails before any container runs.
  if (options.fault === "capacity") {
    if (capacityProvider) throw new TaskFailedError(unplacedTask(params, override.Name, size, capacityProvider));
    throw new RunTaskFailuresError([{ Arn: params.TaskDefinition, Reason: CAPACITY_UNAVAILABLE_REASON }]);
  }
  // A fresh work dir per task that goes away with it, like a Fargate task's ephemeral storage.
  const workDir = await newTaskWorkDir(override.Name);
  const env = containerEnvironment({ ...options.baseEnv, ...(capacityProvider ? options.capacityProviderEnv : {}) }, workDir, override.Environment);
  const fault = options.fault;
  if (typeof fault === "object" && "crashAfterCopies" in fault) env[CRASH_AFTER_COPIES_ENV] = String(fault.crashAfterCopies);
  if (typeof fault === "object" && "pauseAfterCopies" in fault) env[PAUSE_AFTER_COPIES_ENV] = String(fault.pauseAfterCopies);
  if (typeof fault === "object" && "interruptAfterOutputs" in fault) env[INTERRUPT_AFTER_OUTPUTS_ENV] = String(fault.interruptAfterOutputs);
  // A stalled S3 for this attempt only: the step's S3 endpoint is a server that never answers, or cuts bodies.
  let stalled: StalledS3 | undefined;
  if (fault === "s3stall" || fault === "s3halfbody") {
    stalled = await startStalledS3(fault === "s3stall" ? "silent" : "half-body", env.AWS_ENDPOINT_URL_S3);
    env.AWS_ENDPOINT_URL_S3 = stalled.endpoint;
  }

  await mkdir(options.logDir, { recursive: true });
  // An interrupted run starts nothing new (local/run-halt.ts).
  await holdIfHalted();
  const logFile = path.join(options.logDir, `${step}-${Date.now()}.log`);
  const log = createWriteStream(logFile);
  const entrypoint = path.join(options.repoRoot, "containers", override.Name, "main.ts");
  const argv = childCommand(entrypoint, command, options.fault, size.memoryMiB);

  const createdAt = Date.now();
  const child = spawn(argv[0], argv.slice(1), {
    cwd: options.repoRoot,
    env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true, // its own process group, so the whole tree (node + osmium) can be killed at once
  });
  const startedAt = Date.now();
  if (child.pid !== undefined) options.onStarted?.({ pid: child.pid, logFile });
  let lastError: string | undefined;
  // A crash<N>/pause<N> hook says `[fault] …` when it fires (lib/publish-prefix.ts).
  let faultFired = false;
  let partial = "";
  const onChunk = (chunk: Buffer) => {
    log.write(chunk);
    partial += chunk.toString("utf8");
    const lines = partial.split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      if (line.includes(`${FAULT_LINE_PREFIX} `)) faultFired = true;
      if (line.startsWith("error:")) lastError = line.slice(6).trim();
      // A full heap aborts Node without an `error:` line: keep its FATAL ERROR line instead.
      else if (HEAP_EXHAUSTED_PATTERN.test(line)) lastError = line.replace(/^FATAL ERROR:\s*/, "").trim();
      options.onLog?.(line);
    }
  };
  child.stdout.on("data", onChunk);
  child.stderr.on("data", onChunk);

  let killedFor: "memory" | "timeout" | undefined;
  let peakRss = 0;
  let currentRss = 0;
  const killTree = () => killGroup(child.pid!);
  let markExited = () => {};
  if (child.pid !== undefined) {
    const exited = new Promise<void>((resolve) => (markExited = resolve));
    child.once("exit", () => markExited());
    runningTasks.set(child.pid, { pid: child.pid, step, env, baseEnv: options.baseEnv, exited });
  }
  const limit = size.memoryMiB * 2 ** 20;
  const sampler = setInterval(async () => {
    const rss = await treeRssBytes(child.pid!);
    currentRss = rss;
    peakRss = Math.max(peakRss, rss);
    if (rss > limit && !killedFor) {
      killedFor = "memory";
      killTree();
    }
  }, options.memoryPollMs ?? 100);
  // Just after the state's deadline: the engine must raise States.Timeout first, as Step Functions does. Killed
  // earlier, the task's exit 137 could win the race and read as an out-of-memory kill.
  const timer = setTimeout(() => {
    killedFor ??= "timeout";
    killTree();
  }, Math.max(0, deadlineMs - Date.now()) + TIMEOUT_KILL_GRACE_MS);
  const heartbeat = options.onHeartbeat
    ? setInterval(() => options.onHeartbeat!({ elapsedMs: Date.now() - startedAt, rssBytes: currentRss }), options.heartbeatMs ?? HEARTBEAT_MS)
    : undefined;
  if (options.fault === "s3down" && options.s3Outage) void options.s3Outage();

  const exitCode: number = await new Promise((resolve) => {
    child.on("error", (err) => {
      lastError = err.message;
      resolve(127);
    });
    // A process ended by a signal exits 128 + the signal's number, as in a container (SIGKILL: 137).
    child.on("close", (code, signal) => resolve(code ?? (signal ? 128 + (os.constants.signals[signal] ?? 9) : 1)));
  });
  clearInterval(sampler);
  clearInterval(heartbeat);
  clearTimeout(timer);
  runningTasks.delete(child.pid!);
  await rm(workDir, { recursive: true, force: true });
  await stalled?.stop();
  if (partial) onChunk(Buffer.from("\n"));
  // Said where the injection was announced, so that "injected" is never the last word on a fault that did nothing.
  if (typeof fault === "object" && "interruptAfterOutputs" in fault && !faultFired && !killedFor) {
    onChunk(Buffer.from(`${FAULT_LINE_PREFIX} ${describeFault(fault)} did not fire: ${step} wrote fewer than ${fault.interruptAfterOutputs} outputs\n`));
  } else if (typeof fault === "object" && !("exitCode" in fault) && !("interruptAfterOutputs" in fault) && !faultFired && !killedFor) {
    onChunk(Buffer.from(`${FAULT_LINE_PREFIX} ${describeFault(fault)} did not fire: ${step} made fewer than ${"crashAfterCopies" in fault ? fault.crashAfterCopies : fault.pauseAfterCopies} copies (an unchanged month or day copies nothing)\n`));
  }
  await new Promise((resolve) => log.end(resolve));

  const oom = killedFor === "memory";
  // The interrupt<N> hook killed the step: to ECS, its instance went away under it.
  const hostGone = typeof fault === "object" && "interruptAfterOutputs" in fault && faultFired && !killedFor;
  const task: EcsTaskResult = {
    TaskArn: `arn:aws:ecs:local:000000000000:task/${params.Cluster?.split("/").pop() ?? "local"}/${child.pid}`,
    TaskDefinitionArn: params.TaskDefinition,
    ClusterArn: params.Cluster ?? "local",
    LastStatus: "STOPPED",
    StopCode: killedFor === "timeout" ? "UserInitiated" : hostGone ? "TerminationNotice" : "EssentialContainerExited",
    // As Fargate reports an out-of-memory kill: the task stopped because its essential container exited; the
    // container's own Reason says why (and the compiled machine's `*OutOfMemoryError*` finds it there).
    StoppedReason:
      killedFor === "timeout" ? "Task stopped by Step Functions: the state timed out" : hostGone ? hostGoneReason(capacityProvider !== undefined) : ESSENTIAL_CONTAINER_EXITED,
    Cpu: String(size.cpu),
    Memory: String(size.memoryMiB),
    CreatedAt: createdAt,
    StartedAt: startedAt,
    StoppedAt: Date.now(),
    Containers: [
      {
        Name: override.Name,
        ...(hostGone ? {} : { ExitCode: oom ? 137 : exitCode }),
        LastStatus: "STOPPED",
        ...(oom ? { Reason: OUT_OF_MEMORY_REASON } : {}),
      },
    ],
    Overrides: params.Overrides,
    Local: { peakRssBytes: peakRss, logFile, lastError },
  };
  if (oom || exitCode !== 0) throw new TaskFailedError(task);
  return task;
}

/** The stopped task of a task on a capacity provider that no instance took (see `capacityProviderTimeoutReason`). */
function unplacedTask(params: RunTaskParameters, container: string, size: { cpu: number; memoryMiB: number }, capacityProvider: string): EcsTaskResult {
  const now = Date.now();
  return {
    TaskArn: `arn:aws:ecs:local:000000000000:task/${params.Cluster?.split("/").pop() ?? "local"}/unplaced-${now}`,
    TaskDefinitionArn: params.TaskDefinition,
    ClusterArn: params.Cluster ?? "local",
    LastStatus: "STOPPED",
    StopCode: "TaskFailedToStart",
    StoppedReason: capacityProviderTimeoutReason(capacityProvider),
    Cpu: String(size.cpu),
    Memory: String(size.memoryMiB),
    CreatedAt: now,
    StoppedAt: now,
    Containers: [{ Name: container, LastStatus: "STOPPED" }],
    Overrides: params.Overrides,
  };
}

/** The child to start: the step's entrypoint, or a stand-in process that misbehaves in the injected way. */
function childCommand(entrypoint: string, command: string[], fault: FaultKind | undefined, memoryMiB: number): string[] {
  const node = process.execPath;
  // The real step runs for no fault, for an S3 outage, and for a crash the step performs on itself.
  const realStep = fault === undefined || fault === "s3down" || fault === "s3stall" || fault === "s3halfbody";
  if (realStep || (typeof fault === "object" && ("crashAfterCopies" in fault || "pauseAfterCopies" in fault || "interruptAfterOutputs" in fault))) {
    return [node, "--import", "tsx", entrypoint, ...command];
  }
  const say = (what: string) => `process.stderr.write(${JSON.stringify(`[fault] injected ${what}\n`)});`;
  if (fault === "hang") return [node, "-e", `${say("hang")} setInterval(() => {}, 1 << 30);`];
  if (fault === "oom") {
    // Really grows past the task's memory, so the limit enforcement is exercised, not assumed.
    const chunkMiB = 32;
    return [
      node,
      `--max-old-space-size=${memoryMiB * 4}`,
      "-e",
      `${say("oom")} const keep = []; setInterval(() => { const b = Buffer.alloc(${chunkMiB} * 1048576, 1); keep.push(b); }, 20);`,
    ];
  }
  if (fault === "heap") {
    // A real heap exhaustion: V8 aborts (SIGABRT, exit 134) with "FATAL ERROR: … JavaScript heap out of memory",
    // as a step does on Fargate when its heap cap is below what it needs, well before the task's memory limit.
    return [node, "--max-old-space-size=16", "-e", `${say("heap")} const keep = []; for (;;) keep.push({ a: new Array(1000).fill(1) });`];
  }
  if (typeof fault === "object" && "exitCode" in fault) {
    return [node, "-e", `${say(describeFault(fault))} process.stderr.write("error: injected fault (exit ${fault.exitCode})\\n"); process.exit(${fault.exitCode});`];
  }
  throw new Error(`fault '${describeFault(fault)}' does not apply to a container step`);
}

function stripLocal(task: EcsTaskResult): Omit<EcsTaskResult, "Local"> {
  const { Local: _local, ...rest } = task;
  return rest;
}

export function toStepFunctionsResult(task: EcsTaskResult): Omit<EcsTaskResult, "Local"> {
  return stripLocal(task);
}
