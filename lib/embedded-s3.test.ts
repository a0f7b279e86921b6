import { CopyObjectCommand, DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
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
const put = (Key: string, Body: string, condition: { IfNoneMatch?: string; IfMatch?: string } = {}) =>
  s3.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key, Body, ...condition }));
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
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    for (const r of results.filter((x) => x.status !== 200)) {
      expect([
        { status: 412, name: "PreconditionFailed" },
        { status: 409, name: "ConditionalRequestConflict" },
      ]).toContainEqual(r);
    }
    const winner = results.findIndex((r) => r.status === 200);
    expect(await read("d/lease.json")).toBe(`writer ${winner}`);
  });
});
