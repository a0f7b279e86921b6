import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runLocal, type LocalRun } from "../../local/run-local.ts";
import { sampleGraderConfig } from "../../workflows/jobs.ts";
import { gradeAll } from "./grade.ts";

let scratch: string;
const runs: LocalRun[] = [];
beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), "grader-e2e-"));
});
afterAll(async () => {
  await Promise.all(runs.map((r) => r.stop()));
  await rm(scratch, { recursive: true, force: true });
});

describe("gradeAll", () => {
  it("GIVEN answers with other case and spaces WHEN graded THEN they count; lines that are not submissions are invalid", () => {
    const out = gradeAll({ q1: "b", q2: "paris" }, '{"id":"x","answers":{"q1":" B ","q2":"Rome"}}\nnope\n{"answers":{}}\n');
    expect(out).toEqual({ grades: [{ id: "x", correct: 1, questions: 2, scorePct: 50 }], invalid: 2 });
  });
});

describe("the grader job on the local engine", () => {
  it("GIVEN the sample answer key and submissions WHEN the job runs THEN grades.csv and its manifest are under the job's output prefix", async () => {
    const config = await sampleGraderConfig(path.join(scratch, "job"));
    const r = await runLocal({ workflow: "grader", input: { config: pathToFileURL(config).href, runId: "exam-1" }, runDir: path.join(scratch, "run"), retryWaitMs: 10 });
    runs.push(r);
    expect(r.result.status, r.summary.error).toBe("SUCCEEDED");
    expect(r.summary.outputs.keys.sort()).toEqual(["jobs/grader/runs/exam-1/grades.csv", "jobs/grader/runs/exam-1/manifest.json"]);
    expect(r.result.states.find((s) => s.name === "Grade (small)")?.status).toBe("SUCCEEDED");
    const out = path.join(r.runDir, "published", "jobs", "grader", "runs", "exam-1");
    expect(await readFile(path.join(out, "grades.csv"), "utf8")).toBe("id,correct,questions,score_pct\nalice,3,3,100\nbob,1,3,33.3\ncarol,1,3,33.3\n");
    const manifest = JSON.parse(await readFile(path.join(out, "manifest.json"), "utf8"));
    expect(manifest.counts).toEqual({ submissions: 4, graded: 3, invalid: 1 });
    expect(r.summary.counts).toEqual({ submissions: 4, graded: 3, invalid: 1 });
  });

  it("GIVEN a grade step that exits 75 twice WHEN the job runs THEN its third attempt succeeds; a third failure would fail the run", async () => {
    const config = await sampleGraderConfig(path.join(scratch, "job2"));
    const { parseFaults } = await import("../../local/faults.ts");
    const r = await runLocal({ workflow: "grader", input: { config: pathToFileURL(config).href, runId: "exam-2" }, runDir: path.join(scratch, "run2"), retryWaitMs: 10, faults: parseFaults("grade:exit75:2") });
    runs.push(r);
    expect(r.result.status, r.summary.error).toBe("SUCCEEDED");
    expect(r.result.states.find((s) => s.name === "Grade (small)")?.attempts).toBe(3);
    const failing = await runLocal({ workflow: "grader", input: { config: pathToFileURL(config).href, runId: "exam-3" }, runDir: path.join(scratch, "run3"), retryWaitMs: 10, faults: parseFaults("grade:exit75:3") });
    runs.push(failing);
    expect(failing.result.status).toBe("FAILED");
    expect(failing.result.states.find((s) => s.name === "Grade (small)")?.attempts).toBe(3);
  });
});
