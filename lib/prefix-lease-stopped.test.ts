import { DeleteObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LEASE_NAME } from "./manifest.ts";
import { acquireLease, releaseLeaseOfStoppedWriter } from "./prefix-lease.ts";
import { getObjectText, putObjectText } from "./s3-objects.ts";
import { startTestS3, type TestS3 } from "./testing/s3rver.ts";

/**
 * After Ctrl-C the local run knows which step processes it killed: only a lease whose holder is one of them (this
 * host, that pid) is released early; any other lease is left to expire or to its live holder.
 */
const BUCKET = "stopped-lease-test";
const PREFIX = `s3://${BUCKET}/alps/2026-11/`;
let s3: TestS3;
beforeAll(async () => {
  s3 = await startTestS3({ buckets: [BUCKET] });
});
afterAll(async () => s3?.stop());

const quiet = () => {};

describe("releasing the lease of a stopped writer", () => {
  it("GIVEN a lease held by another pid WHEN released for a stopped pid THEN it stays; for its own pid THEN it goes", async () => {
    const lease = await acquireLease(s3.s3, PREFIX, "publish", quiet, { ttlMs: 60_000, waitMs: 100 });
    expect(await releaseLeaseOfStoppedWriter(s3.s3, PREFIX, process.pid + 1, quiet)).toBe(false);
    expect(JSON.parse((await getObjectText(s3.s3, PREFIX + LEASE_NAME))!).holder).toBe(lease.holder);

    const log: string[] = [];
    expect(await releaseLeaseOfStoppedWriter(s3.s3, PREFIX, process.pid, (m) => log.push(m))).toBe(true);
    expect(await getObjectText(s3.s3, PREFIX + LEASE_NAME)).toBeUndefined();
    expect(log).toEqual([`released the lease of ${PREFIX} held by the stopped step (${lease.holder})`]);
    await lease.release(); // its own release finds nothing to delete
  });

  it("GIVEN a lease of another host with the same pid, or no lease at all THEN nothing is released", async () => {
    await putObjectText(s3.s3, PREFIX + LEASE_NAME, JSON.stringify({ version: 1, holder: `publish:elsewhere:${process.pid}:x`, purpose: "publish" }));
    expect(await releaseLeaseOfStoppedWriter(s3.s3, PREFIX, process.pid, quiet)).toBe(false);
    expect(await getObjectText(s3.s3, PREFIX + LEASE_NAME)).toContain("elsewhere");
    await s3.s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: `alps/2026-11/${LEASE_NAME}` }));
    expect(await releaseLeaseOfStoppedWriter(s3.s3, PREFIX, process.pid, quiet)).toBe(false);
  });
});
