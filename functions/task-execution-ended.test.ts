import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startEmbeddedDynamoDb, type EmbeddedDynamoDb } from "../lib/embedded-dynamodb.ts";
import { parseTaskMessage } from "../lib/tasks/submission.ts";
import type { TaskRecord } from "../lib/tasks/task-record.ts";
import { makeDynamoClient, TaskTable } from "../lib/tasks/task-table.ts";
import { executionEnded, type ExecutionStatusChange } from "./task-execution-ended.ts";

/**
 * The clean-up after a task execution that ended without its own: by the execution's name, its slot back; its
 * RUNNING task FAILED; a task it never claimed queued again when it was stopped, FAILED when it failed (a failure
 * before the claim is the machine's own and would come back for ever). The table is dynalite; SQS is mocked.
 */
let db: EmbeddedDynamoDb;
let table: TaskTable;
const sqs = mockClient(SQSClient);
const queueUrls = { gpu: "https://sqs.local/gpu", cpu: "https://sqs.local/cpu" };
const NOW = new Date("2026-12-06T12:00:00.000Z");

beforeAll(async () => {
  db = await startEmbeddedDynamoDb();
  table = new TaskTable(makeDynamoClient({ AWS_ENDPOINT_URL_DYNAMODB: db.endpoint, AWS_ACCESS_KEY_ID: "x", AWS_SECRET_ACCESS_KEY: "x", AWS_REGION: "us-east-1" }), "ended-test");
  await table.ensureExists();
});
afterAll(async () => {
  table?.client.destroy();
  await db?.stop();
});
beforeEach(() => {
  sqs.reset();
  sqs.on(SendMessageCommand).resolves({ MessageId: "m-2" });
});

async function queued(taskId: string): Promise<TaskRecord> {
  const at = "2026-12-06T11:00:00.000Z";
  return table.submit({ taskId, type: "thumbnail", queue: "cpu", status: "QUEUED", submittedAt: at, updatedAt: at, attempts: 0, input: { name: "a.jpg", bytes: 10, key: `tasks/${taskId}/input/a.jpg` } });
}

const ended = (taskId: string, name: string, status: string, error?: string, cause?: string): ExecutionStatusChange => ({
  detail: { name, status, error, cause, input: JSON.stringify({ task: { taskId, type: "thumbnail", queue: "cpu", input: { name: "a.jpg", key: `tasks/${taskId}/input/a.jpg`, bytes: 10 } }, message: { id: "m-1", receiveCount: "1" } }) },
});

const run = (event: ExecutionStatusChange) => executionEnded(event, { table, sqs: new SQSClient({ region: "us-east-1" }), queueUrls, now: () => NOW });

describe("task-execution-ended", () => {
  it("GIVEN an execution that FAILED before its claim WHEN it ends THEN its task is FAILED with the execution's error in one line, and not queued again", async () => {
    await queued("before-claim");
    expect(await run(ended("before-claim", "exec-1", "FAILED", "States.Runtime", "Path expression '$$.State.EnteredTime'\ndoes not point to a value"))).toEqual({ action: "task-failed", taskId: "before-claim" });
    const r = (await table.get("before-claim"))!;
    expect(r).toMatchObject({ status: "FAILED", error: "its execution exec-1 failed before it claimed the task: States.Runtime: Path expression '$$.State.EnteredTime' does not point to a value" });
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it("GIVEN an execution stopped (ABORTED) before its claim WHEN it ends THEN the task's message is sent to its queue again and the task stays QUEUED", async () => {
    await queued("stopped");
    expect(await run(ended("stopped", "exec-2", "ABORTED"))).toEqual({ action: "task-queued-again", taskId: "stopped" });
    const [call] = sqs.commandCalls(SendMessageCommand);
    expect(call.args[0].input.QueueUrl).toBe(queueUrls.cpu);
    expect(parseTaskMessage(call.args[0].input.MessageBody!)).toMatchObject({ taskId: "stopped", type: "thumbnail", queue: "cpu" });
    expect((await table.get("stopped"))!.status).toBe("QUEUED");
  });

  it("GIVEN an execution that TIMED_OUT holding its task RUNNING WHEN it ends THEN the task is FAILED saying how the execution ended", async () => {
    await queued("held");
    await table.claim("held", "exec-3");
    expect(await run(ended("held", "exec-3", "TIMED_OUT"))).toEqual({ action: "task-failed", taskId: "held" });
    expect(await table.get("held")).toMatchObject({ status: "FAILED", error: "its execution exec-3 ended TIMED_OUT before it recorded the task" });
  });

  it("GIVEN an execution that SUCCEEDED WHEN it ends THEN nothing is done", async () => {
    expect(await run(ended("whatever", "exec-4", "SUCCEEDED"))).toEqual({ action: "none" });
  });
});
