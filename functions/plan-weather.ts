import { readdir, stat } from "node:fs/promises";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import type { S3Client } from "@aws-sdk/client-s3";
import { listObjects } from "../lib/s3-objects.ts";
import { checkWeatherInput, dayOfStartTime } from "../lib/input-checks.ts";
import { makeS3Client, s3Uri } from "../lib/s3.ts";
import { STATION_FILE_RULE, stationOf } from "../lib/station-files.ts";
import { WEATHER_SIZE_POLICIES, WEATHER_STEPS, type WeatherStep } from "../workflows/weather-sizing.ts";
import { pickTier, type TierName } from "../workflows/tiers.ts";
import { loadConfig, requireBucket, type AtlasConfig } from "./config.ts";
import { SourceNotFoundError } from "./errors.ts";
import { plannedTiers } from "./plan-tiers.ts";

/** weather Plan: `{ input: $.input, execution: { name, startTime } }`. */
export interface WeatherPlanEvent {
  input?: { source?: unknown; runId?: unknown } | null;
  execution: { name: string; startTime: string };
  /** The state machine's tier table's names (`$.tiers.name`): Plan answers with positions in it. */
  tierNames?: unknown;
}

/**
 * `$.plan` of a weather run. `period` is the run's day, so notifications and metrics labels name it.
 * `nothingToIngest`: the default incoming prefix holds no station file today; the machine then ends the run as
 * Succeeded right after Plan (workflows/weather.ts, `endsRunWhen`), with no task, no notification and no metric.
 */
export interface WeatherPlan {
  workflow: "weather";
  nothingToIngest: boolean;
  runId: string;
  period: string;
  source: { url: string; files: number; bytes: number };
  uris: { source: string; staging: string; publish: string };
  tiers: Record<WeatherStep, TierName>;
  /** Each step's tier by its position in the state machine's tier table (functions/plan-tiers.ts). */
  tierIndex: Record<WeatherStep, number>;
}

export const DEFAULT_SOURCE_PREFIX = "incoming/weather/";

export function weatherTiers(bytes: number): Record<WeatherStep, TierName> {
  return Object.fromEntries(WEATHER_STEPS.map((s) => [s, pickTier(WEATHER_SIZE_POLICIES[s], bytes)])) as Record<WeatherStep, TierName>;
}

/** The station files (`<station>.txt`, lib/station-files.ts) directly under the source prefix: how many, and their total size. */
export async function sizeSource(source: string, s3: () => S3Client): Promise<{ files: number; bytes: number }> {
  if (source.startsWith("file://")) {
    const dir = fileURLToPath(source);
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => {
      throw new SourceNotFoundError(`source ${source} is not a directory`);
    });
    const files = entries.filter((e) => e.isFile() && stationOf(e.name) !== undefined);
    let bytes = 0;
    for (const f of files) bytes += (await stat(path.join(dir, f.name))).size;
    return { files: files.length, bytes };
  }
  const listed = (await listObjects(s3(), source)).filter((o) => !o.name.includes("/") && stationOf(o.name) !== undefined);
  return { files: listed.length, bytes: listed.reduce((sum, o) => sum + o.size, 0) };
}

export async function planWeather(event: WeatherPlanEvent, deps: { config: AtlasConfig; s3: () => S3Client }): Promise<WeatherPlan> {
  // The same checks the CLI runs before it starts anything (lib/input-checks.ts).
  const input = checkWeatherInput(event?.input, deps.config);
  const bucket = requireBucket(deps.config);

  const runId = input.runId ?? dayOfStartTime(event?.execution?.startTime);

  const incoming = s3Uri(bucket, DEFAULT_SOURCE_PREFIX);
  const source = input.source ?? incoming;

  const size = await sizeSource(source, deps.s3);
  // An empty incoming prefix is an ordinary day (nothing was delivered): not a failure, and nobody is paged. Any
  // other prefix was named on purpose, so finding nothing there is a mistake to report.
  const nothingToIngest = size.files === 0 && source === incoming;
  if (size.files === 0 && !nothingToIngest) throw new SourceNotFoundError(`source ${source} holds no station files (${STATION_FILE_RULE})`);
  return {
    workflow: "weather",
    nothingToIngest,
    runId,
    period: runId,
    source: { url: source, ...size },
    uris: {
      source,
      staging: s3Uri(bucket, `staging/weather/${runId}/`),
      publish: s3Uri(bucket, `weather/${runId}/`),
    },
    ...plannedTiers(weatherTiers(size.bytes), event?.tierNames),
  };
}

export async function handler(event: WeatherPlanEvent): Promise<WeatherPlan> {
  let client: S3Client | undefined;
  try {
    return await planWeather(event, { config: loadConfig(), s3: () => (client ??= makeS3Client()) });
  } finally {
    client?.destroy();
  }
}
