import { randomUUID } from "node:crypto";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { headObject } from "../s3-objects.ts";
import { isTaskStatus, type TaskRecord, type TaskStatus } from "./task-record.ts";
import { TaskConflictError, type TaskPage, type TaskSummary, type TaskTable } from "./task-table.ts";
import { TASK_TYPES, taskInputKey, type QueueName } from "./task-types.ts";
import { SubmissionError, checkInputSize, checkSubmissionRequest, checkTaskId, checkUploadRequest, taskMessage } from "./submission.ts";

/**
 * What the task API does, whoever calls it: the Lambda handlers on AWS (functions/tasks-api.ts) and the same
 * handlers offline behind cli/tasks-api-server.ts. Each operation checks first (lib/tasks/submission.ts), so a bad
 * request changes nothing: no record, no message.
 */
export interface TaskServiceDeps {
  table: TaskTable;
  s3: S3Client;
  sqs: SQSClient;
  bucket: string;
  queueUrls: Record<QueueName, string>;
  now?: () => Date;
  newTaskId?: () => string;
}

/** How long a presigned upload URL stays valid: long enough for a large file on a slow link, short enough to leak little. */
export const UPLOAD_URL_SECONDS = 15 * 60;

/** A request that cannot be served: `status` is the HTTP status the API answers (400, 404, 409). */
export class TaskApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = "TaskApiError";
  }
}

export class TaskService {
  constructor(private readonly deps: TaskServiceDeps) {}

  private now(): string {
    return (this.deps.now?.() ?? new Date()).toISOString();
  }

  /** A presigned PUT for the task's input: `tasks/<taskId>/input/<fileName>`. */
  async createUpload(body: unknown): Promise<{ taskId: string; key: string; uploadUrl: string; expiresInSeconds: number }> {
    const req = checkUploadRequest(body);
    const taskId = req.taskId ?? this.newTaskId();
    if (await this.deps.table.get(taskId)) throw new TaskApiError(`task ${taskId} exists already: choose another id`, 409);
    const key = taskInputKey(taskId, req.fileName);
    const uploadUrl = await getSignedUrl(this.deps.s3, new PutObjectCommand({ Bucket: this.deps.bucket, Key: key }), { expiresIn: UPLOAD_URL_SECONDS });
    return { taskId, key, uploadUrl, expiresInSeconds: UPLOAD_URL_SECONDS };
  }

  /** Checks the uploaded input, writes the QUEUED record (if the id is new), then queues the message. */
  async submit(body: unknown): Promise<TaskRecord> {
    const req = checkSubmissionRequest(body);
    const taskId = req.taskId ?? this.newTaskId();
    const key = taskInputKey(taskId, req.input.name);
    const head = await headObject(this.deps.s3, `s3://${this.deps.bucket}/${key}`);
    const bytes = checkInputSize(req.type, req.input.name, head?.ContentLength);
    const now = this.now();
    const message = taskMessage(taskId, req.type, req.input.name, bytes);
    const record: TaskRecord = { taskId, type: req.type, queue: message.queue, status: "QUEUED", submittedAt: now, updatedAt: now, attempts: 0, input: message.input };
    try {
      await this.deps.table.submit(record);
    } catch (err) {
      if (err instanceof TaskConflictError) throw new TaskApiError(`task ${taskId} was submitted already (it is ${err.current?.status ?? "gone"}): a task id runs once`, 409);
      throw err;
    }
    try {
      await this.deps.sqs.send(new SendMessageCommand({ QueueUrl: this.deps.queueUrls[message.queue], MessageBody: JSON.stringify(message) }));
    } catch (err) {
      // Never leave a QUEUED record that no message will ever start.
      await this.deps.table.fail({ taskId, now: this.now(), error: `could not queue the task on ${message.queue}: ${(err as Error).message}` }).catch(() => undefined);
      throw err;
    }
    return record;
  }

  async status(taskId: unknown): Promise<TaskRecord> {
    const id = checkTaskId(taskId);
    const record = await this.deps.table.get(id);
    if (!record) throw new TaskApiError(`no task ${id}`, 404);
    return record;
  }

  /** Tasks by status, newest change first; without a status, the newest of all. */
  async list(query: { status?: string; limit?: string; next?: string }): Promise<TaskPage> {
    const limit = query.limit === undefined ? 50 : Number(query.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new SubmissionError(`limit '${query.limit}' must be a whole number from 1 to 500`);
    if (query.status === undefined) {
      if (query.next) throw new SubmissionError("next is for listings by status: pass status too");
      const tasks: TaskSummary[] = await this.deps.table.listRecent(limit);
      return { tasks };
    }
    const status = query.status.toUpperCase();
    if (!isTaskStatus(status)) throw new SubmissionError(`unknown status '${query.status}': use QUEUED, RUNNING, SUCCEEDED or FAILED`);
    try {
      return await this.deps.table.listByStatus(status as TaskStatus, { limit, next: query.next });
    } catch (err) {
      if (err instanceof TypeError) throw new SubmissionError(err.message);
      throw err;
    }
  }

  private newTaskId(): string {
    return this.deps.newTaskId?.() ?? randomUUID();
  }
}

/** The types and their limits, for clients (GET /tasks/types). */
export function taskTypes(): Record<string, { queue: QueueName; maxInputBytes: number; timeoutSeconds: number }> {
  return Object.fromEntries(Object.entries(TASK_TYPES).map(([t, s]) => [t, { queue: s.queue, maxInputBytes: s.maxInputBytes, timeoutSeconds: s.timeoutSeconds }]));
}
