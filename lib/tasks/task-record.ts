import type { TaskCost } from "./task-cost.ts";
import type { QueueName, TaskType } from "./task-types.ts";

/**
 * A task's record in the task table (stacks/constructs/TaskTable.ts): what `tasks status --json`, the API and the
 * console show. Status moves QUEUED → RUNNING → SUCCEEDED | FAILED, each move one conditional write
 * (lib/tasks/task-transitions.ts).
 */
export const TASK_STATUSES = ["QUEUED", "RUNNING", "SUCCEEDED", "FAILED"] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export function isTaskStatus(value: unknown): value is TaskStatus {
  return typeof value === "string" && (TASK_STATUSES as readonly string[]).includes(value);
}

export interface TaskRecord {
  taskId: string;
  type: TaskType;
  queue: QueueName;
  status: TaskStatus;
  /** ISO 8601 UTC times: submitted, last change of status (the index's sort key), first start, finish. */
  submittedAt: string;
  updatedAt: string;
  startedAt?: string;
  finishedAt?: string;
  /** How many times the work was started (a retry after a killed attempt counts). */
  attempts: number;
  /** The execution that claimed the task: only it may finish it. */
  runId?: string;
  /** Why it failed: one line a person can read. */
  error?: string;
  input: { name: string; bytes: number; key: string };
  /** On success: where the results are (`s3://…/tasks/<taskId>/output/`) and which files. */
  result?: { outputUri: string; files: string[] };
  /** For text results: the text (cut at TEXT_IN_RECORD_MAX characters; the whole text is in the output's text.txt). */
  text?: string;
  textTruncated?: boolean;
  estimatedCost?: TaskCost;
  /** Epoch seconds after which DynamoDB's TTL deletes a finished task's record. */
  expiresAt?: number;
}

/**
 * A DynamoDB item is at most 400 KB; text beyond this stays in S3 only. Generous for a page of text (a dense A4
 * page is about 3 000 characters) and small enough that a `status` read stays one 4 KB read unit or a few.
 */
export const TEXT_IN_RECORD_MAX = 32_000;

/**
 * Finished records expire after this long. Longer than SQS's longest retention (14 days), so a task whose message
 * is still in a dead-letter queue keeps its record until it is redriven.
 */
export const FINISHED_TASK_TTL_DAYS = 30;

export function expiresAtFor(finishedAt: string): number {
  return Math.floor(Date.parse(finishedAt) / 1000) + FINISHED_TASK_TTL_DAYS * 86_400;
}

/** The record's attribute names, as the table and the index declare them. */
export const TASK_TABLE_KEY = "taskId";
export const STATUS_INDEX = { name: "byStatus", partitionKey: "status", sortKey: "updatedAt" } as const;
export const TTL_ATTRIBUTE = "expiresAt";
/** What the status index carries besides its keys: enough to list tasks without reading each one. */
export const STATUS_INDEX_ATTRIBUTES = ["type", "queue", "submittedAt", "startedAt", "finishedAt", "attempts", "error"] as const;
