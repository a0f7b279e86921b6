import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { publishBaseline, runCell, type Baseline } from "./testing/fault-matrix.ts";

/**
 * The fault matrix, function half: Plan, Metrics and Notify × each failure shape, through the real state
 * machine. A failing Plan fails the run (caught and notified); a failing Metrics or Notify never turns a
 * successful run into a failed one.
 */
const FUNCTIONS = [
  { fn: "plan", state: "Plan", failsRun: true },
  { fn: "metrics", state: "Metrics", failsRun: false },
  { fn: "notify", state: "Notify success", failsRun: false },
] as const;

let baseline: Baseline;
beforeAll(async () => {
  baseline = await publishBaseline(await mkdtemp(path.join(tmpdir(), "fault-matrix-fn-")));
}, 120_000);
afterAll(async () => {
  await rm(baseline.scratch, { recursive: true, force: true });
});

describe.each(FUNCTIONS)("fault matrix: the $fn function", ({ fn, state, failsRun }) => {
  it("GIVEN a retryable failure (throttling) WHEN run THEN it is retried and the run succeeds", async () => {
    const cell = await runCell(baseline, { faults: `${fn}:throttle:1` });
    expect(cell.run.result.status).toBe("SUCCEEDED");
    expect(cell.run.result.states.find((s) => s.name === state)?.attempts).toBe(2);
    expect(cell.month).toBe("complete");
    expect(cell.previousUntouched).toBe(true);
  });

  it.each([
    ["a non-retryable failure", "error", "InjectedFault"],
    ["an out-of-memory failure", "oom", "Runtime.OutOfMemory"],
    ["a hang past the timeout", "hang", "States.Timeout"],
  ])("GIVEN %s WHEN run THEN it is not retried, and only Plan's failure fails the run", async (_what, fault, errorName) => {
    const cell = await runCell(baseline, { faults: `${fn}:${fault}`, timeoutOverrides: { [state]: 1 } });
    expect(cell.run.result.states.find((s) => s.name === state)?.attempts).toBe(1);
    if (failsRun) {
      expect(cell.run.result.status).toBe("FAILED");
      expect(cell.run.result.error).toBe(errorName);
      expect(cell.notifications.map((n) => n.subject)).toEqual([expect.stringMatching(/FAILED/)]);
      expect(cell.month).toBe("absent");
    } else {
      expect(cell.run.result.status).toBe("SUCCEEDED");
      const stored = fn === "metrics" ? cell.run.result.output!.metrics : cell.run.result.output!.notification;
      expect((stored as { Error: string }).Error).toBe(errorName);
      expect(cell.month).toBe("complete");
    }
    expect(cell.previousUntouched).toBe(true);
  });

  it("GIVEN the S3 server away when it starts WHEN run THEN the run still succeeds", async () => {
    const cell = await runCell(baseline, { faults: `${fn}:s3down` });
    expect(cell.run.result.status).toBe("SUCCEEDED");
    expect(cell.month).toBe("complete");
    expect(cell.previousUntouched).toBe(true);
  });
});
