import type { SizePolicy } from "./tiers.ts";

export type SkiAtlasSizedStep = "download" | "extract" | "analyze" | "publish";

export const SKI_ATLAS_SIZED_STEPS: readonly SkiAtlasSizedStep[] = ["download", "extract", "analyze", "publish"];

/**
 * Peak memory and disk of each ski-atlas container step, as linear fits against the source PBF's size. Plan
 * feeds them to `pickTier(policy, bytes)` to choose each step's Fargate tier.
 *
 * Calibrated by `npm run bench` (bench/results.json, 2026-11-22, 2 CPUs, Node 24): inputs of 50 MB, 203 MB and
 * 1 GB tiled from the real Andorra extract, each step a child process against the embedded S3 server.
 * - Memory: least squares of peak RSS (ru_maxrss) against input MiB, the intercept raised until the line bounds
 *   every measured point, then +10% on the base (`npm run bench -- --report` prints these numbers again).
 * - Disk (from file sizes, not sampled): download keeps the raw file; extract holds the raw file, then the
 *   extract (7% of the input at most); analyze the extract plus its outputs; publish the staged outputs.
 * - Extract and analyze grow with the *extract*, and tiled Andorra (a ski country) keeps ~7% of its input, far
 *   more than a continent does (well under 1%): these slopes are an upper bound for large regions. By this fit,
 *   analyze for North America (16 GB) and extract+analyze for Europe (31 GB) exceed xlarge with the 30% margin
 *   (pickTier then gives xlarge, the top tier).
 */
export const SKI_ATLAS_SIZE_POLICIES: Record<SkiAtlasSizedStep, SizePolicy> = {
  download: { baseMemoryMiB: 216, memoryMiBPerInputMiB: 0.07, baseDiskGiB: 0.5, diskGiBPerInputGiB: 1 },
  extract: { baseMemoryMiB: 360, memoryMiBPerInputMiB: 1.35, baseDiskGiB: 0.5, diskGiBPerInputGiB: 1.08 },
  analyze: { baseMemoryMiB: 432, memoryMiBPerInputMiB: 2.45, baseDiskGiB: 0.5, diskGiBPerInputGiB: 0.15 },
  publish: { baseMemoryMiB: 168, memoryMiBPerInputMiB: 0.045, baseDiskGiB: 0.5, diskGiBPerInputGiB: 0.08 },
};
