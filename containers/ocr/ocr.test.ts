import { GetObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXIT } from "../../lib/exit-codes.ts";
import { textImage } from "../../lib/tasks/testing/images.ts";
import { errorLines, outputNames, putTaskInput, runTaskStep } from "../../lib/tasks/testing/run-task-step.ts";
import { startTestS3, type TestS3 } from "../../lib/testing/s3rver.ts";
import { createOcr, ctcGreedyDecode, joinLines, type Ocr } from "./paddle-ocr.ts";

const BUCKET = "tasks-ocr";
let s3: TestS3;
let engine: Ocr;

beforeAll(async () => {
  s3 = await startTestS3({ buckets: [BUCKET] });
  engine = await createOcr("cpu");
});
afterAll(async () => {
  await engine?.release();
  await s3?.stop();
});

const env = (taskId: string) => ({ ...s3.env, TASK_ID: taskId, TASKS_URI: `s3://${BUCKET}/tasks/` });
const text = async (key: string) => (await (await s3.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).Body!.transformToString());

describe("text recognition (PP-OCRv4 on ONNX Runtime's CPU provider)", () => {
  it.each([
    { what: "one line", lines: ["Atlas reads text"], format: "png" as const },
    { what: "three lines with digits and punctuation", lines: ["Invoice 2026-12 total: 42.50", "The quick brown fox", "jumps over the lazy dog."], format: "png" as const },
    { what: "a JPEG", lines: ["Snow report for Andorra"], format: "jpeg" as const },
  ])("GIVEN an image of $what WHEN it is read THEN the text is exactly its words, line by line", async ({ lines, format }) => {
    const result = await engine.recognize(await textImage(lines, { format }));
    expect(result.text).toBe(lines.join("\n"));
    expect(result.lines.every((l) => l.score > 0.9)).toBe(true);
  });

  it("GIVEN a blank image WHEN it is read THEN there is no text", async () => {
    expect((await engine.recognize(await textImage([]))).text).toBe("");
  });

  it("GIVEN per-step class scores WHEN decoded THEN repeats collapse and blanks separate letters (CTC)", () => {
    const dict = ["", "a", "b"];
    // steps: a a blank a b b → "aab"
    const best = [1, 1, 0, 1, 2, 2];
    const probs = new Float32Array(best.flatMap((k) => dict.map((_, j) => (j === k ? 0.9 : 0.05))));
    expect(ctcGreedyDecode(probs, best.length, dict.length, dict)).toEqual({ text: "aab", score: expect.closeTo(0.9, 5) });
  });

  it("GIVEN boxes out of order WHEN joined THEN lines run top to bottom, words left to right", () => {
    const box = (x: number, y: number) => ({ x, y, width: 50, height: 20 });
    expect(joinLines([{ text: "world", score: 1, box: box(100, 12) }, { text: "second", score: 1, box: box(0, 60) }, { text: "hello", score: 1, box: box(0, 10) }])).toBe("hello world\nsecond");
  });
});

describe("the ocr step (containers/ocr/main.ts), run as the engine runs a task", () => {
  it("GIVEN a task's image in S3 WHEN the step runs twice THEN text.txt and result.json hold its words, at the same keys", async () => {
    const taskId = "ocr-step-1";
    await putTaskInput(s3.s3, BUCKET, taskId, "scan.png", await textImage(["Hello from the GPU queue"]));
    for (let attempt = 0; attempt < 2; attempt++) {
      const r = await runTaskStep("ocr", "ocr", env(taskId));
      expect(r.code, r.stderr).toBe(0);
      expect(await outputNames(s3.s3, BUCKET, taskId)).toEqual(["result.json", "text.txt"]);
    }
    expect(await text(`tasks/${taskId}/output/text.txt`)).toBe("Hello from the GPU queue\n");
    const result = JSON.parse(await text(`tasks/${taskId}/output/result.json`));
    expect(result).toMatchObject({ taskId, type: "ocr", text: "Hello from the GPU queue", provider: "cpu", outputUri: `s3://${BUCKET}/tasks/${taskId}/output/` });
  });

  it("GIVEN an input that is not an image WHEN the step runs THEN one error line, exit 65 (never retried), no result", async () => {
    const taskId = "ocr-not-an-image";
    await putTaskInput(s3.s3, BUCKET, taskId, "notes.png", "this is plain text, not a PNG\n");
    const r = await runTaskStep("ocr", "ocr", env(taskId));
    expect(r.code).toBe(EXIT.DATA_ERROR);
    expect(errorLines(r.stderr)).toEqual([expect.stringMatching(/^error: the input is not an image sharp can read \(.+\)$/)]);
    // No result; the reason, for the task's record.
    expect(await outputNames(s3.s3, BUCKET, taskId)).toEqual(["error.json"]);
    expect(JSON.parse(await text(`tasks/${taskId}/output/error.json`))).toEqual({ error: errorLines(r.stderr)[0].slice("error: ".length), exitCode: 65 });
  });

  it("GIVEN no input WHEN the step runs THEN exit 66 naming the input folder", async () => {
    const r = await runTaskStep("ocr", "ocr", env("ocr-no-input"));
    expect(r.code).toBe(EXIT.NO_INPUT);
    expect(errorLines(r.stderr)).toEqual([`error: task ocr-no-input has no input under s3://${BUCKET}/tasks/ocr-no-input/input/: upload it before the task starts`]);
  });

  it("GIVEN the CUDA provider on a machine without it WHEN the step runs THEN one line says the task needs a GPU instance", async () => {
    const taskId = "ocr-cuda";
    await putTaskInput(s3.s3, BUCKET, taskId, "a.png", await textImage(["x"]));
    const r = await runTaskStep("ocr", "ocr", { ...env(taskId), ATLAS_OCR_PROVIDER: "cuda" });
    expect(r.code).toBe(1);
    expect(errorLines(r.stderr)).toEqual([expect.stringMatching(/^error: cannot load the OCR models on the cuda execution provider .*needs a GPU instance/)]);
    expect(r.stderr).not.toMatch(/\x1b\[/); // ONNX Runtime's own coloured log is silenced
  });
});
