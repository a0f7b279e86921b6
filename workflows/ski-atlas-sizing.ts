import type { SizePolicy } from "./tiers.ts";

export type SkiAtlasSizedStep = "download" | "extract" | "analyze" | "publish";

export const SKI_ATLAS_SIZED_STEPS: readonly SkiAtlasSizedStep[] = ["download", "extract", "analyze", "publish"];

/**
 * Peak memory and disk of each ski-atlas container step, as linear fits against the source PBF's size. Plan
 * feeds them to `pickTier(policy, bytes)` to choose each step's Fargate tier.
 *
 * Calibrated by `npm run bench` (bench/results.json, 2026-12-02, 2 CPUs, Node 24; the worker-thread extractor reading
 * S3 by ranges into shared chunks and holding its kept ways as columns, and the streaming analyze; each step in its
 * tier's task environment): 203 MB, 1 GB and 4 GB inputs of realistic density (1 tile in 100 keeps its ski tags,
 * about 1% kept by extract, as on a continent) and 203 MB ski-dense (every tile a ski area, about 7% kept: the
 * worst case for memory), tiled from the real Andorra extract, each step a child process against the embedded S3
 * server. bench/sizing-fit.ts:
 * - Memory: the slope of peak RSS (ru_maxrss) against input MiB from the realistic rows, the intercept raised until
 *   the line bounds every measured point of both densities (the ski-dense 203 MB row sets it for extract and
 *   analyze), then +10% on the base (`npm run bench -- --report` prints these numbers again). With the 4 GB row the
 *   slopes are those of 1 → 4 GB (extract 620 → 822 MiB), not of 203 MB → 1 GB, where fixed costs still weigh.
 * - Disk (from file sizes, not sampled): download keeps the raw file; extract only the extract it writes (it
 *   reads the raw object from S3 by ranges, no local copy); analyze the extract plus its outputs; publish the
 *   staged outputs.
 * - By this fit every region of the registry fits a tier with the 30% margin (workflows/ski-atlas-sizing.test.ts),
 *   Europe (31 GB) included. Beyond 4 GB the lines are extrapolated; a step killed for memory is retried one tier
 *   up (see docs/WORKFLOWS.md, "How a run behaves").
 */
export const SKI_ATLAS_SIZE_POLICIES: Record<SkiAtlasSizedStep, SizePolicy> = {
  download: { baseMemoryMiB: 240, memoryMiBPerInputMiB: 0.015, baseDiskGiB: 0.5, diskGiBPerInputGiB: 1 },
  extract: { baseMemoryMiB: 584, memoryMiBPerInputMiB: 0.1, baseDiskGiB: 0.5, diskGiBPerInputGiB: 0.08 },
  analyze: { baseMemoryMiB: 856, memoryMiBPerInputMiB: 0.085, baseDiskGiB: 0.5, diskGiBPerInputGiB: 0.15 },
  publish: { baseMemoryMiB: 152, memoryMiBPerInputMiB: 0.005, baseDiskGiB: 0.5, diskGiBPerInputGiB: 0.08 },
};
