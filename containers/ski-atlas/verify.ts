import type { S3Client } from "@aws-sdk/client-s3";
import type { PublishedManifest } from "../../lib/manifest.ts";
import { s3Prefix, verifyPublished } from "../../lib/verify-prefix.ts";

const COUNTED: Record<string, "ski_areas" | "lifts" | "pistes" | "osm_near_winter_sports"> = {
  "ski_areas.parquet": "ski_areas",
  "lifts.parquet": "lifts",
  "pistes.parquet": "pistes",
  "osm_near_winter_sports.parquet": "osm_near_winter_sports",
};

/**
 * Checks a published month against its manifest (lib/verify-prefix.ts: no publish journal, every listed file
 * present with the listed bytes and sha256, no other data file), and that the counts match the listed row counts.
 * Returns the problems found, one sentence each (empty = the month is intact).
 */
export async function verifyPublishedMonth(s3: S3Client, publishUri: string): Promise<string[]> {
  const { problems, manifest } = await verifyPublished(s3Prefix(s3, publishUri));
  return manifest ? [...problems, ...countProblems(manifest)] : problems;
}

/** The ski-atlas manifest's `counts` against the row counts of its files. */
export function countProblems(manifest: PublishedManifest): string[] {
  const counts = manifest.counts as Record<string, number> | undefined;
  const problems: string[] = [];
  for (const [fileName, key] of Object.entries(COUNTED)) {
    const f = manifest.files.find((x) => x.name === fileName);
    if (f && f.rows !== undefined && counts?.[key] !== f.rows) {
      problems.push(`counts.${key} is ${counts?.[key]} but ${fileName} has ${f.rows} rows`);
    }
  }
  return problems;
}
