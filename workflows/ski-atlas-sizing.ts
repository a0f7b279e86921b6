import type { SizePolicy } from "./tiers.ts";

export type SkiAtlasSizedStep = "download" | "extract" | "analyze" | "publish";

export const SKI_ATLAS_SIZED_STEPS: readonly SkiAtlasSizedStep[] = ["download", "extract", "analyze", "publish"];

/**
 * Peak memory and disk of each ski-atlas container step, as linear fits against the source PBF's size. Plan
 * feeds them to `pickTier(policy, bytes)` to choose each step's Fargate tier.
 *
 * PROVISIONAL: these coefficients are rough, conservative estimates from what is known so far. `npm run bench`
 * measures peak RSS and disk per input MiB on tiled inputs and calibrates them; replace the numbers with its
 * output. What they rest on today:
 * - download streams the source to S3 (small, flat memory) and keeps a local copy for checksum and resume, so
 *   its disk is about the input's size;
 * - extract (`osmium tags-filter`) peaked at 136 MB RSS on a 95 MB input (about 1.4× the input, mostly ID
 *   sets); its disk holds the raw input plus the small extract, about 1.1× the input;
 * - analyze only reads the small extract (a few percent of the input), so its memory grows slowly with the
 *   input and starts from the runtime's own baseline (Node plus DuckDB);
 * - publish copies a handful of small files between S3 prefixes.
 */
export const SKI_ATLAS_SIZE_POLICIES: Record<SkiAtlasSizedStep, SizePolicy> = {
  download: { baseMemoryMiB: 256, memoryMiBPerInputMiB: 0, baseDiskGiB: 1, diskGiBPerInputGiB: 1.0 },
  extract: { baseMemoryMiB: 64, memoryMiBPerInputMiB: 1.5, baseDiskGiB: 1, diskGiBPerInputGiB: 1.1 },
  analyze: { baseMemoryMiB: 512, memoryMiBPerInputMiB: 0.25, baseDiskGiB: 1, diskGiBPerInputGiB: 0.1 },
  publish: { baseMemoryMiB: 256, memoryMiBPerInputMiB: 0, baseDiskGiB: 1, diskGiBPerInputGiB: 0 },
};
