import { executionConsoleUrl, regionOfExecutionArn } from "../lib/console-url.ts";
import type { Sinks } from "../lib/local-sinks.ts";
import { describeCause, type StatesError } from "../run-model/causes.ts";
import { loadConfig, sinksFromConfig, type AtlasConfig } from "./config.ts";
import { InvalidInputError } from "./errors.ts";
import { formatBytes, formatDuration, snsMessage, snsSubject } from "./format.ts";
import type { MetricsSummary } from "./metrics.ts";
import type { SummarizeOutput } from "./summarize.ts";

/**
 * Notify: one SNS message per run.
 * - a region run: `{ status, workflow, execution: { id: $$.Execution.Id, name: $$.Execution.Name }, plan?,
 *   metrics?, error?: { Error, Cause }, input? }` (`input` names the region when Plan itself failed);
 * - the monthly digest: `{ status, workflow: "ski-atlas-monthly", execution, digest }` (Summarize's output).
 */
export interface NotifyEvent {
  status: "SUCCEEDED" | "FAILED" | "PARTIAL";
  workflow: string;
  execution: { id: string; name: string };
  plan?: {
    region?: string;
    period?: string;
    runId?: string;
    source?: { url?: string; bytes?: number; sizeKnown?: boolean };
    uris?: { publish?: string };
    tiers?: Record<string, string>;
  } | null;
  /** Metrics' summary; `{ Error, Cause }` when Metrics itself failed (its Catch writes there). */
  metrics?: (Partial<MetricsSummary> & StatesError) | null;
  error?: StatesError | null;
  input?: { region?: unknown; period?: unknown } | null;
  digest?: SummarizeOutput | null;
}

export interface NotifyOutput {
  messageId: string;
  subject: string;
}

export interface Notification {
  subject: string;
  body: string;
}

/** The console link of an execution, or the run id for local runs (and ids that are not execution ARNs). */
export function executionLine(execution: NotifyEvent["execution"], config: Pick<AtlasConfig, "local" | "consoleRegion" | "awsRegion">): string {
  const id = execution?.id ?? "";
  const arnRegion = regionOfExecutionArn(id);
  if (config.local || !arnRegion) return `Run id: ${execution?.name || id || "unknown"} (local run)`;
  return `Execution: ${executionConsoleUrl(id, config.consoleRegion ?? arnRegion ?? config.awsRegion)}`;
}

function str(value: unknown): string | undefined {
  return typeof value === "string" && value ? value : undefined;
}

function pad(text: string, width: number): string {
  return text.length >= width ? `${text} ` : text.padEnd(width);
}

function successLines(event: NotifyEvent): string[] {
  const lines: string[] = [];
  const plan = event.plan;
  if (plan?.source?.url) {
    const size = typeof plan.source.bytes === "number" ? ` (${plan.source.sizeKnown === false ? "~" : ""}${formatBytes(plan.source.bytes)})` : "";
    lines.push(`Source: ${plan.source.url}${size}`);
  }
  const m = event.metrics;
  if (plan?.uris?.publish) lines.push(`Output: ${plan.uris.publish}${typeof m?.bytes === "number" ? ` (${formatBytes(m.bytes)})` : ""}`);
  const counts = Object.entries(m?.counts ?? {});
  if (counts.length) {
    lines.push("", "Counts:");
    const width = Math.max(...counts.map(([k]) => k.length)) + 2;
    for (const [kind, n] of counts) lines.push(`  ${pad(kind, width)}${n}`);
  }
  return lines;
}

function timingLines(event: NotifyEvent): string[] {
  const m = event.metrics;
  if (!m) return [];
  if (typeof m.Error === "string") return ["", `Metrics were not recorded: ${describeCause(m).summary}`];
  const steps = [...new Set([...Object.keys(m.durationsMs ?? {}), ...Object.keys(m.tiers ?? {})])];
  const lines: string[] = [];
  if (steps.length) {
    lines.push("", "Steps:");
    const width = Math.max(...steps.map((s) => s.length), 5) + 2;
    for (const step of steps) {
      const ms = m.durationsMs?.[step];
      lines.push(`  ${pad(step, width)}${pad(m.tiers?.[step] ?? "", 8)}${ms === undefined ? "" : formatDuration(ms)}`.trimEnd());
    }
    if (typeof m.totalMs === "number" && m.totalMs > 0) lines.push(`  ${pad("total", width)}${pad("", 8)}${formatDuration(m.totalMs)}`);
  }
  if (typeof m.escalations === "number" || typeof m.retries === "number") {
    // What the state document can count: the steps' reruns after a transient failure (TRANSIENT_TASK_RETRY's loop).
    // A state's own Retry attempts (Lambda service errors, ECS capacity) are only in the execution history, so the
    // line names what it counts rather than calling it "retries" (the run record and `npm run runs` count them all).
    lines.push(`Tier escalations: ${m.escalations ?? 0}, reruns after a transient failure: ${m.retries ?? 0}`);
  }
  return lines;
}

export function buildNotification(event: NotifyEvent, config: Pick<AtlasConfig, "local" | "consoleRegion" | "awsRegion">): Notification {
  if (typeof event?.workflow !== "string" || !event.workflow) throw new InvalidInputError("notify event needs a workflow name");
  const link = executionLine(event.execution, config);

  // The monthly machine initializes `$.digest` to {}: only a digest Summarize wrote is used.
  const d = event.digest;
  if (d && typeof d.subject === "string" && d.subject && typeof d.body === "string") {
    return { subject: snsSubject(d.subject), body: snsMessage(`${d.body}\n\n${link}\n`) };
  }

  const status = event.status;
  if (status !== "SUCCEEDED" && status !== "FAILED") {
    throw new InvalidInputError(`notify status must be SUCCEEDED or FAILED, got ${JSON.stringify(status)}`);
  }
  const region = str(event.plan?.region) ?? str(event.input?.region);
  const period = str(event.plan?.period) ?? str(event.input?.period);
  const title = [event.workflow, region, period, status].filter(Boolean).join(" ");

  const lines = [title, ""];
  if (status === "SUCCEEDED") {
    lines.push(...successLines(event), ...timingLines(event));
  } else {
    const cause = describeCause(event.error);
    lines.push(...cause.details);
    if (event.plan?.source?.url) lines.push(`Source: ${event.plan.source.url}`);
    lines.push(...timingLines(event));
  }
  lines.push("", link);
  return { subject: snsSubject(`[atlas] ${title}`), body: snsMessage(`${lines.join("\n")}\n`) };
}

export async function notify(event: NotifyEvent, deps: { sinks: Sinks; config: AtlasConfig }): Promise<NotifyOutput> {
  const message = buildNotification(event, deps.config);
  const { messageId } = await deps.sinks.publish(message);
  return { messageId, subject: message.subject };
}

export async function handler(event: NotifyEvent): Promise<NotifyOutput> {
  const config = loadConfig();
  return notify(event, { sinks: sinksFromConfig(config), config });
}
