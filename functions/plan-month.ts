import { getRegion } from "../lib/regions.ts";
import { loadConfig, type AtlasConfig } from "./config.ts";
import { InvalidInputError } from "./errors.ts";
import { inputObject, periodOfStartTime, rejectUnknownFields, requirePeriod, requireRegion } from "./validate.ts";

/**
 * Monthly fan-out planner:
 * `{ input: $.input, execution: { startTime: $$.Execution.StartTime }, defaults: { regions: [...] } }`.
 * `input.regions` may also be a comma-separated string ("iceland,andorra").
 */
export interface PlanMonthEvent {
  input?: { regions?: string[] | string; period?: string; sources?: Record<string, string> } | null;
  execution: { startTime: string };
  defaults: { regions: string[] };
}

export interface PlanMonthItem {
  region: string;
  period: string;
  /** The nested execution's name: reruns of the same region and month dedupe on it. */
  name: string;
  /** A source URL overriding the registry's (null: the registry's). Always present: the Map reads it by path. */
  source: string | null;
}

export interface PlanMonthOutput {
  period: string;
  items: PlanMonthItem[];
}

function regionList(value: unknown, what: string): string[] {
  const list = typeof value === "string" ? value.split(",").map((r) => r.trim()) : value;
  if (!Array.isArray(list)) throw new InvalidInputError(`${what} must be a list of region names, e.g. ["iceland", "andorra"]`);
  if (list.length === 0) throw new InvalidInputError(`${what} is empty: list at least one region`);
  return list as string[];
}

export function planMonth(event: PlanMonthEvent, config: Pick<AtlasConfig, "local">): PlanMonthOutput {
  const input = inputObject(event?.input, "the execution input");
  rejectUnknownFields(input, ["regions", "period", "sources"], "input");
  const sources = input.sources ?? {};
  if (typeof sources !== "object" || Array.isArray(sources) || Object.values(sources).some((s) => typeof s !== "string")) {
    throw new InvalidInputError('sources must map region names to source URLs, e.g. {"iceland": "https://…"}');
  }
  const requested =
    input.regions !== undefined ? regionList(input.regions, "regions") : regionList(event?.defaults?.regions, "the default regions");
  const period = input.period === undefined ? periodOfStartTime(event?.execution?.startTime) : requirePeriod(input.period);

  const regions = [...new Set(requested.map((r) => requireRegion(r).name))];
  const localOnly = regions.filter((r) => getRegion(r)?.localOnly);
  if (localOnly.length > 0 && !config.local) {
    throw new InvalidInputError(`region${localOnly.length > 1 ? "s" : ""} ${localOnly.join(", ")} only run with the local engine (ATLAS_LOCAL=1)`);
  }
  const unknownSources = Object.keys(sources).filter((r) => !regions.includes(r));
  if (unknownSources.length > 0) throw new InvalidInputError(`sources names regions that are not in this run: ${unknownSources.join(", ")}`);
  return {
    period,
    items: regions.map((region) => ({ region, period, name: `${region}-${period}`, source: (sources as Record<string, string>)[region] ?? null })),
  };
}

export async function handler(event: PlanMonthEvent): Promise<PlanMonthOutput> {
  return planMonth(event, loadConfig());
}
