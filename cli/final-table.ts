import * as path from "node:path";
import { costLine } from "../lib/aws-pricing.ts";
import { MANIFEST_NAME } from "../lib/manifest.ts";
import { table } from "../lib/text-table.ts";
import { seconds } from "../local/progress.ts";
import type { RunSummary } from "../local/run-local.ts";
import { fanOutItems } from "../run-model/fan-out.ts";
import type { RunRecord } from "../run-records/record.ts";
import { allWorkflows } from "../workflows/index.ts";

/**
 * What `npm start` prints once a local run has ended: the states that did work with their attempts, times, tiers and
 * memory (for a fan-out, every row names its region and each item's execution in full, and the regions reused from
 * an earlier run are listed), the counts, what was published and where its copy is, the cost estimate and the run's
 * folder.
 */
export function printFinalTable(summary: RunSummary, record: RunRecord, out: (line?: string) => void): void {
  out();
  out(`${summary.workflow} ${summary.execution}: ${summary.status} in ${seconds(summary.duration_ms)}`);
  out();
  const { header, rows, reused } = fanOutItems(record.states).length ? fanOutTable(summary, record) : { header: STEP_COLUMNS, rows: stepRows(summary.states), reused: [] };
  table(header, rows).forEach((l) => out(l));
  // Regions a fan-out did not run again: their month was published by an earlier run.
  if (reused.length) out(`reused from an earlier run (not run again; --force <region> reruns one): ${reused.join(", ")}`);
  if (summary.counts) {
    out();
    out(`counts: ${Object.entries(summary.counts).map(([k, v]) => `${k}=${v}`).join(", ")}`);
  }
  if (summary.escalations) out(`tier escalations: ${Object.keys(summary.escalations as object).join(", ")}`);
  if (summary.outputs.keys.length) {
    out(`published: s3://${summary.outputs.bucket}/${commonPrefix(summary.outputs.keys)} (${fileCount(summary.outputs.keys)}, embedded S3)`);
  }
  if (summary.outputs.copiedTo) out(`files: ${path.relative(process.cwd(), summary.outputs.copiedTo) || "."}`);
  out(costLine(summary.estimated_cost));
  out(`run directory (logs, local metrics and notifications): ${path.relative(process.cwd(), summary.run_dir)}`);
}

const STEP_COLUMNS = ["step", "status", "attempts", "duration", "tier", "peak RSS"];
type SummaryState = RunSummary["states"][number];

/** The states that do work: Lambda and ECS tasks, nested executions and maps (not Choice or Pass bookkeeping). */
function stepRows(states: SummaryState[], label = (s: SummaryState) => [s.name]): string[][] {
  return states
    .filter((s) => s.attempts > 0 && (s.type === "Task" || s.type === "Map"))
    .map((s) => [...label(s), s.status.toLowerCase(), String(s.attempts), seconds(s.duration_ms), s.tier ?? "", s.peak_rss_bytes ? `${Math.round(s.peak_rss_bytes / 2 ** 20)} MiB` : ""]);
}

/**
 * A fan-out's table: its own steps, then one block per region (every row names its region): the item (its execution,
 * or "reused" when an earlier run's month stands), then the steps of the execution it started.
 */
function fanOutTable(summary: RunSummary, record: RunRecord): { header: string[]; rows: string[][]; reused: string[] } {
  const items = fanOutItems(record.states);
  const perItem = new Set(items.flatMap((i) => i.visits.map((v) => v.name)));
  const regionOf = new Map(items.map((i) => [i.execution, i.region]));
  const fanOut = allWorkflows().find((w) => w.name === record.workflow)?.steps.find((s) => s.kind === "fanOut");
  const child = fanOut?.kind === "fanOut" ? fanOut.workflow : "item";
  const rows: string[][] = [];
  const reused: string[] = [];
  for (const parent of summary.states.filter((s) => s.execution === summary.execution && !perItem.has(s.name))) {
    rows.push(...stepRows([parent], (s) => ["(all)", s.name]));
    if (parent.type !== "Map") continue;
    for (const item of items) {
      if (!item.started) {
        const earlier = item.previous;
        const when = earlier?.stopDate ? ` ${earlier.stopDate.slice(0, 16).replace("T", " ")} UTC` : "";
        rows.push([item.region, `${child} ${earlier?.name ?? item.execution}`, earlier?.status === "RUNNING" ? "still running" : "reused", "0", "", "", ""]);
        if (earlier?.status !== "RUNNING") reused.push(`${item.region} (${earlier?.name ?? item.execution}, ${String(earlier?.status ?? "SUCCEEDED").toLowerCase()}${when})`);
        continue;
      }
      const task = item.visits.find((v) => v.type === "Task");
      const attempts = task?.attempts ?? [];
      const ms = attempts.reduce((sum, a) => sum + (a.duration_ms ?? 0), 0);
      rows.push([item.region, `${child} ${item.execution}`, String(task?.status ?? "not run").toLowerCase(), String(attempts.length), seconds(ms), "", ""]);
      rows.push(...stepRows(summary.states.filter((s) => s.execution === item.execution), (s) => [item.region, `  ${s.name}`]));
    }
  }
  // Steps of executions no item names (none today): kept, under their execution's name.
  rows.push(...stepRows(summary.states.filter((s) => s.execution !== summary.execution && !regionOf.has(s.execution)), (s) => ["", `${s.execution} ${s.name}`]));
  return { header: ["region", ...STEP_COLUMNS], rows, reused };
}

/** `7 files + manifest.json`: the data files as `npm run verify` counts them (the manifest's list), and the manifests. */
function fileCount(keys: string[]): string {
  const manifests = keys.filter((k) => path.posix.basename(k) === MANIFEST_NAME).length;
  const data = keys.length - manifests;
  const files = `${data} file${data === 1 ? "" : "s"}`;
  return manifests === 0 ? files : `${files} + ${manifests === 1 ? MANIFEST_NAME : `${manifests} manifests`}`;
}

function commonPrefix(keys: string[]): string {
  const dirs = keys.map((k) => k.slice(0, k.lastIndexOf("/") + 1));
  return dirs.reduce((a, b) => {
    let i = 0;
    while (i < a.length && a[i] === b[i]) i++;
    return a.slice(0, i);
  });
}

