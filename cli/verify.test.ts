import { spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { DeleteObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { JOURNAL_NAME, LEASE_NAME, MANIFEST_NAME } from "../lib/manifest.ts";
import { acquireLease } from "../lib/prefix-lease.ts";
import { publishStaged } from "../lib/publish-prefix.ts";
import { copyCommitted, readCommitted } from "../lib/published.ts";
import { getObjectText, putObjectText } from "../lib/s3-objects.ts";
import { parseS3Uri } from "../lib/s3.ts";
import { startTestS3, type TestS3 } from "../lib/testing/s3rver.ts";
import { verifyMain } from "./verify.ts";

const BUCKET = "verify-test";
const STAGING = `s3://${BUCKET}/staging/run/out/`;
const FILES: Record<string, string> = { "a.csv": "id\n1\n2\n", "b.csv": "id\n3\n", "c.json": '{"c":1}\n' };
const REPO_ROOT = path.resolve(import.meta.dirname, "..");
let s3: TestS3;
let scratch: string;
let month: string;
/** The committed version's folder under `month` (`versions/<publishId>/`). */
let data: string;
let n = 0;

beforeAll(async () => {
  s3 = await startTestS3({ buckets: [BUCKET] });
  scratch = await mkdtemp(path.join(tmpdir(), "verify-test-"));
  for (const [name, body] of Object.entries(FILES)) await putObjectText(s3.s3, STAGING + name, body, "text/csv");
});
afterAll(async () => {
  await s3?.stop();
  await rm(scratch, { recursive: true, force: true });
});

/** A freshly published prefix for each test. */
beforeEach(async () => {
  month = `s3://${BUCKET}/region/2026-${String(++n).padStart(2, "0")}/`;
  await publishStaged(s3.s3, { stagingUri: STAGING, publishUri: month, rows: async () => undefined, manifest: () => ({ workflow: "test" }), log: () => {} });
  data = (await readCommitted(s3.s3, month))!.manifest.dataPrefix!;
});

async function verify(target: string): Promise<{ code: number; lines: string[] }> {
  let out = "";
  const io = { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (out += s) } };
  const code = await verifyMain([target], { ...process.env, ...s3.env }, io);
  return { code, lines: out.trim().split("\n") };
}

const put = (name: string, body: string) => {
  const { bucket, key } = parseS3Uri(month + name);
  return s3.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
};

/** The published prefix copied to a local directory, as `npm start -- --out DIR` does. */
async function localCopy(): Promise<string> {
  const dir = path.join(scratch, `copy-${n}`);
  await mkdir(dir, { recursive: true });
  await copyCommitted(s3.s3, month, dir);
  return dir;
}

describe("npm run verify -- s3://bucket/prefix/", () => {
  it("GIVEN an intact published prefix THEN it prints OK and the file count and exits 0", async () => {
    expect(await verify(month)).toEqual({ code: 0, lines: ["OK 3 files"] });
  });

  it("GIVEN a file changed to other bytes of the same size THEN the sha256 mismatch is reported and it exits 1", async () => {
    await put(data + "a.csv", "id\n9\n9\n");
    const r = await verify(month);
    expect(r.code).toBe(1);
    expect(r.lines).toEqual([expect.stringMatching(new RegExp(`^${data}a\\.csv has sha256 [0-9a-f]{64}, the manifest says [0-9a-f]{64}$`))]);
  });

  it("GIVEN a missing file and an extra one THEN each is one line", async () => {
    const { bucket, key } = parseS3Uri(month + data + "b.csv");
    await s3.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    await put(data + "extra.parquet", "x");
    const r = await verify(month);
    expect(r.code).toBe(1);
    expect(r.lines).toEqual([`${data}b.csv is listed in the manifest but missing`, `${data}extra.parquet is not listed in the manifest`]);
  });

  it("GIVEN another version folder (a publish that failed or lost its lease) and a lease THEN OK: no reader follows them, and the line says so", async () => {
    await put("versions/20260101T000000Z-0badc0de/a.csv", "id\n5\n");
    const lease = await acquireLease(s3.s3, month, "publish", () => {}, { ttlMs: 60_000, waitMs: 100 });
    expect(await verify(month)).toEqual({ code: 0, lines: ["OK 3 files (not read, removed by the next publish: versions/20260101T000000Z-0badc0de/)"] });
    await lease.release();
  });

  it("GIVEN a journal of the protocol before versions THEN it is reported: that code was changing the month in place", async () => {
    await put(JOURNAL_NAME, "{}");
    const r = await verify(month);
    expect(r.code).toBe(1);
    expect(r.lines).toEqual([`${month}${JOURNAL_NAME} is present: a publish by an earlier version of this code was changing this prefix in place and did not finish (publish it again)`]);
  });

  it("GIVEN a prefix without manifest THEN it says so", async () => {
    const { bucket, key } = parseS3Uri(month + MANIFEST_NAME);
    await s3.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    expect(await verify(month)).toEqual({ code: 1, lines: [expect.stringMatching(/manifest\.json is missing/)] });
  });

  it("GIVEN the real command line with AWS_ENDPOINT_URL_S3 THEN it exits 0 on an intact prefix and 1 on a tampered one", async () => {
    const run = () =>
      new Promise<{ code: number | null; stdout: string }>((resolve, reject) => {
        const child = spawn(process.execPath, ["--import", "tsx", "cli/verify.ts", month], { cwd: REPO_ROOT, env: { ...process.env, ...s3.env }, stdio: ["ignore", "pipe", "inherit"] });
        let stdout = "";
        child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
        child.on("error", reject);
        child.on("close", (code) => resolve({ code, stdout }));
      });
    expect(await run()).toEqual({ code: 0, stdout: "OK 3 files\n" });
    await put(data + "c.json", "{}");
    const bad = await run();
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe(`${data}c.json has 2 bytes, the manifest says 8\n`);
  });
});

describe("npm run verify -- --break-lease s3://bucket/prefix/", () => {
  it("GIVEN a lease left on the prefix THEN it is deleted with one line naming its holder; a second time there is none; a directory is a usage error", async () => {
    const lease = await acquireLease(s3.s3, month, "publish", () => {}, { ttlMs: 60_000, waitMs: 100 });
    let out = "";
    const io = { stdout: { write: (t: string) => (out += t) }, stderr: { write: (t: string) => (out += t) } };
    expect(await verifyMain(["--break-lease", month], { ...process.env, ...s3.env }, io)).toBe(0);
    expect(out).toMatch(new RegExp(`^broke the lease of ${month} held by ${lease.holder} \\(publish, until \\S+\\)\n$`));
    expect(await getObjectText(s3.s3, month + LEASE_NAME)).toBeUndefined();
    out = "";
    expect(await verifyMain(["--break-lease", month], { ...process.env, ...s3.env }, io)).toBe(0);
    expect(out).toBe(`no lease on ${month}: nothing to break\n`);
    out = "";
    expect(await verifyMain(["--break-lease", scratch], { ...process.env, ...s3.env }, io)).toBe(64);
    expect(out).toBe("error: --break-lease takes one s3://bucket/prefix/ (the month or day whose lease to delete)\n");
    await lease.release(); // finds its lease gone: nothing to do
  });
});

describe("npm run verify -- DIR (a local copy)", () => {
  it("GIVEN an intact copy THEN OK; GIVEN a tampered, a missing, an extra file and a journal THEN one line each", async () => {
    const dir = await localCopy();
    expect(await verify(dir)).toEqual({ code: 0, lines: ["OK 3 files"] });
    await writeFile(path.join(dir, "a.csv"), "id\n9\n9\n");
    await unlink(path.join(dir, "b.csv"));
    await writeFile(path.join(dir, "extra.csv"), "x\n");
    await writeFile(path.join(dir, JOURNAL_NAME), "{}");
    const r = await verify(dir);
    expect(r.code).toBe(1);
    expect(r.lines).toEqual([
      expect.stringMatching(/_publishing\.json is present/),
      expect.stringMatching(/^a\.csv has sha256 /), // the copy is flat: its files beside its manifest
      "b.csv is listed in the manifest but missing",
      "extra.csv is not listed in the manifest",
    ]);
  });

  it("GIVEN a path that is neither THEN it exits 64", async () => {
    expect((await verify(path.join(scratch, "nope"))).code).toBe(64);
  });
});
