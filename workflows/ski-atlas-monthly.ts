import { checkMonthInput, checkSkiAtlasInput } from "../lib/input-checks.ts";
import { toSourceUrl } from "../lib/source-url.ts";
import { cliInputCheckConfig, type AtlasConfig } from "./config.ts";
import { LAMBDA_SERVICE_RETRY, START_EXECUTION_RETRY } from "./retry-policies.ts";
import { checkedPeriod, skiAtlas } from "./ski-atlas.ts";
import type { Workflow } from "./types.ts";

/**
 * The monthly fan-out: one ski-atlas execution per configured region, named `{region}-{period}` (then `-2`, `-3`, …
 * for later attempts), so that a rerun of the same month finds the attempts that already ran: Plan reuses a region
 * whose latest attempt SUCCEEDED and starts the next attempt of one that failed, timed out or was aborted
 * (`force` reruns succeeded regions too). One failed region is reported; the others go on.
 */
export function skiAtlasMonthly(config: Pick<AtlasConfig, "monthlyRegions" | "monthlyMaxConcurrency">): Workflow {
  return {
    name: "ski-atlas-monthly",
    description: "Runs ski-atlas for every configured region, then sends one digest.",
    timeoutSeconds: 24 * 3600,
    exampleInput: {},
    schedule: {
      // 06:00 UTC on the 1st: Geofabrik's extracts of the night before are complete by then.
      expression: "cron(0 6 1 * ? *)",
      description: "Monthly ski atlas for all configured regions",
      input: {},
    },
    steps: [
      {
        kind: "function",
        id: "plan",
        fn: "plan-month",
        payload: {
          input: "$.input",
          execution: { name: "$$.Execution.Name", startTime: "$$.Execution.StartTime" },
          defaults: { regions: config.monthlyRegions },
        },
        resultPath: "$.plan",
        resultFields: ["period", "items"],
        timeoutSeconds: 60,
        retries: [LAMBDA_SERVICE_RETRY],
        onError: "fail",
        describesExecutionsOf: [skiAtlas.name],
      },
      {
        kind: "fanOut",
        id: "regions",
        itemsPath: "$.plan.items",
        itemInput: { region: "$.region", period: "$.period", source: "$.source" },
        itemKey: "region",
        workflow: skiAtlas.name,
        maxConcurrency: config.monthlyMaxConcurrency,
        resultPath: "$.results",
        timeoutSeconds: skiAtlas.timeoutSeconds + 600,
        retries: [START_EXECUTION_RETRY],
        // A region reused (or still running elsewhere) is not started again: its earlier attempt is the result.
        skip: { startPath: "$.start", statusPath: "$.previous.status" },
      },
      {
        kind: "function",
        id: "summarize",
        fn: "summarize",
        payload: { period: "$.plan.period", results: "$.results" },
        resultPath: "$.digest",
        resultFields: ["status", "succeeded", "failed", "subject", "body"],
        timeoutSeconds: 60,
        retries: [LAMBDA_SERVICE_RETRY],
        onError: "fail",
      },
    ],
    // It sends the digest, whatever its status: "Notify success" would announce a success the digest may deny.
    notify: { fn: "notify", payload: { digest: "$.digest" }, timeoutSeconds: 60, retries: [LAMBDA_SERVICE_RETRY], successStateName: "Send digest" },
    cli: {
      localSourceOption: (regions) => `--sources ${regions.map((r) => `${r}=PATH`).join(",")}`,
      options: {
        regions: "comma-separated regions (default: the configured list)",
        period: "the month to publish, YYYY-MM (default: this month, UTC)",
        sources: "comma-separated region=PATH|URL pairs overriding the registry's sources",
        force: "rerun regions whose month already succeeded: 'all' or comma-separated regions",
      },
      async input({ regions, period, sources, force }, target) {
        const input: Record<string, unknown> = {};
        if (force !== undefined) input.force = force === "all" ? true : force.split(",").map((r) => r.trim());
        if (regions !== undefined) input.regions = regions.split(",").map((r) => r.trim());
        if (period !== undefined) input.period = checkedPeriod(period);
        if (sources !== undefined) {
          input.sources = Object.fromEntries(
            sources.split(",").map((pair) => {
              const [region, source] = pair.split("=");
              if (!region || !source) throw new Error(`--sources: '${pair}' is not region=PATH|URL`);
              return [region.trim(), toSourceUrl(source.trim(), `--sources ${region.trim()}:`, "file")];
            }),
          );
        }
        // What the month's Plan and then each region's Plan check, before anything runs.
        const checks = cliInputCheckConfig(target);
        const month = checkMonthInput(input, config.monthlyRegions, checks);
        for (const region of month.regions) {
          await checkSkiAtlasInput({ region, period: month.period, source: month.sources[region] ?? null }, checks);
        }
        return input;
      },
    },
  };
}
