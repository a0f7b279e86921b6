/**
 * Every Fargate task gets this much ephemeral storage for free, and it is what a task definition without
 * `EphemeralStorage` gets. A task definition can only ask for 21–200 GiB, and each GiB above 20 is billed.
 */
export const FARGATE_FREE_EPHEMERAL_GIB = 20;

/**
 * Fargate size tiers, ARM64 (Graviton costs about 20% less than x86 for the same size), smallest first.
 * small/medium/large come from the deployment this project replaces; xlarge exists for the largest continents.
 * xsmall (0.25 vCPU, 1 GB: a valid Fargate pair) exists for small inputs: Fargate bills every task at least a
 * minute, and a small region's steps finish within it on a quarter vCPU, so the minute's price is the run's price
 * (Iceland: four 1 vCPU / 2 GB minutes made $0.0026 a run; four xsmall minutes make $0.0008).
 * `ephemeralGiB` is the task's disk: xsmall, small and medium keep Fargate's free 20 GiB.
 */
export const TIERS = [
  { name: "xsmall", vcpu: 0.25, memoryMiB: 1024, ephemeralGiB: FARGATE_FREE_EPHEMERAL_GIB },
  { name: "small", vcpu: 1, memoryMiB: 2048, ephemeralGiB: FARGATE_FREE_EPHEMERAL_GIB },
  { name: "medium", vcpu: 2, memoryMiB: 4096, ephemeralGiB: FARGATE_FREE_EPHEMERAL_GIB },
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

