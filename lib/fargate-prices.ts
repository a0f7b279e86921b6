import { tierByName } from "../workflows/tiers.ts";

/**
 * AWS Fargate on-demand prices, Linux/ARM64 (Graviton), us-east-1.
 * Source: https://aws.amazon.com/fargate/pricing/ (read 2026-11-22). Update the date when you update a number.
 */
export const FARGATE_ARM64_PRICES = {
  region: "us-east-1",
  asOf: "2026-11-22",
  perVcpuHour: 0.03238,
  perGbHour: 0.00356,
  /** Ephemeral storage above the 20 GB every task gets for free. */
  perStorageGbHourAbove20: 0.000111,
  /** Fargate bills a minimum of one minute per task. */
  minimumSeconds: 60,
} as const;

/** What one task of `seconds` on `tier` costs on Fargate ARM64. */
export function fargateTaskCost(tierName: string, seconds: number): number {
  const tier = tierByName(tierName);
  const p = FARGATE_ARM64_PRICES;
  const hours = Math.max(seconds, p.minimumSeconds) / 3600;
  return (
    hours *
    (tier.vcpu * p.perVcpuHour + (tier.memoryMiB / 1024) * p.perGbHour + Math.max(0, tier.ephemeralGiB - 20) * p.perStorageGbHourAbove20)
  );
}
