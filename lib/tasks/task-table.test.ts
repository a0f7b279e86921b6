import { DescribeTableCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmbeddedDynamoDb, type EmbeddedDynamoDb } from "../embedded-dynamodb.ts";
import { FINISHED_TASK_TTL_DAYS, type TaskRecord } from "./task-record.ts";
import { makeDynamoClient, TaskConflictError, TaskTable } from "./task-table.ts";
import { claim, path } from "./task-transitions.ts";

let db: EmbeddedDynamoDb;
let table: TaskTable;

beforeAll(async () => {
  db = await startEmbeddedDynamoDb();
  table = new TaskTable(makeDynamoClient({ AWS_ENDPOINT_URL_DYNAMODB: db.endpoint, AWS_ACCESS_KEY_ID: "x", AWS_SECRET_ACCESS_KEY: "x", AWS_REGION: "us-east-1" }), "tasks-test");
  await table.ensureExists();
});
afterAll(async () => {
  table?.client.destroy();
  await db?.stop();
});

let clock = Date.parse("2026-12-01T10:00:00.000Z");
const tick = () => new Date((clock += 1000)).toISOString();

function queued(taskId: string, type: "ocr" | "thumbnail" = "ocr"): TaskRecord {
  const now = tick();
  return { taskId, type, queue: type === "ocr" ? "gpu" : "cpu", status: "QUEUED", submittedAt: now, updatedAt: now, attempts: 0, input: { name: "a.png", bytes: 10, key: `tasks/${taskId}/input/a.png` } };
}

const conflict = (p: Promise<unknown>) => expect(p).rejects.toBeInstanceOf(TaskConflictError);

describe("the task table's conditional writes (dynalite)", () => {
  it("GIVEN the table WHEN described THEN it is on demand with the status index", async () => {
    const t = (await table.client.send(new DescribeTableCommand({ TableName: "tasks-test" }))).Table!;
    expect(t.KeySchema).toEqual([{ AttributeName: "taskId", KeyType: "HASH" }]);
    expect(t.GlobalSecondaryIndexes?.[0]).toMatchObject({ IndexName: "byStatus", KeySchema: [{ AttributeName: "status", KeyType: "HASH" }, { AttributeName: "updatedAt", KeyType: "RANGE" }] });
  });

  it("GIVEN a submitted task WHEN the same id is submitted again THEN it is refused and the first record stays", async () => {
    const first = await table.submit(queued("dup-submit"));
    await expect(table.submit({ ...queued("dup-submit"), type: "thumbnail" })).rejects.toThrow("task dup-submit: cannot submit: it is QUEUED");
    expect(await table.get("dup-submit")).toEqual(first);
  });

  it("GIVEN a message delivered twice WHEN two executions claim the task THEN one wins, the other gets a conflict, the work is claimed once", async () => {
    await table.submit(queued("twice"));
    const results = await Promise.allSettled([table.claim("twice", "run-a", tick()), table.claim("twice", "run-b", tick())]);
    const won = results.filter((r) => r.status === "fulfilled");
    expect(won).toHaveLength(1);
    const loser = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    expect(loser.reason).toBeInstanceOf(TaskConflictError);
    expect(loser.reason.message).toMatch(/^task twice: cannot claim \(run run-[ab]\): it is RUNNING \(run run-[ab]\)$/);
    const record = await table.get("twice");
    expect(record).toMatchObject({ status: "RUNNING", runId: (won[0] as PromiseFulfilledResult<TaskRecord>).value.runId, attempts: 0 });
  });

  it("GIVEN a claimed task WHEN its own execution retries the claim THEN it succeeds again and changes nothing else", async () => {
    await table.submit(queued("retry-claim"));
    const first = await table.claim("retry-claim", "run-1", tick());
    const again = await table.claim("retry-claim", "run-1", tick());
    expect(again.startedAt).toBe(first.startedAt);
    expect(again.runId).toBe("run-1");
  });

  it("GIVEN a running task WHEN attempts are counted and it succeeds THEN the record has the result, text, cost, finish time and TTL; a late duplicate cannot touch it", async () => {
    await table.submit(queued("ok"));
    await table.claim("ok", "run-ok", tick());
    await table.countAttempt("ok", "run-ok", tick());
    await table.countAttempt("ok", "run-ok", tick());
    await conflict(table.countAttempt("ok", "run-other", tick()));
    const finishedAt = tick();
    const done = await table.succeed({
      taskId: "ok", runId: "run-ok", now: finishedAt,
      result: { outputUri: "s3://b/tasks/ok/output/", files: ["text.txt"] }, text: "Hello",
      estimatedCost: { usd: 0.0012, basis: "busy-only", busySeconds: 8, prices: { region: "us-east-1", asOf: "2026-12-02" } },
    });
    expect(done).toMatchObject({ status: "SUCCEEDED", attempts: 2, finishedAt, text: "Hello", textTruncated: false, result: { files: ["text.txt"] }, estimatedCost: { usd: 0.0012 } });
    expect(done.expiresAt).toBe(Date.parse(finishedAt) / 1000 + FINISHED_TASK_TTL_DAYS * 86400);
    await conflict(table.claim("ok", "run-late", tick()));
    await conflict(table.fail({ taskId: "ok", runId: "run-ok", now: tick(), error: "late" }));
    expect((await table.get("ok"))?.status).toBe("SUCCEEDED");
  });

  it("GIVEN a running task WHEN another execution tries to finish it THEN conflict; its own execution fails it with one line", async () => {
    await table.submit(queued("bad"));
    await table.claim("bad", "run-bad", tick());
    await conflict(table.succeed({ taskId: "bad", runId: "run-x", now: tick(), result: { outputUri: "s3://b/x/", files: [] } }));
    const failed = await table.fail({ taskId: "bad", runId: "run-bad", now: tick(), error: "the input is not an image\n(exit 65)" });
    expect(failed).toMatchObject({ status: "FAILED", error: "the input is not an image (exit 65)" });
    // It ran: a redelivered message cannot run it again.
    await conflict(table.claim("bad", "run-again", tick()));
  });

  it("GIVEN a task whose message dead-lettered WHEN marked failed and later redriven THEN it can be claimed once (it never ran)", async () => {
    await table.submit(queued("poison"));
    await conflict(table.fail({ taskId: "poison", runId: "nobody", now: tick(), error: "x" }));
    const failed = await table.fail({ taskId: "poison", now: tick(), error: "the message could not start the task after 5 receives" });
    expect(failed.status).toBe("FAILED");
    expect(failed).not.toHaveProperty("startedAt");
    const claimed = await table.claim("poison", "run-redriven", tick());
    expect(claimed).toMatchObject({ status: "RUNNING", runId: "run-redriven" });
    expect(claimed.error).toBeUndefined();
    expect(claimed.expiresAt).toBeUndefined();
    await conflict(table.claim("poison", "run-second", tick()));
  });

  it("GIVEN an unknown task WHEN claimed THEN the conflict says there is no such task", async () => {
    await expect(table.claim("ghost", "r", tick())).rejects.toThrow("task ghost: cannot claim (run r): there is no such task");
  });

  it("GIVEN a long text WHEN it succeeds THEN the record keeps the first 32 000 characters and says so", async () => {
    await table.submit(queued("long"));
    await table.claim("long", "r", tick());
    const done = await table.succeed({ taskId: "long", runId: "r", now: tick(), result: { outputUri: "s3://b/tasks/long/output/", files: ["text.txt"] }, text: "x".repeat(40_000) });
    expect(done.text).toHaveLength(32_000);
    expect(done.textTruncated).toBe(true);
  });

  it("GIVEN tasks in several states WHEN listed by status THEN newest change first, a page at a time", async () => {
    for (const id of ["list-1", "list-2", "list-3"]) await table.submit(queued(id, "thumbnail"));
    await table.claim("list-2", "r", tick());
    const queuedPage = await table.listByStatus("QUEUED", { limit: 2 });
    expect(queuedPage.tasks.map((t) => t.taskId)).toEqual(["list-3", "list-1"]);
    expect(queuedPage.tasks[0]).toMatchObject({ type: "thumbnail", queue: "cpu", status: "QUEUED", attempts: 0 });
    const rest = await table.listByStatus("QUEUED", { limit: 2, next: queuedPage.next });
    expect(rest.tasks.map((t) => t.taskId)).not.toContain("list-3");
    expect((await table.listByStatus("RUNNING")).tasks.map((t) => t.taskId)).toContain("list-2");
    await expect(table.listByStatus("QUEUED", { next: "garbage" })).rejects.toThrow("next token");
  });

  it("GIVEN the claim's ASL form WHEN its values are JsonPaths THEN they become S.$ fields (for the state machine's updateItem)", () => {
    const p = claim("Tasks", { taskId: path("$.taskId"), runId: path("$$.Execution.Name"), now: path("$$.State.EnteredTime") });
    expect(p.Key).toEqual({ taskId: { "S.$": "$.taskId" } });
    expect(p.ExpressionAttributeValues).toMatchObject({ ":runId": { "S.$": "$$.Execution.Name" }, ":now": { "S.$": "$$.State.EnteredTime" }, ":queued": { S: "QUEUED" } });
  });

  it("GIVEN the literal claim WHEN sent with the raw SDK THEN dynalite applies it (the parameters are plain UpdateItem input)", async () => {
    await table.submit(queued("raw"));
    await table.client.send(new UpdateItemCommand(claim("tasks-test", { taskId: "raw", runId: "r", now: tick() }) as never));
    expect((await table.get("raw"))?.status).toBe("RUNNING");
  });
});
