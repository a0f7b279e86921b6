import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { publishBaseline, runCell, stepLogs, type Baseline } from "../../local/testing/fault-matrix.ts";
import { MIN_SHARE_OF_PREVIOUS, shrinkProblems } from "./shrink-guard.ts";

/**
 * The shrink guard (issue 10, finding 4) through the real state machine on the local engine: the sample region's
 * 2026-10 is published with its ski data; 2026-11 comes from a source without any (what a truncated or hostile
 * extract decodes to). Before, it replaced real data silently.
 */
let baseline: Baseline;
beforeAll(async () => {
  baseline = await publishBaseline(await mkdtemp(path.join(tmpdir(), "shrink-guard-")));
}, 120_000);
afterAll(async () => {
  await rm(baseline.scratch, { recursive: true, force: true });
});

describe("the shrink guard", () => {
  it("GIVEN last month published WHEN this month has no lifts or pistes THEN publish fails with exit 65 and one line, the run notifies, nothing is published", async () => {
    const cell = await runCell(baseline, { faults: "", variant: "no-ski" });
    expect(cell.run.result.status).toBe("FAILED");
    const publish = cell.run.result.states.find((s) => s.name === "Publish (xsmall)");
    expect(publish?.attempts).toBe(1); // bad data: not retried
    expect(cell.run.result.cause).toContain('"ExitCode":65');
    const [log] = await stepLogs(cell.run.runDir, "publish");
    const errors = log.split("\n").filter((l) => l.startsWith("error:"));
    expect(errors).toEqual([
      expect.stringMatching(/^error: shrink guard: sample\/2026-11 shrank below 50% of 2026-10: lifts 0 \(was \d+\), pistes 0 \(was \d+\), .*not published .*"allowShrink": true in the input$/),
    ]);
    expect(cell.notifications.map((n) => n.subject)).toEqual([expect.stringMatching(/FAILED/)]);
    expect(cell.month).toBe("absent");
    expect(cell.previousUntouched).toBe(true);
  }, 180_000);

  it("GIVEN the same shrinking month WHEN the input says allowShrink THEN it is published", async () => {
    const cell = await runCell(baseline, { faults: "", variant: "no-ski", allowShrink: true });
    expect(cell.run.result.status, cell.run.summary.error).toBe("SUCCEEDED");
    expect(cell.month).toBe("complete");
    expect(cell.previousUntouched).toBe(true);
  }, 180_000);

  it("GIVEN a region's first month THEN there is nothing to compare with and it is published (the baseline is one)", () => {
    expect(Object.keys(baseline.previousMonth)).toHaveLength(8); // six data files, changes.csv and the manifest
  });

  it("GIVEN the measures THEN a month below the documented share of any of them, or at zero, is refused; growth and small drops pass", () => {
    expect(MIN_SHARE_OF_PREVIOUS).toBe(0.5);
    const before = { lifts: 10, pistes: 40, lengths_km: { lifts: 12, pistes: 80 } };
    expect(shrinkProblems({ lifts: 9, pistes: 41, lengths_km: { lifts: 11, pistes: 60 } }, before)).toEqual([]);
    expect(shrinkProblems({ lifts: 4, pistes: 40, lengths_km: { lifts: 12, pistes: 39.9 } }, before)).toEqual(["lifts 4 (was 10)", "piste km 39.9 (was 80)"]);
    expect(shrinkProblems({ lifts: 0, pistes: 0 }, { lifts: 1, pistes: 1 })).toEqual(["lifts 0 (was 1)", "pistes 0 (was 1)"]);
    // An older manifest without lengths: only the counts are compared.
    expect(shrinkProblems({ lifts: 10, pistes: 40, lengths_km: { lifts: 0, pistes: 0 } }, { lifts: 10, pistes: 40 })).toEqual([]);
    // Nothing before: nothing can shrink.
    expect(shrinkProblems({ lifts: 0, pistes: 0 }, { lifts: 0, pistes: 0 })).toEqual([]);
  });
});
