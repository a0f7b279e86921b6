import { fileURLToPath } from "node:url";
import { WEATHER_DIR } from "../lib/data-catalog.ts";
import { dataDir } from "../lib/data-files.ts";
import { toSourceUrl } from "../lib/source-url.ts";
import { sizeSource } from "../functions/plan-weather.ts";
import { checkWeatherInput, isRunDay } from "../lib/input-checks.ts";
import { cliInputCheckConfig } from "./config.ts";
import { ECS_CAPACITY_RETRY, LAMBDA_SERVICE_RETRY, TRANSIENT_TASK_RETRY } from "./retry-policies.ts";
import { RUN_NOTIFY, rollbackPublish, runMetrics } from "./standard-steps.ts";
import type { ContainerStep, Workflow } from "./types.ts";
import { timeoutMinutes } from "./tiers.ts";
import { STATION_FILE_RULE } from "../lib/station-files.ts";

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

/** A file:// source is read from disk: no S3 client is needed to size it. */
const noS3 = (): never => {
  throw new Error("a file:// source needs no S3 client");
};

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
  onFailure: rollbackPublish("weather"),
  metrics: runMetrics("weather", ["weather/*/manifest.json"]),
  notify: RUN_NOTIFY,
  // Only lines that cannot be read page someone; QualityWarnings (records kept with a quality flag, e.g. max below
  // min) is on the dashboard, without an alarm: it describes the stations' data, which nobody here can fix.
  alarms: [
    { id: "IngestionErrors", metric: "IngestionErrors", threshold: 1, description: "a run met input lines it cannot read (IngestionErrors > 0)" },
  ],
  dashboardMetrics: ["RecordsIngested", "IngestionErrors", "QualityWarnings", "RunFailed"],
  dashboardCounts: ["stations", "records", "flagged_records", "rejected_lines"],
  cli: {
    options: {
      source: "directory of <station>.txt files, or s3://bucket/prefix/ (default offline: the 167 real stations, wx_data from ATLAS_DATA_DIR, ../shared/data or their pinned download)",
      "run-id": "the run's day, YYYY-MM-DD (default: today, UTC)",
    },
    async input({ source, "run-id": runId }, target) {
      const input: Record<string, unknown> = {};
      if (runId !== undefined) {
        if (!isRunDay(runId)) throw new Error(`--run-id ${JSON.stringify(runId)} is not a day: use YYYY-MM-DD (a real calendar day)`);
        input.runId = runId;
      }
      if (source !== undefined) {
        if (target === "aws" && !source.startsWith("s3://")) throw new Error("--source must be s3://bucket/prefix/ with --aws");
        const url = toSourceUrl(source, "--source", "directory");
        input.source = url.endsWith("/") ? url : `${url}/`;
      } else if (target === "local") {
        // The real stations (lib/data-files.ts); without them, say how to get them or pass --source DIR.
        input.source = `${toSourceUrl(await dataDir(WEATHER_DIR))}/`;
      }
      // Plan's own checks, so that bad input is refused before anything runs.
      const checked = checkWeatherInput(input, cliInputCheckConfig(target));
      // A local folder is counted as Plan counts it (an S3 prefix is Plan's to list: it may be filled meanwhile).
      if (checked.source?.startsWith("file://") && (await sizeSource(checked.source, noS3)).files === 0) {
        throw new Error(`--source ${source ?? fileURLToPath(String(checked.source))} holds no station files (${STATION_FILE_RULE}): pass the directory that holds them`);
      }
      return input;
    },
  },
};
