import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CopyObjectCommand, GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MANIFEST_NAME, VERSIONS_DIR } from "../../lib/manifest.ts";
import { CRASH_AFTER_COPIES_ENV } from "../../lib/publish-prefix.ts";
import { readCommitted } from "../../lib/published.ts";
import { getObjectText, listObjects } from "../../lib/s3-objects.ts";
import { parseS3Uri } from "../../lib/s3.ts";
import { startTestS3, type TestS3 } from "../../lib/testing/s3rver.ts";
import { OUTPUT_FILES } from "./outputs.ts";
import { writeSyntheticRegion } from "./synthetic-osm.ts";
import { runChildBounded, runInProcess, stepEnv, uris } from "./testing/helpers.ts";
import { BUCKET } from "./testing/helpers.ts";
import { extractAndAnalyze, putRaw } from "./testing/pipeline.ts";
import { s3Prefix, verifyPublished } from "../../lib/verify-prefix.ts";
import { verifyPublishedMonth } from "./verify.ts";

/**
 * A real crash mid-publish: `containers/ski-atlas/main.ts publish` as a child process, told by the local-only hook
 * ATLAS_FAULT_CRASH_AFTER_COPIES to crash itself (SIGSEGV) after two copies. Readers never see it: it had copied
 * into a version folder of its own that no manifest names, which `npm run verify` reports and the next publish removes.
 */
let s3: TestS3;
let tmp: string;
let out: string;
const u = uris("sample");

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "ski-atlas-crash-test-"));
  s3 = await startTestS3({ buckets: [BUCKET] });
  const pbf = join(tmp, "sample.osm.pbf");
  await writeSyntheticRegion(pbf);
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

/** `node --import tsx containers/ski-atlas/main.ts <step>`, one process as the local engine starts a task (the bounds only guard a hang). */
const runNode = (step: string, env: Record<string, string>) => runChildBounded(step, env, { timeoutMs: 170_000, maxRssBytes: 4 * 2 ** 30 });

/** name → sha256 of every object under the prefix. */
async function snapshot(prefix: string): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  const { bucket } = parseS3Uri(prefix);
  for (const o of await listObjects(s3.s3, prefix)) {
    const got = await s3.s3.send(new GetObjectCommand({ Bucket: bucket, Key: o.key }));
    result[o.name] = createHash("sha256").update(await got.Body!.transformToByteArray()).digest("hex");
  }
  return result;
}

/** What a reader of the month gets: its manifest and the files it names (name → sha256). */
async function seen(prefix: string): Promise<Record<string, string>> {
  const v = await readCommitted(s3.s3, prefix);
  if (!v) return {};
  const all = await snapshot(prefix);
  return Object.fromEntries([[MANIFEST_NAME, all[MANIFEST_NAME]], ...v.manifest.files.map((f) => [f.name, all[v.manifest.dataPrefix + f.name]])]);
}

const versionFolders = async (prefix: string) => [...new Set((await listObjects(s3.s3, prefix + VERSIONS_DIR)).map((o) => o.name.split("/")[0]))];

/** Makes this month's staged output differ from last month's in three files (still valid Parquet and CSV). */
async function changeStaging(): Promise<void> {
  const { bucket, key } = parseS3Uri(u.staging);
  const swap = async (to: string, from: string) =>
    s3.s3.send(new CopyObjectCommand({ Bucket: bucket, Key: key + to, CopySource: `${bucket}/${key}${from}` }));
  await swap("_lifts.tmp", OUTPUT_FILES.lifts);
  await swap(OUTPUT_FILES.lifts, OUTPUT_FILES.pistes);
  await swap(OUTPUT_FILES.pistes, "_lifts.tmp");
  const csv = (await getObjectText(s3.s3, u.staging + OUTPUT_FILES.analyzedCsv))!;
  await s3.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key + OUTPUT_FILES.analyzedCsv, Body: csv.split("\n").slice(0, 2).join("\n") + "\n" }));
}

describe("publish crashing mid-way (SIGSEGV after 2 copies)", () => {
  it("GIVEN last month published WHEN this month's publish crashes after 2 copies THEN readers still see last month byte for byte, and the crashed folder is a leftover no reader follows", async () => {
    const env = stepEnv(s3.env, "sample", { ATLAS_LOCAL: "1" });
    const first = await runInProcess("publish", env);
    expect(first.code, first.stderr).toBe(0);
    const lastMonth = await seen(u.publish);
    expect(Object.keys(lastMonth)).toContain(MANIFEST_NAME);

    await changeStaging();
    const crashed = await runNode("publish", { ...env, [CRASH_AFTER_COPIES_ENV]: "2" });
    expect(crashed.signal, crashed.stderr).toBe("SIGSEGV");
    expect(crashed.stderr.match(/copied /g)).toHaveLength(2);
    expect(await seen(u.publish)).toEqual(lastMonth);
    expect(await verifyPublishedMonth(s3.s3, u.publish)).toEqual([]);
    expect(await versionFolders(u.publish)).toHaveLength(2);

    const committed = (await readCommitted(s3.s3, u.publish))!.manifest.dataPrefix;
    const verified = await verifyPublished(s3Prefix(s3.s3, u.publish));
    expect(verified.problems).toEqual([]);
    expect(verified.leftovers).toEqual((await versionFolders(u.publish)).map((f) => `${VERSIONS_DIR}${f}/`).filter((f) => f !== committed));
    expect(verified.leftovers).toHaveLength(1);
  });

  it("GIVEN a crashed publish WHEN publish runs again THEN it publishes this month completely and removes what the crashed one left", async () => {
    const env = stepEnv(s3.env, "sample", { ATLAS_LOCAL: "1" });
    const crashed = await runNode("publish", { ...env, [CRASH_AFTER_COPIES_ENV]: "2" });
    expect(crashed.signal, crashed.stderr).toBe("SIGSEGV");
    const rerun = await runInProcess("publish", env);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(await verifyPublishedMonth(s3.s3, u.publish)).toEqual([]);
    const staged = await snapshot(u.staging);
    const published = await seen(u.publish);
    for (const name of Object.values(OUTPUT_FILES)) expect(published[name], name).toBe(staged[name]);
    expect(await versionFolders(u.publish)).toHaveLength(1);
  });

  it("GIVEN nothing published for a month WHEN its first publish crashes THEN nothing is published", async () => {
    const env = stepEnv(s3.env, "sample", { ATLAS_LOCAL: "1", PUBLISH_URI: `s3://${BUCKET}/sample/2021-07/` });
    const crashed = await runNode("publish", { ...env, [CRASH_AFTER_COPIES_ENV]: "2" });
    expect(crashed.signal, crashed.stderr).toBe("SIGSEGV");
    expect(Object.keys(await snapshot(env.PUBLISH_URI)).length).toBe(3); // two files in its folder and the crashed writer's lease
    expect(await readCommitted(s3.s3, env.PUBLISH_URI)).toBeUndefined();
    expect(await verifyPublishedMonth(s3.s3, env.PUBLISH_URI)).toEqual([expect.stringMatching(/manifest\.json is missing/)]);
  });

  it("GIVEN the crash setting without ATLAS_LOCAL=1 WHEN publish runs THEN it is ignored (a deployed task never kills itself)", async () => {
    const env = stepEnv(s3.env, "sample", { PUBLISH_URI: `s3://${BUCKET}/sample/2021-08/`, [CRASH_AFTER_COPIES_ENV]: "1" });
    const run = await runNode("publish", env);
    expect(run.code, run.stderr).toBe(0);
    expect(await verifyPublishedMonth(s3.s3, env.PUBLISH_URI)).toEqual([]);
  });
});
