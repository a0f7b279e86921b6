import type { SizePolicy } from "./tiers.ts";

export type SkiAtlasSizedStep = "download" | "extract" | "analyze" | "publish";

export const SKI_ATLAS_SIZED_STEPS: readonly SkiAtlasSizedStep[] = ["download", "extract", "analyze", "publish"];

/**
 * Peak memory and disk of each ski-atlas container step, as linear fits against the source PBF's size. Plan
 * feeds them to `pickTier(policy, bytes)` to choose each step's Fargate tier.
 *
 * Calibrated by `npm run bench` (bench/results.json, 2026-12-02, 2 CPUs, Node 24, the worker-thread extractor):
 * 50 MB and 203 MB inputs of realistic density (1 tile in 100 keeps its ski tags, about 1% kept by extract, as on
 * a continent) and 203 MB ski-dense (every tile a ski area, about 7% kept: the worst case), tiled from the real
 * Andorra extract, each step a child process against the embedded S3 server. bench/sizing-fit.ts:
 * - Memory: the slope of peak RSS (ru_maxrss) against input MiB from the realistic rows, the intercept raised until
 *   the line bounds every measured point of both densities (the ski-dense 203 MB row sets it), then +10% on the
 *   base (`npm run bench -- --report` prints these numbers again).
 * - Disk (from file sizes, not sampled): download keeps the raw file; extract holds the raw file, then the
 *   extract (7% of the input at most); analyze the extract plus its outputs; publish the staged outputs.
 * - By this fit every region of the registry fits a tier with the 30% margin except Europe (31 GB: extract 25.1,
 *   analyze 29.3 GiB against xlarge's 22.4 GiB): extract and analyze still hold memory in proportion to the input
 *   (issue 11's flat-memory work; workflows/ski-atlas-sizing.test.ts lists Europe as the known exception).
 *   Two sizes fit the slopes; the 1 GB (and 4 GB) realistic runs of the full benchmark replace them.
 */
export const SKI_ATLAS_SIZE_POLICIES: Record<SkiAtlasSizedStep, SizePolicy> = {
  download: { baseMemoryMiB: 176, memoryMiBPerInputMiB: 0.345, baseDiskGiB: 0.5, diskGiBPerInputGiB: 1 },
  extract: { baseMemoryMiB: 576, memoryMiBPerInputMiB: 0.85, baseDiskGiB: 0.5, diskGiBPerInputGiB: 1.08 },
  analyze: { baseMemoryMiB: 1016, memoryMiBPerInputMiB: 0.98, baseDiskGiB: 0.5, diskGiBPerInputGiB: 0.15 },
  publish: { baseMemoryMiB: 144, memoryMiBPerInputMiB: 0.025, baseDiskGiB: 0.5, diskGiBPerInputGiB: 0.08 },
};
