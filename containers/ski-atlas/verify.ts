import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { Readable } from "node:stream";
import { digestStream } from "../../lib/hash.ts";
import { getObjectText, listObjects } from "../../lib/s3-objects.ts";
import { parseS3Uri } from "../../lib/s3.ts";
import { MANIFEST_NAME, parseManifest } from "./manifest.ts";

const COUNTED: Record<string, "ski_areas" | "lifts" | "pistes" | "osm_near_winter_sports"> = {
  "ski_areas.parquet": "ski_areas",
  "lifts.parquet": "lifts",
  "pistes.parquet": "pistes",
  "osm_near_winter_sports.parquet": "osm_near_winter_sports",
};

/**
 * Checks a published month against its manifest: every listed file is present with the listed bytes and
 * sha256, no other data file sits next to them, and the counts match the listed row counts.
 * Returns the problems found, one sentence each (empty = the month is intact).
 */
export async function verifyPublishedMonth(s3: S3Client, publishUri: string): Promise<string[]> {
  const prefix = publishUri.endsWith("/") ? publishUri : `${publishUri}/`;
  const text = await getObjectText(s3, prefix + MANIFEST_NAME);
  if (text === undefined) return [`${prefix}${MANIFEST_NAME} is missing: the month is not published (or publish did not finish)`];
  let manifest;
  try {
    manifest = parseManifest(text);
  } catch (err) {
    return [`${prefix}${MANIFEST_NAME} is not a valid manifest (${(err as Error).message})`];
  }
  const problems: string[] = [];
  const listed = await listObjects(s3, prefix);
  const present = new Map(listed.map((o) => [o.name, o]));
  const { bucket } = parseS3Uri(prefix);
  for (const file of manifest.files) {
    const obj = present.get(file.name);
    if (!obj) {
      problems.push(`${file.name} is listed in the manifest but missing`);
      continue;
    }
    if (obj.size !== file.bytes) {
      problems.push(`${file.name} has ${obj.size} bytes, the manifest says ${file.bytes}`);
      continue;
    }
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: obj.key }));
    const { hex } = await digestStream(out.Body as Readable, "sha256");
    if (hex !== file.sha256) problems.push(`${file.name} has sha256 ${hex}, the manifest says ${file.sha256}`);
  }
  const names = new Set(manifest.files.map((f) => f.name));
  for (const o of listed) {
    if (o.name === MANIFEST_NAME || names.has(o.name)) continue;
    problems.push(`${o.name} is not listed in the manifest`);
  }
  for (const [fileName, key] of Object.entries(COUNTED)) {
    const f = manifest.files.find((x) => x.name === fileName);
    if (f && f.rows !== undefined && manifest.counts?.[key] !== f.rows) {
      problems.push(`counts.${key} is ${manifest.counts?.[key]} but ${fileName} has ${f.rows} rows`);
    }
  }
  return problems;
}
