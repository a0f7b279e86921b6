import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { successPath, type AslStates } from "../run-model/definition.ts";
import { runUsage } from "../run-records/cost.ts";
import type { RunRecord } from "../run-records/record.ts";
import { measureMonthlyRun, RUN_COUNTS_FILE } from "./run-counts.ts";
import { runShape, type MeasuredRun } from "./sizing-fit.ts";

/**
 * The cost projections take a successful run's state transitions from the compiled machine and its S3 requests
 * from a real run's record (bench/run-counts.json). This runs that real run (two months of the Andorra extract on
 * the local engine, about 20 s) and checks both: so a state added to the machine, or a request added to a step,
 * fails here until the projection follows it (`npm run bench:counts` rewrites the file).
 */
let scratch: string;
let record: RunRecord;
let measured: MeasuredRun;
const committed = JSON.parse(readFileSync(RUN_COUNTS_FILE, "utf8")) as MeasuredRun;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "run-counts-test-"));
  ({ record, measured } = await measureMonthlyRun(scratch));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe("the counts the cost projections take from the machine and a real run", () => {
  it("GIVEN a real monthly run WHEN its record is read THEN it entered exactly the compiled machine's success path, one transition each, as the projection counts", () => {
    const definition = record.definition as AslStates;
    const path = successPath(definition).map((s) => s.name);
    expect(record.status).toBe("SUCCEEDED");
    expect(record.states.map((v) => v.name)).toEqual(path);
    expect(runUsage(record).stateTransitions).toBe(path.length);
    expect(record.estimated_cost.usage.state_transitions).toBe(path.length);
    const shape = runShape(definition, committed);
    expect(shape.stateTransitions).toBe(path.length);
    // Every Lambda the run invoked is priced by the projection, each once.
    expect(shape.lambdaStates).toEqual(record.states.filter((v) => String(definition.States[v.name].Resource ?? "").includes(":lambda:")).map((v) => v.name));
    expect(shape.lambdaStates).toHaveLength(record.estimated_cost.usage.lambda_invocations);
  });

  it("GIVEN the same run WHEN its S3 requests are counted THEN they are bench/run-counts.json's (else: npm run bench:counts, and commit the file)", () => {
    const { measuredAt: _now, ...now } = measured;
    const { measuredAt: _then, ...then } = committed;
    expect(now, `bench/run-counts.json (measured ${committed.measuredAt}) is stale: run npm run bench:counts and commit it`).toEqual(then);
  });

  it("GIVEN a state added to the success path WHEN the projection's shape is taken THEN it counts one transition more", () => {
    const definition = structuredClone(record.definition) as AslStates;
    const before = runShape(definition, committed).stateTransitions;
    const plan = definition.States.Plan;
    definition.States["Look again"] = { Type: "Pass", Next: plan.Next };
    plan.Next = "Look again";
    expect(runShape(definition, committed).stateTransitions).toBe(before + 1);
  });
});
