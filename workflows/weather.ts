import { ECS_CAPACITY_RETRY, LAMBDA_SERVICE_RETRY, TRANSIENT_TASK_RETRY } from "./retry-policies.ts";
import { RUN_NOTIFY, runMetrics } from "./standard-steps.ts";
import type { ContainerStep, Workflow } from "./types.ts";
import { timeoutMinutes } from "./tiers.ts";

/**
 * The daily weather ingestion: Plan → Ingest → Analyze → Publish, then Metrics and Notify. The station files
 * under the source prefix become `weather/{runId}/`: the validated records, per-station yearly statistics
 * (Parquet and CSV), a sample of the rejected lines, and manifest.json written last.
 */
const run = { RUN_ID: "$.plan.runId", STAGING_URI: "$.plan.uris.staging" };

const minutes = timeoutMinutes;

/** Read the source and the bucket's incoming files, write staging and the published days. */
const WEATHER_ACCESS = { read: ["incoming/weather/*"], readWrite: ["staging/weather/*", "weather/*"] };

const step = (s: Omit<ContainerStep, "kind" | "container" | "retries" | "escalateOnOutOfMemory" | "access">): ContainerStep => ({
  kind: "container",
  container: "weather",
  retries: [ECS_CAPACITY_RETRY, TRANSIENT_TASK_RETRY],
  escalateOnOutOfMemory: true,
  access: WEATHER_ACCESS,
  ...s,
});

export const weather: Workflow = {
  name: "weather",
  description: "Daily: weather station files → validated records and per-station yearly statistics (Parquet, CSV).",
  timeoutSeconds: 4 * 3600,
  exampleInput: { source: "s3://BUCKET/incoming/weather/", runId: "2026-07-01" },
  schedule: {
    expression: "cron(0 2 * * ? *)",
    description: "Daily weather ingestion of s3://BUCKET/incoming/weather/ (02:00 UTC)",
    input: {},
  },
  steps: [
    {
      kind: "function",
      id: "plan",
      fn: "plan-weather",
      payload: { input: "$.input", execution: { name: "$$.Execution.Name", startTime: "$$.Execution.StartTime" }, tierNames: "$.tiers.name" },
      resultPath: "$.plan",
      resultFields: ["workflow", "nothingToIngest", "runId", "period", "source", "uris", "tiers", "tierIndex"],
      timeoutSeconds: 60,
      retries: [LAMBDA_SERVICE_RETRY],
      onError: "fail",
      access: { read: ["incoming/weather/*"] },
      // A scheduled day with no file under incoming/weather/ is not a failure: it ends here, and pages nobody.
      endsRunWhen: { path: "$.plan.nothingToIngest", name: "Nothing to ingest" },
    },
    step({
      id: "ingest",
      command: ["ingest"],
      environment: { ...run, SOURCE_URI: "$.plan.uris.source" },
      timeoutSeconds: minutes(30, 30, 60, 120),
    }),
    step({ id: "analyze", command: ["analyze"], environment: run, timeoutSeconds: minutes(15, 15, 30, 60) }),
    step({
      id: "publish",
      command: ["publish"],
      environment: { ...run, SOURCE_URI: "$.plan.uris.source", PUBLISH_URI: "$.plan.uris.publish" },
      timeoutSeconds: minutes(15, 15, 30, 30),
    }),
  ],
  metrics: runMetrics("weather", ["weather/*/manifest.json"]),
  notify: RUN_NOTIFY,
  // Only lines that cannot be read page someone; QualityWarnings (records kept with a quality flag, e.g. max below
  // min) is on the dashboard, without an alarm: it describes the stations' data, which nobody here can fix.
  alarms: [
    { id: "IngestionErrors", metric: "IngestionErrors", threshold: 1, description: "a run met input lines it cannot read (IngestionErrors > 0)" },
  ],
  dashboardMetrics: ["RecordsIngested", "IngestionErrors", "QualityWarnings", "RunFailed"],
  dashboardCounts: ["stations", "records", "flagged_records", "rejected_lines"],
};
