/**
 * `npm run costs:fixed`: what the deployed stack costs every month whatever runs (README, "Costs"). Synthesizes
 * the stack offline the way `sst deploy` does (stacks/synth-offline.ts), counts what is billed monthly in the
 * template (alarms, dashboards, schedules, log groups), counts the custom metric series the Metrics helper sends
 * (functions/metrics.ts `metricData`, for every workflow and every region of the monthly schedule) and prices them
 * with lib/aws-pricing.ts. Prints a Markdown table.
 */
import { AWS_PRICES, fixedMonthlyCosts, type StackInventory } from "../lib/aws-pricing.ts";
import { metricData, runSummary, type MetricsEvent } from "../functions/metrics.ts";
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

/** Every metric series (name + dimension values) one workflow's runs send in a month. */
function metricSeries(workflow: string, regions: (string | undefined)[], steps: string[], counts: string[]): Set<string> {
  const series = new Set<string>();
  for (const region of regions) {
    for (const status of ["SUCCEEDED", "FAILED"] as const) {
      const event: MetricsEvent = {
        workflow,
        status,
        plan: region ? { region } : null,
        steps: Object.fromEntries(steps.map((s) => [s, { tier: "small", startedAt: 0, stoppedAt: 1000 }])),
        run: { escalations: {}, retries: {} },
      };
      const manifest = { counts: Object.fromEntries(counts.map((c) => [c, 1])), files: [{ bytes: 1 }] };
      for (const d of metricData(event, runSummary(event, manifest), new Date(0))) {
        series.add(`${d.MetricName}|${(d.Dimensions ?? []).map((x) => `${x.Name}=${x.Value}`).join(",")}`);
      }
    }
  }
  return series;
}

async function main() {
  const { template } = await synthesizeOffline();
  const count = (type: string) => Object.keys(template.findResources(type)).length;
  const schedules = Object.values(template.findResources("AWS::Scheduler::Schedule")) as { Properties: { ScheduleExpression: string } }[];
  const perMonth = (expr: string) => (/^cron\(\S+ \S+ \* \* \? \*\)$/.test(expr) ? 30 : 1); // daily, else monthly
  const config = readConfig({});
  const workflows = allWorkflows(config);
  const containerWorkflows = workflows.filter((w) => w.steps.some((s) => s.kind === "container"));
  const series = new Set<string>();
  for (const w of workflows) {
    const steps = w.steps.filter((s) => s.kind === "container").map((s) => s.id);
    const regions = w.name === "ski-atlas" ? config.monthlyRegions : [undefined];
    const counts = w.name === "ski-atlas" ? ["ski_areas", "lifts", "pistes", "osm_near_winter_sports"] : ["records"];
    for (const s of metricSeries(w.name, regions, steps, counts)) series.add(s);
  }
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
  const total = lines.reduce((s, l) => s + l.usd, 0);
  console.log(`Fixed monthly costs (${AWS_PRICES.region}, prices of ${AWS_PRICES.asOf}; ${config.monthlyRegions.length} monthly regions, ${containers.size} images, ${count("AWS::Logs::LogGroup")} log groups):\n`);
  console.log("| item | quantity | USD / month |\n|---|---|---|");
  for (const l of lines) console.log(`| ${l.item} | ${l.quantity} | $${l.usd.toFixed(2)} |`);
  console.log(`| **total** | | **$${total.toFixed(2)}** |`);
}

main().catch((err) => {
  console.error(`error: ${(err as Error).message}`);
  process.exit(1);
});
