import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StepError } from "./exit-codes.ts";
import { JOURNAL_NAME, LEASE_NAME, MANIFEST_NAME, VERSIONS_DIR } from "./manifest.ts";
import { crashAfterCopies, publishStaged } from "./publish-prefix.ts";
import { readCommitted } from "./published.ts";
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

/** What a reader of the prefix gets: file name → sha256 and content type of the committed version's files. */
async function seen(prefix: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const v = await readCommitted(s3.s3, prefix);
  if (!v) return out;
  for (const f of v.manifest.files) {
    const { bucket, key } = parseS3Uri(v.uri(f.name));
    const got = await s3.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    out[f.name] = `${createHash("sha256").update(await got.Body!.transformToByteArray()).digest("hex")} ${got.ContentType}`;
  }
  return out;
}

type Op = { command: string; key: string };

/** A client that records its writes, and fails the `failAt`-th one (1-based) the way S3 fails: with a 500.
 * Lease writes are neither counted nor failed: these tests are about the publish (the lease has its own). */
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

const names = async (uri: string) => (await listObjects(s3.s3, uri)).map((o) => o.name);

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

  it("GIVEN a published prefix WHEN changed files are published THEN they go to a version folder of their own, the manifest's one conditional write commits them, and the replaced version goes after", async () => {
    const uri = await publishedV1();
    const key = parseS3Uri(uri).key;
    const old = (await readCommitted(s3.s3, uri))!;
    const ops: Op[] = [];
    const c = client({ ops });
    const result = await publish(c, V2, uri);
    c.destroy();
    const now = (await readCommitted(s3.s3, uri))!;
    expect(now.manifest.dataPrefix).toMatch(/^versions\/\d{8}T\d{6}Z-[0-9a-f]{8}\/$/);
    expect(now.manifest.dataPrefix).not.toBe(old.manifest.dataPrefix);
    expect(result.copied.sort()).toEqual(["a.csv", "b.csv", "d.csv"]);
    const commit = ops.findIndex((o) => o.key === key + MANIFEST_NAME);
    expect(ops.slice(0, commit).every((o) => o.command === "CopyObjectCommand" && o.key.startsWith(key + now.manifest.dataPrefix!))).toBe(true);
    expect(ops.slice(commit + 1).every((o) => o.command === "DeleteObjectCommand" && o.key.startsWith(key + old.manifest.dataPrefix!))).toBe(true);
    expect(result.removed.sort()).toEqual(["a.csv", "b.csv", "c.json"].map((n) => old.manifest.dataPrefix + n));
    expect((await names(uri)).sort()).toEqual([MANIFEST_NAME, ...["a.csv", "b.csv", "d.csv"].map((n) => now.manifest.dataPrefix + n)]);
    expect((await verifyPublished(s3Prefix(s3.s3, uri))).problems).toEqual([]);
  });

  it("GIVEN a failure at every single write of a changing publish THEN readers see v1 whole until the commit and v2 whole after it, with nothing left to undo", async () => {
    const reference: Op[] = [];
    const ref = await publishedV1();
    const c0 = client({ ops: reference });
    await publish(c0, V2, ref);
    c0.destroy();
    const v2 = await seen(ref);
    const commitAt = reference.findIndex((o) => o.key.endsWith(`/${MANIFEST_NAME}`)) + 1;
    expect(commitAt).toBe(4); // 3 copies, then the manifest

    for (let failAt = 1; failAt <= reference.length; failAt++) {
      const uri = await publishedV1();
      const v1 = await seen(uri);
      const c = client({ failAt });
      const outcome = await publish(c, V2, uri).then(() => "ok", (e: Error) => e.name);
      c.destroy();
      // The replaced version is removed best effort: a failure there does not fail a committed publish.
      expect(outcome, `failure at write ${failAt}`).toBe(failAt > commitAt ? "ok" : "InternalError");
      expect(await seen(uri), `failure at write ${failAt}`).toEqual(failAt <= commitAt ? v1 : v2);
      expect((await verifyPublished(s3Prefix(s3.s3, uri))).problems, `failure at write ${failAt}`).toEqual([]);
      // The next publish (the same v2) leaves only the committed version.
      await publish(s3.s3, V2, uri);
      expect(await seen(uri)).toEqual(v2);
      const dataPrefix = (await readCommitted(s3.s3, uri))!.manifest.dataPrefix!;
      expect((await names(uri)).filter((n) => n !== MANIFEST_NAME).every((n) => n.startsWith(dataPrefix)), `failure at write ${failAt}: leftovers removed`).toBe(true);
    }
  });

  it("GIVEN a first-time publish that fails after a copy THEN nothing is published, and it leaves nothing behind", async () => {
    const uri = `s3://${BUCKET}/first-time/`;
    const c = client({ failAt: 3 }); // a.csv, b.csv copied, c.json fails
    await expect(publish(c, V1, uri)).rejects.toThrow("injected");
    c.destroy();
    expect(await readCommitted(s3.s3, uri)).toBeUndefined();
    expect((await verifyPublished(s3Prefix(s3.s3, uri))).problems).toEqual([`${uri}${MANIFEST_NAME} is missing: nothing is published here (or publish did not finish)`]);
    // It removed its own copies on the way out; a crash would have left them, for the next publish to remove.
    expect((await names(uri)).filter((n) => n.startsWith(VERSIONS_DIR))).toEqual([]);
  });

  it("GIVEN a month published by the protocol before versions (files beside the manifest, a journal left) WHEN published again THEN the new version is committed in a folder and the old files and the journal go", async () => {
    const uri = `s3://${BUCKET}/legacy/`;
    const { bucket, key } = parseS3Uri(uri);
    for (const [name, body] of Object.entries(STAGED[V1])) if (!name.startsWith("_")) await putObjectText(s3.s3, uri + name, body, "text/csv");
    const files = await Promise.all(
      ["a.csv", "b.csv", "c.json"].map(async (name) => ({ name, sha256: createHash("sha256").update(STAGED[V1][name as "a.csv"]).digest("hex"), bytes: Buffer.byteLength(STAGED[V1][name as "a.csv"]) })),
    );
    await putObjectText(s3.s3, uri + MANIFEST_NAME, JSON.stringify({ workflow: "test", files }));
    expect((await verifyPublished(s3Prefix(s3.s3, uri))).problems).toEqual([]);
    await s3.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key + JOURNAL_NAME, Body: "{}" }));
    expect((await verifyPublished(s3Prefix(s3.s3, uri))).problems).toEqual([expect.stringMatching(/_publishing\.json is present: a publish by an earlier version of this code/)]);
    await publish(s3.s3, V1, uri);
    const v = (await readCommitted(s3.s3, uri))!;
    expect((await names(uri)).sort()).toEqual([MANIFEST_NAME, ...files.map((f) => v.manifest.dataPrefix + f.name)]);
    expect((await verifyPublished(s3Prefix(s3.s3, uri))).problems).toEqual([]);
  });

  it("GIVEN an unreadable manifest WHEN published THEN it is replaced by a whole new version", async () => {
    const uri = await publishedV1();
    const { bucket, key } = parseS3Uri(uri + MANIFEST_NAME);
    await s3.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: "not json" }));
    const log: string[] = [];
    await publish(s3.s3, V2, uri, log);
    expect(log.join("\n")).toMatch(/manifest.json is not a valid manifest .*: replacing it/);
    expect(Object.keys(await seen(uri)).sort()).toEqual(["a.csv", "b.csv", "d.csv"]);
    expect((await verifyPublished(s3Prefix(s3.s3, uri))).problems).toEqual([]);
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
