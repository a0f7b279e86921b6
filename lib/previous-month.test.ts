import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findPreviousPublishedMonth } from "./previous-month.ts";
import { putObjectText } from "./s3-objects.ts";
import { startTestS3, type TestS3 } from "./testing/s3rver.ts";

const BUCKET = "months";
let s3: TestS3;

beforeAll(async () => {
  s3 = await startTestS3({ buckets: [BUCKET] });
  const put = (key: string) => putObjectText(s3.s3, `s3://${BUCKET}/${key}`, "{}");
  await put("alps/2024-11/manifest.json");
  await put("alps/2024-11/lifts.parquet");
  await put("alps/2025-01/lifts.parquet"); // files, but no manifest: not published (withdrawn or never committed)
  await put("alps/2025-02/manifest.json");
  await put("alps/2025-03/manifest.json");
  await put("alps/notes/manifest.json"); // not a month
  await put("alpsx/2025-02/manifest.json"); // another region whose name starts the same
  await put("andorra/2025-01/manifest.json");
});
afterAll(async () => {
  await s3?.stop();
});

describe("findPreviousPublishedMonth", () => {
  it("returns the latest earlier month that has a manifest", async () => {
    expect(await findPreviousPublishedMonth(s3.s3, BUCKET, "alps", "2025-03")).toBe("2025-02");
    expect(await findPreviousPublishedMonth(s3.s3, BUCKET, "alps", "2025-04")).toBe("2025-03");
  });

  it("skips a month folder without manifest.json, and never returns the month itself", async () => {
    expect(await findPreviousPublishedMonth(s3.s3, BUCKET, "alps", "2025-02")).toBe("2024-11");
  });

  it("returns null for a region's first month and for an unknown region", async () => {
    expect(await findPreviousPublishedMonth(s3.s3, BUCKET, "alps", "2024-11")).toBeNull();
    expect(await findPreviousPublishedMonth(s3.s3, BUCKET, "iceland", "2025-03")).toBeNull();
    expect(await findPreviousPublishedMonth(s3.s3, BUCKET, "andorra", "2025-01")).toBeNull();
  });
});
