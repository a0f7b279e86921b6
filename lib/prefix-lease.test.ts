import { DeleteObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StepError } from "./exit-codes.ts";
import { LEASE_NAME } from "./manifest.ts";
import { acquireLease, breakLease, LEASE_DEFAULTS, leaseSettings, MAX_CLOCK_SKEW_MS, releaseLeaseOfStoppedWriter } from "./prefix-lease.ts";
import { getObjectText, putObjectText } from "./s3-objects.ts";
import { startTestS3, type TestS3 } from "./testing/s3rver.ts";

/** The lease against the embedded S3, which enforces S3's conditional writes (lib/embedded-s3.test.ts). */
const BUCKET = "lease-test";
const PREFIX = `s3://${BUCKET}/alps/2026-11/`;
let s3: TestS3;
beforeAll(async () => {
  s3 = await startTestS3({ buckets: [BUCKET] });
});
afterAll(async () => s3?.stop());

const quiet = () => {};

describe("the prefix lease", () => {
  it("GIVEN a held lease WHEN another writer asks past its wait THEN exit 75 names the holder; after release it is free", async () => {
    const a = await acquireLease(s3.s3, PREFIX, "publish", quiet, { ttlMs: 60_000, waitMs: 100 });
    const refused = await acquireLease(s3.s3, PREFIX, "publish", quiet, { ttlMs: 60_000, waitMs: 100 }).catch((e: StepError) => e);
    expect(refused).toBeInstanceOf(StepError);
    expect((refused as StepError).exitCode).toBe(75);
    expect((refused as StepError).message).toContain(a.holder);
    await a.release();
    expect(await getObjectText(s3.s3, PREFIX + LEASE_NAME)).toBeUndefined();
    const b = await acquireLease(s3.s3, PREFIX, "publish", quiet, { ttlMs: 60_000, waitMs: 100 });
    await b.release();
  });

  it("GIVEN an expired lease WHEN another writer takes it over THEN the old holder's next check fails with 75 and its release leaves the new lease alone", async () => {
    const a = await acquireLease(s3.s3, PREFIX, "publish", quiet, { ttlMs: 600, waitMs: 100 });
    // As if A had stopped renewing: its lease object says it expired.
    const body = JSON.parse((await getObjectText(s3.s3, PREFIX + LEASE_NAME))!);
    await putObjectText(s3.s3, PREFIX + LEASE_NAME, JSON.stringify({ ...body, expiresAt: new Date(Date.now() - 1).toISOString() }));
    const log: string[] = [];
    const b = await acquireLease(s3.s3, PREFIX, "publish", (m) => log.push(m), { ttlMs: 60_000, waitMs: 100 });
    expect(log.join("\n")).toMatch(/took over the lease .* from publish:/);
    await new Promise((resolve) => setTimeout(resolve, 250)); // past a third of A's TTL: its next check renews
    const err = await a.ensureHeld().catch((e: StepError) => e);
    expect(err).toBeInstanceOf(StepError);
    expect((err as StepError).exitCode).toBe(75);
    expect((err as StepError).message).toMatch(/^lost the lease of s3:\/\/lease-test\/alps\/2026-11\/ \(.*\): stopped before changing it further; retry$/);
    await a.release();
    expect(JSON.parse((await getObjectText(s3.s3, PREFIX + LEASE_NAME))!).holder).toBe(b.holder);
    await b.release();
    expect(await getObjectText(s3.s3, PREFIX + LEASE_NAME)).toBeUndefined();
  });

  it("GIVEN a lease whose expiry is further ahead than its TTL + the clock skew allowance (year 9999) WHEN a writer asks THEN it is treated as broken, with one line saying so, and taken over", async () => {
    const future = { version: 1, holder: "publish:ahead:1:x", purpose: "publish", acquiredAt: "9999-12-31T23:58:00.000Z", expiresAt: "9999-12-31T23:59:59.000Z" };
    await putObjectText(s3.s3, PREFIX + LEASE_NAME, JSON.stringify(future));
    const log: string[] = [];
    const lease = await acquireLease(s3.s3, PREFIX, "publish", (m) => log.push(m), { ttlMs: 60_000, waitMs: 100 });
    expect(log[0]).toBe(
      `the lease of ${PREFIX} by publish:ahead:1:x expires 9999-12-31T23:59:59.000Z, further ahead than its TTL (60 s) + ${MAX_CLOCK_SKEW_MS / 1000} s ` +
        "of clock skew: treated as broken (written by a clock that ran ahead?)",
    );
    expect(log[1]).toMatch(/^took over the lease .* from publish:ahead:1:x, broken 9999-/);
    expect(JSON.parse((await getObjectText(s3.s3, PREFIX + LEASE_NAME))!).holder).toBe(lease.holder);
    await lease.release();
  });

  it("GIVEN a lease whose expiry is ahead, but within its TTL + the allowance (a live writer on a clock somewhat ahead) THEN it is waited for, not broken", async () => {
    const ahead = new Date(Date.now() + 60_000 + MAX_CLOCK_SKEW_MS - 5_000).toISOString();
    await putObjectText(s3.s3, PREFIX + LEASE_NAME, JSON.stringify({ version: 1, holder: "publish:ahead:2:y", purpose: "publish", acquiredAt: ahead, expiresAt: ahead }));
    const refused = await acquireLease(s3.s3, PREFIX, "publish", quiet, { ttlMs: 60_000, waitMs: 100 }).catch((e: StepError) => e);
    expect((refused as StepError).exitCode).toBe(75);
    expect(await breakLease(s3.s3, PREFIX)).toBe(`broke the lease of ${PREFIX} held by publish:ahead:2:y (publish, until ${ahead})`);
    expect(await getObjectText(s3.s3, PREFIX + LEASE_NAME)).toBeUndefined();
    expect(await breakLease(s3.s3, PREFIX)).toBe(`no lease on ${PREFIX}: nothing to break`);
  });

  it("GIVEN no settings THEN the documented defaults apply; a bad one is a usage error", () => {
    expect(leaseSettings({})).toEqual({ ttlMs: LEASE_DEFAULTS.ttlMs, waitMs: LEASE_DEFAULTS.waitMs });
    expect(leaseSettings({ ATLAS_LEASE_TTL_MS: "1500" }).ttlMs).toBe(1500);
    expect(() => leaseSettings({ ATLAS_LEASE_WAIT_MS: "-1" })).toThrow(/ATLAS_LEASE_WAIT_MS='-1' is not a number of milliseconds/);
  });
});

/**
 * After Ctrl-C the local run knows which step processes it killed: only a lease whose holder is one of them (this
 * host, that pid) is released early; any other lease is left to expire or to its live holder.
 */
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
