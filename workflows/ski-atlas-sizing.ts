import type { SizePolicy } from "./tiers.ts";

export type SkiAtlasSizedStep = "download" | "extract" | "analyze" | "publish";

export const SKI_ATLAS_SIZED_STEPS: readonly SkiAtlasSizedStep[] = ["download", "extract", "analyze", "publish"];

/**
 * Peak memory and disk of each ski-atlas container step, as linear fits against the source PBF's size. Plan
 * feeds them to `pickTier(policy, bytes)` to choose each step's Fargate tier.
 *
 * Calibrated by `npm run bench` (bench/results.json, 2026-12-02, 2 CPUs, Node 24; the worker-thread extractor reading
 * S3 by ranges into shared chunks and holding its kept ways as columns, and the streaming analyze): 203 MB and 1 GB inputs of realistic density (1 tile in 100 keeps its ski
 * tags, about 1% kept by extract, as on a continent) and 203 MB ski-dense (every tile a ski area, about 7% kept: the
 * worst case for memory), tiled from the real Andorra extract, each step a child process against the embedded S3
 * server. bench/sizing-fit.ts:
 * - Memory: the slope of peak RSS (ru_maxrss) against input MiB from the realistic rows, the intercept raised until
 *   the line bounds every measured point of both densities (the ski-dense 203 MB row sets it), then +10% on the
 *   base (`npm run bench -- --report` prints these numbers again).
 * - Disk (from file sizes, not sampled): download keeps the raw file; extract only the extract it writes (it
 *   reads the raw object from S3 by ranges, no local copy); analyze the extract plus its outputs; publish the
 *   staged outputs.
 * - By this fit every region of the registry fits a tier with the 30% margin (workflows/ski-atlas-sizing.test.ts),
 *   Europe (31 GB) included, on `large`. The 4 GB realistic input (`npm run bench:data -- --large`) is not in
 *   these rows; its extract peak (about 830 MiB) is well under this line's 1,370 MiB there.
 */
export const SKI_ATLAS_SIZE_POLICIES: Record<SkiAtlasSizedStep, SizePolicy> = {
  download: { baseMemoryMiB: 208, memoryMiBPerInputMiB: 0.045, baseDiskGiB: 0.5, diskGiBPerInputGiB: 1 },
  extract: { baseMemoryMiB: 520, memoryMiBPerInputMiB: 0.22, baseDiskGiB: 0.5, diskGiBPerInputGiB: 0.08 },
  analyze: { baseMemoryMiB: 872, memoryMiBPerInputMiB: 0.165, baseDiskGiB: 0.5, diskGiBPerInputGiB: 0.15 },
  publish: { baseMemoryMiB: 192, memoryMiBPerInputMiB: 0, baseDiskGiB: 0.5, diskGiBPerInputGiB: 0.08 },
};
