import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CopyObjectCommand, DeleteObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { digestFile } from "./hash.ts";
import { downloadToFile, getObjectText, listObjects, putObjectText } from "./s3-objects.ts";
import { parseS3Uri } from "./s3.ts";

/**
 * Publishing a run's staged files to their final prefix with `manifest.json` as the commit marker, for any
 * workflow: the manifest lists every file (sha256, bytes, rows) and is written last. A rerun that produces the
 * same bytes copies nothing; one that changes anything first withdraws the old manifest, so a reader sees a
 * complete run or none. Staging-only files start with "_" and are never published.
 */
export const MANIFEST_NAME = "manifest.json";

export interface PublishedFile {
  name: string;
  sha256: string;
  bytes: number;
  rows?: number;
}

export interface PublishOptions {
  stagingUri: string;
  publishUri: string;
  /** Data rows of a staged file (downloaded to `path`), or undefined when it has none. */
  rows(path: string, name: string): Promise<number | undefined>;
  /** The manifest's other fields, given the file list. */
  manifest(files: PublishedFile[]): Record<string, unknown>;
  log(message: string): void;
}

export function isPublishable(name: string): boolean {
  return name.length > 0 && !name.includes("/") && !name.startsWith("_") && name !== MANIFEST_NAME;
}

export async function publishStaged(s3: S3Client, o: PublishOptions): Promise<{ manifest: Record<string, unknown>; copied: string[] }> {
  const staged = (await listObjects(s3, o.stagingUri)).filter((x) => isPublishable(x.name));
  const dir = await mkdtemp(join(tmpdir(), "atlas-publish-"));
  const files: PublishedFile[] = [];
  try {
    for (const x of staged) {
      const path = join(dir, x.name);
      await downloadToFile(s3, o.stagingUri + x.name, path);
      const { hex, bytes } = await digestFile(path, "sha256");
      const rows = await o.rows(path, x.name);
      files.push({ name: x.name, sha256: hex, bytes, ...(rows === undefined ? {} : { rows }) });
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  const manifestUri = o.publishUri + MANIFEST_NAME;
  const oldText = await getObjectText(s3, manifestUri);
  let oldFiles: PublishedFile[] = [];
  try {
    oldFiles = oldText === undefined ? [] : ((JSON.parse(oldText) as { files?: PublishedFile[] }).files ?? []);
  } catch {
    o.log(`the existing ${MANIFEST_NAME} is unreadable: replacing it`);
  }
  const published = new Map((await listObjects(s3, o.publishUri)).map((x) => [x.name, x]));
  const stagedEtag = new Map(staged.map((x) => [x.name, x.etag]));
  const unchanged = (f: PublishedFile) => {
    const prev = oldFiles.find((x) => x.name === f.name);
    const pub = published.get(f.name);
    return prev?.sha256 === f.sha256 && pub?.size === f.bytes && pub.etag !== undefined && pub.etag === stagedEtag.get(f.name);
  };
  const toCopy = files.filter((f) => !unchanged(f));
  const stale = [...published.keys()].filter((n) => isPublishable(n) && !files.some((f) => f.name === n));

  const dst = parseS3Uri(o.publishUri);
  const src = parseS3Uri(o.stagingUri);
  if ((toCopy.length > 0 || stale.length > 0) && oldText !== undefined) {
    await s3.send(new DeleteObjectCommand({ Bucket: dst.bucket, Key: dst.key + MANIFEST_NAME }));
    o.log(`changed files: withdrew the old ${MANIFEST_NAME} until the new one is written`);
  }
  for (const f of toCopy) {
    await s3.send(
      new CopyObjectCommand({
        Bucket: dst.bucket,
        Key: dst.key + f.name,
        CopySource: `${src.bucket}/${encodeURIComponent(src.key + f.name).replaceAll("%2F", "/")}`,
        MetadataDirective: "REPLACE",
        ContentType: contentTypeOf(f.name),
      }),
    );
    o.log(`copied ${f.name} (${f.bytes} bytes)`);
  }
  for (const name of stale) {
    await s3.send(new DeleteObjectCommand({ Bucket: dst.bucket, Key: dst.key + name }));
    o.log(`removed ${name}, which this run does not produce`);
  }
  if (toCopy.length < files.length) o.log(`${files.length - toCopy.length} file(s) already published with the same sha256`);
  const manifest = { ...o.manifest(files), files };
  await putObjectText(s3, manifestUri, `${JSON.stringify(manifest, null, 2)}\n`);
  o.log(`wrote ${manifestUri} (${files.length} files)`);
  return { manifest, copied: toCopy.map((f) => f.name) };
}

export function contentTypeOf(name: string): string {
  if (name.endsWith(".csv")) return "text/csv";
  if (name.endsWith(".json")) return "application/json";
  if (name.endsWith(".parquet")) return "application/vnd.apache.parquet";
  return "application/octet-stream";
}
