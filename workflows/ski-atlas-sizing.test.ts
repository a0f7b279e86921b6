import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { approxBytes, getRegion, REGION_NAMES } from "../lib/regions.ts";
import { SKI_ATLAS_SIZE_POLICIES, SKI_ATLAS_SIZED_STEPS } from "./ski-atlas-sizing.ts";
import { nextTier, pickTier, sizeNeeds, tierByName, tierKeepsMargin, TIERS } from "./tiers.ts";

// The size policies come from `npm run bench` (bench/results.json): each must bound every peak it measured.
const results = JSON.parse(readFileSync(new URL("../bench/results.json", import.meta.url), "utf8")) as {
  rows: { input: string; inputMiB: number; steps: Record<string, { peakRssMiB: number }> }[];
};

describe("ski-atlas size policies", () => {
  it.each(SKI_ATLAS_SIZED_STEPS)("%s: the policy covers every peak RSS the benchmark measured", (step) => {
    const p = SKI_ATLAS_SIZE_POLICIES[step];
    expect(results.rows.length).toBeGreaterThan(0);
    for (const row of results.rows) {
      const predicted = p.baseMemoryMiB + p.memoryMiBPerInputMiB * row.inputMiB;
      expect(predicted, `${step} on ${row.input}`).toBeGreaterThanOrEqual(row.steps[step].peakRssMiB);
    }
  });

  /**
   * Regions the fitted policies cannot place on any tier with the margin, with the reason: the benchmark's
   * `regions that fit no tier` line must say exactly these. None since the streaming extract and analyze (issue 11):
   * Europe, the largest, fits `large`. A region added here must fail to fit, or the test below fails.
   */
  const KNOWN_TO_FIT_NO_TIER: string[] = [];

  // Every region the monthly schedule may run, North America and Asia included, must have a tier whose memory and
  // disk hold what the policies predict with the 30% margin: else its first run fails.
  it.each(REGION_NAMES)("GIVEN region %s WHEN its steps are sized THEN each fits a tier with the margin (or it is a known exception)", (name) => {
    const bytes = approxBytes(getRegion(name)!);
    const misfits = SKI_ATLAS_SIZED_STEPS.flatMap((step) => {
      const needs = sizeNeeds(SKI_ATLAS_SIZE_POLICIES[step], bytes);
      const tier = tierByName(pickTier(SKI_ATLAS_SIZE_POLICIES[step], bytes));
      return tierKeepsMargin(tier, needs) ? [] : [`${step} needs ${(needs.memoryMiB / 1024).toFixed(1)} GiB memory, ${needs.diskGiB.toFixed(1)} GiB disk; top tier ${tier.name}`];
    });
    if (KNOWN_TO_FIT_NO_TIER.includes(name)) expect(misfits, `${name} fits now: remove it from KNOWN_TO_FIT_NO_TIER`).not.toEqual([]);
    else expect(misfits, name).toEqual([]);
  });

  it("GIVEN a small region (Iceland, 60 MB) WHEN sized THEN download, extract and publish get the smallest tier, and an out-of-memory kill there has a tier to go to", () => {
    const bytes = approxBytes(getRegion("iceland")!);
    for (const step of ["download", "extract", "publish"] as const) expect(pickTier(SKI_ATLAS_SIZE_POLICIES[step], bytes), step).toBe(TIERS[0].name);
    expect(nextTier(TIERS[0].name)).toBe("small");
  });
});
