import type { S3Client } from "@aws-sdk/client-s3";
import { oneLine } from "../lib/one-line.ts";
import { getObjectText } from "../lib/s3-objects.ts";
import { makeS3Client } from "../lib/s3.ts";
import { checkTaskId, checkType } from "../lib/tasks/submission.ts";
import type { TaskFailureReport, TaskResult } from "../lib/tasks/task-files.ts";
import { estimateTaskCost, type GpuInstanceUse } from "../lib/tasks/task-cost.ts";
import type { TaskRecord } from "../lib/tasks/task-record.ts";
import { makeDynamoClient, TaskConflictError, TaskTable } from "../lib/tasks/task-table.ts";
import { ERROR_FILE, RESULT_FILE, TASK_TYPES, taskOutputPrefix, type TaskType } from "../lib/tasks/task-types.ts";
import { describeCause, type StatesError } from "../run-model/causes.ts";
import { ConfigurationError, InvalidInputError } from "./errors.ts";

/**
 * The task workflow's last step (workflows/tasks.ts, "Record the result" and, on the failure path, "Record the
 * failure"): records how the task ended, RUNNING → SUCCEEDED or FAILED, as the execution holding the task
 * (`runId`), with what only code can work out:
 * - success: the result from `result.json` (files, and the text of a text result) and the estimated cost
 *   (lib/tasks/task-cost.ts) from the ECS task's start and stop times;
 * - failure: one line a person can read: the step's own `error:` line when it left one (`error.json`); for no
 *   capacity and a timeout, what happened in words; else the Cause summarized (run-model/causes.ts).
 * The claim, which needs no code, is the state machine's DynamoDB updateItem (lib/tasks/task-transitions.ts `claim`).
 * A failure before the task was claimed (no slot in time, the table unreachable) leaves a QUEUED task whose message
 * Pipes has already deleted: it is recorded FAILED too, so that no task waits for ever. A record held by another
 * execution is a TaskConflictError, which the machine may Catch.
 */
export interface FinishTaskEvent {
  task: { taskId: string; type: string };
  /** The execution's name (`$$.Execution.Name`): the runId that claimed the task. */
  runId: string;
  /**
   * The ECS task's start and stop: the machine's `$.steps.<type>` (`startedAt`, `stoppedAt`) on success, or the
   * stopped task as DescribeTasks gives it (`StartedAt`, `StoppedAt`). On failure they are read from the Cause.
   */
  ecs?: { startedAt?: number | string; stoppedAt?: number | string; StartedAt?: number | string; StoppedAt?: number | string } | null;
  /** The Catch's `{Error, Cause}` when the task failed. */
  error?: StatesError | null;
  /** GPU tasks: the instance's life and busy time so far, when the machine knows them. */
  instance?: GpuInstanceUse | null;
  /** Defaults to now. */
  now?: string;
}

export interface FinishTaskDeps {
  table: TaskTable;
  s3: S3Client;
  bucket: string;
}

const millis = (t: number | string | undefined) => (typeof t === "number" ? t : typeof t === "string" ? Date.parse(t) : NaN);

/** The ECS task's busy seconds, from the event or, for a failed task, from the stopped task in the Cause. */
function busySeconds(event: FinishTaskEvent): number {
  let times: { start?: number | string; stop?: number | string } = { start: event.ecs?.startedAt ?? event.ecs?.StartedAt, stop: event.ecs?.stoppedAt ?? event.ecs?.StoppedAt };
  if (times.start === undefined && typeof event.error?.Cause === "string") {
    try {
      const task = JSON.parse(event.error.Cause) as { StartedAt?: number | string; StoppedAt?: number | string };
      times = { start: task?.StartedAt, stop: task?.StoppedAt };
    } catch {
      // not an ECS task: no busy time to price
    }
  }
  return (millis(times.stop) - millis(times.start)) / 1000;
}

export async function finishTask(event: FinishTaskEvent, deps: FinishTaskDeps): Promise<TaskRecord> {
  let taskId: string, type: TaskType;
  try {
    taskId = checkTaskId(event?.task?.taskId);
    type = checkType(event.task.type);
    if (typeof event.runId !== "string" || !event.runId) throw new Error("finish-task needs runId (the execution's name)");
  } catch (err) {
    throw new InvalidInputError((err as Error).message);
  }
  const now = event.now ?? new Date().toISOString();
  const busy = busySeconds(event);
  const estimatedCost = Number.isFinite(busy) ? estimateTaskCost(type, busy, event.instance ?? undefined) : undefined;
  const output = `s3://${deps.bucket}/${taskOutputPrefix(taskId)}`;
  const readJson = async <T>(name: string): Promise<T | undefined> => {
    const text = await getObjectText(deps.s3, output + name);
    return text === undefined ? undefined : (JSON.parse(text) as T);
  };
  if (!event.error) {
    const result = await readJson<TaskResult>(RESULT_FILE);
    if (result) {
      const text = TASK_TYPES[type].result === "text" && typeof result.text === "string" ? result.text : undefined;
      return deps.table.succeed({ taskId, runId: event.runId, now, result: { outputUri: result.outputUri, files: result.files.map((f) => f.name) }, text, estimatedCost });
    }
    return deps.table.fail({ taskId, runId: event.runId, now, error: `the task ended without ${RESULT_FILE} in ${output}`, estimatedCost });
  }
  const report = await readJson<TaskFailureReport>(ERROR_FILE).catch(() => undefined);
  const error = report?.error ? `${report.error} (exit ${report.exitCode})` : failureLine(type, event.error);
  try {
    return await deps.table.fail({ taskId, runId: event.runId, now, error, estimatedCost });
  } catch (err) {
    // Failed before it claimed the task: the task is still QUEUED, and its message is gone.
    if (err instanceof TaskConflictError && err.current?.status === "QUEUED") {
      // A timeout here was a write's or the slot wait's, not the task's (it never ran): say so, not "ran past its timeout".
      const why = event.error?.Error === "States.Timeout" ? "a write of the task table timed out (States.Timeout)" : error;
      return deps.table.fail({ taskId, now, error: `${why} (before the task started)` });
    }
    throw err;
  }
}

/**
 * What a failed task's record says when the step left no line of its own: no capacity and a timeout in words
 * (what a caller can act on: try later, or a smaller input), anything else as the Cause summarized.
 */
export function failureLine(type: TaskType, error: StatesError): string {
  const spec = TASK_TYPES[type];
  const where = spec.queue === "gpu" ? "GPU" : "Fargate";
  const cause = describeCause(error);
  if (error.Error === "States.Timeout") return `the ${type} task ran past its ${spec.timeoutSeconds} s timeout and was stopped`;
  if (error.Error === "AmazonECS.Unknown" || isTaskThatNeverStarted(error.Cause)) {
    const advice = spec.queue === "gpu" ? ": the GPU instances could not start or were all busy (see the GPU quota and ATLAS_GPU_MAX_INSTANCES in docs/TASKS.md)" : "";
    return oneLine(`no ${where} capacity: ECS could not start the ${type} task (${cause.sentence})${advice}`);
  }
  return cause.summary;
}

/** A stopped task that never ran: ECS gave up placing it (TaskFailedToStart), and no container exited. */
function isTaskThatNeverStarted(cause: unknown): boolean {
  if (typeof cause !== "string") return false;
  try {
    const task = JSON.parse(cause) as { StopCode?: string; Containers?: { ExitCode?: number }[] };
    return task.StopCode === "TaskFailedToStart" && !(task.Containers ?? []).some((c) => typeof c.ExitCode === "number");
  } catch {
    return false;
  }
}

/** The clients, made once per bucket, table and endpoints (the local engine runs several platforms in one process). */
const depsFor = new Map<string, FinishTaskDeps>();

export async function handler(event: FinishTaskEvent): Promise<TaskRecord> {
  const bucket = process.env.ATLAS_BUCKET?.trim();
  const table = process.env.ATLAS_TASK_TABLE?.trim();
  if (!bucket || !table) throw new ConfigurationError("finish-task needs ATLAS_BUCKET and ATLAS_TASK_TABLE");
  const key = [bucket, table, process.env.AWS_ENDPOINT_URL_S3, process.env.AWS_ENDPOINT_URL_DYNAMODB].join("|");
  let deps = depsFor.get(key);
  if (!deps) {
    deps = { bucket, s3: makeS3Client(), table: new TaskTable(makeDynamoClient(), table) };
    depsFor.set(key, deps);
  }
  return finishTask(event, deps);
}
