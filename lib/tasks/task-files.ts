import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { classifyError } from "../classify-error.ts";
import { EXIT, StepError } from "../exit-codes.ts";
import { requiredEnv, uriEnv, type Env } from "../run-step.ts";
import { localFaultCount } from "../local-fault-hooks.ts";
import { listObjects } from "../s3-objects.ts";
import { parseS3Uri } from "../s3.ts";
import { ERROR_FILE, RESULT_FILE, TASK_TYPES, isTaskId, taskInputPrefix, taskOutputPrefix, type TaskType } from "./task-types.ts";

/**
 * What a task's container step reads and writes (docs/TASKS.md, "Inside a task"). Environment:
 * `TASK_ID` (the task), `TASKS_URI` (`s3://<bucket>/tasks/`: where every task's folder lives). The input is the one
 * object under `tasks/<taskId>/input/`; the results go under `tasks/<taskId>/output/` with fixed names, `result.json`
 * last, so an attempt that is retried or run again overwrites the same keys and a reader trusts the folder only
 * once `result.json` is there.
 */
export interface TaskContext {
  taskId: string;
  bucket: string;
  /** `tasks/<taskId>/input/`, `tasks/<taskId>/output/` (keys in `bucket`). */
  inputPrefix: string;
  outputPrefix: string;
  /** Local tests only (INTERRUPT_AFTER_OUTPUTS_ENV): the process is killed after writing this many output files. */
  interruptAfterOutputs?: number;
}

/**
 * `ATLAS_FAULT_INTERRUPT_AFTER_OUTPUTS=<n>` with `ATLAS_LOCAL=1`: the step SIGKILLs itself after writing n output
 * files, as when its instance goes away mid-way (the local engine's `interrupt<N>` fault, local/faults.ts). Never read
 * by a deployed task.
 */
export const INTERRUPT_AFTER_OUTPUTS_ENV = "ATLAS_FAULT_INTERRUPT_AFTER_OUTPUTS";

export function taskContext(env: Env, step: string): TaskContext {
  const taskId = requiredEnv(env, "TASK_ID", step);
  if (!isTaskId(taskId)) throw new StepError(`TASK_ID='${taskId}' is not a task id (letters, digits, '-' and '_', at most 80)`, EXIT.USAGE);
  const tasksUri = uriEnv(env, "TASKS_URI", step, { prefix: true });
  const { bucket, key } = parseS3Uri(tasksUri);
  // The keys are derived from the id alone; TASKS_URI only names the bucket and must be its tasks/ folder.
  if (`${key}${taskId}/input/` !== taskInputPrefix(taskId)) throw new StepError(`TASKS_URI='${tasksUri}' must be s3://<bucket>/tasks/`, EXIT.USAGE);
  const interruptAfterOutputs = localFaultCount(env, INTERRUPT_AFTER_OUTPUTS_ENV);
  return { taskId, bucket, inputPrefix: taskInputPrefix(taskId), outputPrefix: taskOutputPrefix(taskId), ...(interruptAfterOutputs !== undefined ? { interruptAfterOutputs } : {}) };
}

export interface TaskInput {
  name: string;
  bytes: Buffer;
}

/** The task's one input file, or exit 66 (none) / 65 (several, or larger than its type allows). */
export async function readTaskInput(s3: S3Client, ctx: TaskContext, type: TaskType): Promise<TaskInput> {
  const listed = (await listObjects(s3, `s3://${ctx.bucket}/${ctx.inputPrefix}`)).filter((o) => o.name && !o.name.includes("/"));
  if (listed.length === 0) throw new StepError(`task ${ctx.taskId} has no input under s3://${ctx.bucket}/${ctx.inputPrefix}: upload it before the task starts`, EXIT.NO_INPUT);
  if (listed.length > 1) throw new StepError(`task ${ctx.taskId} has ${listed.length} inputs under s3://${ctx.bucket}/${ctx.inputPrefix}: a task takes exactly one file`, EXIT.DATA_ERROR);
  const [object] = listed;
  const max = TASK_TYPES[type].maxInputBytes;
  if (object.size > max) throw new StepError(`the input ${object.name} is ${object.size} bytes: ${type} takes at most ${max}`, EXIT.DATA_ERROR);
  const out = await s3.send(new GetObjectCommand({ Bucket: ctx.bucket, Key: object.key }));
  return { name: object.name, bytes: Buffer.from(await out.Body!.transformToByteArray()) };
}

export interface OutputFile {
  name: string;
  body: Buffer | string;
  contentType: string;
}

/** What every task type's `result.json` holds (and what the record's result points at). */
export interface TaskResult {
  taskId: string;
  type: TaskType;
  /** `s3://<bucket>/tasks/<taskId>/output/` */
  outputUri: string;
  files: { name: string; bytes: number; contentType: string }[];
  /** For text results: the text itself. */
  text?: string;
  [detail: string]: unknown;
}

/** Writes the outputs, then `result.json` (the commit marker), all at keys derived from the task id. */
export async function writeTaskOutputs(s3: S3Client, ctx: TaskContext, type: TaskType, files: OutputFile[], detail: Record<string, unknown> = {}): Promise<TaskResult> {
  let written = 0;
  for (const f of files) {
    if (f.name === RESULT_FILE || f.name.includes("/")) throw new Error(`output name '${f.name}' is reserved or not a plain name`);
    await s3.send(new PutObjectCommand({ Bucket: ctx.bucket, Key: ctx.outputPrefix + f.name, Body: f.body, ContentType: f.contentType }));
    if (++written === ctx.interruptAfterOutputs) {
      process.stderr.write(`[fault] ${INTERRUPT_AFTER_OUTPUTS_ENV}=${written}: killing this process after ${written} of its outputs\n`);
      process.kill(process.pid, "SIGKILL");
    }
  }
  const result: TaskResult = {
    taskId: ctx.taskId,
    type,
    outputUri: `s3://${ctx.bucket}/${ctx.outputPrefix}`,
    files: files.map((f) => ({ name: f.name, bytes: Buffer.byteLength(f.body), contentType: f.contentType })),
    ...detail,
  };
  await s3.send(new PutObjectCommand({ Bucket: ctx.bucket, Key: ctx.outputPrefix + RESULT_FILE, Body: JSON.stringify(result, null, 2), ContentType: "application/json" }));
  // An earlier attempt's failure no longer describes the task.
  await s3.send(new DeleteObjectCommand({ Bucket: ctx.bucket, Key: ctx.outputPrefix + ERROR_FILE }));
  return result;
}

/** What a failed attempt leaves for the task's record: the step's one error line and its exit code. */
export interface TaskFailureReport {
  error: string;
  exitCode: number;
}

/**
 * Runs a task's work; if it fails, leaves `error.json` (its one `error:` line and exit code) in the output folder
 * before failing as usual. Step Functions' Cause for a failed ECS task holds only the exit code: this is how the
 * record gets the reason a person can act on ("the input is not an image …"). Best effort: a failure to write it
 * never hides the task's own error.
 */
export async function reportingFailure(s3: S3Client, ctx: TaskContext, step: string, work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (err) {
    const e = classifyError(err, step);
    const report: TaskFailureReport = { error: e.message.replace(/\s*\n\s*/g, " "), exitCode: e.exitCode };
    await s3.send(new PutObjectCommand({ Bucket: ctx.bucket, Key: ctx.outputPrefix + ERROR_FILE, Body: JSON.stringify(report), ContentType: "application/json" })).catch(() => undefined);
    throw e;
  }
}
