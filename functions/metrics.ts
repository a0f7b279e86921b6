import { GetObjectCommand, NoSuchKey, type S3Client } from "@aws-sdk/client-s3";
import { StandardUnit, type Dimension, type MetricDatum } from "@aws-sdk/client-cloudwatch";
import type { Sinks } from "../lib/local-sinks.ts";
import { makeS3Client, parseS3Uri } from "../lib/s3.ts";
import { TIER_NAMES, type TierName } from "../workflows/tiers.ts";
import { loadConfig, sinksFromConfig } from "./config.ts";
import { InvalidInputError, InvalidManifestError, ManifestNotFoundError } from "./errors.ts";

/**
 * Metrics: what one run reports, in two forms.
 *
 * 1. **A few CloudWatch custom metrics**, namespace `AtlasPipelines`, dimension `Workflow` only (`RUN_METRICS`):
 *
 * | metric            | unit     | value                                                                         |
 * |-------------------|----------|-------------------------------------------------------------------------------|
 * | `RunFailed`       | Count    | 1, sent only when the run failed (a successful run sends no custom metric)     |
 * | `extraMetrics[]`  | as given | whatever the workflow passes                                                  |
 * | `manifest.metrics`| Count    | one per entry, named as in the manifest (weather's IngestionErrors: its alarm) |
 *
 * 2. **The detail, as one JSON log line** (`RunSummaryLine`: `{"type":"run-summary", workflow, region, period,
 *    status, counts, bytes, durationsMs, totalMs, tiers, escalations, retries, metrics, …}`) in the function's own
 *    log group, which the dashboard's Logs Insights widgets query (stacks/constructs/OperationsDashboard.ts).
 *
 * Why the split: the cost of a custom metric series, billed for every hour in which it receives data (see
 * `RUN_METRICS`). `RunFailed` is sent only when a run fails, and `RunSucceeded` never: a successful run then pays
 * no metric-hour at all (one hour of one series, $0.00041, is more than a fifth of an Iceland run's whole compute).
 * The run counts and success rate are in Step Functions' own metrics (AWS/States `ExecutionsSucceeded`,
 * `ExecutionsFailed`: free) and in the run-summary lines; `RunFailed` is what an alarm on failed runs watches.
 * The named metrics stay metrics because alarms watch them (an alarm needs a metric; workflows/types.ts `alarms`).
 * A log line costs by the byte ($0.50 per GB ingested: well under a millionth of a dollar per run) and carries any
 * number of regions, steps and kinds.
 *
 * The manifest is read only for SUCCEEDED runs, from `plan.uris.publish` + `manifest.json`.
 */
export const NAMESPACE = "AtlasPipelines";

export interface StepTiming {
  tier?: string;
  /** Epoch milliseconds (what Step Functions returns for the ECS task) or an ISO timestamp. */
  startedAt?: number | string;
  stoppedAt?: number | string;
}

export interface ExtraMetric {
  name: string;
  value: number;
  unit?: string;
}

export interface MetricsEvent {
  workflow: string;
  status: "SUCCEEDED" | "FAILED";
  plan?: { region?: string; period?: string; runId?: string; uris?: { publish?: string }; tierIndex?: Record<string, number> | null } | null;
  steps?: Record<string, StepTiming | null | undefined> | null;
  run?: {
    /** Per step, how many tiers it went up after out-of-memory kills (its tier: Plan's position plus this). */
    escalated?: Record<string, number> | null;
    /** Per escalated step, `{ step, from, to, reason, count }` (older runs: one record per escalation, no count). */
    escalations?: Record<string, unknown> | null;
    retries?: Record<string, { count?: number } | null | undefined> | null;
  } | null;
  extraMetrics?: ExtraMetric[] | null;
}

export interface Manifest {
  counts?: Record<string, unknown>;
  /** Named run metrics a workflow's publish step reports (e.g. weather's RecordsIngested), sent as Count. */
  metrics?: Record<string, unknown>;
  files?: { name?: string; sha256?: string; bytes?: number; rows?: number }[];
  source?: unknown;
}

/** `$.metrics`: what Notify reports. */
export interface MetricsSummary {
  counts: Record<string, number>;
  bytes: number;
  durationsMs: Record<string, number>;
  totalMs: number;
  tiers: Record<string, string>;
  escalations: number;
  retries: number;
  /** The workflow's named metrics this run sent (manifest `metrics` and `extraMetrics`), name → value. */
  named?: Record<string, number>;
}

/** Epoch ms from a number (ms) or a string (numeric ms, or ISO); undefined when it is neither. */
export function toEpochMs(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? value : undefined;
  if (typeof value !== "string" || value.trim() === "") return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Number(value);
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

export function runSummary(event: MetricsEvent, manifest?: Manifest): MetricsSummary {
  const counts: Record<string, number> = {};
  for (const [kind, value] of Object.entries(manifest?.counts ?? {})) {
    if (typeof value === "number" && Number.isFinite(value)) counts[kind] = value;
  }
  const bytes = (manifest?.files ?? []).reduce((sum, f) => sum + (Number.isFinite(f?.bytes) ? Number(f.bytes) : 0), 0);

  const durationsMs: Record<string, number> = {};
  const tiers: Record<string, string> = {};
  let first: number | undefined;
  let last: number | undefined;
  for (const [step, timing] of Object.entries(event.steps ?? {})) {
    if (!timing) continue;
    const tier = typeof timing.tier === "string" ? timing.tier : tierRan(event, step);
    if (tier) tiers[step] = tier;
    const start = toEpochMs(timing.startedAt);
    const stop = toEpochMs(timing.stoppedAt);
    if (start !== undefined) first = Math.min(first ?? start, start);
    if (stop !== undefined) last = Math.max(last ?? stop, stop);
    if (start !== undefined && stop !== undefined && stop >= start) durationsMs[step] = stop - start;
  }
  const totalMs = first !== undefined && last !== undefined && last >= first ? last - first : 0;

  const escalations = Object.values(event.run?.escalations ?? {}).reduce<number>((sum, r) => {
    const count = (r as { count?: unknown } | null)?.count;
    return sum + (typeof count === "number" && Number.isFinite(count) ? count : 1);
  }, 0);
  const retries = Object.values(event.run?.retries ?? {}).reduce(
    (sum, r) => sum + (typeof r?.count === "number" && Number.isFinite(r.count) ? r.count : 0),
    0,
  );
  return { counts, bytes, durationsMs, totalMs, tiers, escalations, retries };
}

/** The tier a step's last attempt ran on: Plan's position in the tier table plus the step's escalations. */
function tierRan(event: MetricsEvent, step: string): string | undefined {
  const planned = event.plan?.tierIndex?.[step];
  if (typeof planned !== "number") return undefined;
  const up = event.run?.escalated?.[step];
  return TIER_NAMES[planned + (typeof up === "number" ? up : 0)];
}

const UNITS = new Set<string>(Object.values(StandardUnit));

function checkExtraMetrics(extra: unknown): ExtraMetric[] {
  if (extra === undefined || extra === null) return [];
  if (!Array.isArray(extra)) throw new InvalidInputError("extraMetrics must be a list of { name, value, unit }");
  for (const m of extra as ExtraMetric[]) {
    if (typeof m?.name !== "string" || !/^[\x21-\x7e][\x20-\x7e]{0,254}$/.test(m.name)) {
      throw new InvalidInputError(`extra metric name ${JSON.stringify(m?.name)} must be 1-255 printable ASCII characters`);
    }
    if (typeof m.value !== "number" || !Number.isFinite(m.value)) {
      throw new InvalidInputError(`extra metric ${m.name} needs a finite number value, got ${JSON.stringify(m.value)}`);
    }
    if (m.unit !== undefined && !UNITS.has(m.unit)) {
      throw new InvalidInputError(`extra metric ${m.name} has unit ${JSON.stringify(m.unit)}: use a CloudWatch unit (Count, Bytes, Milliseconds, None, …)`);
    }
  }
  return extra as ExtraMetric[];
}

/**
 * The custom metrics a run of any workflow may send, besides the workflow's named ones, each with the `Workflow`
 * dimension alone: `RunFailed`, by a failed run only. Why so few, and no `Region`, `Step` or `Kind`: CloudWatch bills a series $0.30 / 730 h =
 * $0.00041 for every hour in which it receives data, whoever sends it. A region-less series is shared by all the
 * runs of the workflow in that hour (the monthly fan-out's regions share one hour of it); a series per region, step
 * or kind is one run's alone (the 22 a ski-atlas run used to send cost it $0.009, five times an Iceland run's
 * compute). The per-run detail is the run-summary log line instead. Alarms and dashboard graphs (stacks/) may name
 * only these or a workflow's named metrics: stacks/AtlasStack.test.ts checks it.
 */
export const RUN_METRICS = ["RunFailed"] as const;
const [RUN_FAILED] = RUN_METRICS;

export function metricData(event: MetricsEvent, now: Date): MetricDatum[] {
  const dimensions: Dimension[] = [{ Name: "Workflow", Value: event.workflow }];
  const point = (name: string, value: number, unit: StandardUnit): MetricDatum => ({
    MetricName: name,
    Dimensions: dimensions,
    Timestamp: now,
    Value: value,
    Unit: unit,
  });
  return [
    ...(event.status === "SUCCEEDED" ? [] : [point(RUN_FAILED, 1, StandardUnit.Count)]),
    ...checkExtraMetrics(event.extraMetrics).map((m) => point(m.name, m.value, (m.unit ?? StandardUnit.None) as StandardUnit)),
  ];
}

/** The distinct series (name + dimension values) among data points: what CloudWatch bills, by the hour. */
export function metricSeries(data: MetricDatum[]): string[] {
  const key = (d: MetricDatum) => `${d.MetricName}|${(d.Dimensions ?? []).map((x) => `${x.Name}=${x.Value}`).join(",")}`;
  return [...new Set(data.map(key))];
}

/**
 * The run's detail, one JSON object on one log line: a stable shape (every key always present, null when the run
 * has no such thing) that the dashboard's Logs Insights queries read by name (`counts.lifts`, `durationsMs.extract`).
 */
export interface RunSummaryLine {
  type: "run-summary";
  time: string;
  workflow: string;
  region: string | null;
  period: string | null;
  runId: string | null;
  status: "SUCCEEDED" | "FAILED";
  counts: Record<string, number>;
  /** Sum of the published files' bytes; 0 for a failed run. */
  bytes: number;
  durationsMs: Record<string, number>;
  totalMs: number;
  tiers: Record<string, string>;
  /** Index of each step's tier in TIER_NAMES (0 xsmall … 4 xlarge): sortable and comparable in a query. */
  tierIndex: Record<string, number>;
  escalations: number;
  retries: number;
  /** The named metrics, also sent as custom metrics. */
  metrics: Record<string, number>;
}

export const RUN_SUMMARY_TYPE = "run-summary";

export function runSummaryLine(event: MetricsEvent, summary: MetricsSummary, now: Date): RunSummaryLine {
  const tierIndex: Record<string, number> = {};
  for (const [step, tier] of Object.entries(summary.tiers)) {
    const index = TIER_NAMES.indexOf(tier as TierName);
    if (index >= 0) tierIndex[step] = index;
  }
  return {
    type: RUN_SUMMARY_TYPE,
    time: now.toISOString(),
    workflow: event.workflow,
    region: event.plan?.region || null,
    period: event.plan?.period || null,
    runId: event.plan?.runId || null,
    status: event.status,
    counts: summary.counts,
    bytes: event.status === "SUCCEEDED" ? summary.bytes : 0,
    durationsMs: summary.durationsMs,
    totalMs: summary.totalMs,
    tiers: summary.tiers,
    tierIndex,
    escalations: summary.escalations,
    retries: summary.retries,
    metrics: summary.named ?? {},
  };
}

export async function readManifest(s3: S3Client, publishUri: string): Promise<Manifest> {
  const uri = `${publishUri.endsWith("/") ? publishUri : `${publishUri}/`}manifest.json`;
  const { bucket, key } = parseS3Uri(uri);
  let text: string;
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    text = (await out.Body?.transformToString("utf-8")) ?? "";
  } catch (error) {
    if (error instanceof NoSuchKey || (error as Error)?.name === "NoSuchKey") {
      throw new ManifestNotFoundError(`${uri} does not exist: the run is marked SUCCEEDED but Publish wrote no manifest`);
    }
    throw error;
  }
  let manifest: unknown;
  try {
    manifest = JSON.parse(text);
  } catch {
    throw new InvalidManifestError(`${uri} is not JSON`);
  }
  if (!manifest || typeof manifest !== "object" || Array.isArray(manifest)) {
    throw new InvalidManifestError(`${uri} is not a JSON object`);
  }
  return manifest as Manifest;
}

/** `manifest.metrics` as extra metrics (unit Count); entries that are not finite numbers are skipped. */
export function manifestMetrics(manifest: Manifest | undefined): ExtraMetric[] {
  const entries = Object.entries(manifest?.metrics && typeof manifest.metrics === "object" ? manifest.metrics : {});
  return entries
    .filter(([, v]) => typeof v === "number" && Number.isFinite(v))
    .map(([name, value]) => ({ name, value: value as number, unit: StandardUnit.Count }));
}

export interface MetricsDeps {
  sinks: Sinks;
  s3: S3Client;
  now?: () => Date;
}

export async function recordMetrics(event: MetricsEvent, deps: MetricsDeps): Promise<MetricsSummary> {
  if (typeof event?.workflow !== "string" || !event.workflow) throw new InvalidInputError("metrics event needs a workflow name");
  if (event.status !== "SUCCEEDED" && event.status !== "FAILED") {
    throw new InvalidInputError(`metrics status must be SUCCEEDED or FAILED, got ${JSON.stringify(event.status)}`);
  }
  const publish = event.plan?.uris?.publish;
  const manifest = event.status === "SUCCEEDED" && publish ? await readManifest(deps.s3, publish) : undefined;
  const named = [...checkExtraMetrics(event.extraMetrics), ...manifestMetrics(manifest)];
  const withNamed: MetricsEvent = { ...event, extraMetrics: named };
  const summary: MetricsSummary = { ...runSummary(event, manifest), named: Object.fromEntries(named.map((m) => [m.name, m.value])) };
  const now = (deps.now ?? (() => new Date()))();
  const data = metricData(withNamed, now);
  // The detail first: a run whose metrics cannot be sent still leaves its summary in the log.
  await deps.sinks.writeLog("metrics", runSummaryLine(event, summary, now));
  const label = [event.workflow, event.plan?.region, event.plan?.period, event.status].filter(Boolean).join(" ");
  await deps.sinks.putMetricData(NAMESPACE, data, label);
  return summary;
}

export async function handler(event: MetricsEvent): Promise<MetricsSummary> {
  const config = loadConfig();
  return recordMetrics(event, { sinks: sinksFromConfig(config), s3: makeS3Client() });
}
