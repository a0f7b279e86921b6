import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { cliInputCheckConfig, LOCAL_BUCKET } from "../workflows/config.ts";
import { checkJobInput, checkMonthInput, checkWeatherInput, InvalidInputError } from "./input-checks.ts";

/**
 * The shared checks' edges that the Plan tests (functions/plan*.test.ts) do not reach: what the CLI checks with
 * when it cannot know everything Plan knows. The checks themselves are tested through each Plan.
 */
const grader = { name: "grader", step: "grade", tier: "small", prefix: "jobs/grader/", tenants: "exams" };

describe("the CLI's input checks", () => {
  it("GIVEN a local run WHEN configured THEN it checks against the local engine's bucket, as its Plan will", () => {
    expect(cliInputCheckConfig("local", {})).toEqual({ local: true, allowedSourceHosts: ["download.geofabrik.de"], bucket: LOCAL_BUCKET });
    expect(() => checkJobInput({ config: "s3://elsewhere/jobs/grader/exams/a/config.json" }, grader, cliInputCheckConfig("local", {}))).toThrow(
      /must be under s3:\/\/atlas-local\/jobs\/grader\//,
    );
  });

  it("GIVEN --aws WHEN configured THEN the deployed allowlist applies and what needs the bucket's name is left to Plan", () => {
    const aws = cliInputCheckConfig("aws", { ATLAS_ALLOWED_SOURCE_HOSTS: "download.geofabrik.de,mirror.example.org" });
    expect(aws).toEqual({ local: false, allowedSourceHosts: ["download.geofabrik.de", "mirror.example.org"], bucket: undefined });
    // Any bucket may be the deployed one: accepted here, checked by Plan.
    expect(checkJobInput({ config: "s3://atlas-prod-bucket/jobs/grader/exams/a/config.json", runId: "exam-1" }, grader, aws)).toEqual({
      config: "s3://atlas-prod-bucket/jobs/grader/exams/a/config.json",
      runId: "exam-1",
      tenant: undefined,
    });
    // What does not depend on the bucket is still refused.
    expect(() => checkJobInput({ config: "s3://atlas-prod-bucket/jobs/grader/exams/a/config.json", runId: "../x" }, grader, aws)).toThrow(InvalidInputError);
    expect(() => checkJobInput({ config: pathToFileURL("config.json").href }, grader, aws)).toThrow(/only local runs/);
    expect(() => checkWeatherInput({ source: `${pathToFileURL("wx").href}/` }, aws)).toThrow(/only local runs/);
    expect(() => checkMonthInput({ regions: ["sample"] }, [], aws)).toThrow(/only run with the local engine/);
  });

  it("GIVEN a fan-out input WHEN checked THEN regions are deduplicated and force is resolved against them", () => {
    const checked = checkMonthInput({ regions: "andorra, liechtenstein,andorra", force: ["andorra"] }, [], { local: true });
    expect(checked.regions).toEqual(["andorra", "liechtenstein"]);
    expect([...checked.forced]).toEqual(["andorra"]);
    expect([...checkMonthInput({ force: true }, ["iceland"], { local: true }).forced]).toEqual(["iceland"]);
  });
});
