import { describe, expect, it } from "vitest";
import { AWS_PRICES, fargateTaskCost } from "../aws-pricing.ts";
import { tierByName } from "../tiers.ts";
import { estimateTaskCost, gpuPerSecond, shareGpuInstance } from "./task-cost.ts";

describe("what a task costs", () => {
  it("GIVEN a thumbnail of 12 s WHEN estimated THEN it is one Fargate ARM64 task on its tier, with the one-minute minimum", () => {
    expect(estimateTaskCost("thumbnail", 12)).toMatchObject({ basis: "fargate", usd: Number(fargateTaskCost(tierByName("small"), 60).toFixed(7)) });
  });

  it("GIVEN one instance that ran three tasks WHEN its bill is shared THEN the shares follow busy time and add up to the bill", () => {
    const shares = shareGpuInstance("g4dn.xlarge", 1800, [60, 120, 20]);
    const bill = gpuPerSecond("g4dn.xlarge") * 1800;
    expect(shares.reduce((s, x) => s + x.usd, 0)).toBeCloseTo(bill, 5);
    expect(shares.map((s) => s.instanceSeconds)).toEqual([540, 1080, 180]);
  });

  it("GIVEN a lone task on an instance that lived 20 minutes WHEN estimated THEN it pays the whole instance (cold start and idle tail included)", () => {
    const cost = estimateTaskCost("ocr", 30, { instanceType: "g4dn.xlarge", instanceSeconds: 1200, busySecondsOfAllTasks: 30 });
    expect(cost).toMatchObject({ basis: "gpu-instance-share", instanceSecondsCharged: 1200, instanceType: "g4dn.xlarge" });
    // g4dn.xlarge at $0.526/h plus its 30 GB root volume, for 20 minutes: about $0.176.
    expect(cost.usd).toBeCloseTo((AWS_PRICES.ec2GpuOnDemandPerHour["g4dn.xlarge"] * 1200) / 3600, 2);
  });

  it("GIVEN an instance that ran nothing WHEN shared THEN no task is charged (the idle-GPU alarm is what reports it)", () => {
    expect(shareGpuInstance("g4dn.xlarge", 900, [0])).toEqual([{ usd: 0, instanceSeconds: 0 }]);
  });

  it("GIVEN no instance figures (offline) WHEN estimated THEN busy seconds only, flagged as such", () => {
    expect(estimateTaskCost("ocr", 10)).toMatchObject({ basis: "busy-only", instanceSecondsCharged: 10 });
  });

  it("GIVEN an instance type with no price WHEN estimated THEN it says where to add it", () => {
    expect(() => gpuPerSecond("p5.48xlarge")).toThrow("add it to AWS_PRICES.ec2GpuOnDemandPerHour");
  });
});
