import type { S3Client } from "@aws-sdk/client-s3";
import { EXIT, StepError } from "../../lib/exit-codes.ts";
import { MANIFEST_NAME } from "../../lib/manifest.ts";
import { findPreviousPublishedMonth } from "../../lib/previous-month.ts";
import { getObjectText } from "../../lib/s3-objects.ts";
import { parseS3Uri } from "../../lib/s3.ts";
import type { Logger } from "./log.ts";

/**
 * The shrink guard (issue 10, finding 4): a month whose lifts, pistes or kilometres fall below this share of the
 * region's previous published month, or to zero, is not published. OSM data grows slowly; halving in a month means
 * a truncated or wrong source far more often than real closures. A real drop is published with the execution
 * input's `"allowShrink": true` (Plan passes it to publish as ALLOW_SHRINK).
 */
export const MIN_SHARE_OF_PREVIOUS = 0.5;

/** What is compared: counts always; lengths when both months recorded them (manifests before `lengths_km` did not). */
export interface MonthMeasures {
  lifts: number;
  pistes: number;
  lengths_km?: { lifts: number; pistes: number };
}

/** One phrase per measure that shrank too far; empty when the month may be published. */
export function shrinkProblems(current: MonthMeasures, previous: MonthMeasures, minShare = MIN_SHARE_OF_PREVIOUS): string[] {
  const measures: [string, number, number | undefined][] = [
    ["lifts", current.lifts, previous.lifts],
    ["pistes", current.pistes, previous.pistes],
    ["lift km", current.lengths_km?.lifts ?? NaN, previous.lengths_km?.lifts],
    ["piste km", current.lengths_km?.pistes ?? NaN, previous.lengths_km?.pistes],
  ];
  const problems: string[] = [];
  for (const [name, now, before] of measures) {
    if (before === undefined || !Number.isFinite(before) || before <= 0 || !Number.isFinite(now)) continue;
    if (now === 0 || now < before * minShare) problems.push(`${name} ${now} (was ${before})`);
  }
  return problems;
}

/** The measures a ski-atlas manifest recorded, or undefined when it is not one this code can read. */
export function measuresOfManifest(text: string): MonthMeasures | undefined {
  try {
    const m = JSON.parse(text) as { counts?: Record<string, unknown>; lengths_km?: Record<string, unknown> };
    const lifts = m.counts?.lifts;
    const pistes = m.counts?.pistes;
    if (typeof lifts !== "number" || typeof pistes !== "number") return undefined;
    const l = m.lengths_km;
    const lengths = typeof l?.lifts === "number" && typeof l?.pistes === "number" ? { lifts: l.lifts, pistes: l.pistes } : undefined;
    return { lifts, pistes, ...(lengths ? { lengths_km: lengths } : {}) };
  } catch {
    return undefined;
  }
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
 */
export async function checkShrink(s3: S3Client, c: ShrinkCheck, current: MonthMeasures, log: Logger): Promise<void> {
  const { bucket } = parseS3Uri(c.publishUri);
  const previousMonth = await findPreviousPublishedMonth(s3, bucket, c.region, c.period);
  if (previousMonth === null) {
    log(`shrink guard: no earlier month of ${c.region} is published: nothing to compare with`);
    return;
  }
  const text = await getObjectText(s3, `s3://${bucket}/${c.region}/${previousMonth}/${MANIFEST_NAME}`);
  const previous = text === undefined ? undefined : measuresOfManifest(text);
  if (!previous) {
    log(`shrink guard: ${c.region}/${previousMonth}/${MANIFEST_NAME} has no lift and piste counts: nothing to compare with`);
    return;
  }
  const problems = shrinkProblems(current, previous);
  if (problems.length === 0) {
    log(`shrink guard: lifts ${current.lifts}, pistes ${current.pistes} against ${previousMonth}'s ${previous.lifts}, ${previous.pistes}: ok`);
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
