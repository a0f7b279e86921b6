/**
 * The task types the platform runs on demand, the queue each goes to, and the limits the submission checks
 * (lib/tasks/submission.ts) enforce. One table read by the checks, the API, the CLI, the containers and the stack.
 */
export const QUEUES = ["gpu", "cpu"] as const;
export type QueueName = (typeof QUEUES)[number];

export interface TaskTypeSpec {
  queue: QueueName;
  /** The container folder (containers/<image>) whose step runs it; the step is named like the type. */
  image: string;
  /** Largest input file accepted, bytes. */
  maxInputBytes: number;
  /** Longest one attempt may run (the state's TimeoutSeconds in phase 2; the queue's visibility timeout exceeds it). */
  timeoutSeconds: number;
  /** What the type produces, for the docs and the record: `text` results also carry the text in the record. */
  result: "text" | "files";
  /** CPU types: the ARM64 Fargate tier (workflows/tiers.ts) their task definition has. GPU types run on the GPU
   * capacity provider's instances (stacks/constructs/GpuCapacity.ts). */
  tier?: string;
}

const MiB = 1024 * 1024;

export const TASK_TYPES = {
  /** Text recognition of an image on a GPU (containers/ocr). */
  ocr: { queue: "gpu", image: "ocr", maxInputBytes: 20 * MiB, timeoutSeconds: 15 * 60, result: "text" },
  /** Thumbnails of an image on ARM64 Fargate (containers/thumbnail). */
  thumbnail: { queue: "cpu", image: "thumbnail", maxInputBytes: 50 * MiB, timeoutSeconds: 5 * 60, result: "files", tier: "small" },
} as const satisfies Record<string, TaskTypeSpec>;

export type TaskType = keyof typeof TASK_TYPES;

export function isTaskType(value: unknown): value is TaskType {
  return typeof value === "string" && Object.hasOwn(TASK_TYPES, value);
}

export function taskTypesOf(queue: QueueName): TaskType[] {
  return (Object.keys(TASK_TYPES) as TaskType[]).filter((t) => TASK_TYPES[t].queue === queue);
}

/** The longest attempt of any task on the queue: what its visibility timeout must exceed. */
export function longestTaskSeconds(queue: QueueName): number {
  return Math.max(...taskTypesOf(queue).map((t) => TASK_TYPES[t].timeoutSeconds));
}

/**
 * A task id: what S3 keys, the table's key and (in phase 2) the execution's dedupe are derived from, so it is
 * restricted to characters safe in all three. Clients may choose their own (a retried submission with the same
 * id is refused, never run twice); otherwise the API makes a random UUID.
 */
export const TASK_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$/;

export function isTaskId(value: unknown): value is string {
  return typeof value === "string" && TASK_ID_PATTERN.test(value);
}

/** The one input file's name, as stored under `tasks/<taskId>/input/`: a plain file name, no path. */
export const INPUT_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Every task's files live under this prefix of the data bucket. */
export const TASKS_PREFIX = "tasks/";

export function taskInputPrefix(taskId: string): string {
  return `${TASKS_PREFIX}${taskId}/input/`;
}

export function taskInputKey(taskId: string, inputName: string): string {
  return `${taskInputPrefix(taskId)}${inputName}`;
}

/** Results: keys derived from the task id only, so a retried or repeated attempt overwrites, never adds. */
export function taskOutputPrefix(taskId: string): string {
  return `${TASKS_PREFIX}${taskId}/output/`;
}

/** Written last by every task type: while it is absent, the output prefix holds no finished result. */
export const RESULT_FILE = "result.json";

/** Left by a failed attempt (its one error line and exit code), removed by a successful one. */
export const ERROR_FILE = "error.json";
