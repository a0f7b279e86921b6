import type { S3Client } from "@aws-sdk/client-s3";
import { getObjectText } from "../lib/s3-objects.ts";
import { makeS3Client } from "../lib/s3.ts";
import { checkTaskId, checkType } from "../lib/tasks/submission.ts";
import type { TaskFailureReport, TaskResult } from "../lib/tasks/task-files.ts";
import { estimateTaskCost, type GpuInstanceUse } from "../lib/tasks/task-cost.ts";
import type { TaskRecord } from "../lib/tasks/task-record.ts";
import { makeDynamoClient, TaskTable } from "../lib/tasks/task-table.ts";
import { ERROR_FILE, RESULT_FILE, TASK_TYPES, taskOutputPrefix } from "../lib/tasks/task-types.ts";
import { describeCause, type StatesError } from "../run-model/causes.ts";
import { ConfigurationError, InvalidInputError } from "./errors.ts";

/**
 * The task workflow's last step (issue 23, phase 2 wires it): records how the task ended, RUNNING → SUCCEEDED or
 * FAILED, as the execution holding the task (`runId`), with what only code can work out:
 * - success: the result from `result.json` (files, and the text of a text result) and the estimated cost
 *   (lib/tasks/task-cost.ts) from the ECS task's start and stop times;
 * - failure: one line a person can read: the step's own `error:` line when it left one (`error.json`), else the
 *   Cause summarized (run-model/causes.ts: exit code, out of memory, timeout…).
 * The claim, which needs no code, is the state machine's DynamoDB updateItem (lib/tasks/task-transitions.ts `claim`).
 * A record held by another execution is a TaskConflictError, which the machine may Catch.
 */
export interface FinishTaskEvent {
  task: { taskId: string; type: string };
  /** The execution's name (`$$.Execution.Name`): the runId that claimed the task. */
  runId: string;
  /** The ECS task as `ecs:runTask.sync` returns it (success), or as far as it is known. */
  ecs?: { StartedAt?: number | string; StoppedAt?: number | string } | null;
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

export async function finishTask(event: FinishTaskEvent, deps: FinishTaskDeps): Promise<TaskRecord> {
  let taskId: string, type: ReturnType<typeof checkType>;
  try {
    taskId = checkTaskId(event?.task?.taskId);
    type = checkType(event.task.type);
    if (typeof event.runId !== "string" || !event.runId) throw new Error("finish-task needs runId (the execution's name)");
  } catch (err) {
    throw new InvalidInputError((err as Error).message);
  }
  const now = event.now ?? new Date().toISOString();
  const busy = (millis(event.ecs?.StoppedAt) - millis(event.ecs?.StartedAt)) / 1000;
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
  const error = report?.error ? `${report.error} (exit ${report.exitCode})` : describeCause(event.error).summary;
  return deps.table.fail({ taskId, runId: event.runId, now, error, estimatedCost });
}

let deps: FinishTaskDeps | undefined;

export async function handler(event: FinishTaskEvent): Promise<TaskRecord> {
  if (!deps) {
    const bucket = process.env.ATLAS_BUCKET?.trim();
    const table = process.env.ATLAS_TASK_TABLE?.trim();
    if (!bucket || !table) throw new ConfigurationError("finish-task needs ATLAS_BUCKET and ATLAS_TASK_TABLE");
    deps = { bucket, s3: makeS3Client(), table: new TaskTable(makeDynamoClient(), table) };
  }
  return finishTask(event, deps);
}
