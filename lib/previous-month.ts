import { ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { MANIFEST_NAME } from "./manifest.ts";
import { headObject } from "./s3-objects.ts";

/** A published month's folder name. */
const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;

/**
 * The latest month before `period` (`YYYY-MM`) that `region` has published under `s3://{bucket}/{region}/`, i.e.
 * whose `manifest.json` (the commit marker, lib/manifest.ts) is there, or null when there is none. A month folder
 * without a manifest (withdrawn mid-publish, or never committed) does not count.
 */
export async function findPreviousPublishedMonth(s3: S3Client, bucket: string, region: string, period: string): Promise<string | null> {
  const prefix = `${region}/`;
  const months: string[] = [];
  let token: string | undefined;
  do {
    const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, Delimiter: "/", ContinuationToken: token }));
    for (const p of out.CommonPrefixes ?? []) {
      const month = p.Prefix?.slice(prefix.length, -1);
      if (month && MONTH.test(month) && month < period) months.push(month);
    }
    token = out.IsTruncated ? out.NextContinuationToken : undefined;
  } while (token);
  months.sort().reverse();
  for (const month of months) {
    if (await headObject(s3, `s3://${bucket}/${prefix}${month}/${MANIFEST_NAME}`)) return month;
  }
  return null;
}
