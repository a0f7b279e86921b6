import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { GetQueueAttributesCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startOfflineTasks, TASKS_DIR_ENV, type OfflineTasks } from "../cli/tasks-offline.ts";
import { tasksMain } from "../cli/tasks.ts";
import { DEAD_LETTER_REASON } from "../functions/dead-lettered-tasks.ts";
import { makeS3Client } from "../lib/s3.ts";
import { listObjects } from "../lib/s3-objects.ts";
import { taskMessage } from "../lib/tasks/submission.ts";
import { TaskClient } from "../lib/tasks/task-client.ts";
import type { TaskRecord } from "../lib/tasks/task-record.ts";
import { gradientImage, textImage } from "../lib/tasks/testing/images.ts";
import { LOCAL_BUCKET, readConfig } from "../workflows/config.ts";
import type { Fault } from "./faults.ts";

/**
 * Tasks on demand offline, end to end: the task API's handler on 127.0.0.1, the embedded S3, DynamoDB and SQS, the
 * pipes read from the synthesized AWS::Pipes::Pipe, the synthesized task machines on the local engine, the real
 * thumbnail and OCR steps as child processes (OCR on ONNX Runtime's CPU provider). Every check reads the table.
 */
const OCR_LINES: string[][] = [
  ["HELLO WORLD"],
  ["Invoice 2041", "Snow report for Andorra"],
  ["atlas pipelines"],
  ["Ski map 2026"],
  ["GPU tasks scale from zero"],
  ["The quick brown fox"],
  ["Room 42"],
  ["Thumbnail and text"],
  ["Alpine hut open"],
  ["Weather at noon"],
];
const THUMBNAILS = 10;

let root: string;
beforeAll(async () => void (root = await mkdtemp(path.join(tmpdir(), "tasks-e2e-"))));
afterAll(async () => await rm(root, { recursive: true, force: true }));

/** A platform with its worker, on a store of its own; retry waits shortened (the slot wait, the capacity retries). */
async function platformOn(name: string, faults: Fault[] = []): Promise<OfflineTasks> {
  return startOfflineTasks(path.join(root, name), {
    // The dead-letter sweep runs when the test says (worker.sweep()), so that it never holds a message being redriven.
    worker: { faults, retryWaitMs: 50, pollWaitSeconds: 1, sweepIntervalMs: 0, runsRoot: path.join(root, `${name}-runs`) },
    // A message whose start failed comes back after this, not the stack's visibility timeout (hours).
    visibilityTimeoutSeconds: 1,
  });
}

async function waitUntil<T>(what: string, get: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await get();
    if (done(v)) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not done after ${timeoutMs / 1000} s: ${JSON.stringify(v).slice(0, 400)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const finished = (r: TaskRecord | undefined) => r?.status === "SUCCEEDED" || r?.status === "FAILED";

async function text(s3: S3Client, key: string): Promise<string> {
  return (await (await s3.send(new GetObjectCommand({ Bucket: LOCAL_BUCKET, Key: key }))).Body!.transformToString()).trim();
}

async function messagesIn(p: OfflineTasks, url: string): Promise<number> {
  const a = (await p.sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"] }))).Attributes!;
  return Number(a.ApproximateNumberOfMessages) + Number(a.ApproximateNumberOfMessagesNotVisible);
}

describe("tasks on demand offline: 20 tasks across both queues, a duplicate message", () => {
  let p: OfflineTasks;
  let s3: S3Client;
  const ids: { ocr: { taskId: string; lines: string[] }[]; thumbnail: string[] } = { ocr: [], thumbnail: [] };
  beforeAll(async () => {
    p = await platformOn("main");
    s3 = makeS3Client(p.env);
  });
  afterAll(async () => {
    s3?.destroy();
    await p?.stop();
  });

  it("GIVEN 10 ocr and 10 thumbnail tasks submitted through the typed client WHEN the platform runs them THEN all SUCCEEDED, each once, with the exact words and both thumbnails", async () => {
    const client = new TaskClient({ baseUrl: p.apiUrl });
    const submitted = await Promise.all([
      ...OCR_LINES.map(async (lines, i) => ({ kind: "ocr" as const, lines, record: await client.submitFile("ocr", { name: `scan-${i}.png`, bytes: await textImage(lines) }) })),
      ...Array.from({ length: THUMBNAILS }, async (_, i) => ({ kind: "thumbnail" as const, lines: [], record: await client.submitFile("thumbnail", { name: `photo-${i}.jpg`, bytes: await gradientImage(640 + i * 16, 480) }) })),
    ]);
    for (const s of submitted) {
      expect(s.record.status).toBe("QUEUED");
      if (s.kind === "ocr") ids.ocr.push({ taskId: s.record.taskId, lines: s.lines });
      else ids.thumbnail.push(s.record.taskId);
    }

    // The semaphore, watched while the tasks run: never more slots held than the queue's limit.
    const most = { gpu: 0, cpu: 0 };
    let watching = true;
    const watch = (async () => {
      while (watching) {
        for (const q of ["gpu", "cpu"] as const) most[q] = Math.max(most[q], (await p.table.slotHolders(q)).length);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const records = await Promise.all(submitted.map((s) => waitUntil(`task ${s.record.taskId}`, () => p.table.get(s.record.taskId), finished, 80_000)));
    watching = false;
    await watch;
    const limits = readConfig({}).taskConcurrency;
    expect(most.gpu).toBeGreaterThan(0);
    expect(most.gpu).toBeLessThanOrEqual(limits.gpu);
    expect(most.cpu).toBeLessThanOrEqual(limits.cpu);
    for (const r of records) {
      expect(r, r?.error).toMatchObject({ status: "SUCCEEDED", attempts: 1 });
      expect(r!.startedAt! >= r!.submittedAt).toBe(true);
      expect(r!.finishedAt! >= r!.startedAt!).toBe(true);
      expect(r!.estimatedCost!.usd).toBeGreaterThan(0);
      expect(r!.result!.outputUri).toBe(`s3://${LOCAL_BUCKET}/tasks/${r!.taskId}/output/`);
    }
    for (const { taskId, lines } of ids.ocr) {
      const r = records.find((x) => x!.taskId === taskId)!;
      expect(r.text).toBe(lines.join("\n"));
      expect(await text(s3, `tasks/${taskId}/output/text.txt`)).toBe(lines.join("\n"));
      expect(r.queue).toBe("gpu");
    }
    for (const taskId of ids.thumbnail) {
      const files = await listObjects(s3, `s3://${LOCAL_BUCKET}/tasks/${taskId}/output/`);
      expect(files.map((f) => f.name).sort()).toEqual(["result.json", "thumbnail-128.webp", "thumbnail-512.webp"]);
    }
    // Each task ran in exactly one execution: every SUCCEEDED execution names a different task.
    const ran = p.worker!.ended.filter((e) => e.status === "SUCCEEDED").map((e) => (e.input as { task: { taskId: string } }).task.taskId);
    expect(ran.sort()).toEqual([...ids.ocr.map((o) => o.taskId), ...ids.thumbnail].sort());
    // The semaphore is empty again: every execution gave its slot back.
    expect(await p.table.slotHolders("gpu")).toEqual([]);
    expect(await p.table.slotHolders("cpu")).toEqual([]);
  });

  it("GIVEN a task that SUCCEEDED WHEN its message is delivered again THEN the second execution ends as a duplicate and the task is untouched", async () => {
    const { taskId } = ids.ocr[0];
    const before = (await p.table.get(taskId))!;
    const outputs = await listObjects(s3, `s3://${LOCAL_BUCKET}/tasks/${taskId}/output/`);
    const ended = p.worker!.ended.length;
    await p.sqs.send(new SendMessageCommand({ QueueUrl: p.queues.gpu.url, MessageBody: JSON.stringify(taskMessage(taskId, "ocr", before.input.name, before.input.bytes)) }));
    const duplicate = await waitUntil("the duplicate's execution", async () => p.worker!.ended.slice(ended), (e) => e.length > 0);
    expect(duplicate[0].status).toBe("SUCCEEDED");
    expect(duplicate[0].states.map((s) => s.name)).toContain("Duplicate message");
    expect(duplicate[0].states.map((s) => s.name)).not.toContain("Ocr");
    expect(await p.table.get(taskId)).toEqual(before);
    const after = await listObjects(s3, `s3://${LOCAL_BUCKET}/tasks/${taskId}/output/`);
    expect(after.map((f) => [f.name, f.size])).toEqual(outputs.map((f) => [f.name, f.size]));
    expect(await p.table.slotHolders("gpu")).toEqual([]);
  });
});

describe("tasks on demand offline: a poison message", () => {
  let p: OfflineTasks;
  beforeAll(async () => {
    // The cpu machine refuses its first 5 StartExecution calls (as when it is missing): the queue's maxReceiveCount.
    p = await platformOn("poison", [{ step: "tasks-cpu", kind: "refused", times: 5 }]);
  });
  afterAll(async () => {
    delete process.env[TASKS_DIR_ENV];
    await p?.stop();
  });

  it("GIVEN a message no execution can start for WHEN it is received 5 times THEN it is dead-lettered, the task FAILED with the reason; after the fix tasks redrive runs it to SUCCEEDED", async () => {
    const client = new TaskClient({ baseUrl: p.apiUrl });
    const { taskId } = await client.submitFile("thumbnail", { name: "poison.jpg", bytes: await gradientImage(320, 200) }, { taskId: "poison-1" });
    await waitUntil("the message in the dead-letter queue", () => messagesIn(p, p.queues.cpu.dlqUrl), (n) => n === 1, 60_000);
    expect((await p.table.get(taskId))!.status).toBe("QUEUED");
    await p.worker!.sweep();
    const failed = await p.table.get(taskId);
    expect(failed).toMatchObject({ status: "FAILED", attempts: 0, error: DEAD_LETTER_REASON });
    expect(failed!.startedAt).toBeUndefined();
    // The sweep only looks: the message stays in the dead-letter queue for the redrive. It lets go of it at once,
    // which the embedded SQS makes one second (lib/embedded-sqs.ts, noZeroVisibility).
    expect(await messagesIn(p, p.queues.cpu.dlqUrl)).toBe(1);
    await new Promise((r) => setTimeout(r, 1_100));
    expect(await messagesIn(p, p.queues.cpu.url)).toBe(0);

    // The refusals are used up (the fix); the CLI redrives through this platform, as it would through a running one.
    process.env[TASKS_DIR_ENV] = path.join(root, "poison");
    let stderr = "";
    const code = await tasksMain(["redrive", "--queue", "cpu"], { stdout: () => {}, stderr: (s) => (stderr += s) });
    expect(code, stderr).toBe(0);
    expect(stderr).toBe("cpu: moved 1 message(s) back to the queue\n");
    const done = await waitUntil("the redriven task", () => p.table.get(taskId), (r) => r?.status === "SUCCEEDED", 60_000);
    expect(done).toMatchObject({ status: "SUCCEEDED", attempts: 1 });
    expect(done!.error).toBeUndefined();
    expect(await messagesIn(p, p.queues.cpu.dlqUrl)).toBe(0);
  });
});
