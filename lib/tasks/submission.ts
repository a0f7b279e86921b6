import { INPUT_NAME_PATTERN, TASK_TYPES, isTaskId, isTaskType, taskInputKey, type QueueName, type TaskType } from "./task-types.ts";

/**
 * The one set of checks every way in runs before anything is queued: the typed client and the CLI (before they
 * upload), the API's handlers (again, on what arrives), and whoever reads a queue message (`parseTaskMessage`).
 * A failure is a SubmissionError: one line saying what to fix; the CLI exits 64 with it, the API answers 400.
 */
export class SubmissionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SubmissionError";
  }
}

const fail = (message: string): never => {
  throw new SubmissionError(message);
};

export const KNOWN_TYPES = () => Object.keys(TASK_TYPES).join(", ");

export function checkType(type: unknown): TaskType {
  if (typeof type !== "string" || !type) return fail(`a task needs a type: one of ${KNOWN_TYPES()}`);
  if (!isTaskType(type)) return fail(`unknown task type '${type}': use one of ${KNOWN_TYPES()}`);
  return type;
}

export function checkTaskId(taskId: unknown): string {
  if (!isTaskId(taskId)) return fail(`task id ${JSON.stringify(taskId)} is not valid: 1 to 80 letters, digits, '-' or '_', starting with a letter or digit`);
  return taskId;
}

/** The input file's name as stored: its base name, which must be a plain, safe file name. */
export function checkInputName(name: unknown): string {
  if (typeof name !== "string" || !name) return fail("the input needs a file name");
  if (!INPUT_NAME_PATTERN.test(name)) return fail(`input file name '${name}' is not allowed: use letters, digits, '.', '-' and '_' (at most 128), no path`);
  return name;
}

/** A file that is there and within the type's limit. `bytes` undefined means there is no such file. */
export function checkInputSize(type: TaskType, name: string, bytes: number | undefined): number {
  if (bytes === undefined) return fail(`the input file ${name} is missing: upload it (or name a file that exists) before submitting`);
  if (bytes === 0) return fail(`the input file ${name} is empty`);
  const max = TASK_TYPES[type].maxInputBytes;
  if (bytes > max) return fail(`the input file ${name} is ${mib(bytes)}: ${type} takes at most ${mib(max)}`);
  return bytes;
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** What a submission says (the API's POST /tasks body, the client's and the CLI's arguments). */
export interface SubmissionRequest {
  type: TaskType;
  /** Absent: the API makes one. */
  taskId?: string;
  input: { name: string };
}

/** The shape of a submission, from untrusted JSON. */
export function checkSubmissionRequest(body: unknown): SubmissionRequest {
  if (!body || typeof body !== "object" || Array.isArray(body)) return fail('the submission must be a JSON object: {"type": …, "input": {"name": …}}');
  const b = body as Record<string, unknown>;
  const unknown = Object.keys(b).filter((k) => !["type", "taskId", "input"].includes(k));
  if (unknown.length) return fail(`the submission has unknown field(s) ${unknown.join(", ")}: it takes type, taskId and input`);
  const type = checkType(b.type);
  const taskId = b.taskId === undefined ? undefined : checkTaskId(b.taskId);
  const input = b.input as Record<string, unknown> | undefined;
  if (!input || typeof input !== "object") return fail('the submission needs "input": {"name": "<file name>"}');
  return { type, ...(taskId ? { taskId } : {}), input: { name: checkInputName(input.name) } };
}

/** What an upload-URL request says (POST /tasks/uploads). */
export interface UploadRequest {
  type: TaskType;
  taskId?: string;
  fileName: string;
  bytes: number;
}

export function checkUploadRequest(body: unknown): UploadRequest {
  if (!body || typeof body !== "object" || Array.isArray(body)) return fail('the upload request must be a JSON object: {"type": …, "fileName": …, "bytes": …}');
  const b = body as Record<string, unknown>;
  const type = checkType(b.type);
  const taskId = b.taskId === undefined ? undefined : checkTaskId(b.taskId);
  const fileName = checkInputName(b.fileName);
  if (typeof b.bytes !== "number" || !Number.isInteger(b.bytes) || b.bytes < 0) return fail('the upload request needs "bytes": the file\'s size');
  return { type, ...(taskId ? { taskId } : {}), fileName, bytes: checkInputSize(type, fileName, b.bytes) };
}

/** The queue message: what the pipe hands the state machine (its execution input). */
export interface TaskMessage {
  taskId: string;
  type: TaskType;
  queue: QueueName;
  input: { name: string; key: string; bytes: number };
}

export function taskMessage(taskId: string, type: TaskType, inputName: string, bytes: number): TaskMessage {
  return { taskId, type, queue: TASK_TYPES[type].queue, input: { name: inputName, key: taskInputKey(taskId, inputName), bytes } };
}

/** A message read back from a queue: the same checks, and the key must be the one the id and name give. */
export function parseTaskMessage(body: string): TaskMessage {
  let m: Record<string, unknown>;
  try {
    m = JSON.parse(body);
  } catch {
    return fail(`the message is not JSON: ${JSON.stringify(body.slice(0, 60))}`);
  }
  if (!m || typeof m !== "object") return fail("the message is not a JSON object");
  const taskId = checkTaskId(m.taskId);
  const type = checkType(m.type);
  const input = m.input as Record<string, unknown> | undefined;
  const name = checkInputName(input?.name);
  const bytes = checkInputSize(type, name, typeof input?.bytes === "number" ? input.bytes : undefined);
  const expected = taskMessage(taskId, type, name, bytes);
  if (m.queue !== expected.queue) return fail(`the message says queue ${JSON.stringify(m.queue)}: ${type} runs on ${expected.queue}`);
  if (input?.key !== expected.input.key) return fail(`the message's input key ${JSON.stringify(input?.key)} is not ${expected.input.key}`);
  return expected;
}
