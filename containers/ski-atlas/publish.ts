import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CopyObjectCommand, DeleteObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { EXIT, StepError } from "../../lib/exit-codes.ts";
import { digestFile } from "../../lib/hash.ts";
import { downloadToFile, getObjectText, headObject, listObjects, putObjectText } from "../../lib/s3-objects.ts";
import { parseS3Uri } from "../../lib/s3.ts";
import { contentType } from "./analyze.ts";
import type { PublishConfig } from "./config.ts";
import type { Logger } from "./log.ts";
import { isPublishable, MANIFEST_NAME, manifestSource, parseManifest, type Manifest, type ManifestFile } from "./manifest.ts";
import { OUTPUT_FILES } from "./outputs.ts";
import { fromMetadata } from "./source-version.ts";
import { csvRowCount, parquetRowCount } from "./tables.ts";

/**
 * Step 4: copies the staged files to PUBLISH_URI (server-side CopyObject), then writes manifest.json last.
 * Files whose sha256 matches the current manifest are not copied again. When anything changes, the old manifest
 * is deleted first, so a reader sees either a complete month or no month, never a mix.
 */
export async function runPublish(cfg: PublishConfig, s3: S3Client, log: Logger, now = () => new Date()): Promise<Manifest> {
  const staged = (await listObjects(s3, cfg.stagingUri)).filter((o) => isPublishable(o.name));
  const stagedNames = new Set(staged.map((o) => o.name));
  const missing = Object.values(OUTPUT_FILES).filter((n) => !stagedNames.has(n));
  if (missing.length > 0) {
    throw new StepError(`STAGING_URI ${cfg.stagingUri} lacks ${missing.join(", ")}: run the analyze step first`, EXIT.NO_INPUT);
  }

  const raw = await headObject(s3, cfg.rawUri);
  const source = fromMetadata(raw?.Metadata);
  if (!raw || !source) {
    throw new StepError(`RAW_URI ${cfg.rawUri} ${raw ? "has no source metadata" : "does not exist"}: run the download step first`, EXIT.NO_INPUT);
  }

  // Checksums and row counts of the staged files.
  const dir = await mkdtemp(join(tmpdir(), "ski-atlas-publish-"));
  const files: ManifestFile[] = [];
  try {
    for (const o of staged) {
      const path = join(dir, o.name);
      await downloadToFile(s3, cfg.stagingUri + o.name, path);
      const { hex, bytes } = await digestFile(path, "sha256");
      const file: ManifestFile = { name: o.name, sha256: hex, bytes };
      if (o.name.endsWith(".parquet")) file.rows = await parquetRowCount(path);
      else if (o.name.endsWith(".csv")) file.rows = csvRowCount(await readFile(path, "utf8"));
      files.push(file);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  const manifestUri = cfg.publishUri + MANIFEST_NAME;
  const oldText = await getObjectText(s3, manifestUri);
  let old: Manifest | undefined;
  try {
    old = oldText === undefined ? undefined : parseManifest(oldText);
  } catch {
    log(`the existing ${MANIFEST_NAME} is unreadable: replacing it`);
  }
  const published = new Map((await listObjects(s3, cfg.publishUri)).map((o) => [o.name, o]));
  // Skip a copy only when the manifest already lists this sha256 AND the published object is the staged one's
  // copy (same size and ETag): a published file changed behind the manifest's back is copied again.
  const stagedEtag = new Map(staged.map((o) => [o.name, o.etag]));
  const unchanged = (f: ManifestFile) => {
    const prev = old?.files.find((x) => x.name === f.name);
    const pub = published.get(f.name);
    return prev?.sha256 === f.sha256 && pub?.size === f.bytes && pub.etag !== undefined && pub.etag === stagedEtag.get(f.name);
  };
  const toCopy = files.filter((f) => !unchanged(f));
  const stale = [...published.keys()].filter((n) => n !== MANIFEST_NAME && isPublishable(n) && !files.some((f) => f.name === n));

  const { bucket: dstBucket, key: dstPrefix } = parseS3Uri(cfg.publishUri);
  const { bucket: srcBucket, key: srcPrefix } = parseS3Uri(cfg.stagingUri);
  if ((toCopy.length > 0 || stale.length > 0) && oldText !== undefined) {
    await s3.send(new DeleteObjectCommand({ Bucket: dstBucket, Key: dstPrefix + MANIFEST_NAME }));
    log(`changed files: withdrew the old ${MANIFEST_NAME} until the new one is written`);
  }
  for (const f of toCopy) {
    await s3.send(
      new CopyObjectCommand({
        Bucket: dstBucket,
        Key: dstPrefix + f.name,
        CopySource: `${srcBucket}/${encodeURIComponent(srcPrefix + f.name).replaceAll("%2F", "/")}`,
        MetadataDirective: "REPLACE",
        ContentType: contentType(f.name),
      }),
    );
    log(`copied ${f.name} (${f.bytes} bytes)`);
  }
  for (const name of stale) {
    await s3.send(new DeleteObjectCommand({ Bucket: dstBucket, Key: dstPrefix + name }));
    log(`removed ${name}, which this run does not produce`);
  }
  if (toCopy.length < files.length) log(`${files.length - toCopy.length} file(s) already published with the same sha256`);

  const rows = (name: string) => files.find((f) => f.name === name)?.rows ?? 0;
  const manifest: Manifest = {
    workflow: "ski-atlas",
    region: cfg.region,
    period: cfg.period,
    runId: cfg.runId,
    source: manifestSource(source),
    codeVersion: cfg.codeVersion,
    publishedAt: now().toISOString(),
    counts: {
      ski_areas: rows(OUTPUT_FILES.skiAreas),
      lifts: rows(OUTPUT_FILES.lifts),
      pistes: rows(OUTPUT_FILES.pistes),
      osm_near_winter_sports: rows(OUTPUT_FILES.pois),
    },
    files,
  };
  await putObjectText(s3, manifestUri, JSON.stringify(manifest, null, 2) + "\n");
  log(`wrote ${manifestUri} (${files.length} files)`);
  return manifest;
}
