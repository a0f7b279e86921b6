import { GetObjectCommand, NoSuchKey, type S3Client } from "@aws-sdk/client-s3";
import { StandardUnit, type Dimension, type MetricDatum } from "@aws-sdk/client-cloudwatch";
import type { Sinks } from "../lib/local-sinks.ts";
import { makeS3Client, parseS3Uri } from "../lib/s3.ts";
import { TIER_NAMES, type TierName } from "../workflows/tiers.ts";
import { loadConfig, sinksFromConfig } from "./config.ts";
import { InvalidInputError, InvalidManifestError, ManifestNotFoundError } from "./errors.ts";

/**
 * Metrics: one run's CloudWatch data points, in namespace `AtlasPipelines`, every point with dimensions
 * `Workflow` and `Region` (`Region` is "none" when the plan has no region, e.g. a run that failed in Plan):
 *
 * | metric            | extra dimension | unit         | value                                            |
 * |-------------------|-----------------|--------------|--------------------------------------------------|
 * | `FeatureCount`    | `Kind`          | Count        | one per `manifest.counts` entry (lifts, pistes…) |
 * | `OutputBytes`     |                 | Bytes        | sum of `manifest.files[].bytes`                  |
 * | `StepDuration`    | `Step`          | Milliseconds | `stoppedAt - startedAt` per step                 |
 * | `TierIndex`       | `Step`          | None         | index in TIER_NAMES: 0 xsmall, 1 small … 4 xlarge |
 * | `RunDuration`     |                 | Milliseconds | first step start to last step stop               |
 * | `TierEscalations` |                 | Count        | entries in `$.run.escalations`                   |
 * | `StepRetries`     |                 | Count        | sum of `$.run.retries.<step>.count`              |
 * | `RunSucceeded`    |                 | Count        | 1 on success, else 0                             |
 * | `RunFailed`       |                 | Count        | 1 on failure, else 0                             |
 * | `extraMetrics[]`  |                 | as given     | whatever the workflow passes                     |
 * | `manifest.metrics`|                 | Count        | one per entry, named as in the manifest          |
 *
 * `FeatureCount` + `Kind` (rather than one metric name per count) keeps the metric set the same for every
 * workflow: weather's counts show up without any change here. Both run flags are always sent (one as 0) so
 * that `Average` of `RunSucceeded` is a success rate.
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
  plan?: { region?: string; period?: string; uris?: { publish?: string } } | null;
  steps?: Record<string, StepTiming | null | undefined> | null;
  run?: {
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
    if (typeof timing.tier === "string") tiers[step] = timing.tier;
    const start = toEpochMs(timing.startedAt);
    const stop = toEpochMs(timing.stoppedAt);
    if (start !== undefined) first = Math.min(first ?? start, start);
    if (stop !== undefined) last = Math.max(last ?? stop, stop);
    if (start !== undefined && stop !== undefined && stop >= start) durationsMs[step] = stop - start;
  }
  const totalMs = first !== undefined && last !== undefined && last >= first ? last - first : 0;

  const escalations = Object.keys(event.run?.escalations ?? {}).length;
  const retries = Object.values(event.run?.retries ?? {}).reduce(
    (sum, r) => sum + (typeof r?.count === "number" && Number.isFinite(r.count) ? r.count : 0),
    0,
  );
  return { counts, bytes, durationsMs, totalMs, tiers, escalations, retries };
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

export function metricData(event: MetricsEvent, summary: MetricsSummary, now: Date): MetricDatum[] {
  const base: Dimension[] = [
    { Name: "Workflow", Value: event.workflow },
    { Name: "Region", Value: event.plan?.region || "none" },
  ];
  const point = (name: string, value: number, unit: StandardUnit, extra?: Dimension): MetricDatum => ({
    MetricName: name,
    Dimensions: extra ? [...base, extra] : base,
    Timestamp: now,
    Value: value,
    Unit: unit,
  });

  const data: MetricDatum[] = [];
  for (const [kind, count] of Object.entries(summary.counts)) {
    data.push(point("FeatureCount", count, StandardUnit.Count, { Name: "Kind", Value: kind }));
  }
  if (event.status === "SUCCEEDED") data.push(point("OutputBytes", summary.bytes, StandardUnit.Bytes));
  for (const [step, ms] of Object.entries(summary.durationsMs)) {
    data.push(point("StepDuration", ms, StandardUnit.Milliseconds, { Name: "Step", Value: step }));
  }
  for (const [step, tier] of Object.entries(summary.tiers)) {
    const index = TIER_NAMES.indexOf(tier as TierName);
    if (index >= 0) data.push(point("TierIndex", index, StandardUnit.None, { Name: "Step", Value: step }));
  }
  if (summary.totalMs > 0) data.push(point("RunDuration", summary.totalMs, StandardUnit.Milliseconds));
  data.push(point("TierEscalations", summary.escalations, StandardUnit.Count));
  data.push(point("StepRetries", summary.retries, StandardUnit.Count));
  data.push(point("RunSucceeded", event.status === "SUCCEEDED" ? 1 : 0, StandardUnit.Count));
  data.push(point("RunFailed", event.status === "SUCCEEDED" ? 0 : 1, StandardUnit.Count));
  for (const m of checkExtraMetrics(event.extraMetrics)) {
    data.push(point(m.name, m.value, (m.unit ?? StandardUnit.None) as StandardUnit));
  }
  // CloudWatch matches dimensions exactly: the workflow-wide alarms (stacks/constructs/WorkflowMachine.ts)
  // watch the run-level metrics with the Workflow dimension alone, so send those once more without Region.
  const workflowWide = data
    .filter((d) => d.Dimensions!.length === 2 && !["RunDuration", "OutputBytes"].includes(d.MetricName!))
    .map((d) => ({ ...d, Dimensions: [base[0]] }));
  return [...data, ...workflowWide];
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
  const summary = runSummary(event, manifest);
  const named = manifestMetrics(manifest);
  const withNamed = named.length ? { ...event, extraMetrics: [...(event.extraMetrics ?? []), ...named] } : event;
  const data = metricData(withNamed, summary, (deps.now ?? (() => new Date()))());
  const label = [event.workflow, event.plan?.region, event.plan?.period, event.status].filter(Boolean).join(" ");
  await deps.sinks.putMetricData(NAMESPACE, data, label);
  return summary;
}

export async function handler(event: MetricsEvent): Promise<MetricsSummary> {
  const config = loadConfig();
  return recordMetrics(event, { sinks: sinksFromConfig(config), s3: makeS3Client() });
}
