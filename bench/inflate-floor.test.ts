import { statSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { andorraPbf } from "../containers/ski-atlas/testing/helpers.ts";
import { inflateFloorCpuS } from "./inflate-floor.ts";

describe("the inflate floor", () => {
  it("GIVEN the real Andorra extract WHEN every block is inflated once THEN every block is counted, inflated to more than the file", async () => {
    const file = await andorraPbf();
    const floor = await inflateFloorCpuS(file);
    expect(floor.blocks).toBeGreaterThan(2);
    expect(floor.inflatedMB * 1e6).toBeGreaterThan(statSync(file).size);
    expect(floor.cpuS).toBeGreaterThan(0);
    // The compiled core is built here (npm test builds it): its libdeflate inflates the same blocks.
    expect(floor.libdeflateCpuS).toBeGreaterThan(0);
  });
});
