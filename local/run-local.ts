import { randomUUID } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { attemptName, latestAttempt } from "../lib/attempts.ts";
import { startEmbeddedS3, type EmbeddedS3 } from "../lib/embedded-s3.ts";
import { LOCAL_EXECUTIONS_DIR_VARIABLE, type ExecutionHistory } from "../lib/execution-history.ts";
import { ACCOUNT_DIR_ENV, cliAccountDir, executionsDirOf } from "../lib/local-account.ts";
import { s3RequestClass, type RunCostEstimate } from "../lib/aws-pricing.ts";
import { PROJECT_ROOT } from "../lib/project-root.ts";
import { copyCommitted } from "../lib/published.ts";
import { codeVersion } from "../lib/code-version.ts";
import { makeS3Client, parseS3Uri, s3Settings } from "../lib/s3.ts";
import { resolvedDefinitions } from "../stacks/resolve-asl.ts";
import { LocalEngine, type ExecutionResult, type StateRecord } from "./engine.ts";
import type { Fault } from "./faults.ts";
import type { ProgressEvent } from "../run-model/progress-events.ts";
import { createRunDir, RUNS_ROOT, type RunRecord } from "../run-records/record.ts";
import { RunRecorder } from "./run-recorder.ts";
import { digestOf, failedItemsOf, outcomeLine, runOutcome } from "../run-model/outcome.ts";
import { offlineHint } from "./offline-hint.ts";
import { workflowByName } from "../workflows/index.ts";

export const REPO_ROOT = PROJECT_ROOT;
import { LOCAL_BUCKET } from "../workflows/config.ts";
export { LOCAL_BUCKET };
export { ACCOUNT_DIR_ENV };
/** How long an injected S3 outage lasts. */
export const S3_OUTAGE_MS = 1500;

export interface LocalRunOptions {
  workflow: string;
  input: Record<string, unknown>;
  /** The execution name (default: `{region}-{period}` when both are given, else a timestamp). */
  name?: string;
  /** Default: a new folder under `.data/runs/`. */
  runDir?: string;
  /**
   * The local stand-in for an AWS account: the bucket's data (`s3/`) and the execution names (`executions/`),
   * kept across runs as AWS keeps them. Default: `.data/` (or `$ATLAS_ACCOUNT_DIR`) for a run without `runDir` (the
   * CLI), else `runDir`.
   */
  accountDir?: string;
  /** Reuse an embedded S3 directory, e.g. to run the same month twice against the same "bucket". */
  s3Directory?: string;
  faults?: Fault[];
  retryWaitMs?: number;
  timeoutOverrides?: Record<string, number>;
  onEvent?: (event: ProgressEvent) => void;
  /** Copy the published month to `<outDir>/{region}/{period}/`. */
  outDir?: string;
  /** Extra variables for every step and helper (e.g. short S3 timeouts in tests). */
  env?: Record<string, string>;
  /** Called once the run has its id and folder, before anything runs (the CLI's Ctrl-C handling and --ui). */
  onRecorder?: (recorder: RunRecorder) => void;
}

export interface RunSummary {
  status: string;
  workflow: string;
  execution: string;
  duration_ms: number;
  error?: string;
  states: Pick<StateRecord, "execution" | "name" | "type" | "status" | "attempts" | "duration_ms" | "tier" | "peak_rss_bytes">[];
  counts?: Record<string, number>;
  escalations?: unknown;
  outputs: { bucket: string; keys: string[]; copiedTo?: string };
  /** What the run would cost on AWS, in parts (lib/aws-pricing.ts); the same as the run record's. */
  estimated_cost: RunCostEstimate;
  /** The Fargate part of `estimated_cost`. */
  estimated_fargate_cost_usd: number;
  run_dir: string;
}

export interface LocalRun {
  result: ExecutionResult;
  summary: RunSummary;
  engine: LocalEngine;
  runDir: string;
  /** The embedded S3 server, still running, for tests to inspect. Call `stop()` when done. */
  s3: EmbeddedS3;
  env: Record<string, string>;
  /** The run record (`run.json` in the run folder; docs/RUN_RECORD.md). */
  record: RunRecord;
  stop(): Promise<void>;
}

/**
 * One offline run: an embedded S3 server, the resolved definitions, the local engine, and a summary of what
 * happened. The CLI and the end-to-end tests both go through here.
 */
export async function runLocal(options: LocalRunOptions): Promise<LocalRun> {
  // The S3 client's timeouts and attempts set in this shell (ATLAS_S3_*), checked before a run folder exists: every
  // step and helper gets them, as each would from its task definition or function configuration.
  const s3Env = s3Settings(process.env);
  // Each run its own folder, even when two start in the same second.
  const { id, runDir } = options.runDir
    ? { id: path.basename(options.runDir), runDir: options.runDir }
    : await createRunDir(RUNS_ROOT, options.workflow);
  await mkdir(runDir, { recursive: true });
  const accountDir = options.accountDir ?? options.runDir ?? cliAccountDir();
  const s3Directory = options.s3Directory ?? path.join(accountDir, "s3");
  const executionsDir = executionsDirOf(accountDir);
  const definitions = await resolvedDefinitions();
  const recorder = new RunRecorder({ id, runDir, definitions });
  options.onRecorder?.(recorder);
  // The run's own S3 requests, for its cost estimate: counted while the engine runs, so that copying the
  // published files out afterwards (which a run on AWS does not do) is left out.
  const s3Requests = { write: 0, read: 0 };
  let countingS3 = false;
  const onRequest = ({ method, path: urlPath, query }: { method: string; path: string; query: Record<string, unknown> }) => {
    if (!countingS3) return;
    const kind = s3RequestClass(method, /^\/[^/]+\/(.+)$/.exec(urlPath)?.[1] ?? "", query);
    if (kind !== "free") s3Requests[kind] += 1;
  };
  let s3 = await startEmbeddedS3({ directory: s3Directory, buckets: [LOCAL_BUCKET], onRequest });
  let restarting: Promise<void> = Promise.resolve();
  const port = s3.port;

  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? runDir,
    TMPDIR: process.env.TMPDIR ?? "/tmp",
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    AWS_ACCESS_KEY_ID: "S3RVER",
    AWS_SECRET_ACCESS_KEY: "S3RVER",
    AWS_REGION: "us-east-1",
    ATLAS_BUCKET: LOCAL_BUCKET,
    ATLAS_LOCAL: "1",
    // One machine: a crashed step's lease on its prefix (lib/prefix-lease.ts) should hold the next publish (a
    // retry, an escalation, a rerun) for seconds, not the production 2 minutes; a live step renews it every ttl/3 (5 s: enough slack
    // for a loaded laptop, where 5 s TTLs made live publishes miss their renewal window).
    ATLAS_LEASE_TTL_MS: "15000",
    ATLAS_LOCAL_SINK_DIR: runDir,
    ATLAS_TOPIC_ARN: "arn:aws:sns:us-east-1:000000000000:atlas-local",
    CODE_VERSION: codeVersion(REPO_ROOT),
    // The helpers that look up earlier executions (plan-month) read the engine's registry instead of AWS.
    [LOCAL_EXECUTIONS_DIR_VARIABLE]: executionsDir,
    ...s3Env,
    ...options.env,
  };
  // The helper functions run in this process: they read the same variables the containers get.
  const savedEnv = { ...process.env };
  Object.assign(process.env, env);

  const engine = new LocalEngine({
    repoRoot: REPO_ROOT,
    runDir,
    executionsDir,
    definitions,
    env,
    faults: options.faults,
    retryWaitMs: options.retryWaitMs,
    timeoutOverrides: options.timeoutOverrides,
    onEvent: options.onEvent,
    onHistory: recorder.onHistory,
    onEcsTask: recorder.onEcsTask,
    // A real outage: the server goes away (connections refused), then comes back on the same port and data.
    // Resolves once it is down; the restart follows by itself.
    s3Outage: async (delayMs) => {
      await new Promise((r) => setTimeout(r, delayMs));
      await s3.stop();
      restarting = (async () => {
        await new Promise((r) => setTimeout(r, S3_OUTAGE_MS));
        s3 = await startEmbeddedS3({ directory: s3Directory, buckets: [LOCAL_BUCKET], port, onRequest });
      })();
    },
  });

  const name = options.name ?? (await defaultName(options.workflow, options.input, engine.registry));
  let result: ExecutionResult;
  try {
    countingS3 = true;
    result = await engine.run(options.workflow, options.input, name);
  } catch (err) {
    // StartExecution refused (ExecutionAlreadyExists): nothing ran, so nothing stays up.
    await restarting;
    await s3.stop();
    throw err;
  } finally {
    countingS3 = false;
    for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
    Object.assign(process.env, savedEnv);
  }
  await restarting;
  const summarized = await summarize(result, engine, runDir, env, options.outDir);
  const recordS3 = makeS3Client(env);
  const record = await recorder
    .finish(recordS3, { copiedTo: summarized.outputs.copiedTo, outDir: options.outDir, s3Requests })
    .finally(() => recordS3.destroy());
  // The estimate comes from the run record (the same code prices a run on AWS from its history).
  const summary: RunSummary = { ...summarized, estimated_cost: record.estimated_cost, estimated_fargate_cost_usd: record.estimated_cost.parts.fargate_usd };
  // A fan-out's months were published by its items' executions: the recorder copied them (to --out when given).
  const itemFiles = recorder.records().slice(1).flatMap((r) => r.outputs.files);
  if (itemFiles.length) {
    summary.outputs.keys = itemFiles.map((f) => f.key);
    summary.outputs.copiedTo = options.outDir ?? path.join(runDir, "published");
  }
  await writeFile(path.join(runDir, "summary.json"), `${JSON.stringify(summary, null, 2)}\n`);
  return { result, summary, record, engine, runDir, s3, env, stop: async () => (await restarting, s3.stop()) };
}

async function summarize(
  result: ExecutionResult,
  engine: LocalEngine,
  runDir: string,
  env: Record<string, string>,
  outDir: string | undefined,
): Promise<Omit<RunSummary, "estimated_cost" | "estimated_fargate_cost_usd">> {
  const output = result.output ?? {};
  const plan = output.plan as { uris?: { publish?: string }; region?: string; period?: string } | undefined;
  const metrics = output.metrics as { counts?: Record<string, number> } | undefined;
  const run = output.run as { escalations?: Record<string, unknown> } | undefined;
  const keys: string[] = [];
  let copiedTo: string | undefined;
  const s3 = makeS3Client(env);
  const publishUris =
    result.machine === "ski-atlas-monthly"
      ? [] // each region's own execution published its month; see the states and the digest
      : plan?.uris?.publish && result.status === "SUCCEEDED"
        ? [plan.uris.publish]
        : [];
  for (const uri of publishUris) {
    // The committed version only, flat, as its readers see it (lib/published.ts).
    const target = path.join(outDir ?? path.join(runDir, "published"), parseS3Uri(uri).key);
    for (const f of await copyCommitted(s3, uri, target)) keys.push(f.key);
    copiedTo = target;
  }
  s3.destroy();

  const states = engine.states.map(({ execution, name, type, status, attempts, duration_ms, tier, peak_rss_bytes }) => ({
    execution,
    name,
    type,
    status,
    attempts,
    duration_ms,
    ...(tier ? { tier } : {}),
    ...(peak_rss_bytes ? { peak_rss_bytes } : {}),
  }));
  const error = outcomeWithHint(result);
  return {
    status: runOutcome(result.status, result.output),
    workflow: result.machine,
    execution: result.name,
    duration_ms: result.stoppedAt - result.startedAt,
    ...(error ? { error } : {}),
    states,
    ...(metrics?.counts ? { counts: metrics.counts } : {}),
    ...(run?.escalations && Object.keys(run.escalations).length ? { escalations: run.escalations } : {}),
    outputs: { bucket: LOCAL_BUCKET, keys, ...(copiedTo ? { copiedTo } : {}) },
    run_dir: runDir,
  };
}

/**
 * The line a run that did not succeed ends with (the failed step, or each failed item of a fan-out, with its
 * cause), and, when an item failed offline for want of the network, the option that gives it a local source.
 */
function outcomeWithHint(result: ExecutionResult): string | undefined {
  const line = outcomeLine(result.status, result.output, result.failure);
  if (!line) return undefined;
  const digest = digestOf(result.output);
  const item = String((result.input as { region?: unknown } | null)?.region ?? result.name);
  const failed = digest ? failedItemsOf(digest) : [{ item, cause: line }];
  const hint = offlineHint(failed, workflowByName(result.machine).localSourceOption);
  return hint ? `${line} (${hint})` : line;
}

/**
 * A manual run of one region and month is an attempt like the monthly machine's: `{region}-{period}`, or the next
 * free `-N` when earlier attempts hold the name (names stay taken for 90 days), so the monthly run finds it.
 */
async function defaultName(workflow: string, input: Record<string, unknown>, history: ExecutionHistory): Promise<string> {
  const { region, period } = input;
  if (typeof region !== "string") return `run-${stamp()}-${randomUUID().slice(0, 8)}`;
  const base = (typeof period === "string" ? `${region}-${period}` : region).replace(/[^A-Za-z0-9_-]/g, "-").slice(0, 70);
  const { attempt } = await latestAttempt(history, workflow, base);
  return attemptName(base, attempt + 1);
}

function stamp(): string {
  return new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "").replace("T", "-");
}

