import type { S3Client } from "@aws-sdk/client-s3";
import { DeleteObjectCommand } from "@aws-sdk/client-s3";
import { contentTypeOf } from "./manifest.ts";
import { publishStaged } from "./publish-prefix.ts";
import { listObjects, uploadFile } from "./s3-objects.ts";
import { parseS3Uri } from "./s3.ts";

/** Where a job stages its results before publishing them: inside its own output prefix, never published itself. */
export const JOB_STAGING_DIR = "_staging/";

/**
 * A job's results under its output prefix, through the same atomic publish as every workflow
 * (lib/publish-prefix.ts): staged first, then committed by `manifest.json`, written last. A crash leaves the
 * previous results of that run id, or none; the same run id twice publishes the same files.
 */
export async function writeJobOutputs(
  s3: S3Client,
  outputUri: string,
  files: { name: string; path: string; rows?: number }[],
  manifest: Record<string, unknown>,
  log: (m: string) => void,
): Promise<Record<string, unknown>> {
  const stagingUri = outputUri + JOB_STAGING_DIR;
  const rows = new Map(files.map((f) => [f.name, f.rows]));
  for (const f of files) await uploadFile(s3, f.path, stagingUri + f.name, { contentType: contentTypeOf(f.name) });
  const result = await publishStaged(s3, {
    stagingUri,
    publishUri: outputUri,
    rows: async (_path, name) => rows.get(name),
    manifest: () => manifest,
    log,
  });
  const { bucket } = parseS3Uri(stagingUri);
  for (const o of await listObjects(s3, stagingUri)) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.key }));
  return result.manifest;
}
