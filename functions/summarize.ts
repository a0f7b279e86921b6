import { describeCause, type StatesError } from "../run-model/causes.ts";
import { InvalidInputError } from "./errors.ts";
import { formatDuration, snsSubject } from "./format.ts";

/** One Map item's result in the monthly machine: `{ name, region, status, metrics }` on success (the nested
 * run's `$.metrics`), `{ name, region, status, error }` after the item's Catch. */
export interface RegionResult {
  region: string;
  name?: string;
  status?: "SUCCEEDED" | "FAILED" | "RUNNING";
  /** false: nothing was started for this region; `status` is its earlier attempt's (a reused month, or one still
   * running). */
  started?: boolean;
  /** The nested run's `$.metrics` summary. */
  metrics?: unknown;
  /** The nested execution's output: the region machine's document (object or JSON string), or the
   * DescribeExecution shape with its `Output`. */
  output?: unknown;
  error?: StatesError | null;
}

export interface SummarizeEvent {
  period: string;
  results: RegionResult[];
  /** Defaults to "ski-atlas-monthly". */
  workflow?: string;
}

export interface SummarizeOutput {
  period: string;
  status: "SUCCEEDED" | "PARTIAL" | "FAILED";
  succeeded: string[];
  failed: { region: string; cause: string }[];
  subject: string;
  body: string;
}

function asObject(value: unknown): Record<string, unknown> | undefined {
  if (typeof value === "string") {
    try {
      return asObject(JSON.parse(value));
    } catch {
      return undefined;
    }
  }
  return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** The region run's `$.metrics`, wherever the Map item put the nested execution's output. */
function metricsOf(output: unknown): { counts?: Record<string, unknown>; totalMs?: number } | undefined {
  const doc = asObject(output);
  if (!doc) return undefined;
  const metrics = asObject(doc.metrics);
  if (metrics) return metrics as { counts?: Record<string, unknown>; totalMs?: number };
  return doc.Output !== undefined ? metricsOf(doc.Output) : undefined;
}

function successLine(region: string, result: RegionResult): string {
  const metrics = (asObject(result.metrics) as ReturnType<typeof metricsOf>) ?? metricsOf(result.output);
  if (!metrics) return `  ${region}`;
  const counts = Object.entries(metrics.counts ?? {})
    .filter(([, v]) => typeof v === "number")
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
  const time = typeof metrics.totalMs === "number" && metrics.totalMs > 0 ? ` (${formatDuration(metrics.totalMs)})` : "";
  return `  ${region}: ${counts || "no counts"}${time}`;
}

export function summarize(event: SummarizeEvent): SummarizeOutput {
  if (!Array.isArray(event?.results)) throw new InvalidInputError("summarize needs results: a list of { region, status, output?, error? }");
  const period = String(event.period ?? "");
  const workflow = event.workflow ?? "ski-atlas-monthly";

  const succeeded: string[] = [];
  const okLines: string[] = [];
  const failed: { region: string; cause: string }[] = [];
  for (const result of event.results) {
    const region = String(result?.region ?? "?");
    const ok = result?.status === "SUCCEEDED" && !result.error;
    if (ok && result.started === false) {
      succeeded.push(region);
      okLines.push(`  ${region}: reused ${result.name ?? "an earlier attempt"} (succeeded before; nothing downloaded or published again)`);
    } else if (ok) {
      succeeded.push(region);
      okLines.push(successLine(region, result));
    } else if (result?.started === false && result.status === "RUNNING") {
      failed.push({ region, cause: `${result.name ?? "an earlier attempt"} is still running; not started again` });
    } else {
      const cause = result?.error ? describeCause(result.error).summary : `status ${result?.status ?? "unknown"}`;
      failed.push({ region, cause });
    }
  }
  const total = succeeded.length + failed.length;
  const status = total > 0 && failed.length === 0 ? "SUCCEEDED" : succeeded.length > 0 ? "PARTIAL" : "FAILED";

  const headline = `${workflow} ${period} ${status}: ${succeeded.length} of ${total} regions succeeded`;
  const body = [
    headline,
    "",
    ...(succeeded.length ? ["Succeeded:", ...okLines, ""] : []),
    ...(failed.length ? ["Failed:", ...failed.map((f) => `  ${f.region}: ${f.cause}`), ""] : []),
    ...(total === 0 ? ["No region ran.", ""] : []),
  ].join("\n");
  const subject = snsSubject(`[atlas] ${workflow} ${period} ${status} (${succeeded.length}/${total} regions ok)`);
  return { period, status, succeeded, failed, subject, body: body.trimEnd() };
}

export async function handler(event: SummarizeEvent): Promise<SummarizeOutput> {
  return summarize(event);
}
