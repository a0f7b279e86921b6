import type { AtlasConfig } from "./config.ts";
import { LAMBDA_SERVICE_RETRY, START_EXECUTION_RETRY } from "./retry-policies.ts";
import { skiAtlas } from "./ski-atlas.ts";
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
    localSourceOption: (regions) => `--sources ${regions.map((r) => `${r}=PATH`).join(",")}`,
  };
}
