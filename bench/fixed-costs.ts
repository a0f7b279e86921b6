/**
 * `npm run costs:fixed`: what the deployed stack costs every month whatever runs (docs/COSTS.md, "Fixed, every
 * month", states its total; bench/fixed-costs.test.ts keeps the two equal). Synthesizes the stack offline the way
 * `sst deploy` does (stacks/synth-offline.ts), counts what is billed monthly in the template (alarms, dashboards,
 * schedules, log groups), counts the custom metric series the Metrics helper sends (functions/metrics.ts
 * `metricData`, for every workflow: region-less, so the monthly regions add none) and prices them with
 * lib/aws-pricing.ts. Prints a Markdown table.
 */
import { pathToFileURL } from "node:url";
import { AWS_PRICES, type FixedMonthlyCost, fixedMonthlyCosts, type StackInventory } from "../lib/aws-pricing.ts";
import { metricData, metricSeries } from "../functions/metrics.ts";
import { WEATHER_METRIC_NAMES } from "../containers/weather/publish.ts";
import { synthesizeOffline } from "../stacks/synth-offline.ts";
import { readConfig } from "../workflows/config.ts";
import { allWorkflows } from "../workflows/index.ts";

/**
 * Sizes that the template cannot tell, stated: each image is a node:24 base with the project's production
 * dependencies (DuckDB's native binding is the largest, about 70 MB), about 0.4 GB in ECR, one kept per container
 * (an ECR lifecycle rule would keep it so); CloudWatch Logs hold the steps' logs for 3 months, a few MB a run.
 */
const ECR_GB_PER_IMAGE = 0.4;
const LOGS_INGESTED_GB_PER_MONTH = 0.1;
const LOG_RETENTION_MONTHS = 3;

/** The named metrics a workflow's runs send besides RUN_METRICS: weather's publish step reports its own; the others none. */
const namedMetrics = (workflow: string): string[] => (workflow === "weather" ? WEATHER_METRIC_NAMES : []);

/**
 * Every metric series (name + dimension values) one workflow's runs send, by the Metrics helper's own code: the
 * same for every region and run (no Region, Step or Kind dimension), so the regions of the monthly schedule add none.
 */
function metricSeriesOf(workflow: string): string[] {
  const extraMetrics = namedMetrics(workflow).map((name) => ({ name, value: 0 }));
  return (["SUCCEEDED", "FAILED"] as const).flatMap((status) => metricSeries(metricData({ workflow, status, extraMetrics }, new Date(0))));
}

export interface FixedCostReport {
  lines: FixedMonthlyCost[];
  /** USD a month, the sum of the lines. */
  total: number;
  /** What the figures were counted from, for the report's heading. */
  monthlyRegions: number;
  images: number;
  logGroups: number;
}

/** The stack's fixed monthly costs, counted from the offline-synthesized template (docs/COSTS.md states the total). */
export async function fixedCostReport(): Promise<FixedCostReport> {
  const { template } = await synthesizeOffline();
  const count = (type: string) => Object.keys(template.findResources(type)).length;
  const schedules = Object.values(template.findResources("AWS::Scheduler::Schedule")) as { Properties: { ScheduleExpression: string } }[];
  // A month of 30 days: rate(N unit), a daily cron (minute and hour fixed), else a monthly cron.
  const MINUTES_PER_UNIT: Record<string, number> = { minute: 1, minutes: 1, hour: 60, hours: 60, day: 1440, days: 1440 };
  const perMonth = (expr: string) => {
    const rate = /^rate\((\d+) (\w+)\)$/.exec(expr);
    if (rate) return Math.round((30 * 1440) / (Number(rate[1]) * MINUTES_PER_UNIT[rate[2]]));
    return /^cron\(\S+ \S+ \* \* \? \*\)$/.test(expr) ? 30 : 1;
  };
  const config = readConfig({});
  const workflows = allWorkflows(config);
  const containerWorkflows = workflows.filter((w) => w.steps.some((s) => s.kind === "container"));
  const series = new Set<string>();
  // Only workflows with a Metrics step send metrics (the monthly fan-out's regions send ski-atlas's).
  for (const w of workflows.filter((w) => w.metrics)) for (const s of metricSeriesOf(w.name)) series.add(s);
  const containers = new Set(containerWorkflows.flatMap((w) => w.steps.flatMap((s) => (s.kind === "container" ? [s.container] : []))));
  const inventory: StackInventory = {
    alarms: count("AWS::CloudWatch::Alarm"),
    dashboards: count("AWS::CloudWatch::Dashboard"),
    schedules: schedules.length,
    scheduledInvocationsPerMonth: schedules.reduce((sum, s) => sum + perMonth(s.Properties.ScheduleExpression), 0),
    customMetrics: series.size,
    ecrGb: Number((containers.size * ECR_GB_PER_IMAGE).toFixed(1)),
    logsStoredGb: Number((LOGS_INGESTED_GB_PER_MONTH * LOG_RETENTION_MONTHS).toFixed(1)),
    logsIngestedGbPerMonth: LOGS_INGESTED_GB_PER_MONTH,
  };
  const lines = fixedMonthlyCosts(inventory);
  return {
    lines,
    total: lines.reduce((s, l) => s + l.usd, 0),
    monthlyRegions: config.monthlyRegions.length,
    images: containers.size,
    logGroups: count("AWS::Logs::LogGroup"),
  };
}

async function main() {
  const r = await fixedCostReport();
  console.log(`Fixed monthly costs (${AWS_PRICES.region}, prices of ${AWS_PRICES.asOf}; ${r.monthlyRegions} monthly regions, ${r.images} images, ${r.logGroups} log groups):\n`);
  console.log("| item | quantity | USD / month |\n|---|---|---|");
  for (const l of r.lines) console.log(`| ${l.item} | ${l.quantity} | $${l.usd.toFixed(2)} |`);
  console.log(`| **total** | | **$${r.total.toFixed(2)}** |`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main().catch((err) => {
    console.error(`error: ${(err as Error).message}`);
    process.exit(1);
  });
}
