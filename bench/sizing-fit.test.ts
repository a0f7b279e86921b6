import { describe, expect, it } from "vitest";
import { metricData } from "../functions/metrics.ts";
import { resolvedDefinition } from "../stacks/resolve-asl.ts";
import { projectedRunShape } from "./run-counts.ts";
import { fanOutMetricSharing, inputS3Requests, projectionAssumptions, projectRegion, runShape, type Fits } from "./sizing-fit.ts";
import { SKI_ATLAS_SIZE_POLICIES } from "../workflows/ski-atlas-sizing.ts";

/** Fits with a second of CPU per step whatever the input: enough to price a projection, not a measurement. */
const FLAT: Fits = {
  memoryMiB: {} as Fits["memoryMiB"],
  cpuSeconds: Object.fromEntries(["download", "extract", "analyze", "publish"].map((s) => [s, { a: 1, b: 0 }])) as Fits["cpuSeconds"],
  slopeFrom: {} as Fits["slopeFrom"],
  extractMBPerInputMB: 0.01,
  notes: [],
};

/** The shape of a successful run from the compiled machine and the committed measurement, as `npm run bench` takes it. */
const SHAPE = await projectedRunShape();

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
    const alone = projectRegion(region, SKI_ATLAS_SIZE_POLICIES, FLAT, 2, SHAPE).cost;
    const shared = projectRegion(region, SKI_ATLAS_SIZE_POLICIES, FLAT, 2, SHAPE, 11).cost;
    // A successful ski-atlas run sends no custom metric (RunFailed only on failure): no series, no PutMetricData.
    expect(metricData({ workflow: "ski-atlas", status: "SUCCEEDED", plan: { region: "iceland" } }, new Date(0))).toEqual([]);
    expect(alone.usage.custom_metric_series).toBe(0);
    expect(alone.usage.put_metric_data_requests).toBe(0);
    expect(alone.parts.cloudwatch_usd).toBe(0);
    expect(shared.parts.cloudwatch_usd).toBe(0);
    expect(shared.total_usd).toBe(alone.total_usd);
    expect(projectionAssumptions(SHAPE)).toContain("no PutMetricData");
  });
});

describe("the projections' counts", () => {
  it("GIVEN the compiled machine and the measured run WHEN a region is projected THEN its transitions, Lambdas and S3 requests are theirs", () => {
    const region = { name: "Andorra", bytes: SHAPE.measured.inputBytes };
    const cost = projectRegion(region, SKI_ATLAS_SIZE_POLICIES, { ...FLAT, extractMBPerInputMB: SHAPE.measured.extractBytes / SHAPE.measured.inputBytes }, 2, SHAPE).cost;
    expect(cost.usage.state_transitions).toBe(SHAPE.stateTransitions);
    expect(cost.usage.lambda_invocations).toBe(SHAPE.lambdaStates.length);
    // The measured run's own input projects back to what it measured.
    expect({ write: cost.usage.s3_write_requests, read: cost.usage.s3_read_requests }).toEqual(SHAPE.measured.s3Requests);
    expect(projectionAssumptions(SHAPE)).toContain(`${SHAPE.stateTransitions} state transitions (the compiled machine's success path)`);
  });

  it("GIVEN inputs around a part and the chunks held WHEN their S3 requests are counted THEN one PUT or the parts + 2, and each 4 MiB chunk read once or twice", () => {
    const MiB = 2 ** 20;
    expect(inputS3Requests(10 * MiB, 1 * MiB)).toEqual({ write: 2, read: 3 });
    // 100 MiB raw: 7 parts of 16 MiB (+ create and complete); 25 chunks of 4 MiB, more than the 16 held: read twice,
    // plus 6 read ahead at each turn.
    expect(inputS3Requests(100 * MiB, 1 * MiB)).toEqual({ write: 7 + 2 + 1, read: 2 * 25 + 2 * 6 });
  });

  it("GIVEN a machine whose success path calls a Lambda the projection has no duration for WHEN shaped THEN it says so", async () => {
    const definition = structuredClone(await resolvedDefinition("ski-atlas"));
    const plan = definition.States.Plan as Record<string, unknown>;
    definition.States.Enrich = { Type: "Task", Resource: "arn:aws:states:::lambda:invoke", Next: plan.Next };
    plan.Next = "Enrich";
    expect(() => runShape(definition, SHAPE.measured)).toThrow(/calls the Lambda state 'Enrich', which has no projected duration/);
  });
});
