import { approxBytes } from "../lib/regions.ts";
import { s3Uri } from "../lib/s3.ts";
import { SKI_ATLAS_SIZE_POLICIES, SKI_ATLAS_SIZED_STEPS, type SkiAtlasSizedStep } from "../workflows/ski-atlas-sizing.ts";
import { pickTier, type TierName } from "../workflows/tiers.ts";
import { loadConfig, requireBucket, type AtlasConfig } from "./config.ts";
import { checkSkiAtlasInput, periodOfStartTime, sourceBasename } from "../lib/input-checks.ts";
import { probeSourceSize, type ProbeOptions } from "./source.ts";
import { plannedTiers } from "./plan-tiers.ts";

/** ski-atlas Plan: `{ input: $.input, execution: { name: $$.Execution.Name, startTime: $$.Execution.StartTime } }`. */
export interface PlanEvent {
  input?: { region?: string; period?: string; source?: string; allowShrink?: boolean } | null;
  execution: { name: string; startTime: string };
  /** The state machine's tier table's names (`$.tiers.name`): Plan answers with positions in it. */
  tierNames?: unknown;
}

/** `$.plan` (docs/ARCHITECTURE.md), plus `source.sizeKnown`. */
export interface PlanOutput {
  workflow: "ski-atlas";
  region: string;
  period: string;
  runId: string;
  source: {
    url: string;
    /** The size the source reported, or the registry's approximation when it reported none. */
    bytes: number;
    /** False when `bytes` is the registry's approximation. */
    sizeKnown: boolean;
  };
  uris: { raw: string; extract: string; staging: string; publish: string };
  tiers: Record<SkiAtlasSizedStep, TierName>;
  /** Each step's tier by its position in the state machine's tier table (functions/plan-tiers.ts). */
  tierIndex: Record<SkiAtlasSizedStep, number>;
  /** The input's `allowShrink` (publish past the shrink guard, containers/ski-atlas/shrink-guard.ts), as a string:
   * it becomes the publish container's ALLOW_SHRINK, and ECS takes only strings as environment values. */
  allowShrink: "true" | "false";
}

export interface PlanDeps {
  config: AtlasConfig;
  probe?: ProbeOptions;
}

/**
 * The run id used in staging keys: the execution name with anything outside `[A-Za-z0-9._-]` turned into `-`,
 * without leading dots or dashes (no `.`/`..` key segments), at most 80 characters like an execution name.
 */
export function sanitizeRunId(name: string): string {
  return name
    .replace(/[^A-Za-z0-9._-]+/g, "-")
    .replace(/^[.-]+/, "")
    .slice(0, 80)
    .replace(/[.-]+$/, "");
}

export function skiAtlasTiers(bytes: number): Record<SkiAtlasSizedStep, TierName> {
  return Object.fromEntries(
    SKI_ATLAS_SIZED_STEPS.map((step) => [step, pickTier(SKI_ATLAS_SIZE_POLICIES[step], bytes)]),
  ) as Record<SkiAtlasSizedStep, TierName>;
}

export async function plan(event: PlanEvent, deps: PlanDeps): Promise<PlanOutput> {
  const { config } = deps;
  // The same checks the CLI runs before it starts anything (lib/input-checks.ts).
  const { region, period: givenPeriod, source: url, allowShrink } = await checkSkiAtlasInput(event?.input, config);
  const period = givenPeriod ?? periodOfStartTime(event?.execution?.startTime);
  const bucket = requireBucket(config);

  const runId = sanitizeRunId(String(event?.execution?.name ?? "")) || `${region.name}-${period}`;
  const size = await probeSourceSize(url, { local: config.local, ...deps.probe });
  const bytes = size.bytes ?? approxBytes(region);

  return {
    workflow: "ski-atlas",
    region: region.name,
    period,
    runId,
    source: { url: url.href, bytes, sizeKnown: size.bytes !== undefined },
    uris: {
      raw: s3Uri(bucket, `raw/${region.name}/${sourceBasename(url)}`),
      extract: s3Uri(bucket, `staging/${region.name}/${period}/${runId}/extract.osm.pbf`),
      staging: s3Uri(bucket, `staging/${region.name}/${period}/${runId}/out/`),
      publish: s3Uri(bucket, `${region.name}/${period}/`),
    },
    ...plannedTiers(skiAtlasTiers(bytes), event?.tierNames),
    allowShrink: allowShrink ? "true" : "false",
  };
}

export async function handler(event: PlanEvent): Promise<PlanOutput> {
  return plan(event, { config: loadConfig() });
}
