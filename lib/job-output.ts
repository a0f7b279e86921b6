import type { S3Client } from "@aws-sdk/client-s3";
import { DeleteObjectCommand } from "@aws-sdk/client-s3";
import { digestFile } from "./hash.ts";
import { contentTypeOf, MANIFEST_NAME, type PublishedFile } from "./manifest.ts";
import { getObjectText, putObjectText, uploadFile } from "./s3-objects.ts";
import { parseS3Uri } from "./s3.ts";

/**
 * A job's results under its output prefix, `manifest.json` last: an old manifest is withdrawn first, so a
 * reader never pairs it with half-replaced files. The same runId twice gives the same files (rerun = overwrite).
 */
export async function writeJobOutputs(
  s3: S3Client,
  outputUri: string,
  files: { name: string; path: string; rows?: number }[],
  manifest: Record<string, unknown>,
  log: (m: string) => void,
): Promise<Record<string, unknown>> {
  const manifestUri = outputUri + MANIFEST_NAME;
  if ((await getObjectText(s3, manifestUri)) !== undefined) {
    const { bucket, key } = parseS3Uri(manifestUri);
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    log(`withdrew the previous ${MANIFEST_NAME} of this run id`);
  }
  const listed: PublishedFile[] = [];
  for (const f of [...files].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const { hex, bytes } = await digestFile(f.path);
    await uploadFile(s3, f.path, outputUri + f.name, { contentType: contentTypeOf(f.name) });
    listed.push({ name: f.name, sha256: hex, bytes, ...(f.rows === undefined ? {} : { rows: f.rows }) });
  }
  const full = { ...manifest, files: listed };
  await putObjectText(s3, manifestUri, `${JSON.stringify(full, null, 2)}\n`);
  log(`wrote ${listed.length} file(s) and ${manifestUri}`);
  return full;
}

/** A CSV field (RFC 4180). */
export function csvField(value: unknown): string {
  if (value === null || value === undefined) return "";
  const s = String(value);
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}
