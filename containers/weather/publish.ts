import type { S3Client } from "@aws-sdk/client-s3";
import { EXIT, StepError } from "../../lib/exit-codes.ts";
import { publishStaged } from "../../lib/publish-prefix.ts";
import type { Env, Log } from "../../lib/run-step.ts";
import { getObjectText, listObjects } from "../../lib/s3-objects.ts";
import { FILES, publishConfig, type PublishConfig } from "./config.ts";
import { tableRows } from "../../lib/duckdb.ts";
import type { IngestCounts } from "./records.ts";

/**
 * Step 3 (with lib/publish-prefix.ts's atomic protocol: the previous version of the day stays intact until the new
 * manifest commits, an interrupted publish is rolled back first): copies the staged files to PUBLISH_URI (`weather/{runId}/`) and writes `manifest.json` last: files with
 * sha256, bytes and rows, `counts` (in the Metrics function's run-summary log line), `metrics` (published by the metrics
 * function as named metrics: RecordsIngested; IngestionErrors, the lines that cannot be read, which the alarm
 * watches; QualityWarnings, the records kept with a quality flag; DuplicateLines) and the rejections and flags by
 * reason.
 */
export async function publish(env: Env, s3: S3Client, log: Log): Promise<Record<string, unknown>> {
  return runPublish(publishConfig(env), s3, log);
}

export async function runPublish(cfg: PublishConfig, s3: S3Client, log: Log, now = () => new Date()): Promise<Record<string, unknown>> {
  const staged = new Set((await listObjects(s3, cfg.stagingUri)).map((o) => o.name));
  const missing = [FILES.records, FILES.rejected, FILES.ingestSummary, FILES.stats, FILES.statsCsv].filter((n) => !staged.has(n));
  if (missing.length) throw new StepError(`STAGING_URI ${cfg.stagingUri} lacks ${missing.join(", ")}: run ingest and analyze first`, EXIT.NO_INPUT);
  const ingest = JSON.parse((await getObjectText(s3, cfg.stagingUri + FILES.ingestSummary)) ?? "{}") as IngestCounts & { sourceBytes?: number };

  const { manifest } = await publishStaged(s3, {
    stagingUri: cfg.stagingUri,
    publishUri: cfg.publishUri,
    crashAfterCopies: cfg.crashAfterCopies,
    pauseAfterCopies: cfg.pauseAfterCopies,
    rows: (path) => tableRows(path),
    log,
    manifest: (files) => ({
      workflow: "weather",
      runId: cfg.runId,
      source: { uri: cfg.sourceUri, files: ingest.files, bytes: ingest.sourceBytes },
      codeVersion: cfg.codeVersion,
      publishedAt: now().toISOString(),
      counts: {
        stations: ingest.stations,
        records: ingest.records,
        rejected_lines: ingest.rejected,
        flagged_records: ingest.flagged,
        station_years: files.find((f) => f.name === FILES.stats)?.rows ?? 0,
      },
      metrics: weatherMetrics(ingest),
      rejectedByReason: ingest.rejectedByReason,
      flaggedByReason: ingest.flaggedByReason,
    }),
  });
  return manifest;
}

/** The run's named metrics: only unreadable lines are errors (the alarm); flagged records are warnings (no alarm). */
export function weatherMetrics(
  c: Pick<IngestCounts, "records" | "unreadable" | "flagged"> & { rejectedByReason: Pick<IngestCounts["rejectedByReason"], "duplicate"> },
): Record<string, number> {
  return { RecordsIngested: c.records, IngestionErrors: c.unreadable, QualityWarnings: c.flagged, DuplicateLines: c.rejectedByReason.duplicate };
}

/** The names `weatherMetrics` reports: the series the Metrics function sends for weather (cost inventory, stack tests). */
export const WEATHER_METRIC_NAMES = Object.keys(weatherMetrics({ records: 0, unreadable: 0, flagged: 0, rejectedByReason: { duplicate: 0 } }));
