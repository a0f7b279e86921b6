import { describe, expect, it } from "vitest";
import { checkScope, requireSession, type RunScope } from "./isolation.ts";

const SCOPE: RunScope = {
  tenantUri: "s3://atlas-data/jobs/grader/exams/math-101/",
  outputUri: "s3://atlas-data/jobs/grader/exams/math-101/runs/r1/",
  runId: "r1",
};

// What IAM allows a run is shown on the synthesized template, by a policy evaluation (stacks/security.test.ts).
describe("the run's session", () => {
  it("GIVEN no session credentials WHEN not local THEN the step refuses to run, naming what is missing (exit 64)", () => {
    expect(() => requireSession({ AWS_ACCESS_KEY_ID: "ASIAX", AWS_SECRET_ACCESS_KEY: "s" })).toThrow(
      expect.objectContaining({ exitCode: 64, message: expect.stringMatching(/^AWS_SESSION_TOKEN not set: the grader reaches S3 only through the session its state machine starts/) }),
    );
  });

  it("GIVEN the session's three variables, or a local run WHEN checked THEN it goes on", () => {
    expect(() => requireSession({ AWS_ACCESS_KEY_ID: "ASIAX", AWS_SECRET_ACCESS_KEY: "s", AWS_SESSION_TOKEN: "t" })).not.toThrow();
    expect(() => requireSession({ ATLAS_LOCAL: "1" })).not.toThrow();
  });
});

describe("checkScope", () => {
  it.each([
    [{ ...SCOPE, tenantUri: "s3://atlas-data/jobs/grader/" }, "s3://atlas-data/jobs/grader/c.json", 64, /not an exam folder/],
    [{ ...SCOPE, outputUri: "s3://atlas-data/jobs/grader/exams/other/runs/r1/" }, "s3://atlas-data/jobs/grader/exams/math-101/c.json", 64, /not this run's prefix/],
    [{ ...SCOPE, runId: "../x" }, "s3://atlas-data/jobs/grader/exams/math-101/c.json", 64, /invalid RUN_ID/],
    [SCOPE, "s3://atlas-data/jobs/grader/exams/other/c.json", 77, /outside this run's exam/],
    [SCOPE, "s3://atlas-data/jobs/grader/exams/math-101/../other/c.json", 77, /outside this run's exam/],
  ])("GIVEN a scope %j and config %s WHEN checked THEN exit %i", (scope, config, exitCode, message) => {
    expect(() => checkScope(scope, config)).toThrow(expect.objectContaining({ exitCode, message: expect.stringMatching(message) }));
  });
});
