import { describe, expect, it } from "vitest";
import { addRunCosts, AWS_PRICES, costLine, estimateRunCost, fargateTaskCost, fixedMonthlyCosts, lambdaInvocationCost, s3RequestClass, shareMetricSeriesHours, type RunUsage } from "./aws-pricing.ts";
import { tierByName } from "../workflows/tiers.ts";

const none: RunUsage = { ecsTasks: [], stateTransitions: 0, lambdaInvocations: [], s3Requests: null, putMetricDataRequests: 0, customMetricSeries: 0, snsPublishes: 0 };

describe("AWS prices", () => {
  it("GIVEN a small-tier task of 10 s WHEN priced THEN Fargate bills its one-minute minimum (1 vCPU + 2 GB for 60 s)", () => {
    const minute = (1 * AWS_PRICES.fargateArm64.perVcpuHour + 2 * AWS_PRICES.fargateArm64.perGbHour) / 60;
    expect(fargateTaskCost(tierByName("small"), 10)).toBeCloseTo(minute, 12);
    expect(fargateTaskCost(tierByName("small"), 60)).toBeCloseTo(minute, 12);
    expect(fargateTaskCost(tierByName("small"), 120)).toBeCloseTo(2 * minute, 12);
  });

  it("GIVEN the large tier (100 GiB disk) WHEN priced for an hour THEN the 80 GiB above the free 20 are billed", () => {
    const p = AWS_PRICES.fargateArm64;
    expect(fargateTaskCost(tierByName("large"), 3600)).toBeCloseTo(4 * p.perVcpuHour + 16 * p.perGbHour + 80 * p.perStorageGbHourAbove20, 12);
  });

  it("GIVEN a 256 MB Lambda of 1.2 ms WHEN priced THEN the request plus 2 ms (rounded up) of 0.25 GB", () => {
    expect(lambdaInvocationCost(256, 1.2)).toBeCloseTo(AWS_PRICES.lambdaArm64.perRequest + 0.25 * 0.002 * AWS_PRICES.lambdaArm64.perGbSecond, 15);
  });

  it("GIVEN S3 requests WHEN classed THEN PUT/POST/LIST are writes, GET/HEAD of an object reads, DELETE free", () => {
    expect(s3RequestClass("PUT", "raw/x.pbf", {})).toBe("write");
    expect(s3RequestClass("PUT", "raw/x.pbf", { partNumber: "2", uploadId: "u" })).toBe("write");
    expect(s3RequestClass("POST", "raw/x.pbf", { uploads: "" })).toBe("write");
    expect(s3RequestClass("GET", "", { "list-type": "2" })).toBe("write");
    expect(s3RequestClass("GET", "raw/x.pbf", {})).toBe("read");
    expect(s3RequestClass("HEAD", "raw/x.pbf", {})).toBe("read");
    expect(s3RequestClass("DELETE", "raw/x.pbf", {})).toBe("free");
    expect(s3RequestClass("POST", "", { delete: "" })).toBe("free");
  });
});

describe("a run's cost estimate", () => {
  it("GIVEN every kind of use WHEN estimated THEN the total is the sum of the parts and each part is priced from AWS_PRICES", () => {
    const usage: RunUsage = {
      ecsTasks: [{ tier: "small", size: tierByName("small"), seconds: 12 }, { tier: "medium", size: tierByName("medium"), seconds: 90 }],
      stateTransitions: 40,
      lambdaInvocations: [{ memoryMiB: 256, durationMs: 300 }, { memoryMiB: 256, durationMs: 100 }],
      s3Requests: { write: 30, read: 20 },
      putMetricDataRequests: 1,
      customMetricSeries: 22,
      snsPublishes: 1,
    };
    const e = estimateRunCost(usage);
    const p = AWS_PRICES;
    expect(e.parts.fargate_usd).toBeCloseTo(fargateTaskCost(tierByName("small"), 60) + fargateTaskCost(tierByName("medium"), 90), 6);
    expect(e.parts.step_functions_usd).toBeCloseTo(40 * 0.000025, 9);
    expect(e.parts.s3_requests_usd).toBeCloseTo(30 * p.s3Standard.perWriteRequest + 20 * p.s3Standard.perReadRequest, 9);
    // One PutMetricData request, and 22 series for one hour each of the 730 in a month.
    expect(e.parts.cloudwatch_usd).toBeCloseTo(0.00001 + (22 * 0.3) / 730, 7);
    expect(e.parts.sns_usd).toBeCloseTo(0.0000005, 9);
    const sum = Object.values(e.parts).reduce<number>((s, v) => s + (v ?? 0), 0);
    expect(e.total_usd).toBeCloseTo(sum, 6);
    expect(e.usage).toMatchObject({ ecs_tasks: 2, fargate_billed_seconds: 150, state_transitions: 40, lambda_invocations: 2, s3_write_requests: 30, s3_read_requests: 20 });
    expect(e.prices).toEqual({ region: "us-east-1", as_of: AWS_PRICES.asOf });
  });

  it("GIVEN a series sent by the 11 regions of a fan-out in the same hour WHEN one region is estimated THEN it pays 1/11 of the series-hour", () => {
    const alone = estimateRunCost({ ...none, customMetricSeries: 1 });
    const shared = estimateRunCost({ ...none, customMetricSeries: 1, customMetricSharedBy: 11 });
    expect(alone.parts.cloudwatch_usd).toBeCloseTo(0.3 / 730, 7);
    expect(shared.parts.cloudwatch_usd).toBeCloseTo(0.3 / 730 / 11, 7);
    expect(shared.usage.custom_metric_series).toBe(1);
    expect(() => estimateRunCost({ ...none, customMetricSeries: 1, customMetricSharedBy: 0 })).toThrow(/at least 1/);
  });

  it("GIVEN a run whose 2 series-hours were each sent by 2 runs WHEN shared THEN it pays 1 of them and the usage still says 2 sent", () => {
    const alone = estimateRunCost({ ...none, putMetricDataRequests: 1, customMetricSeries: 2, ecsTasks: [{ tier: "small", size: tierByName("small"), seconds: 5 }] });
    const shared = shareMetricSeriesHours(alone, 2, 1);
    // (estimates are rounded to 7 decimals)
    expect(shared.parts.cloudwatch_usd).toBeCloseTo(0.00001 + 0.3 / 730, 6);
    expect(shared.total_usd).toBeCloseTo(alone.total_usd - 0.3 / 730, 6);
    expect(shared.parts.fargate_usd).toBe(alone.parts.fargate_usd);
    expect(shared.usage.custom_metric_series).toBe(2);
    expect(shareMetricSeriesHours(alone, 2, 2)).toBe(alone);
    expect(() => shareMetricSeriesHours(alone, 2, 3)).toThrow(/between 0 and the 2 sent/);
  });

  it("GIVEN S3 requests that were not counted WHEN estimated THEN that part is null, not zero, and the line says so", () => {
    const e = estimateRunCost({ ...none, stateTransitions: 10 });
    expect(e.parts.s3_requests_usd).toBeNull();
    expect(e.usage.s3_read_requests).toBeNull();
    expect(costLine(e)).toContain("S3 requests not counted");
  });

  it("GIVEN a fan-out and its two items WHEN added THEN parts and counts add up, and S3 stays counted where one counted it", () => {
    const parent = estimateRunCost({ ...none, stateTransitions: 8, s3Requests: { write: 5, read: 7 } });
    const item = estimateRunCost({ ...none, stateTransitions: 30, ecsTasks: [{ tier: "small", size: tierByName("small"), seconds: 5 }] });
    const total = addRunCosts([parent, item, item]);
    expect(total.usage.state_transitions).toBe(68);
    expect(total.usage.ecs_tasks).toBe(2);
    expect(total.usage.s3_write_requests).toBe(5);
    expect(total.total_usd).toBeCloseTo(parent.total_usd + 2 * item.total_usd, 6);
    expect(total.parts.fargate_usd).toBeCloseTo(2 * item.parts.fargate_usd, 7);
  });

  it("GIVEN an estimate WHEN printed THEN one line names the total and every part", () => {
    const line = costLine(estimateRunCost({ ...none, ecsTasks: [{ tier: "small", size: tierByName("small"), seconds: 5 }], stateTransitions: 3, s3Requests: { write: 1, read: 1 } }));
    expect(line).not.toContain("\n");
    for (const part of ["Fargate", "Step Functions", "Lambda", "S3 requests", "CloudWatch", "SNS", "us-east-1"]) expect(line).toContain(part);
  });
});

describe("fixed monthly costs", () => {
  it("GIVEN a stack inventory WHEN priced THEN alarms, metrics, dashboards, logs, ECR and schedules each get a line", () => {
    const lines = fixedMonthlyCosts({ alarms: 10, dashboards: 1, schedules: 2, scheduledInvocationsPerMonth: 31, customMetrics: 100, ecrGb: 2, logsStoredGb: 1, logsIngestedGbPerMonth: 0.5 });
    const byItem = Object.fromEntries(lines.map((l) => [l.item.split(/ \(|, /)[0], l.usd]));
    expect(byItem["CloudWatch alarms"]).toBeCloseTo(1.0, 9);
    expect(byItem["CloudWatch custom metrics"]).toBeCloseTo(30, 9);
    expect(byItem["CloudWatch dashboards"]).toBeCloseTo(3, 9);
    expect(byItem["ECR image storage"]).toBeCloseTo(0.2, 9);
    expect(byItem["EventBridge Scheduler"]).toBeCloseTo(0.000031, 9);
  });
});
