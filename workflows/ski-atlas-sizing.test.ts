import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { SKI_ATLAS_SIZE_POLICIES, SKI_ATLAS_SIZED_STEPS } from "./ski-atlas-sizing.ts";

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
});
