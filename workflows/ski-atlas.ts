import { ECS_CAPACITY_RETRY, LAMBDA_SERVICE_RETRY, SOURCE_UNAVAILABLE_RETRY, TRANSIENT_TASK_RETRY } from "./retry-policies.ts";
import { mkdir, rename } from "node:fs/promises";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { checkSkiAtlasInput } from "../lib/input-checks.ts";
import { REGION_NAMES, periodProblem } from "../lib/regions.ts";
import { PROJECT_ROOT } from "../lib/project-root.ts";
import { toSourceUrl } from "../lib/source-url.ts";
import { cliInputCheckConfig } from "./config.ts";
import { RUN_NOTIFY, rollbackPublish, runMetrics } from "./standard-steps.ts";
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
  onFailure: rollbackPublish("ski-atlas"),
  metrics: runMetrics("ski-atlas", perRegion((r) => `${r}/*/manifest.json`)),
  notify: RUN_NOTIFY,
  // Bytes, durations, tiers and escalations per region are in the run-summary table (Logs Insights), not metrics.
  dashboardMetrics: ["RunFailed"],
  dashboardCounts: ["ski_areas", "lifts", "pistes", "osm_near_winter_sports"],
  cli: {
    localSourceOption: () => "--source PATH",
    options: {
      region: "region from the registry (default offline: the generated sample region 'sample')",
      source: "a local .osm.pbf or a URL (default: the region's Geofabrik URL)",
      period: "the month to publish, YYYY-MM (default: this month, UTC)",
    },
    async input({ region, source, period }, target) {
      const input: Record<string, unknown> = { region: region ?? (target === "local" ? "sample" : undefined) };
      if (input.region === undefined) throw new Error("--region is required with --aws");
      if (period !== undefined) input.period = checkedPeriod(period);
      if (source !== undefined) input.source = toSourceUrl(source, "--source", "file");
      else if (input.region === "sample") {
        if (target !== "local") throw new Error("the 'sample' region exists only offline: pick a real region with --aws");
        input.source = pathToFileURL(await sampleRegion()).href;
      }
      // Plan's own checks (region, period, source), so that bad input is refused before anything runs.
      await checkSkiAtlasInput(input, cliInputCheckConfig(target));
      return input;
    },
  },
};

/** `--period`, checked before anything starts by the same rule Plan applies. */
export function checkedPeriod(period: string): string {
  const problem = periodProblem(period);
  if (problem) throw new Error(`--period: ${problem}`);
  return period;
}

/** The offline sample: synthetic OSM with several resorts, generated by the repo itself, the same every time. */
async function sampleRegion(): Promise<string> {
  // osmium writes the sample (installed now if missing): only this default needs it, so only it installs it.
  await (await import("../lib/ensure-osmium.ts")).ensureOsmium();
  const { writeSyntheticRegion } = await import("../containers/ski-atlas/synthetic-osm.ts");
  const file = path.resolve(PROJECT_ROOT, ".data", "sample", "sample.osm.pbf");
  await mkdir(path.dirname(file), { recursive: true }); // .data/ may have been cleaned
  // Written aside and renamed: a run started at the same moment reads the old file or the new one, never half.
  const fresh = `${file}.${process.pid}.tmp`;
  await writeSyntheticRegion(fresh);
  await rename(fresh, file);
  return file;
}
