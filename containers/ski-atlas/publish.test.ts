import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CopyObjectCommand, DeleteObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JOURNAL_NAME, LEASE_NAME } from "../../lib/manifest.ts";
import { getObjectText, listObjects } from "../../lib/s3-objects.ts";
import { parseS3Uri } from "../../lib/s3.ts";
import { startTestS3, type TestS3 } from "../../lib/testing/s3rver.ts";
import type { PublishConfig } from "./config.ts";
import type { Manifest } from "./manifest.ts";
import { CHANGES_FILE } from "./changes.ts";
import { OUTPUT_FILES } from "./outputs.ts";
import { runPublish } from "./publish.ts";
import { writeSyntheticRegion, type SyntheticExpected } from "./synthetic-osm.ts";
import { BUCKET, runInProcess, stepEnv, uris } from "./testing/helpers.ts";
import { extractAndAnalyze, putRaw } from "./testing/pipeline.ts";
import { verifyPublishedMonth } from "./verify.ts";

let s3: TestS3;
let tmp: string;
let out: string;
let expected: SyntheticExpected;
const u = uris("sample");

const cfg = (): PublishConfig => ({
  step: "publish", region: "sample", period: "2021-06", runId: "sample-2021-06", local: true,
  rawUri: u.raw, stagingUri: u.staging, publishUri: u.publish, codeVersion: "test-1",
});

async function manifest(): Promise<Manifest> {
  return JSON.parse((await getObjectText(s3.s3, u.publish + "manifest.json"))!);
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "ski-atlas-publish-test-"));
  s3 = await startTestS3({ buckets: [BUCKET] });
  const pbf = join(tmp, "sample.osm.pbf");
  expected = await writeSyntheticRegion(pbf);
  await putRaw(s3.s3, "sample", pbf);
  const run = await extractAndAnalyze(s3.s3, s3.env, "sample");
  expect(run.analyze.code, run.analyze.stderr).toBe(0);
  out = run.dir;
});

afterAll(async () => {
  await s3?.stop();
  await rm(tmp, { recursive: true, force: true });
  if (out) await rm(out, { recursive: true, force: true });
});

/** Records the order of PutObject/CopyObject keys the publish step sends. */
function recordWrites(client: S3Client): string[] {
  const keys: string[] = [];
  client.middlewareStack.add(
    (next) => async (args) => {
      const input = args.input as { Key?: string; CopySource?: string; Body?: unknown };
      if (input.Key && (input.CopySource || input.Body !== undefined)) keys.push(input.Key);
      return next(args);
    },
    { step: "initialize", name: "recordWrites" },
  );
  return keys;
}

describe("publish", () => {
  it("copies every staged file and writes manifest.json last, with sha256, bytes and rows", async () => {
    const log: string[] = [];
    const { makeS3Client } = await import("../../lib/s3.ts");
    const client = makeS3Client({ ...s3.env, ATLAS_S3_MAX_ATTEMPTS: "1" });
    const writes = recordWrites(client);
    await runPublish(cfg(), client, (m) => log.push(m), () => new Date("2021-07-01T06:00:00Z"));
    client.destroy();
    const { key: prefix } = parseS3Uri(u.publish);
    // The prefix's lease (lib/prefix-lease.ts) is the first write to the prefix, and is released last.
    expect(writes.filter((k) => k.startsWith(prefix))[0]).toBe(prefix + LEASE_NAME);
    const withoutLease = writes.filter((k) => k !== prefix + LEASE_NAME);
    // changes.csv is computed into staging first (this region's first month: header only), then published.
    expect(withoutLease[0]).toBe(parseS3Uri(u.staging).key + CHANGES_FILE);
    const published = withoutLease.slice(1);
    expect(published.at(-1)).toBe(prefix + "manifest.json");
    // The files go to the version folder the manifest names (lib/publish-prefix.ts), then the manifest commits them.
    const m = await manifest();
    expect(m.dataPrefix).toBe(`versions/${m.publishId}/`);
    expect(published.slice(0, -1).sort()).toEqual([...Object.values(OUTPUT_FILES), CHANGES_FILE].map((n) => prefix + m.dataPrefix + n).sort());

    expect(m).toMatchObject({
      workflow: "ski-atlas", region: "sample", period: "2021-06", runId: "sample-2021-06", codeVersion: "test-1",
      publishedAt: "2021-07-01T06:00:00.000Z",
      counts: {
        ski_areas: expected.skiAreas.length, lifts: expected.lifts, pistes: expected.pistes,
        osm_near_winter_sports: Object.keys(expected.pois).length,
      },
    });
    expect(m.source.url).toMatch(/^file:\/\//);
    expect(m.source.bytes).toBeGreaterThan(0);
    expect(m.files.map((f) => f.name)).toEqual([...Object.values(OUTPUT_FILES), CHANGES_FILE].sort());
    expect(m.files.some((f) => f.name.startsWith("_"))).toBe(false);
    expect(m.previousPeriod).toBeNull();
    expect(m.files.find((f) => f.name === CHANGES_FILE)!.rows).toBe(0);
    for (const f of m.files.filter((x) => x.name !== CHANGES_FILE)) {
      const local = await readFile(join(out, f.name));
      expect(f.sha256, f.name).toBe(createHash("sha256").update(local).digest("hex"));
      expect(f.bytes).toBe(local.length);
    }
    expect(m.files.find((f) => f.name === OUTPUT_FILES.analyzedCsv)!.rows).toBe(expected.skiAreas.length);
    expect(m.files.find((f) => f.name === OUTPUT_FILES.lifts)!.rows).toBe(expected.lifts);
    expect(await verifyPublishedMonth(s3.s3, u.publish)).toEqual([]);
  });

  it("republishing the same month yields the same files and copies nothing", async () => {
    const first = await manifest();
    // Analyze again: DuckDB's Parquet output must be byte-stable for the same input.
    const again = await runInProcess("analyze", stepEnv(s3.env, "sample"));
    expect(again.code, again.stderr).toBe(0);
    const log: string[] = [];
    await runPublish(cfg(), s3.s3, (m) => log.push(m));
    const second = await manifest();
    expect(second.files).toEqual(first.files);
    expect(log.some((l) => l.startsWith("copied"))).toBe(false);
    expect(log.join("\n")).toContain(`${first.files.length} file(s) already published with the same sha256`);
  });

  it("verify reports a tampered, a missing and an unlisted file", async () => {
    const { bucket, key: month } = parseS3Uri(u.publish);
    const prefix = month + (await manifest()).dataPrefix;
    await s3.s3.send(new PutObjectCommand({ Bucket: bucket, Key: prefix + OUTPUT_FILES.lifts, Body: "tampered" }));
    await s3.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: prefix + OUTPUT_FILES.pistes }));
    await s3.s3.send(new PutObjectCommand({ Bucket: bucket, Key: prefix + "extra.parquet", Body: "x" }));
    const problems = await verifyPublishedMonth(s3.s3, u.publish);
    expect(problems).toHaveLength(3);
    expect(problems.join("\n")).toMatch(/lifts.parquet has \d+ bytes, the manifest says/);
    expect(problems.join("\n")).toMatch(/pistes.parquet is listed in the manifest but missing/);
    expect(problems.join("\n")).toMatch(/extra.parquet is not listed/);

    // Same size, different content: caught by sha256.
    const m = await manifest();
    const csv = m.files.find((f) => f.name === OUTPUT_FILES.analyzedCsv)!;
    await s3.s3.send(new PutObjectCommand({ Bucket: bucket, Key: prefix + OUTPUT_FILES.analyzedCsv, Body: "x".repeat(csv.bytes) }));
    expect((await verifyPublishedMonth(s3.s3, u.publish)).join("\n")).toMatch(/ski_areas_analyzed.csv has sha256 .* the manifest says/);

    // Publishing again repairs the month (changed files are copied, stale ones removed).
    const run = await runInProcess("publish", stepEnv(s3.env, "sample"));
    expect(run.code, run.stderr).toBe(0);
    expect(await verifyPublishedMonth(s3.s3, u.publish)).toEqual([]);
    expect((await listObjects(s3.s3, u.publish)).map((o) => o.name).filter((n) => n.endsWith("extra.parquet"))).toEqual([]);
  });

  it("verify reports a month without manifest", async () => {
    const { bucket, key: prefix } = parseS3Uri(u.publish);
    await s3.s3.send(new CopyObjectCommand({ Bucket: bucket, Key: "other/2021-06/lifts.parquet", CopySource: `${bucket}/${prefix}${(await manifest()).dataPrefix}lifts.parquet` }));
    const problems = await verifyPublishedMonth(s3.s3, `s3://${bucket}/other/2021-06/`);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/manifest.json is missing/);
  });

  it("fails with 66 when staging is empty", async () => {
    const run = await runInProcess("publish", stepEnv(s3.env, "sample", { STAGING_URI: `s3://${BUCKET}/staging/none/` }));
    expect(run.code).toBe(66);
    expect(run.errorLines).toHaveLength(1);
    expect(run.errorLines[0]).toMatch(/lacks .*run the analyze step first/);
  });
});
