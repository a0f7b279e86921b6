import { HeadObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { MANIFEST_NAME } from "./manifest.ts";
import { isNotFound } from "./s3-objects.ts";

const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;

/**
 * The latest month `YYYY-MM` before `period` that `region` has published, i.e. whose `{region}/{YYYY-MM}/` holds a
 * `manifest.json` (the commit marker: a month without it was never published, or is being republished); null when
 * there is none. Lists the region's month prefixes (one ListObjectsV2 with a delimiter, all pages), then HEADs
 * manifests from the latest down.
 */
export async function findPreviousPublishedMonth(s3: S3Client, bucket: string, region: string, period: string): Promise<string | null> {
  const prefix = `${region}/`;
  const months: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, Delimiter: "/", ContinuationToken: token }));
    for (const p of page.CommonPrefixes ?? []) {
      const month = p.Prefix?.slice(prefix.length, -1) ?? "";
      if (MONTH.test(month) && month < period) months.push(month);
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  for (const month of months.sort().reverse()) {
    try {
      await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: `${prefix}${month}/${MANIFEST_NAME}` }));
      return month;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
  return null;
}
