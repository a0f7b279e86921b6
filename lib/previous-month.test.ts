import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findPreviousPublishedMonth } from "./previous-month.ts";
import { putObjectText } from "./s3-objects.ts";
import { startTestS3, type TestS3 } from "./testing/s3rver.ts";

const BUCKET = "previous-month-test";
let s3: TestS3;
beforeAll(async () => {
  s3 = await startTestS3({ buckets: [BUCKET] });
  const put = (key: string) => putObjectText(s3.s3, `s3://${BUCKET}/${key}`, "{}");
  await put("alps/2026-08/manifest.json");
  await put("alps/2026-09/lifts.parquet"); // no manifest: never committed (or being republished)
  await put("alps/2026-10/manifest.json");
  await put("alps/2026-12/manifest.json"); // later than the period asked about
  await put("alps/not-a-month/manifest.json");
  await put("alpsish/2026-10/manifest.json"); // another region sharing a name prefix
});
afterAll(async () => s3?.stop());

describe("findPreviousPublishedMonth", () => {
  it("GIVEN months with and without a manifest THEN it returns the latest earlier month that has one, else null", async () => {
    expect(await findPreviousPublishedMonth(s3.s3, BUCKET, "alps", "2026-11")).toBe("2026-10");
    expect(await findPreviousPublishedMonth(s3.s3, BUCKET, "alps", "2026-10")).toBe("2026-08");
    expect(await findPreviousPublishedMonth(s3.s3, BUCKET, "alps", "2027-01")).toBe("2026-12");
    expect(await findPreviousPublishedMonth(s3.s3, BUCKET, "alps", "2026-08")).toBeNull();
    expect(await findPreviousPublishedMonth(s3.s3, BUCKET, "nowhere", "2026-11")).toBeNull();
  });
});
