import type { AttributeValue, PutItemInput, UpdateItemInput } from "@aws-sdk/client-dynamodb";
import { marshall } from "@aws-sdk/util-dynamodb";
import { expiresAtFor, TEXT_IN_RECORD_MAX, type TaskRecord } from "./task-record.ts";
import type { QueueName } from "./task-types.ts";

/**
 * Every change of a task's record, as ONE single-item conditional write (DynamoDB PutItem / UpdateItem with a
 * ConditionExpression: no transactions, which dynalite lacks and which a status change does not need). The same
 * builders serve the table code (lib/tasks/task-table.ts, the API and the Lambda helpers) and, for `claim` and
 * `countAttempt`, the state machine's DynamoDB service integration (`arn:aws:states:::dynamodb:updateItem`): their
 * values may be JsonPaths (`{ path: "$.taskId" }`), which become `{"S.$": "$.taskId"}` in the ASL Parameters.
 *
 * The rules:
 * - submit: the record is created QUEUED only if no task has that id (`attribute_not_exists(taskId)`): a
 *   resubmitted id is refused, never queued twice.
 * - claim: QUEUED → RUNNING by one execution (`runId`). A second delivery of the same message finds the task
 *   RUNNING (or finished) under another runId and fails the condition: the work runs once. The same execution
 *   retrying its own claim succeeds again (idempotent). A FAILED task that never started (its message went to the
 *   dead-letter queue) may be claimed when `tasks redrive` brings the message back: the work has not run yet.
 * - countAttempt: one more start of the work (the first, and each retry after a killed or failed attempt), only by
 *   the execution holding the task.
 * - succeed / fail: RUNNING → SUCCEEDED | FAILED, only by the execution holding the task, with the finish time,
 *   the result or the one-line error, the cost, and the TTL. `failQueued`: QUEUED → FAILED for a task that never
 *   started (its message dead-lettered).
 * A failed condition is DynamoDB's `ConditionalCheckFailedException` (in a state machine:
 * `DynamoDB.ConditionalCheckFailedException`).
 */
export interface JsonPath {
  path: string;
}
type Str = string | JsonPath;
type Num = number | JsonPath;
/** An AttributeValue, or its ASL form whose value is read from the state's input. */
type Value = AttributeValue | Record<string, string>;

const S = (v: Str): Value => (typeof v === "string" ? { S: v } : { "S.$": v.path });
/** A JsonPath number must point at a string in ASL (`States.Format('{}', $.n)`), as DynamoDB's N is a string. */
const N = (v: Num): Value => (typeof v === "number" ? { N: String(v) } : { "N.$": v.path });
/** A string set of one element; from a path, `States.Array` makes the one-element list DynamoDB's SS wants. */
const SS1 = (v: Str): Value => (typeof v === "string" ? { SS: [v] } : { "SS.$": `States.Array(${v.path})` });

export type WriteParams<T> = Omit<T, "ExpressionAttributeValues" | "Key" | "Item"> & {
  Key?: Record<string, Value>;
  Item?: Record<string, AttributeValue>;
  ExpressionAttributeValues?: Record<string, Value>;
};

const STATUS = { "#status": "status" };

export function submitItem(table: string, record: TaskRecord): PutItemInput {
  return {
    TableName: table,
    Item: marshall(record, { removeUndefinedValues: true }),
    ConditionExpression: "attribute_not_exists(taskId)",
  };
}

export function claim(table: string, v: { taskId: Str; runId: Str; now: Str }): WriteParams<UpdateItemInput> {
  return {
    TableName: table,
    Key: { taskId: S(v.taskId) },
    // No attempt is counted here (countAttempt does, before each start of the work), so a retried claim changes
    // nothing but updatedAt.
    UpdateExpression: "SET #status = :running, runId = :runId, startedAt = if_not_exists(startedAt, :now), updatedAt = :now REMOVE #error, finishedAt, expiresAt",
    ConditionExpression: "#status = :queued OR (#status = :failed AND attribute_not_exists(startedAt)) OR (#status = :running AND runId = :runId)",
    ExpressionAttributeNames: { ...STATUS, "#error": "error" },
    ExpressionAttributeValues: { ":running": S("RUNNING"), ":queued": S("QUEUED"), ":failed": S("FAILED"), ":runId": S(v.runId), ":now": S(v.now) },
    ReturnValues: "ALL_NEW",
  };
}

export function countAttempt(table: string, v: { taskId: Str; runId: Str; now: Str }): WriteParams<UpdateItemInput> {
  return {
    TableName: table,
    Key: { taskId: S(v.taskId) },
    UpdateExpression: "SET updatedAt = :now ADD attempts :one",
    ConditionExpression: "#status = :running AND runId = :runId",
    ExpressionAttributeNames: STATUS,
    ExpressionAttributeValues: { ":running": S("RUNNING"), ":runId": S(v.runId), ":now": S(v.now), ":one": N(1) },
  };
}

export interface Success {
  taskId: string;
  runId: string;
  now: string;
  result: NonNullable<TaskRecord["result"]>;
  text?: string;
  estimatedCost?: TaskRecord["estimatedCost"];
}

export function succeed(table: string, v: Success): UpdateItemInput {
  const sets = ["#status = :succeeded", "finishedAt = :now", "updatedAt = :now", "#result = :result", "expiresAt = :expires"];
  const values: Record<string, AttributeValue> = marshall(
    { ":succeeded": "SUCCEEDED", ":running": "RUNNING", ":runId": v.runId, ":now": v.now, ":result": v.result, ":expires": expiresAtFor(v.now) },
    { removeUndefinedValues: true },
  );
  if (v.text !== undefined) {
    sets.push("#text = :text", "textTruncated = :truncated");
    Object.assign(values, marshall({ ":text": v.text.slice(0, TEXT_IN_RECORD_MAX), ":truncated": v.text.length > TEXT_IN_RECORD_MAX }));
  }
  if (v.estimatedCost) {
    sets.push("estimatedCost = :cost");
    Object.assign(values, marshall({ ":cost": v.estimatedCost }, { removeUndefinedValues: true }));
  }
  return {
    TableName: table,
    Key: { taskId: { S: v.taskId } },
    UpdateExpression: `SET ${sets.join(", ")} REMOVE #error`,
    ConditionExpression: "#status = :running AND runId = :runId",
    ExpressionAttributeNames: { ...STATUS, "#result": "result", "#error": "error", ...(v.text !== undefined ? { "#text": "text" } : {}) },
    ExpressionAttributeValues: values,
    ReturnValues: "ALL_NEW",
  };
}

export interface Failure {
  taskId: string;
  /** The execution holding the task; absent for a task that never started (`failQueued`). */
  runId?: string;
  now: string;
  /** One line a person can read. */
  error: string;
  estimatedCost?: TaskRecord["estimatedCost"];
}

export function fail(table: string, v: Failure): UpdateItemInput {
  const oneLine = v.error.replace(/\s*\n\s*/g, " ").trim();
  const sets = ["#status = :failed", "finishedAt = :now", "updatedAt = :now", "#error = :error", "expiresAt = :expires"];
  const values = marshall({ ":failed": "FAILED", ":now": v.now, ":error": oneLine, ":expires": expiresAtFor(v.now) });
  if (v.estimatedCost) {
    sets.push("estimatedCost = :cost");
    Object.assign(values, marshall({ ":cost": v.estimatedCost }, { removeUndefinedValues: true }));
  }
  const held = v.runId !== undefined;
  Object.assign(values, held ? marshall({ ":running": "RUNNING", ":runId": v.runId }) : marshall({ ":queued": "QUEUED" }));
  return {
    TableName: table,
    Key: { taskId: { S: v.taskId } },
    UpdateExpression: `SET ${sets.join(", ")}`,
    ConditionExpression: held ? "#status = :running AND runId = :runId" : "#status = :queued",
    ExpressionAttributeNames: { ...STATUS, "#error": "error" },
    ExpressionAttributeValues: values,
    ReturnValues: "ALL_NEW",
  };
}

/** `$$.State.EnteredTime`-style paths, for the state machine's writes (workflows/tasks.ts). */
export const path = (p: string): JsonPath => ({ path: p });

/**
 * Bounded concurrency per queue: a counting semaphore in the task table, one item per queue whose string set
 * `holders` names the executions that hold a slot (AWS's documented pattern for limiting concurrency in Step
 * Functions with DynamoDB, as one item). Its key cannot be a task id (those start with a letter or a digit), and it
 * has no status, so the status index never lists it.
 *
 * - takeSlot: adds the execution to the set if the set has fewer than `limit` members, or already holds it (so a
 *   retried take after a lost answer is not a second slot). A full set fails the condition: the machine waits and
 *   tries again.
 * - giveBackSlot: removes it; removing an absent member changes nothing, so giving back twice (the machine, then
 *   the clean-up of an ended execution) is harmless. DynamoDB drops an emptied set: `attribute_not_exists` is
 *   "no slot taken".
 */
export function slotsKey(queue: QueueName): string {
  return `#slots/${queue}`;
}
const HOLDERS = { "#holders": "holders" };

export function takeSlot(table: string, v: { queue: QueueName; limit: number; holder: Str }): WriteParams<UpdateItemInput> {
  if (!Number.isInteger(v.limit) || v.limit < 1) throw new Error(`the ${v.queue} queue's concurrency must be a whole number ≥ 1, not ${v.limit}`);
  return {
    TableName: table,
    Key: { taskId: { S: slotsKey(v.queue) } },
    UpdateExpression: "ADD #holders :holder",
    ConditionExpression: "attribute_not_exists(#holders) OR size(#holders) < :limit OR contains(#holders, :me)",
    ExpressionAttributeNames: HOLDERS,
    ExpressionAttributeValues: { ":holder": SS1(v.holder), ":me": S(v.holder), ":limit": N(v.limit) },
  };
}

export function giveBackSlot(table: string, v: { queue: QueueName; holder: Str }): WriteParams<UpdateItemInput> {
  return {
    TableName: table,
    Key: { taskId: { S: slotsKey(v.queue) } },
    UpdateExpression: "DELETE #holders :holder",
    ExpressionAttributeNames: HOLDERS,
    ExpressionAttributeValues: { ":holder": SS1(v.holder) },
  };
}
