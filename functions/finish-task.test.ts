import { PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmbeddedDynamoDb, type EmbeddedDynamoDb } from "../lib/embedded-dynamodb.ts";
import { makeDynamoClient, TaskConflictError, TaskTable } from "../lib/tasks/task-table.ts";
import { startTestS3, type TestS3 } from "../lib/testing/s3rver.ts";
import { describeCause } from "../run-model/causes.ts";
import { finishTask, type FinishTaskDeps } from "./finish-task.ts";
import { ECS_OOM_CAUSE } from "./test-fixtures.ts";

const BUCKET = "finish-task";
let db: EmbeddedDynamoDb;
let s3: TestS3;
let deps: FinishTaskDeps;

beforeAll(async () => {
  [db, s3] = await Promise.all([startEmbeddedDynamoDb(), startTestS3({ buckets: [BUCKET] })]);
  const table = new TaskTable(makeDynamoClient({ AWS_ENDPOINT_URL_DYNAMODB: db.endpoint, AWS_ACCESS_KEY_ID: "x", AWS_SECRET_ACCESS_KEY: "x" }), "finish");
  await table.ensureExists();
  deps = { table, s3: s3.s3, bucket: BUCKET };
});
afterAll(async () => {
  deps?.table.client.destroy();
  await Promise.all([db?.stop(), s3?.stop()]);
});

async function running(taskId: string, type: "ocr" | "thumbnail", runId = "exec-1"): Promise<void> {
  const now = new Date().toISOString();
  await deps.table.submit({ taskId, type, queue: type === "ocr" ? "gpu" : "cpu", status: "QUEUED", submittedAt: now, updatedAt: now, attempts: 0, input: { name: "a.png", bytes: 9, key: `tasks/${taskId}/input/a.png` } });
  await deps.table.claim(taskId, runId);
  await deps.table.countAttempt(taskId, runId);
}
const put = (key: string, body: unknown) => s3.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: JSON.stringify(body) }));
const ecs = { StartedAt: 1_796_000_000_000, StoppedAt: 1_796_000_012_000 };

describe("finish-task: how a task ended, recorded by the execution that holds it", () => {
  it("GIVEN an ocr task whose result.json is written WHEN finished THEN SUCCEEDED with the files, the text and the cost of its 12 busy seconds", async () => {
    await running("ok-1", "ocr");
    await put("tasks/ok-1/output/result.json", { taskId: "ok-1", type: "ocr", outputUri: `s3://${BUCKET}/tasks/ok-1/output/`, files: [{ name: "text.txt", bytes: 6, contentType: "text/plain" }], text: "Hello" });
    const record = await finishTask({ task: { taskId: "ok-1", type: "ocr" }, runId: "exec-1", ecs }, deps);
    expect(record).toMatchObject({ status: "SUCCEEDED", attempts: 1, text: "Hello", result: { outputUri: `s3://${BUCKET}/tasks/ok-1/output/`, files: ["text.txt"] }, estimatedCost: { basis: "busy-only", busySeconds: 12 } });
  });

  it("GIVEN a thumbnail that failed and left its error line WHEN finished THEN FAILED with that line and its exit code", async () => {
    await running("bad-1", "thumbnail");
    await put("tasks/bad-1/output/error.json", { error: "the input is not an image sharp can read (unsupported image format)", exitCode: 65 });
    const record = await finishTask({ task: { taskId: "bad-1", type: "thumbnail" }, runId: "exec-1", ecs, error: { Error: "States.TaskFailed", Cause: "{}" } }, deps);
    expect(record).toMatchObject({ status: "FAILED", error: "the input is not an image sharp can read (unsupported image format) (exit 65)", estimatedCost: { basis: "fargate" } });
  });

  it("GIVEN a task killed for memory (no error line) WHEN finished THEN FAILED with the Cause in one line", async () => {
    await running("oom-1", "thumbnail");
    const error = { Error: "States.TaskFailed", Cause: ECS_OOM_CAUSE };
    const record = await finishTask({ task: { taskId: "oom-1", type: "thumbnail" }, runId: "exec-1", error }, deps);
    expect(record.error).toBe(describeCause(error).summary);
    expect(record.error).not.toContain("\n");
  });

  it("GIVEN a step that exited 0 without result.json WHEN finished THEN FAILED, saying so", async () => {
    await running("empty-1", "thumbnail");
    const record = await finishTask({ task: { taskId: "empty-1", type: "thumbnail" }, runId: "exec-1", ecs }, deps);
    expect(record).toMatchObject({ status: "FAILED", error: `the task ended without result.json in s3://${BUCKET}/tasks/empty-1/output/` });
  });

  it("GIVEN an execution whose write timed out before it claimed its task WHEN finished THEN FAILED saying the write timed out, not that the task ran too long", async () => {
    const now = new Date().toISOString();
    await deps.table.submit({ taskId: "early-1", type: "thumbnail", queue: "cpu", status: "QUEUED", submittedAt: now, updatedAt: now, attempts: 0, input: { name: "a.png", bytes: 9, key: "tasks/early-1/input/a.png" } });
    const record = await finishTask({ task: { taskId: "early-1", type: "thumbnail" }, runId: "exec-1", error: { Error: "States.Timeout", Cause: "" } }, deps);
    expect(record).toMatchObject({ status: "FAILED", attempts: 0, error: "a write of the task table timed out (States.Timeout) (before the task started)" });
  });

  it("GIVEN another execution holds the task WHEN this one finishes it THEN TaskConflictError (its errorType), the record untouched", async () => {
    await running("held-1", "ocr", "exec-owner");
    await expect(finishTask({ task: { taskId: "held-1", type: "ocr" }, runId: "exec-duplicate", error: { Error: "x", Cause: "y" } }, deps)).rejects.toMatchObject({ name: "TaskConflictError" });
    await expect(finishTask({ task: { taskId: "held-1", type: "ocr" }, runId: "exec-duplicate", error: { Error: "x", Cause: "y" } }, deps)).rejects.toBeInstanceOf(TaskConflictError);
    expect((await deps.table.get("held-1"))?.status).toBe("RUNNING");
  });

  it("GIVEN an event without a valid task WHEN finished THEN InvalidInputError", async () => {
    await expect(finishTask({ task: { taskId: "x", type: "resize" }, runId: "r" }, deps)).rejects.toMatchObject({ name: "InvalidInputError", message: "unknown task type 'resize': use one of ocr, thumbnail" });
  });
});
