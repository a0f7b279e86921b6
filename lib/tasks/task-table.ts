import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
  type AttributeValue,
  type CreateTableCommandInput,
  type UpdateItemInput,
} from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { STATUS_INDEX, STATUS_INDEX_ATTRIBUTES, TASK_TABLE_KEY, isTaskStatus, type TaskRecord, type TaskStatus } from "./task-record.ts";
import { claim, countAttempt, fail, giveBackSlot, slotsKey, submitItem, succeed, takeSlot, type Failure, type Success, type WriteParams } from "./task-transitions.ts";
import type { QueueName } from "./task-types.ts";

/**
 * The task table through the DynamoDB API: on AWS, or the embedded dynalite offline (`AWS_ENDPOINT_URL_DYNAMODB`).
 * Every write is one of the conditional writes of lib/tasks/task-transitions.ts; a failed condition becomes a
 * TaskConflictError naming the task's current status.
 */
export const DYNAMODB_ENDPOINT_ENV = "AWS_ENDPOINT_URL_DYNAMODB";

export function makeDynamoClient(env: NodeJS.ProcessEnv = process.env): DynamoDBClient {
  const endpoint = env[DYNAMODB_ENDPOINT_ENV];
  return new DynamoDBClient({
    region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? "us-east-1",
    ...(endpoint ? { endpoint } : {}),
    ...(env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
      ? { credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, sessionToken: env.AWS_SESSION_TOKEN } }
      : {}),
  });
}

/** The table as the stack declares it (stacks/constructs/TaskTable.ts reads the same names); offline, created in dynalite. */
export function taskTableDefinition(tableName: string): CreateTableCommandInput {
  return {
    TableName: tableName,
    BillingMode: "PAY_PER_REQUEST",
    AttributeDefinitions: [
      { AttributeName: TASK_TABLE_KEY, AttributeType: "S" },
      { AttributeName: STATUS_INDEX.partitionKey, AttributeType: "S" },
      { AttributeName: STATUS_INDEX.sortKey, AttributeType: "S" },
    ],
    KeySchema: [{ AttributeName: TASK_TABLE_KEY, KeyType: "HASH" }],
    GlobalSecondaryIndexes: [
      {
        IndexName: STATUS_INDEX.name,
        KeySchema: [
          { AttributeName: STATUS_INDEX.partitionKey, KeyType: "HASH" },
          { AttributeName: STATUS_INDEX.sortKey, KeyType: "RANGE" },
        ],
        Projection: { ProjectionType: "INCLUDE", NonKeyAttributes: [...STATUS_INDEX_ATTRIBUTES] },
      },
    ],
  };
}

/** A conditional write that did not apply: the task is not in the state the change needs. */
export class TaskConflictError extends Error {
  constructor(
    message: string,
    readonly taskId: string,
    readonly current: TaskRecord | undefined,
  ) {
    super(message);
    this.name = "TaskConflictError";
  }
}

export function isConditionFailed(err: unknown): boolean {
  return (err as { name?: string })?.name === "ConditionalCheckFailedException";
}

/** One page of a listing: newest change first; `next` continues it. */
export interface TaskPage {
  tasks: TaskSummary[];
  next?: string;
}
export type TaskSummary = Pick<TaskRecord, "taskId" | "status" | "updatedAt" | "type" | "queue" | "submittedAt" | "startedAt" | "finishedAt" | "attempts" | "error">;

export class TaskTable {
  constructor(
    readonly client: DynamoDBClient,
    readonly tableName: string,
  ) {}

  /** Creates the table unless it exists (offline only: on AWS the stack owns it). */
  async ensureExists(): Promise<void> {
    try {
      await this.client.send(new DescribeTableCommand({ TableName: this.tableName }));
    } catch (err) {
      if ((err as { name?: string }).name !== "ResourceNotFoundException") throw err;
      await this.client.send(new CreateTableCommand(taskTableDefinition(this.tableName)));
      // dynalite creates tables asynchronously, like DynamoDB: wait until it is ACTIVE.
      for (let i = 0; i < 200; i++) {
        const t = await this.client.send(new DescribeTableCommand({ TableName: this.tableName }));
        if (t.Table?.TableStatus === "ACTIVE" && t.Table.GlobalSecondaryIndexes?.every((g) => g.IndexStatus === "ACTIVE")) return;
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error(`table ${this.tableName} did not become ACTIVE`);
    }
  }

  async get(taskId: string): Promise<TaskRecord | undefined> {
    const out = await this.client.send(new GetItemCommand({ TableName: this.tableName, Key: { taskId: { S: taskId } }, ConsistentRead: true }));
    return out.Item ? (unmarshall(out.Item) as TaskRecord) : undefined;
  }

  /** Creates the QUEUED record; a task with that id already there is a TaskConflictError. */
  async submit(record: TaskRecord): Promise<TaskRecord> {
    try {
      await this.client.send(new PutItemCommand(submitItem(this.tableName, record)));
      return record;
    } catch (err) {
      throw await this.conflict(err, record.taskId, "submit");
    }
  }

  async claim(taskId: string, runId: string, now = new Date().toISOString()): Promise<TaskRecord> {
    return this.update(claim(this.tableName, { taskId, runId, now }), taskId, `claim (run ${runId})`);
  }

  async countAttempt(taskId: string, runId: string, now = new Date().toISOString()): Promise<TaskRecord> {
    return this.update({ ...countAttempt(this.tableName, { taskId, runId, now }), ReturnValues: "ALL_NEW" }, taskId, `count an attempt (run ${runId})`);
  }

  async succeed(v: Success): Promise<TaskRecord> {
    return this.update(succeed(this.tableName, v), v.taskId, `mark succeeded (run ${v.runId})`);
  }

  async fail(v: Failure): Promise<TaskRecord> {
    return this.update(fail(this.tableName, v), v.taskId, v.runId ? `mark failed (run ${v.runId})` : "mark failed before it started");
  }

  /** The executions holding one of the queue's slots now (lib/tasks/task-transitions.ts `takeSlot`). */
  async slotHolders(queue: QueueName): Promise<string[]> {
    const out = await this.client.send(new GetItemCommand({ TableName: this.tableName, Key: { taskId: { S: slotsKey(queue) } }, ConsistentRead: true }));
    return [...(out.Item?.holders?.SS ?? [])].sort();
  }

  /** Takes one of the queue's `limit` slots for `holder`; false when they are all taken. */
  async takeSlot(queue: QueueName, limit: number, holder: string): Promise<boolean> {
    try {
      await this.client.send(new UpdateItemCommand(takeSlot(this.tableName, { queue, limit, holder }) as UpdateItemInput));
      return true;
    } catch (err) {
      if (isConditionFailed(err)) return false;
      throw err;
    }
  }

  /** Gives back `holder`'s slot, if it has one (idempotent). */
  async giveBackSlot(queue: QueueName, holder: string): Promise<void> {
    await this.client.send(new UpdateItemCommand(giveBackSlot(this.tableName, { queue, holder }) as UpdateItemInput));
  }

  /** Tasks with a status, newest change first (the status index), a page at a time. */
  async listByStatus(status: TaskStatus, opts: { limit?: number; next?: string } = {}): Promise<TaskPage> {
    const out = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: STATUS_INDEX.name,
        KeyConditionExpression: "#status = :status",
        ExpressionAttributeNames: { "#status": STATUS_INDEX.partitionKey },
        ExpressionAttributeValues: { ":status": { S: status } },
        ScanIndexForward: false,
        Limit: opts.limit ?? 50,
        ...(opts.next ? { ExclusiveStartKey: decodeNext(opts.next) } : {}),
      }),
    );
    return {
      tasks: (out.Items ?? []).map((i) => unmarshall(i) as TaskSummary),
      ...(out.LastEvaluatedKey ? { next: Buffer.from(JSON.stringify(out.LastEvaluatedKey)).toString("base64url") } : {}),
    };
  }

  /** Every status's newest tasks, merged newest first (for `tasks list` without --status). */
  async listRecent(limit = 50): Promise<TaskSummary[]> {
    const pages = await Promise.all(["QUEUED", "RUNNING", "SUCCEEDED", "FAILED"].map((s) => this.listByStatus(s as TaskStatus, { limit })));
    return pages.flatMap((p) => p.tasks).sort((a, b) => (a.updatedAt < b.updatedAt ? 1 : -1)).slice(0, limit);
  }

  private async update(params: WriteParams<UpdateItemInput> | UpdateItemInput, taskId: string, what: string): Promise<TaskRecord> {
    try {
      const out = await this.client.send(new UpdateItemCommand(params as UpdateItemInput));
      return unmarshall(out.Attributes ?? {}) as TaskRecord;
    } catch (err) {
      throw await this.conflict(err, taskId, what);
    }
  }

  private async conflict(err: unknown, taskId: string, what: string): Promise<unknown> {
    if (!isConditionFailed(err)) return err;
    const current = await this.get(taskId);
    const state = current ? `it is ${current.status}${current.runId ? ` (run ${current.runId})` : ""}` : "there is no such task";
    return new TaskConflictError(`task ${taskId}: cannot ${what}: ${state}`, taskId, current);
  }
}

function decodeNext(next: string): Record<string, AttributeValue> {
  try {
    const key = JSON.parse(Buffer.from(next, "base64url").toString("utf8"));
    if (key && typeof key === "object" && isTaskStatus(key.status?.S)) return key;
  } catch {
    // falls through to the error below
  }
  throw new TypeError("the listing's next token is not one this API gave");
}
