import type { S3Client } from "@aws-sdk/client-s3";
import type { Env, Log } from "../../lib/run-step.ts";
import { readTaskInput, reportingFailure, taskContext, writeTaskOutputs } from "../../lib/tasks/task-files.ts";
import { createOcr } from "./paddle-ocr.ts";
import { providerOf } from "./provider.ts";

/**
 * The `ocr` task: the text of the task's input image, as `text.txt` and in `result.json` (with each line's box and
 * confidence), on the execution provider `ATLAS_OCR_PROVIDER` names (./provider.ts).
 */

export async function ocr(env: Env, s3: S3Client, log: Log): Promise<void> {
  const ctx = taskContext(env, "ocr");
  await reportingFailure(s3, ctx, "ocr", () => recognizeTask(env, s3, log, ctx));
}

async function recognizeTask(env: Env, s3: S3Client, log: Log, ctx: ReturnType<typeof taskContext>): Promise<void> {
  const provider = providerOf(env);
  const input = await readTaskInput(s3, ctx, "ocr");
  log(`task ${ctx.taskId}: ${input.name} (${input.bytes.length} bytes), ${provider} provider`);
  const engine = await createOcr(provider);
  try {
    const result = await engine.recognize(input.bytes);
    log(`${result.lines.length} lines of text in a ${result.width}×${result.height} image`);
    await writeTaskOutputs(s3, ctx, "ocr", [{ name: "text.txt", body: result.text + "\n", contentType: "text/plain; charset=utf-8" }], {
      text: result.text,
      lines: result.lines,
      image: { name: input.name, width: result.width, height: result.height },
      provider,
    });
  } finally {
    await engine.release();
  }
}
