import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { publishBaseline, runCell, type Baseline } from "./testing/fault-matrix.ts";
import { attemptsOf, smallInputTier, stepState } from "./testing/planned-tiers.ts";
import { nextTier } from "../workflows/tiers.ts";

/**
 * The fault matrix, container half: each ECS step of ski-atlas × each failure shape, through the real state
 * machine on the local engine. Every cell also checks that the month being published is complete or absent,
 * never partial, and that the previous month is byte-identical afterwards.
 */
const STEPS = ["download", "extract", "analyze", "publish"] as const;
const capital = (s: string) => s[0].toUpperCase() + s.slice(1);

let baseline: Baseline;
beforeAll(async () => {
  baseline = await publishBaseline(await mkdtemp(path.join(tmpdir(), "fault-matrix-ecs-")));
}, 120_000);
afterAll(async () => {
  await rm(baseline.scratch, { recursive: true, force: true });
});

describe.each(STEPS)("fault matrix: the %s step", (step) => {
  const state = stepState(step);

  it("GIVEN a retryable failure (exit 75) WHEN run THEN it is retried and the month is published", async () => {
    const cell = await runCell(baseline, { faults: `${step}:exit75:1` });
    expect(cell.run.result.status).toBe("SUCCEEDED");
    expect(cell.run.result.states.find((s) => s.name === state)?.attempts).toBe(2);
    expect(cell.month).toBe("complete");
    expect(cell.previousUntouched).toBe(true);
  });

  it("GIVEN a non-retryable failure (exit 65) WHEN run THEN it is caught and notified, and nothing is published", async () => {
    const cell = await runCell(baseline, { faults: `${step}:exit65` });
    expect(cell.run.result.status).toBe("FAILED");
    expect(cell.run.result.states.find((s) => s.name === state)?.attempts).toBe(1);
    expect(cell.notifications.map((n) => n.subject)).toEqual([expect.stringMatching(/FAILED/)]);
    expect(cell.month).toBe("absent");
    expect(cell.previousUntouched).toBe(true);
  });

  it("GIVEN an out-of-memory kill WHEN run THEN the step escalates one tier and the month is published", async () => {
    const cell = await runCell(baseline, { faults: `${step}:oom:1` });
    expect(cell.run.result.status).toBe("SUCCEEDED");
    expect((cell.run.result.output!.run as { escalations: object }).escalations).toEqual({
      [step]: { step, from: smallInputTier(step), to: nextTier(smallInputTier(step)), reason: "OutOfMemoryError", count: 1 },
    });
    expect(attemptsOf(cell.run.result, state).map((a) => [a.status, a.tier])).toEqual([
      ["FAILED", smallInputTier(step)],
      ["SUCCEEDED", nextTier(smallInputTier(step))],
    ]);
    expect(cell.month).toBe("complete");
    expect(cell.previousUntouched).toBe(true);
  });

  it("GIVEN a hang past the timeout WHEN run THEN the timeout is caught and notified, and nothing is published", async () => {
    const cell = await runCell(baseline, { faults: `${step}:hang`, timeoutOverrides: { [state]: 2 } });
    expect(cell.run.result.status).toBe("FAILED");
    expect(cell.run.result.error).toBe("States.Timeout");
    expect(cell.notifications.map((n) => n.subject)).toEqual([expect.stringMatching(/FAILED/)]);
    expect(cell.month).toBe("absent");
    expect(cell.previousUntouched).toBe(true);
  });

  it("GIVEN the S3 server going away and coming back mid-step WHEN run THEN the run recovers and the month is published", async () => {
    const cell = await runCell(baseline, { faults: `${step}:s3down` });
    expect(cell.run.result.status).toBe("SUCCEEDED");
    expect(cell.month).toBe("complete");
    expect(cell.previousUntouched).toBe(true);
  });
});

describe("fault matrix: publish crashing half-way", () => {
  it("GIVEN a first publish of the month WHEN it crashes after 2 copies THEN no month is published (its folder is never read) and the previous one is intact", async () => {
    const cell = await runCell(baseline, { faults: "publish:crash2" });
    expect(cell.run.result.status).toBe("FAILED");
    expect(cell.run.result.states.map((s) => s.name)).toContain("Metrics (failed run)");
    expect(cell.month).toBe("absent");
    expect(cell.previousUntouched).toBe(true);
  });

  it("GIVEN a month already published WHEN a republish with new content crashes after 2 copies THEN readers still get the month byte-identical to before", async () => {
    // A month without ski data after one with: the shrink guard's override lets it through.
    const first = await runCell(baseline, { faults: "", variant: "no-ski", allowShrink: true });
    expect(first.month).toBe("complete");
    const s3Directory = `${first.run.runDir}/s3`;
    const crashed = await runCell(baseline, { faults: "publish:crash2", s3Directory });
    expect(crashed.run.result.status).toBe("FAILED");
    expect(crashed.currentMonth).toEqual(first.currentMonth);
    expect(crashed.month).toBe("complete");
    expect(crashed.previousUntouched).toBe(true);
  });
});
