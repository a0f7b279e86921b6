import { GetObjectCommand, HeadObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyMain } from "../cli/verify.ts";
import { classifyError } from "../lib/classify-error.ts";
import { putObjectText } from "../lib/s3-objects.ts";
import { makeS3Client } from "../lib/s3.ts";
import { startTestS3, type TestS3 } from "../lib/testing/s3rver.ts";
import { startStalledS3, type StalledS3 } from "./s3-stall.ts";

/**
 * Every S3 call is bounded (lib/s3.ts): a connection that is accepted and never answered, or that sends headers
 * and half a body, fails with a TimeoutError after the SDK's retries, which the steps turn into exit 75. Before,
 * such a call hung until the state's timeout (issue 10, finding 2). The bounds below are "does not hang" limits.
 */
const BUCKET = "stall-test";
const FAST = { ATLAS_S3_CONNECT_TIMEOUT_MS: "1000", ATLAS_S3_REQUEST_TIMEOUT_MS: "1000", ATLAS_S3_IDLE_TIMEOUT_MS: "1000", ATLAS_S3_MAX_ATTEMPTS: "2" };
let s3: TestS3;
let silent: StalledS3;
let halfBody: StalledS3;

beforeAll(async () => {
  s3 = await startTestS3({ buckets: [BUCKET] });
  await putObjectText(s3.s3, `s3://${BUCKET}/m/manifest.json`, JSON.stringify({ files: [], pad: "x".repeat(4000) }));
  silent = await startStalledS3("silent");
  halfBody = await startStalledS3("half-body", s3.endpoint);
});
afterAll(async () => {
  await silent?.stop();
  await halfBody?.stop();
  await s3?.stop();
});

const client = (endpoint: string) => makeS3Client({ ...s3.env, ...FAST, AWS_ENDPOINT_URL_S3: endpoint });

describe("S3 calls against a stalled connection", () => {
  it("GIVEN a server that accepts and never answers WHEN a call is made THEN it times out, is retried by the SDK, and classifies as retryable (75)", async () => {
    const c = client(silent.endpoint);
    const err = await c.send(new HeadObjectCommand({ Bucket: BUCKET, Key: "m/manifest.json" })).catch((e: Error & { $metadata?: { attempts?: number } }) => e);
    c.destroy();
    expect((err as Error).name).toBe("TimeoutError");
    expect((err as { $metadata?: { attempts?: number } }).$metadata?.attempts).toBe(2);
    expect(classifyError(err, "publish").exitCode).toBe(75);
  }, 30_000);

  it("GIVEN a server that sends headers and half a body WHEN the body is read THEN it fails with a TimeoutError, retryable (75)", async () => {
    const c = client(halfBody.endpoint);
    const out = await c.send(new GetObjectCommand({ Bucket: BUCKET, Key: "m/manifest.json" }));
    expect(out.ContentLength).toBeGreaterThan(4000);
    const err = await out.Body!.transformToString().catch((e: Error) => e);
    c.destroy();
    expect((err as Error).name).toBe("TimeoutError");
    expect(classifyError(err, "extract").exitCode).toBe(75);
  }, 30_000);

  it("GIVEN a stalled S3 WHEN npm run verify runs THEN it exits 75 with one error line instead of hanging", async () => {
    for (const endpoint of [silent.endpoint, halfBody.endpoint]) {
      const stdout: string[] = [];
      const stderr: string[] = [];
      const code = await verifyMain([`s3://${BUCKET}/m/`], { ...process.env, ...s3.env, ...FAST, AWS_ENDPOINT_URL_S3: endpoint }, {
        stdout: { write: (t: string) => stdout.push(t) },
        stderr: { write: (t: string) => stderr.push(t) },
      });
      expect(code, endpoint).toBe(75);
      expect(stderr.join("").trim().split("\n")).toEqual([expect.stringMatching(/^error: cannot read s3:\/\/stall-test\/m\/: TimeoutError: .*\(retry later\)$/)]);
    }
  }, 60_000);

  it("GIVEN no timeout settings THEN the documented production defaults apply, and a bad setting is a usage error", async () => {
    const { s3Timeouts } = await import("../lib/s3.ts");
    expect(s3Timeouts({})).toEqual({ connectMs: 5_000, requestMs: 120_000, idleMs: 30_000 });
    expect(() => s3Timeouts({ ATLAS_S3_IDLE_TIMEOUT_MS: "soon" })).toThrow(/ATLAS_S3_IDLE_TIMEOUT_MS='soon' is not a number of milliseconds/);
  });
});
