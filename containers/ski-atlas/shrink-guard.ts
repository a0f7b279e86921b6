import type { S3Client } from "@aws-sdk/client-s3";
import { EXIT, StepError } from "../../lib/exit-codes.ts";
import { MANIFEST_NAME } from "../../lib/manifest.ts";
import { findPreviousPublishedMonth } from "../../lib/previous-month.ts";
import { getObjectText } from "../../lib/s3-objects.ts";
import { parseS3Uri } from "../../lib/s3.ts";
import type { Logger } from "./log.ts";

/**
 * The shrink guard (issue 10, finding 4; issue 21, item 5): a month in which any measure below falls under this share
 * of the region's previous published month, or to zero, is not published. OSM data grows slowly; halving in a month
 * means a truncated or wrong source far more often than real closures. A real drop is published with the execution
 * input's `"allowShrink": true` (Plan passes it to publish as ALLOW_SHRINK).
 */
export const MIN_SHARE_OF_PREVIOUS = 0.5;

/**
 * What is compared: the manifest's four counts always (every ski-atlas manifest has had them); lengths when both
 * months recorded them (manifests before `lengths_km` did not).
 */
export interface MonthMeasures {
  ski_areas: number;
  lifts: number;
  pistes: number;
  /** `osm_near_winter_sports` rows: the POIs near the ski areas. */
  pois: number;
  lengths_km?: { lifts: number; pistes: number };
}

/** Each measure the guard compares, with why it is one. */
const MEASURES: { name: string; of: (m: MonthMeasures) => number | undefined }[] = [
  // The main table (ski_areas.parquet and ski_areas_analyzed.csv): what every reader of the month starts from. Ski
  // areas are few and change rarely, so losing half of them, or all, is a broken source, not a season's news.
  { name: "ski areas", of: (m) => m.ski_areas },
  // Lifts and pistes: the ways the areas are measured by; a truncated extract loses them first.
  { name: "lifts", of: (m) => m.lifts },
  { name: "pistes", of: (m) => m.pistes },
  // The POIs (osm_near_winter_sports): hundreds of nodes near the areas (huts, rentals, hotels); they come from the
  // same extract and are published with the month, so a month that lost them is as broken as one that lost lifts.
  { name: "POIs", of: (m) => m.pois },
  // Lengths: the counts can hold while the ways themselves are cut short (a source clipped to a smaller area).
  { name: "lift km", of: (m) => m.lengths_km?.lifts },
  { name: "piste km", of: (m) => m.lengths_km?.pistes },
];

/** One phrase per measure that shrank too far; empty when the month may be published. */
export function shrinkProblems(current: MonthMeasures, previous: MonthMeasures, minShare = MIN_SHARE_OF_PREVIOUS): string[] {
  const problems: string[] = [];
  for (const { name, of } of MEASURES) {
    const now = of(current);
    const before = of(previous);
    // A measure only one month recorded, or one that was zero before, cannot shrink.
    if (before === undefined || now === undefined || !Number.isFinite(before) || before <= 0 || !Number.isFinite(now)) continue;
    if (now === 0 || now < before * minShare) problems.push(`${name} ${now} (was ${before})`);
  }
  return problems;
}

/** The measures a ski-atlas manifest recorded, or what keeps it from being read as one. */
export function measuresOfManifest(text: string): { measures: MonthMeasures } | { problem: string } {
  let m: { counts?: Record<string, unknown>; lengths_km?: Record<string, unknown> } | null;
  try {
    m = JSON.parse(text) as typeof m;
  } catch (err) {
    return { problem: `is not JSON (${(err as Error).message.split("\n")[0]})` };
  }
  if (typeof m !== "object" || m === null || Array.isArray(m)) return { problem: "is not a JSON object" };
  const count = (name: string) => {
    const v = m.counts?.[name];
    return typeof v === "number" && Number.isInteger(v) && v >= 0 ? v : undefined;
  };
  const counts = { ski_areas: count("ski_areas"), lifts: count("lifts"), pistes: count("pistes"), pois: count("osm_near_winter_sports") };
  const bad = Object.entries({ ski_areas: counts.ski_areas, lifts: counts.lifts, pistes: counts.pistes, osm_near_winter_sports: counts.pois })
    .filter(([, v]) => v === undefined)
    .map(([k]) => `counts.${k}`);
  if (bad.length) return { problem: `has no count ${bad.join(", ")} (a whole number ≥ 0)` };
  const l = m.lengths_km;
  const km = (v: unknown) => typeof v === "number" && Number.isFinite(v) && v >= 0;
  const lengths = km(l?.lifts) && km(l?.pistes) ? { lifts: l!.lifts as number, pistes: l!.pistes as number } : undefined;
  return { measures: { ...(counts as Omit<MonthMeasures, "lengths_km">), ...(lengths ? { lengths_km: lengths } : {}) } };
}

export interface ShrinkCheck {
  publishUri: string;
  region: string;
  period: string;
  allowShrink: boolean;
}

/**
 * Compares this month with the region's previous published month (lib/previous-month.ts); throws exit 65 with one
 * line naming each shrunk measure unless `allowShrink`. The first month of a region has nothing to compare with.
 * A previous month that is published but whose manifest cannot be read as one fails closed (the guard cannot tell
 * whether this month shrank): exit 65 when it is corrupt (retrying cannot help), 75 when it went away between
 * listing and reading (a publish of that month under way: a retry may find it); `allowShrink` overrides.
 */
export async function checkShrink(s3: S3Client, c: ShrinkCheck, current: MonthMeasures, log: Logger): Promise<void> {
  const { bucket } = parseS3Uri(c.publishUri);
  const previousMonth = await findPreviousPublishedMonth(s3, bucket, c.region, c.period);
  if (previousMonth === null) {
    log(`shrink guard: no earlier month of ${c.region} is published: nothing to compare with`);
    return;
  }
  const manifestUri = `s3://${bucket}/${c.region}/${previousMonth}/${MANIFEST_NAME}`;
  const text = await getObjectText(s3, manifestUri);
  const read = text === undefined ? undefined : measuresOfManifest(text);
  if (read === undefined || "problem" in read) {
    const what = `the previous month's ${manifestUri} ${read?.problem ?? "went away while being read"}: this month cannot be compared with it`;
    if (c.allowShrink) {
      log(`shrink guard: ${what}; publishing anyway (allowShrink)`);
      return;
    }
    throw new StepError(
      `shrink guard: ${what}; not published. Repair or withdraw ${previousMonth}, or run again with "allowShrink": true in the input`,
      read ? EXIT.DATA_ERROR : EXIT.TEMP_FAIL,
    );
  }
  const previous = read.measures;
  const problems = shrinkProblems(current, previous);
  if (problems.length === 0) {
    log(
      `shrink guard: ski areas ${current.ski_areas}, lifts ${current.lifts}, pistes ${current.pistes}, POIs ${current.pois} against ` +
        `${previousMonth}'s ${previous.ski_areas}, ${previous.lifts}, ${previous.pistes}, ${previous.pois}: ok`,
    );
    return;
  }
  const what = `${c.region}/${c.period} shrank below ${MIN_SHARE_OF_PREVIOUS * 100}% of ${previousMonth}: ${problems.join(", ")}`;
  if (c.allowShrink) {
    log(`shrink guard: ${what}; publishing anyway (allowShrink)`);
    return;
  }
  throw new StepError(
    `shrink guard: ${what}; not published (a truncated or wrong source?). If the drop is real, run again with "allowShrink": true in the input`,
    EXIT.DATA_ERROR,
  );
}
