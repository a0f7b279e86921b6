import type { SizePolicy } from "./tiers.ts";

export type WeatherStep = "ingest" | "analyze" | "publish";
export const WEATHER_STEPS: readonly WeatherStep[] = ["ingest", "analyze", "publish"];

/**
 * Peak memory and disk of each weather step against the size of the source (all station files). Measured on the
 * real 167 stations (45 MiB, 1.73 M lines) with the local engine's peak RSS (see containers/weather/README.md):
 * ingest 631 MiB, analyze 145 MiB, publish 151 MiB. Ingest keeps one dedupe key per station-day
 * and DuckDB sorts the records (about 4× the input while it writes Parquet); disk holds a TSV copy of the records
 * and the Parquet. The 167 stations fit the xsmall tier (1 GB) with the 30% margin.
 */
export const WEATHER_SIZE_POLICIES: Record<WeatherStep, SizePolicy> = {
  ingest: { baseMemoryMiB: 160, memoryMiBPerInputMiB: 11, baseDiskGiB: 1, diskGiBPerInputGiB: 3 },
  analyze: { baseMemoryMiB: 256, memoryMiBPerInputMiB: 2, baseDiskGiB: 1, diskGiBPerInputGiB: 1 },
  publish: { baseMemoryMiB: 256, memoryMiBPerInputMiB: 1, baseDiskGiB: 1, diskGiBPerInputGiB: 1 },
};
