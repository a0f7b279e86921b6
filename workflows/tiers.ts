/**
 * Fargate size tiers, ARM64 (Graviton costs about 20% less than x86 for the same size).
 * small/medium/large come from the deployment this project replaces; xlarge exists for the largest continents.
 * `ephemeralGiB` is the task's disk: 21 GiB is Fargate's free default, more is billed per GB-hour.
 */
export const TIERS = [
  { name: "small", vcpu: 1, memoryMiB: 2048, ephemeralGiB: 21 },
  { name: "medium", vcpu: 2, memoryMiB: 4096, ephemeralGiB: 21 },
  { name: "large", vcpu: 4, memoryMiB: 16384, ephemeralGiB: 100 },
  { name: "xlarge", vcpu: 8, memoryMiB: 32768, ephemeralGiB: 200 },
] as const;

export type Tier = (typeof TIERS)[number];
export type TierName = Tier["name"];

export const TIER_NAMES: readonly TierName[] = TIERS.map((t) => t.name);

export function tierByName(name: string): Tier {
  const tier = TIERS.find((t) => t.name === name);
  if (!tier) throw new Error(`unknown tier '${name}' (expected one of ${TIER_NAMES.join(", ")})`);
  return tier;
}

/** The tier one up, or undefined at the top: an out-of-memory step is re-run there while one remains. */
export function nextTier(name: TierName): TierName | undefined {
  return TIER_NAMES[TIER_NAMES.indexOf(name) + 1];
}

/**
 * How much a step needs, as a linear fit against the size of the run's input (the source PBF).
 * The coefficients are measured by the benchmark (`npm run bench`), never guessed: see bench/README.md.
 */
export interface SizePolicy {
  /** Peak RSS in MiB = baseMemoryMiB + memoryMiBPerInputMiB × input MiB. */
  baseMemoryMiB: number;
  memoryMiBPerInputMiB: number;
  /** Peak disk in GiB = baseDiskGiB + diskGiBPerInputGiB × input GiB. */
  baseDiskGiB: number;
  diskGiBPerInputGiB: number;
}

/** Headroom kept on both memory and disk: a tier fits when the fit uses at most 70% of it. */
export const SIZING_MARGIN = 0.3;

/** The smallest tier whose memory and disk keep the margin, or the top tier when none does. */
export function pickTier(policy: SizePolicy, inputBytes: number): TierName {
  const inputMiB = inputBytes / 2 ** 20;
  const memoryMiB = policy.baseMemoryMiB + policy.memoryMiBPerInputMiB * inputMiB;
  const diskGiB = policy.baseDiskGiB + policy.diskGiBPerInputGiB * (inputMiB / 1024);
  const fits = TIERS.find(
    (t) => memoryMiB <= t.memoryMiB * (1 - SIZING_MARGIN) && diskGiB <= t.ephemeralGiB * (1 - SIZING_MARGIN),
  );
  return (fits ?? TIERS[TIERS.length - 1]).name;
}
