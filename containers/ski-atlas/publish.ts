import type { S3Client } from "@aws-sdk/client-s3";
import { tableRows } from "../../lib/duckdb.ts";
import { EXIT, StepError } from "../../lib/exit-codes.ts";
import { isPublishable } from "../../lib/manifest.ts";
import { publishStaged } from "../../lib/publish-prefix.ts";
import { getObjectText, headObject, listObjects } from "../../lib/s3-objects.ts";
import type { PublishConfig } from "./config.ts";
import type { Logger } from "./log.ts";
import { stageChanges } from "./changes.ts";
import { manifestSource, type Manifest } from "./manifest.ts";
import { OUTPUT_FILES, SUMMARY_FILE, type Summary } from "./outputs.ts";
import { checkShrink, type MonthMeasures } from "./shrink-guard.ts";
import { fromMetadata } from "./source-version.ts";

/**
 * Step 4: checks that staging holds every output file and that RAW_URI carries the source's version, that the month
 * does not shrink against the region's previous published month (shrink-guard.ts; ALLOW_SHRINK overrides), then
 * publishes with the shared, atomic protocol of lib/publish-prefix.ts (an interrupted earlier publish is rolled
 * back first; unchanged files are not copied again; the previous month stays intact until manifest.json, written
 * last, commits the new one).
 */
export async function runPublish(cfg: PublishConfig, s3: S3Client, log: Logger, now = () => new Date()): Promise<Manifest> {
  const staged = new Set((await listObjects(s3, cfg.stagingUri)).filter((o) => isPublishable(o.name)).map((o) => o.name));
  const missing = Object.values(OUTPUT_FILES).filter((n) => !staged.has(n));
  if (missing.length > 0) {
    throw new StepError(`STAGING_URI ${cfg.stagingUri} lacks ${missing.join(", ")}: run the analyze step first`, EXIT.NO_INPUT);
  }

  const raw = await headObject(s3, cfg.rawUri);
  const source = fromMetadata(raw?.Metadata);
  if (!raw || !source) {
    throw new StepError(`RAW_URI ${cfg.rawUri} ${raw ? "has no source metadata" : "does not exist"}: run the download step first`, EXIT.NO_INPUT);
  }

  const summaryText = await getObjectText(s3, cfg.stagingUri + SUMMARY_FILE);
  if (summaryText === undefined) throw new StepError(`STAGING_URI ${cfg.stagingUri} lacks ${SUMMARY_FILE}: run the analyze step first`, EXIT.NO_INPUT);
  const summary = JSON.parse(summaryText) as Summary;
  const lengths = { lifts: summary.lift_length_km, pistes: Math.round((summary.downhill_km + summary.nordic_km) * 1000) / 1000 };
  const { counts } = summary;
  const measures: MonthMeasures = { ski_areas: counts.ski_areas, lifts: counts.lifts, pistes: counts.pistes, pois: counts.osm_near_winter_sports, lengths_km: lengths };
  await checkShrink(s3, { publishUri: cfg.publishUri, region: cfg.region, period: cfg.period, allowShrink: cfg.allowShrink === true }, measures, log);

  // changes.csv joins the staged files, so it is published (and listed in the manifest) with them, atomically.
  const previousPeriod = await stageChanges(s3, cfg, log);

  const { manifest } = await publishStaged(s3, {
    stagingUri: cfg.stagingUri,
    publishUri: cfg.publishUri,
    log,
    crashAfterCopies: cfg.crashAfterCopies,
    pauseAfterCopies: cfg.pauseAfterCopies,
    lease: cfg.lease,
    rows: (path) => tableRows(path),
    manifest(files): Omit<Manifest, "files"> {
      const rows = (name: string) => files.find((f) => f.name === name)?.rows ?? 0;
      return {
        workflow: "ski-atlas",
        region: cfg.region,
        period: cfg.period,
        runId: cfg.runId,
        source: manifestSource(source),
        codeVersion: cfg.codeVersion,
        publishedAt: now().toISOString(),
        previousPeriod,
        counts: {
          ski_areas: rows(OUTPUT_FILES.skiAreas),
          lifts: rows(OUTPUT_FILES.lifts),
          pistes: rows(OUTPUT_FILES.pistes),
          osm_near_winter_sports: rows(OUTPUT_FILES.pois),
        },
        lengths_km: lengths,
      };
    },
  });
  return manifest as unknown as Manifest;
}
