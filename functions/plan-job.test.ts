import { HeadObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "./config.ts";
import { planJob, type JobPlanEvent } from "./plan-job.ts";

const s3mock = mockClient(S3Client);
const EXECUTION = { name: "manual-1", startTime: "2026-07-01T02:00:04.000Z" };
const GRADER = { name: "grader", step: "grade", tier: "small", prefix: "jobs/grader/", tenants: "exams" };
const deps = (env: Record<string, string> = {}) => ({ config: loadConfig({ ATLAS_BUCKET: "atlas-data", ...env }), s3: () => new S3Client({ region: "us-east-1" }) });
const plan = (input: JobPlanEvent["input"], job: JobPlanEvent["job"] = GRADER, env?: Record<string, string>) => planJob({ input, execution: EXECUTION, job }, deps(env));

beforeEach(() => {
  s3mock.reset();
  s3mock.on(HeadObjectCommand).resolves({ ContentLength: 10 });
});

describe("plan-job", () => {
  it("GIVEN a grader config in an exam's folder WHEN planned THEN the run reads that folder and writes its own runs/<runId>/ inside it", async () => {
    expect((await plan({ config: "s3://atlas-data/jobs/grader/exams/math-101/config.json", runId: "r1" })).uris).toEqual({
      config: "s3://atlas-data/jobs/grader/exams/math-101/config.json",
      publish: "s3://atlas-data/jobs/grader/exams/math-101/runs/r1/",
      tenant: "s3://atlas-data/jobs/grader/exams/math-101/",
    });
  });

  it.each([
    ["s3://atlas-data/jobs/grader/config.json", /must be in one exams folder/],
    ["s3://atlas-data/jobs/grader/exams/config.json", /must be in one exams folder/],
    ["s3://atlas-data/jobs/grader/exams/a*b/config.json", /must be in one exams folder/],
    ["s3://atlas-data/jobs/training/config.json", /must be under s3:\/\/atlas-data\/jobs\/grader\//],
  ])("GIVEN the grader config %s WHEN planned THEN InvalidInputError", async (config, message) => {
    await expect(plan({ config })).rejects.toMatchObject({ name: "InvalidInputError", message: expect.stringMatching(message) });
  });

  it("GIVEN a local config file WHEN planned THEN its directory is the exam", async () => {
    const out = await plan({ config: "file:///data/exams/geo/config.json", runId: "r2" }, GRADER, { ATLAS_LOCAL: "1" });
    expect(out.uris).toEqual({ config: "file:///data/exams/geo/config.json", publish: "s3://atlas-data/jobs/grader/exams/geo/runs/r2/", tenant: "file:///data/exams/geo/" });
  });

  it.each(["../../x", "a/b", ".hidden", "", "x".repeat(81), "a*"])("GIVEN the run id %j WHEN planned THEN it is refused, never rewritten", async (runId) => {
    await expect(plan({ config: "s3://atlas-data/jobs/grader/exams/e/config.json", runId })).rejects.toMatchObject({ name: "InvalidInputError", message: expect.stringMatching(/invalid runId/) });
  });

  it("GIVEN a job without tenants WHEN planned THEN its runs stay under jobs/<name>/runs/", async () => {
    const out = await plan({ config: "s3://atlas-data/jobs/training/config.json" }, { name: "training", step: "train", tier: "xlarge", prefix: "jobs/training/" });
    expect(out.uris).toEqual({ config: "s3://atlas-data/jobs/training/config.json", publish: "s3://atlas-data/jobs/training/runs/manual-1/" });
  });
});
