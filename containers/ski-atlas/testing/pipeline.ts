import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import { digestFile } from "../../../lib/hash.ts";
import { downloadToFile, uploadFile } from "../../../lib/s3-objects.ts";
import { startTestS3, type TestS3 } from "../../../lib/testing/s3rver.ts";
import { OUTPUT_FILES } from "../outputs.ts";
import { toMetadata } from "../source-version.ts";
import { BUCKET, runInProcess, stepEnv, uris, type StepRun } from "./helpers.ts";

/** Puts a local PBF at the run's RAW_URI (as download would, with source metadata). */
export async function putRaw(s3: S3Client, region: string, pbf: string): Promise<void> {
  await uploadFile(s3, pbf, uris(region).raw, {
    metadata: toMetadata({ url: `file://${pbf}`, md5: (await digestFile(pbf, "md5")).hex, bytes: (await stat(pbf)).size }),
  });
}

/** extract + analyze in-process; returns the step runs and a local dir holding the staged output files. */
export async function extractAndAnalyze(
  s3: S3Client,
  s3Env: Record<string, string>,
  region: string,
): Promise<{ extract: StepRun; analyze: StepRun; dir: string }> {
  const env = stepEnv(s3Env, region);
  const extract = await runInProcess("extract", env);
  if (extract.code !== 0) return { extract, analyze: extract, dir: "" };
  const analyze = await runInProcess("analyze", env);
  const dir = await mkdtemp(join(tmpdir(), `ski-atlas-out-${region}-`));
  if (analyze.code === 0) {
    for (const name of [...Object.values(OUTPUT_FILES), "_summary.json"]) {
      await downloadToFile(s3, uris(region).staging + name, join(dir, name));
    }
  }
  return { extract, analyze, dir };
}

/**
 * A fresh test S3 with `pbf` at the region's RAW_URI, extracted and analyzed (throws with analyze's stderr if it
 * fails); `dir` holds the staged outputs, `stop()` removes them and stops the server.
 */
export async function analyzedRegion(region: string, pbf: string): Promise<{ s3: TestS3; dir: string; stop(): Promise<void> }> {
  const s3 = await startTestS3({ buckets: [BUCKET] });
  await putRaw(s3.s3, region, pbf);
  const run = await extractAndAnalyze(s3.s3, s3.env, region);
  const stop = async () => {
    await s3.stop();
    if (run.dir) await rm(run.dir, { recursive: true, force: true });
  };
  if (run.analyze.code !== 0) {
    await stop();
    throw new Error(`extract or analyze of ${region} failed (exit ${run.analyze.code}): ${run.analyze.stderr}`);
  }
  return { s3, dir: run.dir, stop };
}
