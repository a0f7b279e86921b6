import { GetObjectCommand } from "@aws-sdk/client-s3";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXIT } from "../../lib/exit-codes.ts";
import { gradientImage } from "../../lib/tasks/testing/images.ts";
import { errorLines, outputNames, putTaskInput, runTaskStep } from "../../lib/tasks/testing/run-task-step.ts";
import { startTestS3, type TestS3 } from "../../lib/testing/s3rver.ts";
import { makeThumbnails } from "./thumbnail.ts";

const BUCKET = "tasks-thumbnail";
let s3: TestS3;
beforeAll(async () => void (s3 = await startTestS3({ buckets: [BUCKET] })));
afterAll(async () => await s3?.stop());

const env = (taskId: string) => ({ ...s3.env, TASK_ID: taskId, TASKS_URI: `s3://${BUCKET}/tasks/` });
const object = async (key: string) => Buffer.from(await (await s3.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).Body!.transformToByteArray());

describe("thumbnails", () => {
  it("GIVEN a 1600×900 photo WHEN thumbnailed THEN each fits its square, keeps the aspect and is WebP", async () => {
    const { files, source } = await makeThumbnails(await gradientImage(1600, 900));
    expect(source).toEqual({ width: 1600, height: 900, format: "jpeg" });
    const dims = await Promise.all(files.map(async (f) => ({ name: f.name, ...(({ width, height, format }) => ({ width, height, format }))(await sharp(f.body as Buffer).metadata()) })));
    expect(dims).toEqual([
      { name: "thumbnail-128.webp", width: 128, height: 72, format: "webp" },
      { name: "thumbnail-512.webp", width: 512, height: 288, format: "webp" },
    ]);
  });

  it("GIVEN an image smaller than a thumbnail WHEN thumbnailed THEN it is not enlarged", async () => {
    const { files } = await makeThumbnails(await gradientImage(100, 50));
    for (const f of files) expect(await sharp(f.body as Buffer).metadata()).toMatchObject({ width: 100, height: 50 });
  });
});

describe("the thumbnail step (containers/thumbnail/main.ts), run as the engine runs a task", () => {
  it("GIVEN an attempt that failed (no input yet) WHEN the step runs twice with the image THEN the same three keys hold the thumbnails and result.json, and the failure's report is gone", async () => {
    const taskId = "thumb-step-1";
    expect((await runTaskStep("thumbnail", "thumbnail", env(taskId))).code).toBe(EXIT.NO_INPUT);
    expect(await outputNames(s3.s3, BUCKET, taskId)).toEqual(["error.json"]);
    await putTaskInput(s3.s3, BUCKET, taskId, "photo.jpg", await gradientImage(800, 600));
    for (let attempt = 0; attempt < 2; attempt++) {
      const r = await runTaskStep("thumbnail", "thumbnail", env(taskId));
      expect(r.code, r.stderr).toBe(0);
      expect(await outputNames(s3.s3, BUCKET, taskId)).toEqual(["result.json", "thumbnail-128.webp", "thumbnail-512.webp"]);
    }
    expect(await sharp(await object(`tasks/${taskId}/output/thumbnail-512.webp`)).metadata()).toMatchObject({ width: 512, height: 384, format: "webp" });
    const result = JSON.parse((await object(`tasks/${taskId}/output/result.json`)).toString());
    expect(result).toMatchObject({ taskId, type: "thumbnail", image: { name: "photo.jpg", width: 800, height: 600 }, thumbnails: [{ width: 128, height: 96 }, { width: 512, height: 384 }] });
  });

  it("GIVEN an input that is not an image WHEN the step runs THEN one error line, exit 65, no output", async () => {
    const taskId = "thumb-not-an-image";
    await putTaskInput(s3.s3, BUCKET, taskId, "photo.jpg", Buffer.from("%PDF-1.4 not an image"));
    const r = await runTaskStep("thumbnail", "thumbnail", env(taskId));
    expect(r.code).toBe(EXIT.DATA_ERROR);
    expect(errorLines(r.stderr)).toEqual([expect.stringMatching(/^error: the input is not an image sharp can read/)]);
    expect(await outputNames(s3.s3, BUCKET, taskId)).toEqual(["error.json"]);
    expect(JSON.parse((await object(`tasks/${taskId}/output/error.json`)).toString())).toMatchObject({ exitCode: 65, error: expect.stringMatching(/^the input is not an image/) });
  });

  it("GIVEN two inputs WHEN the step runs THEN exit 65: a task takes exactly one file", async () => {
    const taskId = "thumb-two";
    await putTaskInput(s3.s3, BUCKET, taskId, "a.jpg", await gradientImage(10, 10));
    await putTaskInput(s3.s3, BUCKET, taskId, "b.jpg", await gradientImage(10, 10));
    const r = await runTaskStep("thumbnail", "thumbnail", env(taskId));
    expect(r.code).toBe(EXIT.DATA_ERROR);
    expect(errorLines(r.stderr)).toEqual([expect.stringContaining("a task takes exactly one file")]);
  });

  it("GIVEN a TASKS_URI that is not the bucket's tasks/ folder WHEN the step runs THEN exit 64", async () => {
    const r = await runTaskStep("thumbnail", "thumbnail", { ...env("t1"), TASKS_URI: `s3://${BUCKET}/elsewhere/` });
    expect(r.code).toBe(EXIT.USAGE);
    expect(errorLines(r.stderr)).toEqual([`error: TASKS_URI='s3://${BUCKET}/elsewhere/' must be s3://<bucket>/tasks/`]);
  });
});
