import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXIT, StepError } from "../../lib/exit-codes.ts";
import { putObjectText } from "../../lib/s3-objects.ts";
import { startTestS3 } from "../../lib/testing/s3rver.ts";
import { publishBaseline, runCell, stepLogs, type Baseline } from "../../local/testing/fault-matrix.ts";
import { checkShrink, MIN_SHARE_OF_PREVIOUS, shrinkProblems, type MonthMeasures } from "./shrink-guard.ts";

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
    const publish = cell.run.result.states.find((s) => s.name === "Publish");
    expect(publish?.attempts).toBe(1); // bad data: not retried
    expect(cell.run.result.cause).toContain('"ExitCode":65');
    const [log] = await stepLogs(cell.run.runDir, "publish");
    const errors = log.split("\n").filter((l) => l.startsWith("error:"));
    expect(errors).toEqual([
      expect.stringMatching(
        /^error: shrink guard: sample\/2026-11 shrank below 50% of 2026-10: ski areas 0 \(was \d+\), lifts 0 \(was \d+\), pistes 0 \(was \d+\), POIs 0 \(was \d+\), .*not published .*"allowShrink": true in the input$/,
      ),
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
    const counts = { ski_areas: 4, pois: 594 };
    const before = { ...counts, lifts: 10, pistes: 40, lengths_km: { lifts: 12, pistes: 80 } };
    expect(shrinkProblems({ ...counts, lifts: 9, pistes: 41, lengths_km: { lifts: 11, pistes: 60 } }, before)).toEqual([]);
    expect(shrinkProblems({ ...counts, lifts: 4, pistes: 40, lengths_km: { lifts: 12, pistes: 39.9 } }, before)).toEqual(["lifts 4 (was 10)", "piste km 39.9 (was 80)"]);
    expect(shrinkProblems({ ...counts, lifts: 0, pistes: 0 }, { ...counts, lifts: 1, pistes: 1 })).toEqual(["lifts 0 (was 1)", "pistes 0 (was 1)"]);
    // An older manifest without lengths: only the counts are compared.
    expect(shrinkProblems({ ...counts, lifts: 10, pistes: 40, lengths_km: { lifts: 0, pistes: 0 } }, { ...counts, lifts: 10, pistes: 40 })).toEqual([]);
    // Nothing before: nothing can shrink.
    expect(shrinkProblems({ ski_areas: 0, pois: 0, lifts: 0, pistes: 0 }, { ski_areas: 0, pois: 0, lifts: 0, pistes: 0 })).toEqual([]);
  });

  it("GIVEN a month whose main table and POIs emptied while lifts and pistes held WHEN compared THEN both are named (issue 21: 0 ski areas and 0 POIs were published)", () => {
    const before = { ski_areas: 4, lifts: 10, pistes: 40, pois: 594, lengths_km: { lifts: 12, pistes: 80 } };
    expect(shrinkProblems({ ...before, ski_areas: 0, pois: 0 }, before)).toEqual(["ski areas 0 (was 4)", "POIs 0 (was 594)"]);
    expect(shrinkProblems({ ...before, ski_areas: 1, pois: 296 }, before)).toEqual(["ski areas 1 (was 4)", "POIs 296 (was 594)"]);
  });
});

describe("the shrink guard on a previous month it cannot read", () => {
  const current: MonthMeasures = { ski_areas: 4, lifts: 10, pistes: 40, pois: 594, lengths_km: { lifts: 12, pistes: 80 } };
  const check = { publishUri: "s3://guard/sample/2026-11/", region: "sample", period: "2026-11", allowShrink: false };
  const previous = "s3://guard/sample/2026-10/manifest.json";

  it.each([
    ["not JSON", '{"counts": {"lifts": 10, "pis', /manifest\.json is not JSON \(/],
    ["JSON without the counts", JSON.stringify({ workflow: "ski-atlas", files: [] }), /manifest\.json has no count counts\.ski_areas, counts\.lifts, counts\.pistes, counts\.osm_near_winter_sports \(/],
    ["a count that is no count", JSON.stringify({ counts: { ski_areas: 4, lifts: -3, pistes: 40, osm_near_winter_sports: "many" } }), /manifest\.json has no count counts\.lifts, counts\.osm_near_winter_sports \(/],
  ])("GIVEN the previous month's manifest is %s WHEN this month is checked THEN it fails closed: exit 65, one line naming the object and what is wrong; allowShrink overrides", async (_, body, expected) => {
    const s3 = await startTestS3({ buckets: ["guard"] });
    try {
      await putObjectText(s3.s3, previous, body);
      const lines: string[] = [];
      const refused = await checkShrink(s3.s3, check, current, (l) => lines.push(l)).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(refused).toBeInstanceOf(StepError);
      expect((refused as StepError).exitCode).toBe(EXIT.DATA_ERROR);
      const message = (refused as StepError).message;
      expect(message.split("\n")).toHaveLength(1);
      expect(message).toContain(`shrink guard: the previous month's ${previous} `);
      expect(message).toMatch(expected);
      expect(message).toContain('not published. Repair or withdraw 2026-10, or run again with "allowShrink": true in the input');

      await checkShrink(s3.s3, { ...check, allowShrink: true }, current, (l) => lines.push(l));
      expect(lines).toEqual([expect.stringMatching(/^shrink guard: the previous month's .* cannot be compared with it; publishing anyway \(allowShrink\)$/)]);
    } finally {
      await s3.stop();
    }
  });
});
