import { writeFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import { EXIT, StepError } from "../../lib/exit-codes.ts";
import { csvLine } from "../../lib/csv.ts";
import { writeJobOutputs } from "../../lib/job-output.ts";
import { requiredEnv, uriEnv, type Env, type Log } from "../../lib/run-step.ts";
import { readInputText } from "../../lib/uri-io.ts";
import { checkScope, requireInsideExam, requireSession, type RunScope } from "./isolation.ts";

/**
 * The grader job: scores submissions against an answer key.
 * Config (JSON at CONFIG_URI): `{ "answerKey": { "<question>": "<answer>", … }, "submissions": "<uri>" }`; the
 * submissions are JSON lines `{ "id": "…", "answers": { "<question>": "<answer>" } }`. Answers are compared
 * trimmed and case-insensitively. Output under OUTPUT_URI: `grades.csv` (id, correct, questions, score_pct),
 * `manifest.json` (counts: submissions, graded, invalid).
 */
export interface GraderConfig {
  answerKey: Record<string, string>;
  submissions: string;
}

export interface Grade {
  id: string;
  correct: number;
  questions: number;
  scorePct: number;
}

export function parseGraderConfig(text: string): GraderConfig {
  let c: unknown;
  try {
    c = JSON.parse(text);
  } catch {
    throw new StepError("the config is not JSON", EXIT.DATA_ERROR);
  }
  const cfg = c as Partial<GraderConfig>;
  const key = cfg?.answerKey;
  if (!key || typeof key !== "object" || Object.keys(key).length === 0 || Object.values(key).some((v) => typeof v !== "string")) {
    throw new StepError('the config needs answerKey: { "<question>": "<answer>", … } with at least one question', EXIT.DATA_ERROR);
  }
  if (typeof cfg.submissions !== "string") throw new StepError("the config needs submissions: the URI of a JSON-lines file", EXIT.DATA_ERROR);
  return { answerKey: key, submissions: cfg.submissions };
}

const norm = (s: unknown) => String(s ?? "").trim().toLowerCase();

/** Grades each line; a line that is not a submission is counted as invalid, not fatal. */
export function gradeAll(key: Record<string, string>, jsonl: string): { grades: Grade[]; invalid: number } {
  const questions = Object.keys(key);
  const grades: Grade[] = [];
  let invalid = 0;
  for (const line of jsonl.split("\n")) {
    if (!line.trim()) continue;
    let sub: { id?: unknown; answers?: unknown };
    try {
      sub = JSON.parse(line);
    } catch {
      invalid++;
      continue;
    }
    if (typeof sub?.id !== "string" || !sub.id || !sub.answers || typeof sub.answers !== "object") {
      invalid++;
      continue;
    }
    const answers = sub.answers as Record<string, unknown>;
    const correct = questions.filter((q) => norm(answers[q]) === norm(key[q])).length;
    grades.push({ id: sub.id, correct, questions: questions.length, scorePct: Math.round((1000 * correct) / questions.length) / 10 });
  }
  grades.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { grades, invalid };
}

export async function grade(env: Env, own: S3Client, log: Log): Promise<void> {
  const local = env.ATLAS_LOCAL === "1";
  const runId = requiredEnv(env, "RUN_ID", "grade");
  const configUri = uriEnv(env, "CONFIG_URI", "grade", { allowFile: local });
  const outputUri = uriEnv(env, "OUTPUT_URI", "grade", { prefix: true });
  const scope: RunScope = { tenantUri: uriEnv(env, "TENANT_URI", "grade", { prefix: true, allowFile: local }), outputUri, runId };
  checkScope(scope, configUri);
  requireSession(env);
  log(local ? `local run: reads limited to ${scope.tenantUri} by the checks alone` : `S3 through the run's session: ${scope.tenantUri} (write: ${outputUri})`);
  await gradeRun(own, log, { local, runId, configUri, outputUri, scope, codeVersion: env.CODE_VERSION?.trim() || "unknown" });
}

async function gradeRun(
  s3: S3Client,
  log: Log,
  run: { local: boolean; runId: string; configUri: string; outputUri: string; scope: RunScope; codeVersion: string },
): Promise<void> {
  const { local, runId, configUri, outputUri } = run;
  const cfg = parseGraderConfig(await readInputText(s3, configUri, local, "CONFIG_URI"));
  // The answer key is inline in the config; the submissions are the one URI a config can point elsewhere with.
  const submissions = cfg.submissions.startsWith("file://") ? new URL(cfg.submissions).href : cfg.submissions;
  requireInsideExam(submissions, run.scope, "the config's submissions");
  const { grades, invalid } = gradeAll(cfg.answerKey, await readInputText(s3, submissions, local, "the submissions"));
  log(`${grades.length} submissions graded, ${invalid} invalid line(s), ${Object.keys(cfg.answerKey).length} questions`);
  const dir = await mkdtemp(join(tmpdir(), "grader-"));
  try {
    const csv = join(dir, "grades.csv");
    // The ids come from the submitters: csvLine writes one that looks like a formula (=HYPERLINK(…)) as inert text.
    const lines = [csvLine(["id", "correct", "questions", "score_pct"]), ...grades.map((g) => csvLine([g.id, g.correct, g.questions, g.scorePct]))];
    await writeFile(csv, `${lines.join("\n")}\n`);
    await writeJobOutputs(
      s3,
      outputUri,
      [{ name: "grades.csv", path: csv, rows: grades.length }],
      {
        workflow: "grader",
        runId,
        config: configUri,
        codeVersion: run.codeVersion,
        publishedAt: new Date().toISOString(),
        counts: { submissions: grades.length + invalid, graded: grades.length, invalid },
      },
      log,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
