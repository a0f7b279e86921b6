import { ECS_CAPACITY_RETRY, LAMBDA_SERVICE_RETRY, SOURCE_UNAVAILABLE_RETRY, TRANSIENT_TASK_RETRY } from "./retry-policies.ts";
import { REGION_NAMES } from "../lib/regions.ts";
import { RUN_NOTIFY, runMetrics } from "./standard-steps.ts";
import { timeoutMinutes } from "./tiers.ts";
import type { ContainerStep, Workflow } from "./types.ts";

/**
 * The monthly ski atlas of one region: Plan → Download → Extract → Analyze → Publish, then Metrics and Notify.
 * Containers read their inputs from S3 and write their outputs to S3 (Fargate tasks share no disk), and the
 * state only carries S3 URIs (the state payload limit is 256 KB).
 */
const run = { REGION: "$.plan.region", PERIOD: "$.plan.period", RUN_ID: "$.plan.runId" };

/** Each container step's timeouts, per tier. Bigger tiers get longer caps because they get bigger inputs. */
const minutes = timeoutMinutes;

/**
 * The keys ski-atlas may touch, per region of the registry: its downloaded sources, its per-run intermediates,
 * and its published months. Nothing else in the bucket (another workflow's output, say) is reachable.
 */
const perRegion = (pattern: (region: string) => string) => REGION_NAMES.map(pattern);
const SKI_ATLAS_ACCESS = {
  readWrite: [...perRegion((r) => `raw/${r}/*`), ...perRegion((r) => `staging/${r}/*`), ...perRegion((r) => `${r}/*`)],
};

const containerStep = (step: Omit<ContainerStep, "kind" | "container" | "retries" | "escalateOnOutOfMemory">): ContainerStep => ({
  kind: "container",
  container: "ski-atlas",
  retries: [ECS_CAPACITY_RETRY, TRANSIENT_TASK_RETRY],
  escalateOnOutOfMemory: true,
  access: SKI_ATLAS_ACCESS,
  ...step,
});

export const skiAtlas: Workflow = {
  name: "ski-atlas",
  description: "One region, one month: OpenStreetMap extract → ski areas, lifts and pistes as Parquet and CSV.",
  timeoutSeconds: 12 * 3600,
  exampleInput: { region: "iceland" },
  steps: [
    {
      kind: "function",
      id: "plan",
      fn: "plan",
      payload: {
        input: "$.input",
        execution: { name: "$$.Execution.Name", startTime: "$$.Execution.StartTime" },
        tierNames: "$.tiers.name",
      },
      resultPath: "$.plan",
      resultFields: ["workflow", "region", "period", "runId", "source", "uris", "tiers", "tierIndex", "allowShrink"],
      timeoutSeconds: 60,
      retries: [LAMBDA_SERVICE_RETRY, SOURCE_UNAVAILABLE_RETRY],
      onError: "fail",
    },
    containerStep({
      id: "download",
      command: ["download"],
      environment: { ...run, SOURCE_URL: "$.plan.source.url", RAW_URI: "$.plan.uris.raw" },
      // Bound by the network, not the CPU: North America (16 GB) takes minutes at Fargate's bandwidth.
      timeoutSeconds: minutes(60, 60, 120, 180),
    }),
    containerStep({
      id: "extract",
      command: ["extract"],
      environment: { ...run, RAW_URI: "$.plan.uris.raw", EXTRACT_URI: "$.plan.uris.extract" },
      timeoutSeconds: minutes(30, 30, 60, 120),
    }),
    containerStep({
      id: "analyze",
      command: ["analyze"],
      environment: { ...run, EXTRACT_URI: "$.plan.uris.extract", STAGING_URI: "$.plan.uris.staging" },
      timeoutSeconds: minutes(30, 30, 60, 120),
    }),
    containerStep({
      id: "publish",
      command: ["publish"],
      environment: {
        ...run,
        SOURCE_URL: "$.plan.source.url",
        RAW_URI: "$.plan.uris.raw",
        STAGING_URI: "$.plan.uris.staging",
        PUBLISH_URI: "$.plan.uris.publish",
        ALLOW_SHRINK: "$.plan.allowShrink",
      },
      timeoutSeconds: minutes(15, 15, 30, 30),
    }),
  ],
  metrics: runMetrics("ski-atlas", perRegion((r) => `${r}/*/manifest.json`)),
  notify: RUN_NOTIFY,
  // Bytes, durations, tiers and escalations per region are in the run-summary table (Logs Insights), not metrics.
  dashboardMetrics: ["RunFailed"],
  dashboardCounts: ["ski_areas", "lifts", "pistes", "osm_near_winter_sports"],
  localSourceOption: () => "--source PATH",
};
