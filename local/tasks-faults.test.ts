import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startOfflineTasks, type OfflineTasks } from "../cli/tasks-offline.ts";
import { makeS3Client } from "../lib/s3.ts";
import { listObjects } from "../lib/s3-objects.ts";
import { TaskClient } from "../lib/tasks/task-client.ts";
import type { TaskRecord } from "../lib/tasks/task-record.ts";
import { gradientImage, textImage } from "../lib/tasks/testing/images.ts";
import { TASK_TYPES } from "../lib/tasks/task-types.ts";
import { TASK_INTERRUPTED_RETRY } from "../workflows/retry-policies.ts";
import { LOCAL_BUCKET } from "../workflows/config.ts";

/**
 * Faults of tasks on demand, on the offline platform (the synthesized task machines on the local engine, the real
 * steps as child processes), each injected with the local fault mechanism (local/faults.ts). The platform takes the
 * faults in the order the attempts of a step come, so the tests run in order, one task at a time:
 *   ocr: `capacity` ×3 (every attempt of the first ocr task)
 *   thumbnail: `hang` ×1 (the first thumbnail task), then `interrupt1` ×1 (the first attempt of the second)
 */
const THUMBNAIL_TIMEOUT_SECONDS = 8;

let root: string;
let p: OfflineTasks;
let s3: S3Client;
let client: TaskClient;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), "tasks-faults-"));
  p = await startOfflineTasks(path.join(root, "store"), {
    worker: {
      faults: [
        { step: "ocr", kind: "capacity", times: 1 + TASK_INTERRUPTED_RETRY.maxAttempts },
        { step: "thumbnail", kind: "hang", times: 1 },
        { step: "thumbnail", kind: { interruptAfterOutputs: 1 }, times: 1 },
      ],
      retryWaitMs: 50,
      pollWaitSeconds: 1,
      sweepIntervalMs: 0,
      // Each thumbnail attempt may run this long here (the stack's is the type's timeoutSeconds): the hang ends on it.
      timeoutOverrides: { Thumbnail: THUMBNAIL_TIMEOUT_SECONDS },
      runsRoot: path.join(root, "runs"),
    },
  });
  s3 = makeS3Client(p.env);
  client = new TaskClient({ baseUrl: p.apiUrl });
});
afterAll(async () => {
  s3?.destroy();
  await p?.stop();
  await rm(root, { recursive: true, force: true });
});

async function finished(taskId: string): Promise<TaskRecord> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const r = await p.table.get(taskId);
    if (r?.status === "SUCCEEDED" || r?.status === "FAILED") return r;
    if (Date.now() > deadline) throw new Error(`task ${taskId} still ${r?.status} after 90 s`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

const outputs = async (taskId: string) => (await listObjects(s3, `s3://${LOCAL_BUCKET}/tasks/${taskId}/output/`)).map((o) => o.name).sort();

describe("faults of tasks on demand, offline", () => {
  it("GIVEN no GPU capacity WHEN an ocr task waits for an instance THEN it is tried again a bounded number of times, then FAILED with the reason in one line", async () => {
    const { taskId } = await client.submitFile("ocr", { name: "scan.png", bytes: await textImage(["No capacity"]) });
    const r = await finished(taskId);
    expect(r).toMatchObject({ status: "FAILED", attempts: 1 + TASK_INTERRUPTED_RETRY.maxAttempts });
    expect(r.error).toMatch(/Timeout waiting for capacity: no container instance of capacity provider \S+ became available to place the task/);
    expect(r.error).not.toContain("\n");
    expect(await outputs(taskId)).not.toContain("text.txt");
    expect(await p.table.slotHolders("gpu")).toEqual([]);
  });

  it("GIVEN a task past its timeout WHEN it hangs THEN Step Functions' States.Timeout stops it and the task is FAILED saying so", async () => {
    const { taskId } = await client.submitFile("thumbnail", { name: "slow.jpg", bytes: await gradientImage(300, 200) });
    const r = await finished(taskId);
    expect(r).toMatchObject({ status: "FAILED", attempts: 1 });
    // The stack's timeout is the type's; here the state's was cut short (timeoutOverrides), the words are the same.
    expect(r.error).toBe(`the thumbnail task ran past its ${TASK_TYPES.thumbnail.timeoutSeconds} s timeout and was stopped`);
    const run = p.worker!.ended.find((e) => (e.input as { task: { taskId: string } }).task.taskId === taskId)!;
    expect(run.status).toBe("FAILED");
    expect(run.error).toBe("States.Timeout");
    expect(await p.table.slotHolders("cpu")).toEqual([]);
  });

  it("GIVEN a task killed mid-way (its instance went away after its first output) WHEN it is retried THEN it SUCCEEDED on the second attempt with its outputs once", async () => {
    const { taskId } = await client.submitFile("thumbnail", { name: "photo.jpg", bytes: await gradientImage(640, 480) });
    const r = await finished(taskId);
    expect(r, r.error).toMatchObject({ status: "SUCCEEDED", attempts: 2 });
    expect(await outputs(taskId)).toEqual(["result.json", "thumbnail-128.webp", "thumbnail-512.webp"]);
    expect(r.result!.files).toEqual(["thumbnail-128.webp", "thumbnail-512.webp"]);
  });

  it("GIVEN an input that is not an image WHEN the task runs THEN FAILED with one line, after one attempt", async () => {
    const { taskId } = await client.submitFile("thumbnail", { name: "notes.png", bytes: new TextEncoder().encode("these are notes, not a picture\n") });
    const r = await finished(taskId);
    expect(r).toMatchObject({ status: "FAILED", attempts: 1 });
    expect(r.error).toMatch(/not an image/i);
    expect(r.error).not.toContain("\n");
    expect(await outputs(taskId)).toEqual(["error.json"]);
  });
});
