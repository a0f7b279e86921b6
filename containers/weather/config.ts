import { EXIT, StepError } from "../../lib/exit-codes.ts";
import { crashAfterCopies, pauseAfterCopies } from "../../lib/publish-prefix.ts";
import { requiredEnv, uriEnv, type Env } from "../../lib/run-step.ts";

/** Every environment variable the weather steps read is read here (contract: containers/weather/README.md). */
export interface WeatherRun {
  runId: string;
  /** `s3://…/staging/weather/{runId}/`: ingest writes, analyze reads and writes, publish reads. */
  stagingUri: string;
  /** ATLAS_LOCAL=1: run by the local engine (file:// sources allowed). */
  local: boolean;
}

export interface IngestConfig extends WeatherRun {
  /** `s3://bucket/prefix/` (or `file:///dir/` locally): one `<station>.txt` per station. */
  sourceUri: string;
  /** At most this many rejected lines are listed in rejected_lines.csv (all are counted). */
  rejectSample: number;
}

export interface PublishConfig extends WeatherRun {
  sourceUri: string;
  publishUri: string;
  codeVersion: string;
  /** Local fault injection only (ATLAS_FAULT_CRASH_AFTER_COPIES with ATLAS_LOCAL=1): die after n copies. */
  crashAfterCopies?: number;
  /** Local fault injection only (ATLAS_FAULT_PAUSE_AFTER_COPIES with ATLAS_LOCAL=1): pause after n copies. */
  pauseAfterCopies?: number;
}

export function runConfig(env: Env, step: string): WeatherRun {
  const runId = requiredEnv(env, "RUN_ID", step);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(runId)) throw new StepError(`RUN_ID='${runId}' is not a date: use YYYY-MM-DD`, EXIT.USAGE);
  const local = env.ATLAS_LOCAL === "1";
  return { runId, local, stagingUri: uriEnv(env, "STAGING_URI", step, { prefix: true }) };
}

export function ingestConfig(env: Env): IngestConfig {
  const run = runConfig(env, "ingest");
  const sample = Number(env.WEATHER_REJECT_SAMPLE ?? 10_000);
  if (!Number.isInteger(sample) || sample < 0) throw new StepError(`WEATHER_REJECT_SAMPLE='${env.WEATHER_REJECT_SAMPLE}' is not a count`, EXIT.USAGE);
  return { ...run, sourceUri: uriEnv(env, "SOURCE_URI", "ingest", { prefix: true, allowFile: run.local }), rejectSample: sample };
}

export function publishConfig(env: Env): PublishConfig {
  const run = runConfig(env, "publish");
  return {
    ...run,
    sourceUri: uriEnv(env, "SOURCE_URI", "publish", { prefix: true, allowFile: run.local }),
    publishUri: uriEnv(env, "PUBLISH_URI", "publish", { prefix: true }),
    codeVersion: env.CODE_VERSION?.trim() || "unknown",
    crashAfterCopies: crashAfterCopies(env),
    pauseAfterCopies: pauseAfterCopies(env),
  };
}

/** Files written to STAGING_URI; names starting with "_" stay in staging. */
export const FILES = {
  records: "weather_records.parquet",
  stats: "weather_stats.parquet",
  statsCsv: "weather_stats.csv",
  rejected: "rejected_lines.csv",
  ingestSummary: "_ingest.json",
} as const;
