import { EXIT, StepError } from "../../lib/exit-codes.ts";
import { leaseSettings, type LeaseSettings } from "../../lib/prefix-lease.ts";
import { crashAfterCopies, pauseAfterCopies } from "../../lib/publish-prefix.ts";
import { parseS3Uri } from "../../lib/s3.ts";

/** Every environment variable the ski-atlas steps read is read here (contract: docs/ARCHITECTURE.md). */

const STEPS = ["download", "extract", "analyze", "publish"] as const;
type StepName = (typeof STEPS)[number];

export interface RunConfig {
  region: string;
  period: string;
  runId: string;
  /** ATLAS_LOCAL=1: run by the local engine (allows file:// sources). */
  local: boolean;
}

export interface DownloadConfig extends RunConfig {
  step: "download";
  sourceUrl: string;
  rawUri: string;
  /** Tunables (not part of the contract; tests shorten them). */
  attempts: number;
  retryDelayMs: number;
  idleTimeoutMs: number;
  progressEveryMs: number;
}

export interface ExtractConfig extends RunConfig {
  step: "extract";
  rawUri: string;
  extractUri: string;
}

export interface AnalyzeConfig extends RunConfig {
  step: "analyze";
  extractUri: string;
  stagingUri: string;
}

export interface PublishConfig extends RunConfig {
  step: "publish";
  rawUri: string;
  stagingUri: string;
  publishUri: string;
  codeVersion: string;
  /** Local fault injection only (ATLAS_FAULT_CRASH_AFTER_COPIES with ATLAS_LOCAL=1): die after n copies. */
  crashAfterCopies?: number;
  /** ALLOW_SHRINK=true (the input's `"allowShrink": true`, passed by Plan): publish past the shrink guard. */
  allowShrink?: boolean;
  /** Local fault injection only (ATLAS_FAULT_PAUSE_AFTER_COPIES with ATLAS_LOCAL=1): pause after n copies. */
  pauseAfterCopies?: number;
  /** The prefix lease's timing (ATLAS_LEASE_TTL_MS, ATLAS_LEASE_WAIT_MS; lib/prefix-lease.ts); default from process.env. */
  lease?: LeaseSettings;
}

export type StepConfig = DownloadConfig | ExtractConfig | AnalyzeConfig | PublishConfig;

type Env = Record<string, string | undefined>;

function required(env: Env, name: string, step: string): string {
  const value = env[name]?.trim();
  if (!value) throw new StepError(`${name} is not set: the ${step} step needs it (see docs/ARCHITECTURE.md)`, EXIT.USAGE);
  return value;
}

function s3(env: Env, name: string, step: string, prefix = false): string {
  let value = required(env, name, step);
  try {
    parseS3Uri(value);
  } catch {
    throw new StepError(`${name}='${value}' is not an S3 URI: use s3://bucket/key`, EXIT.USAGE);
  }
  if (prefix && !value.endsWith("/")) value += "/";
  return value;
}

function int(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new StepError(`${name}='${raw}' is not a non-negative number`, EXIT.USAGE);
  return n;
}

export function readConfig(step: string | undefined, env: Env): StepConfig {
  if (!step || !(STEPS as readonly string[]).includes(step)) {
    throw new StepError(`unknown step '${step ?? ""}': use one of ${STEPS.join(", ")}`, EXIT.USAGE);
  }
  const period = required(env, "PERIOD", step);
  if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(period)) {
    throw new StepError(`PERIOD='${period}' is not a month: use YYYY-MM`, EXIT.USAGE);
  }
  const run: RunConfig = {
    region: required(env, "REGION", step),
    period,
    runId: required(env, "RUN_ID", step),
    local: env.ATLAS_LOCAL === "1",
  };
  switch (step as StepName) {
    case "download":
      return {
        ...run,
        step: "download",
        sourceUrl: required(env, "SOURCE_URL", step),
        rawUri: s3(env, "RAW_URI", step),
        attempts: Math.max(1, int(env, "ATLAS_DOWNLOAD_ATTEMPTS", 4)),
        retryDelayMs: int(env, "ATLAS_DOWNLOAD_RETRY_MS", 2000),
        idleTimeoutMs: int(env, "ATLAS_DOWNLOAD_IDLE_MS", 60_000),
        progressEveryMs: int(env, "ATLAS_PROGRESS_MS", 5000),
      };
    case "extract":
      return { ...run, step: "extract", rawUri: s3(env, "RAW_URI", step), extractUri: s3(env, "EXTRACT_URI", step) };
    case "analyze":
      return {
        ...run,
        step: "analyze",
        extractUri: s3(env, "EXTRACT_URI", step),
        stagingUri: s3(env, "STAGING_URI", step, true),
      };
    case "publish":
      return {
        ...run,
        step: "publish",
        rawUri: s3(env, "RAW_URI", step),
        stagingUri: s3(env, "STAGING_URI", step, true),
        publishUri: s3(env, "PUBLISH_URI", step, true),
        codeVersion: env.CODE_VERSION?.trim() || "unknown",
        crashAfterCopies: crashAfterCopies(env),
        pauseAfterCopies: pauseAfterCopies(env),
        lease: leaseSettings(env),
        allowShrink: booleanEnv(env, "ALLOW_SHRINK", step),
      };
  }
}

/** "true" / "false" (absent: false), as Step Functions passes Plan's `allowShrink`. */
function booleanEnv(env: Env, name: string, step: string): boolean {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === "" || raw === "false") return false;
  if (raw === "true") return true;
  throw new StepError(`${name}='${raw}' is not true or false: the ${step} step needs a boolean`, EXIT.USAGE);
}
