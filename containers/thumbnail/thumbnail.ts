import type { S3Client } from "@aws-sdk/client-s3";
import sharp from "sharp";
import { EXIT, StepError } from "../../lib/exit-codes.ts";
import type { Env, Log } from "../../lib/run-step.ts";
import { readTaskInput, reportingFailure, taskContext, writeTaskOutputs, type OutputFile } from "../../lib/tasks/task-files.ts";

/**
 * The `thumbnail` task: WebP thumbnails of the task's input image, each fitting a square of THUMBNAIL_SIZES pixels
 * (aspect kept, never enlarged), named `thumbnail-<size>.webp` after the size alone so a rerun overwrites them.
 */
export const THUMBNAIL_SIZES = [128, 512] as const;
/** WebP quality: sharp's default (80) is tuned for photos; thumbnails are viewed small. */
const WEBP_QUALITY = 75;
/** Larger images are refused rather than decoded (sharp's default guard, about 268 M pixels, is more than a task needs). */
const MAX_INPUT_PIXELS = 100_000_000;

export async function makeThumbnails(image: Buffer): Promise<{ files: OutputFile[]; source: { width: number; height: number; format: string } }> {
  let meta: Awaited<ReturnType<ReturnType<typeof sharp>["metadata"]>>;
  try {
    meta = await sharp(image, { limitInputPixels: MAX_INPUT_PIXELS }).metadata();
  } catch (err) {
    throw new StepError(`the input is not an image sharp can read (${String((err as Error).message).split("\n")[0]})`, EXIT.DATA_ERROR);
  }
  const files: OutputFile[] = [];
  for (const size of THUMBNAIL_SIZES) {
    try {
      const body = await sharp(image, { limitInputPixels: MAX_INPUT_PIXELS }).rotate().resize(size, size, { fit: "inside", withoutEnlargement: true }).webp({ quality: WEBP_QUALITY }).toBuffer();
      files.push({ name: `thumbnail-${size}.webp`, body, contentType: "image/webp" });
    } catch (err) {
      throw new StepError(`the input image cannot be decoded (${String((err as Error).message).split("\n")[0]})`, EXIT.DATA_ERROR);
    }
  }
  return { files, source: { width: meta.width ?? 0, height: meta.height ?? 0, format: meta.format ?? "unknown" } };
}

export async function thumbnail(env: Env, s3: S3Client, log: Log): Promise<void> {
  const ctx = taskContext(env, "thumbnail");
  await reportingFailure(s3, ctx, "thumbnail", async () => {
    const input = await readTaskInput(s3, ctx, "thumbnail");
    log(`task ${ctx.taskId}: ${input.name} (${input.bytes.length} bytes)`);
    const { files, source } = await makeThumbnails(input.bytes);
    const sizes = await Promise.all(files.map(async (f) => sharp(f.body as Buffer).metadata().then((m) => ({ name: f.name, width: m.width, height: m.height }))));
    await writeTaskOutputs(s3, ctx, "thumbnail", files, { image: { name: input.name, ...source }, thumbnails: sizes });
    log(`${files.map((f) => f.name).join(", ")} from a ${source.width}×${source.height} ${source.format}`);
  });
}
