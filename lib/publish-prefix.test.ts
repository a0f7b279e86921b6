import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StepError } from "./exit-codes.ts";
import { JOURNAL_NAME, LEASE_NAME, MANIFEST_NAME } from "./manifest.ts";
import { crashAfterCopies, publishStaged, rollbackInterruptedPublish, type PublishJournal } from "./publish-prefix.ts";
import { getObjectText, listObjects, putObjectText } from "./s3-objects.ts";
import { makeS3Client, parseS3Uri } from "./s3.ts";
import { startTestS3, type TestS3 } from "./testing/s3rver.ts";
import { s3Prefix, verifyPublished } from "./verify-prefix.ts";

const BUCKET = "publish-test";
const V1 = `s3://${BUCKET}/staging/run-1/out/`;
const V2 = `s3://${BUCKET}/staging/run-2/out/`;
let s3: TestS3;
/** A short lease: a lease left by an injected failure of its release expires within the test. */
const LEASE = { ttlMs: 3_000, waitMs: 20_000 };

/** Staged runs: v2 changes a.csv, keeps b.csv, drops c.json and adds d.csv. "_" files never get published. */
const STAGED = {
  [V1]: { "a.csv": "id\n1\n2\n", "b.csv": "id\n7\n", "c.json": '{"c":1}\n', "_summary.json": "{}" },
  [V2]: { "a.csv": "id\n1\n2\n3\n", "b.csv": "id\n7\n", "d.csv": "id\n9\n", "_summary.json": "{}" },
};

beforeAll(async () => {
  s3 = await startTestS3({ buckets: [BUCKET] });
  for (const [uri, files] of Object.entries(STAGED)) {
    for (const [name, body] of Object.entries(files)) await putObjectText(s3.s3, uri + name, body, "text/csv");
  }
});
afterAll(async () => s3?.stop());

function publish(client: S3Client, stagingUri: string, publishUri: string, log: string[] = []) {
  return publishStaged(client, {
    stagingUri,
    publishUri,
    log: (m) => log.push(m),
    rows: async (path, name) => (name.endsWith(".csv") ? (await readFile(path, "utf8")).trim().split("\n").length - 1 : undefined),
    manifest: () => ({ workflow: "test", publishedAt: new Date().toISOString() }),
    lease: LEASE,
  });
}

/** name → sha256 and content type of every object under the prefix: "byte-identical" means equal snapshots. */
async function snapshot(prefix: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const { bucket } = parseS3Uri(prefix);
  for (const o of await listObjects(s3.s3, prefix)) {
    const got = await s3.s3.send(new GetObjectCommand({ Bucket: bucket, Key: o.key }));
    const bytes = await got.Body!.transformToByteArray();
    out[o.name] = `${createHash("sha256").update(bytes).digest("hex")} ${got.ContentType}`;
  }
  return out;
}

type Op = { command: string; key: string };

/** A client that records its writes, and fails the `failAt`-th one (1-based) the way S3 fails: with a 500.
 * Lease writes are neither counted nor failed: these tests are about the journal (the lease has its own). */
function client(options: { failAt?: number; ops?: Op[] } = {}): S3Client {
  const c = makeS3Client({ ...s3.env, ATLAS_S3_MAX_ATTEMPTS: "1" });
  let n = 0;
  c.middlewareStack.add(
    (next, context) => async (args) => {
      const command = (context as { commandName?: string }).commandName ?? "";
      const key = (args.input as { Key?: string }).Key ?? "";
      if (/^(Put|Copy|Delete)Object/.test(command) && !key.endsWith(`/${LEASE_NAME}`)) {
        n += 1;
        options.ops?.push({ command, key: (args.input as { Key: string }).Key });
        if (n === options.failAt) throw Object.assign(new Error("injected"), { name: "InternalError", $metadata: { httpStatusCode: 500 } });
      }
      return next(args);
    },
    { step: "initialize", name: "recordAndFail" },
  );
  return c;
}

let prefixes = 0;
/** A fresh prefix that holds a complete v1. */
async function publishedV1(): Promise<string> {
  const uri = `s3://${BUCKET}/month-${++prefixes}/`;
  await publish(s3.s3, V1, uri);
  return uri;
}

describe("publishStaged (the shared, atomic publish)", () => {
  it("GIVEN a published prefix WHEN the same files are published again THEN nothing is copied and only the manifest is rewritten", async () => {
    const uri = await publishedV1();
    const ops: Op[] = [];
    const c = client({ ops });
    const log: string[] = [];
    const result = await publish(c, V1, uri, log);
    c.destroy();
    expect(result.copied).toEqual([]);
    expect(ops).toEqual([{ command: "PutObjectCommand", key: parseS3Uri(uri).key + MANIFEST_NAME }]);
    expect(log.join("\n")).toContain("3 file(s) already published with the same sha256");
    expect((await verifyPublished(s3Prefix(s3.s3, uri))).problems).toEqual([]);
  });

  it("GIVEN a published prefix WHEN changed files are published THEN backup and journal come before any change, the manifest commits, and the journal and backup go", async () => {
    const uri = await publishedV1();
    const key = parseS3Uri(uri).key;
    const ops: Op[] = [];
    const c = client({ ops });
    const result = await publish(c, V2, uri);
    c.destroy();
    expect(result.copied.sort()).toEqual(["a.csv", "d.csv"]);
    expect(result.removed).toEqual(["c.json"]);
    const journalAt = ops.findIndex((o) => o.key === key + JOURNAL_NAME);
    const firstChange = ops.findIndex((o) => o.key.startsWith(key) && o.key !== key + JOURNAL_NAME);
    expect(ops.slice(0, journalAt).every((o) => o.command === "CopyObjectCommand" && o.key.includes("_publish-backup/"))).toBe(true);
    expect(ops.slice(0, journalAt).map((o) => o.key.split("/").pop()).sort()).toEqual(["a.csv", "c.json", MANIFEST_NAME]);
    expect(journalAt).toBeLessThan(firstChange);
    expect(ops[firstChange]).toEqual({ command: "DeleteObjectCommand", key: key + MANIFEST_NAME });
    const commit = ops.findIndex((o) => o.command === "PutObjectCommand" && o.key === key + MANIFEST_NAME);
    expect(ops[commit + 1]).toEqual({ command: "DeleteObjectCommand", key: key + JOURNAL_NAME });
    expect(Object.keys(await snapshot(uri)).sort()).toEqual(["a.csv", "b.csv", "d.csv", MANIFEST_NAME]);
    expect((await verifyPublished(s3Prefix(s3.s3, uri))).problems).toEqual([]);
    expect(await listObjects(s3.s3, V2 + "_publish-backup/")).toEqual([]);
  });

  it("GIVEN a failure at every single write of a changing publish WHEN recovered THEN the prefix is the previous version byte for byte, or the new one once committed", async () => {
    // The writes of one changing publish, to know where the commit is.
    const reference: Op[] = [];
    const ref = await publishedV1();
    const c0 = client({ ops: reference });
    await publish(c0, V2, ref);
    c0.destroy();
    const v2 = await snapshot(ref);
    const commitAt = reference.findIndex((o) => o.command === "PutObjectCommand" && o.key.endsWith(`/${MANIFEST_NAME}`)) + 1;
    expect(reference.length).toBeGreaterThan(10);

    for (let failAt = 1; failAt <= reference.length; failAt++) {
      const uri = await publishedV1();
      const v1 = await snapshot(uri);
      const c = client({ failAt });
      const outcome = await publish(c, V2, uri).then(() => "ok", (e: Error) => e.name);
      c.destroy();
      // Backups are dropped best effort: a failure there does not fail a committed publish.
      expect(outcome, `failure at write ${failAt}`).toBe(failAt > commitAt + 1 ? "ok" : "InternalError");
      await rollbackInterruptedPublish(s3.s3, uri, () => {}, { lease: LEASE });
      const after = await snapshot(uri);
      const strip = (s: Record<string, string>) => ({ ...s, [MANIFEST_NAME]: "" }); // v2's manifest has its own publishedAt
      if (failAt <= commitAt) expect(after, `failure at write ${failAt}: back to v1`).toEqual(v1);
      else expect(strip(after), `failure at write ${failAt}: v2 committed`).toEqual(strip(v2));
      expect((await verifyPublished(s3Prefix(s3.s3, uri))).problems, `failure at write ${failAt}`).toEqual([]);
    }
  });

  it("GIVEN an interrupted publish WHEN the rollback itself fails at any write THEN running it again still restores the previous version", async () => {
    for (let failAt = 1; ; failAt++) {
      const uri = await publishedV1();
      const v1 = await snapshot(uri);
      const c = client({ failAt: 7 }); // mid-copy: the journal is written, the manifest withdrawn, a.csv replaced
      await expect(publish(c, V2, uri)).rejects.toThrow("injected");
      c.destroy();
      const r = client({ failAt });
      const first = await rollbackInterruptedPublish(r, uri, () => {}, { lease: LEASE }).then(() => "ok", (e: Error) => e.name);
      r.destroy();
      expect(await rollbackInterruptedPublish(s3.s3, uri, () => {}, { lease: LEASE })).toBe(first === "ok" ? "none" : "rolled-back");
      expect(await snapshot(uri), `rollback failing at write ${failAt}`).toEqual(v1);
      if (first === "ok") break;
    }
  });

  it("GIVEN a first-time publish interrupted after a copy WHEN rolled back THEN the prefix is empty", async () => {
    const uri = `s3://${BUCKET}/first-time/`;
    const ops: Op[] = [];
    const c = client({ ops, failAt: 3 }); // journal, a.csv, then b.csv fails
    await expect(publish(c, V1, uri)).rejects.toThrow("injected");
    c.destroy();
    expect(Object.keys(await snapshot(uri)).sort()).toEqual([JOURNAL_NAME, "a.csv"]);
    expect((await verifyPublished(s3Prefix(s3.s3, uri))).problems.join("\n")).toMatch(/_publishing.json is present[\s\S]*manifest.json is missing/);
    expect(await rollbackInterruptedPublish(s3.s3, uri, () => {}, { lease: LEASE })).toBe("rolled-back");
    expect(await listObjects(s3.s3, uri)).toEqual([]);
  });

  it("GIVEN a journal whose publish had written its manifest WHEN recovered THEN the new version stays and only the journal goes", async () => {
    const uri = await publishedV1();
    const c = client({ failAt: 10 }); // 3 backups, journal, withdraw, 2 copies, 1 delete, manifest: the journal delete fails
    await expect(publish(c, V2, uri)).rejects.toThrow("injected");
    c.destroy();
    const before = await snapshot(uri);
    expect(before[JOURNAL_NAME]).toBeDefined();
    const log: string[] = [];
    expect(await rollbackInterruptedPublish(s3.s3, uri, (m) => log.push(m), { lease: LEASE })).toBe("committed");
    const { [JOURNAL_NAME]: _journal, ...rest } = before;
    expect(await snapshot(uri)).toEqual(rest);
    expect(log.join("\n")).toMatch(/had committed/);
  });

  it("GIVEN an interrupted publish WHEN the next publish starts THEN it rolls back first, then publishes completely", async () => {
    const uri = await publishedV1();
    const c = client({ failAt: 8 });
    await expect(publish(c, V2, uri)).rejects.toThrow("injected");
    c.destroy();
    const log: string[] = [];
    await publish(s3.s3, V2, uri, log);
    expect(log[0]).toMatch(/^rolling back the interrupted publish/);
    expect(Object.keys(await snapshot(uri)).sort()).toEqual(["a.csv", "b.csv", "d.csv", MANIFEST_NAME]);
    expect((await verifyPublished(s3Prefix(s3.s3, uri))).problems).toEqual([]);
  });

  it("GIVEN a journal whose backup is gone, or an unreadable journal, WHEN recovered THEN it stops with a one-line reason and keeps the journal", async () => {
    const uri = await publishedV1();
    const c = client({ failAt: 8 });
    await expect(publish(c, V2, uri)).rejects.toThrow("injected");
    c.destroy();
    const journal = JSON.parse((await getObjectText(s3.s3, uri + JOURNAL_NAME))!) as PublishJournal;
    await putObjectText(s3.s3, uri + JOURNAL_NAME, JSON.stringify({ ...journal, backupUri: `s3://${BUCKET}/nowhere/` }));
    const gone = await rollbackInterruptedPublish(s3.s3, uri, () => {}, { lease: LEASE }).catch((e: StepError) => e);
    expect(gone).toBeInstanceOf(StepError);
    expect((gone as StepError).exitCode).toBe(66);
    expect((gone as StepError).message).toMatch(/backup .* is gone/);
    const { bucket, key } = parseS3Uri(uri + JOURNAL_NAME);
    await s3.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: "not json" }));
    const bad = await rollbackInterruptedPublish(s3.s3, uri, () => {}, { lease: LEASE }).catch((e: StepError) => e);
    expect((bad as StepError).exitCode).toBe(65);
    expect(await getObjectText(s3.s3, uri + JOURNAL_NAME)).toBe("not json");
  });
});

describe("crashAfterCopies (the local crash hook's setting)", () => {
  it("GIVEN ATLAS_FAULT_CRASH_AFTER_COPIES THEN it is honoured only in local runs, and must be a count", () => {
    expect(crashAfterCopies({ ATLAS_FAULT_CRASH_AFTER_COPIES: "2" })).toBeUndefined();
    expect(crashAfterCopies({ ATLAS_FAULT_CRASH_AFTER_COPIES: "2", ATLAS_LOCAL: "1" })).toBe(2);
    expect(crashAfterCopies({ ATLAS_LOCAL: "1" })).toBeUndefined();
    expect(() => crashAfterCopies({ ATLAS_FAULT_CRASH_AFTER_COPIES: "two", ATLAS_LOCAL: "1" })).toThrow(/not a count/);
  });
});
