import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import { hostname, tmpdir } from "node:os";
import * as path from "node:path";
import { createInterface } from "node:readline";
import { CopyObjectCommand, DeleteObjectCommand, GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeS3Client } from "./s3.ts";
import { startTestS3, type TestS3 } from "./testing/s3rver.ts";

/**
 * The embedded S3 answers conditional writes as Amazon S3 does (S3 User Guide: "How to prevent object overwrites
 * with conditional writes", "How to perform conditional deletes"): the same HTTP status and error code, seen
 * through the same SDK the steps use. s3rver alone would accept every one of these writes.
 */
const BUCKET = "conditional-test";
let s3: TestS3;
beforeAll(async () => {
  s3 = await startTestS3({ buckets: [BUCKET] });
});
afterAll(async () => s3?.stop());

const failure = (p: Promise<unknown>) =>
  p.then(
    () => ({ status: 200, name: "ok" }),
    (e: { name: string; $metadata?: { httpStatusCode?: number } }) => ({ status: e.$metadata?.httpStatusCode, name: e.name }),
  );
const put = (Key: string, Body: string, condition: { IfNoneMatch?: string; IfMatch?: string } = {}, client: S3Client = s3.s3) =>
  client.send(new PutObjectCommand({ Bucket: BUCKET, Key, Body, ...condition }));
/** Exactly one create won; every other one got 412, or S3's 409 for an overlapping conditional write. Its index. */
function oneWinner(results: { status?: number; name: string }[], what = ""): number {
  expect(results.filter((r) => r.status === 200), `${what}${JSON.stringify(results)}`).toHaveLength(1);
  for (const r of results.filter((x) => x.status !== 200)) {
    expect([
      { status: 412, name: "PreconditionFailed" },
      { status: 409, name: "ConditionalRequestConflict" },
    ]).toContainEqual(r);
  }
  return results.findIndex((r) => r.status === 200);
}
const read = async (Key: string) => (await s3.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key }))).Body!.transformToString();

describe("the embedded S3's conditional writes", () => {
  it("GIVEN an existing key WHEN PutObject If-None-Match:* THEN 412 PreconditionFailed and the object is unchanged; a new key is created", async () => {
    const created = await put("a/lease.json", "first", { IfNoneMatch: "*" });
    expect(created.ETag).toMatch(/^".+"$/);
    expect(await failure(put("a/lease.json", "second", { IfNoneMatch: "*" }))).toEqual({ status: 412, name: "PreconditionFailed" });
    expect(await read("a/lease.json")).toBe("first");
  });

  it("GIVEN an object WHEN PutObject If-Match THEN only its current ETag writes: 412 on another, 404 NoSuchKey when there is no object", async () => {
    const { ETag: first } = await put("b/lease.json", "one");
    const { ETag: second } = await put("b/lease.json", "two", { IfMatch: first });
    expect(second).not.toBe(first);
    expect(await failure(put("b/lease.json", "three", { IfMatch: first }))).toEqual({ status: 412, name: "PreconditionFailed" });
    expect(await read("b/lease.json")).toBe("two");
    expect(await failure(put("b/missing.json", "x", { IfMatch: first }))).toEqual({ status: 404, name: "NoSuchKey" });
  });

  it("GIVEN an object WHEN DeleteObject If-Match THEN only its current ETag deletes (412 otherwise), and CopyObject honours If-None-Match", async () => {
    const { ETag: old } = await put("c/lease.json", "one");
    const { ETag: now } = await put("c/lease.json", "two");
    const del = (IfMatch: string | undefined) => s3.s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: "c/lease.json", IfMatch }));
    expect(await failure(del(old))).toEqual({ status: 412, name: "PreconditionFailed" });
    expect(await read("c/lease.json")).toBe("two");
    expect(await failure(del(now))).toEqual({ status: 200, name: "ok" });
    expect(await failure(read("c/lease.json"))).toEqual({ status: 404, name: "NoSuchKey" });
    await put("c/src", "src");
    await put("c/dst", "dst");
    const copy = s3.s3.send(new CopyObjectCommand({ Bucket: BUCKET, Key: "c/dst", CopySource: `${BUCKET}/c/src`, IfNoneMatch: "*" }));
    expect(await failure(copy)).toEqual({ status: 412, name: "PreconditionFailed" });
    expect(await read("c/dst")).toBe("dst");
  });

  it("GIVEN many writers racing to create one key with If-None-Match:* THEN exactly one wins; the others get 412 or S3's 409 ConditionalRequestConflict", async () => {
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => failure(put("d/lease.json", `writer ${i}`, { IfNoneMatch: "*" }))));
    const winner = oneWinner(results);
    expect(await read("d/lease.json")).toBe(`writer ${winner}`);
  });
});

describe("the embedded S3's answers to a malformed key", () => {
  it("GIVEN a PUT (conditional or not) whose key has a malformed percent-escape THEN 400 InvalidURI, as S3 answers, not a 500", async () => {
    const raw = (headers: Record<string, string>) =>
      new Promise<{ status?: number; body: string }>((resolve, reject) => {
        const req = http.request(`${s3.endpoint}/${BUCKET}/bad%zzkey`, { method: "PUT", headers }, (res) => {
          let body = "";
          res.setEncoding("utf8").on("data", (d: string) => (body += d));
          res.on("end", () => resolve({ status: res.statusCode, body }));
        });
        req.on("error", reject);
        req.end("x");
      });
    const cases: Record<string, string>[] = [{ "if-none-match": "*" }, { "if-match": '"abc"' }, {}];
    for (const headers of cases) {
      const answer = await raw(headers);
      expect(answer.status, JSON.stringify(headers)).toBe(400);
      expect(answer.body).toContain("<Code>InvalidURI</Code>");
    }
  });
});

/**
 * Two embedded S3 servers, each in its own process, on one data folder (two local runs at once): a conditional
 * write must be atomic across them, as it is on S3, so that a lease is granted once.
 */
describe("two embedded S3 servers on one data folder", () => {
  let folder: string;
  const servers: ChildProcess[] = [];
  const clients: S3Client[] = [];

  beforeAll(async () => {
    folder = await mkdtemp(path.join(tmpdir(), "embedded-s3-shared-"));
    for (let i = 0; i < 2; i++) {
      const child = spawn(process.execPath, ["--import", "tsx", "lib/testing/s3-server-child.ts", folder, BUCKET], {
        cwd: path.join(import.meta.dirname, ".."),
        stdio: ["ignore", "pipe", "inherit"],
      });
      servers.push(child);
      const endpoint = await new Promise<string>((resolve) => createInterface({ input: child.stdout! }).once("line", resolve));
      clients.push(makeS3Client({ ...s3.env, AWS_ENDPOINT_URL_S3: endpoint, ATLAS_S3_MAX_ATTEMPTS: "1" }));
    }
  }, 60_000);
  afterAll(async () => {
    for (const c of clients) c.destroy();
    await Promise.all(servers.map((child) => new Promise((resolve) => (child.once("exit", resolve), child.kill("SIGTERM")))));
    await rm(folder, { recursive: true, force: true });
  });

  it("GIVEN 20 simultaneous If-None-Match:* creates of one key through both servers, 10 times over THEN each key is created exactly once; the others get 412 or 409", async () => {
    for (let round = 0; round < 10; round++) {
      const key = `shared/${round}/lease.json`;
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => failure(put(key, `writer ${i}`, { IfNoneMatch: "*" }, clients[i % 2]))));
      const winner = oneWinner(results, `round ${round}: `);
      const got = await clients[1 - (winner % 2)].send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
      expect(await got.Body!.transformToString()).toBe(`writer ${winner}`);
    }
  }, 60_000);

  it("GIVEN a lock file left by a server killed mid-write (its process gone) THEN the next write of that key breaks it and succeeds", async () => {
    const dead = spawn(process.execPath, ["-e", ""]);
    const deadPid = await new Promise<number>((resolve) => dead.once("exit", () => resolve(dead.pid!)));
    await mkdir(path.join(folder, BUCKET, "stale"), { recursive: true });
    await writeFile(path.join(folder, BUCKET, "stale", "lease.json._S3rver_lock"), JSON.stringify({ pid: deadPid, host: hostname(), token: "t", conditional: true }));
    expect(await failure(put("stale/lease.json", "after", { IfNoneMatch: "*" }, clients[0]))).toEqual({ status: 200, name: "ok" });
  });
});
