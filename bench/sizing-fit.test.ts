import { describe, expect, it } from "vitest";
import { metricData } from "../functions/metrics.ts";
import { fanOutMetricSharing, PROJECTION_ASSUMPTIONS, projectRegion, type Fits } from "./sizing-fit.ts";
import { SKI_ATLAS_SIZE_POLICIES } from "../workflows/ski-atlas-sizing.ts";

/** Fits with a second of CPU per step whatever the input: enough to price a projection, not a measurement. */
const FLAT: Fits = {
  memoryMiB: {} as Fits["memoryMiB"],
  cpuSeconds: Object.fromEntries(["download", "extract", "analyze", "publish"].map((s) => [s, { a: 1, b: 0 }])) as Fits["cpuSeconds"],
  slopeFrom: {} as Fits["slopeFrom"],
  extractMBPerInputMB: 0.01,
  notes: [],
};

describe("the projections' metric series cost", () => {
  it("GIVEN 11 regions of a few minutes, 4 at a time WHEN the fan-out is laid out THEN all fall in one hour and each region's share is 1/11", () => {
    expect(fanOutMetricSharing(Array(11).fill(5), 4)).toEqual({ spanMinutes: 15, hours: 1, sharedBy: 11 });
  });

  it("GIVEN a fan-out that spans two clock hours WHEN laid out THEN its series are billed twice, spread over its regions", () => {
    // One slot: 40 + 40 min run one after the other, 80 min in all.
    expect(fanOutMetricSharing([40, 40], 1)).toEqual({ spanMinutes: 80, hours: 2, sharedBy: 1 });
    expect(fanOutMetricSharing([40, 40, 40, 40], 2)).toEqual({ spanMinutes: 80, hours: 2, sharedBy: 2 });
  });

  it("GIVEN a small region WHEN its successful run is projected alone and as one of 11 sharing the hour THEN CloudWatch costs nothing either way", () => {
    const region = { name: "Iceland", bytes: 60e6 };
    const alone = projectRegion(region, SKI_ATLAS_SIZE_POLICIES, FLAT, 2).cost;
    const shared = projectRegion(region, SKI_ATLAS_SIZE_POLICIES, FLAT, 2, 11).cost;
    // A successful ski-atlas run sends no custom metric (RunFailed only on failure): no series, no PutMetricData.
    expect(metricData({ workflow: "ski-atlas", status: "SUCCEEDED", plan: { region: "iceland" } }, new Date(0))).toEqual([]);
    expect(alone.usage.custom_metric_series).toBe(0);
    expect(alone.usage.put_metric_data_requests).toBe(0);
    expect(alone.parts.cloudwatch_usd).toBe(0);
    expect(shared.parts.cloudwatch_usd).toBe(0);
    expect(shared.total_usd).toBe(alone.total_usd);
    expect(PROJECTION_ASSUMPTIONS).toContain("no PutMetricData");
  });
});
