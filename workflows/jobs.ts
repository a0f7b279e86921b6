import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { chooseWeatherRun, describeWeatherRun, localWeatherRuns } from "../lib/local-weather-runs.ts";
import { YIELD_FILE } from "../lib/data-catalog.ts";
import { dataFile } from "../lib/data-files.ts";
import { PROJECT_ROOT } from "../lib/project-root.ts";
import { containerJob } from "./container-job.ts";

/**
 * The two container jobs. Each is one `containerJob(...)`: its container lives in `containers/<name>/`.
 */

/**
 * Grades submissions against an answer key. Isolated: it may run code or data others submitted, so each run reads
 * only its own exam (`jobs/grader/exams/<exam>/`) and writes only its own run prefix, enforced by IAM through a
 * session the state machine starts for each attempt (workflows/run-session.ts, containers/grader/README.md), and its
 * tasks get a security group with no inbound and HTTPS-only outbound.
 */
export const grader = containerJob({
  name: "grader",
  description: "Grades submissions against an answer key (isolated: own exam only, HTTPS-only egress, non-root).",
  command: ["grade"],
  tenants: "exams",
  tier: "small",
  timeoutMinutes: 15,
  attempts: 3,
  network: "https-egress-only",
  cli: { defaultConfig: async (target) => (target === "local" ? sampleGraderConfig() : undefined) },
});

/** Fits US corn grain yield against yearly weather aggregates of a published weather run (8 vCPU, 32 GB). */
export const training = containerJob({
  name: "training",
  description: "Fits US corn grain yield against yearly weather (OLS) and writes model.json.",
  command: ["train"],
  tier: "xlarge",
  timeoutMinutes: 60,
  attempts: 2,
  reads: ["weather/*"],
  cli: {
    options: { "weather-run": "offline: the local weather run to train on, by its run id or day (default: the newest)" },
    defaultConfig: async (target, options, note) => {
      if (target !== "local") {
        if (options["weather-run"] !== undefined) throw new Error("--weather-run picks a local weather run: with --aws pass --config s3://…");
        return undefined;
      }
      return localTrainingConfig(options["weather-run"], note);
    },
  },
});

/** A small answer key and four submissions (one of them not JSON), the same every time, as the exam `sample`. */
export async function sampleGraderConfig(dir = path.join(PROJECT_ROOT, ".data", "jobs", "grader", "exams", "sample")): Promise<string> {
  await mkdir(dir, { recursive: true });
  const submissions = path.join(dir, "submissions.jsonl");
  await writeFile(
    submissions,
    [
      JSON.stringify({ id: "alice", answers: { q1: "b", q2: "Paris", q3: "42" } }),
      JSON.stringify({ id: "bob", answers: { q1: "a", q2: "paris ", q3: "41" } }),
      JSON.stringify({ id: "carol", answers: { q1: "b" } }),
      "not json",
      "",
    ].join("\n"),
  );
  const config = path.join(dir, "config.json");
  await writeFile(config, `${JSON.stringify({ answerKey: { q1: "b", q2: "paris", q3: "42" }, submissions: pathToFileURL(submissions).href }, null, 2)}\n`);
  return config;
}

/**
 * A config on a local weather run (`wanted`, by id or day; default the newest) and the shared yield file. Which run
 * it took is said, since "the newest" may be a test's three stations.
 */
async function localTrainingConfig(wanted: string | undefined, note: (line: string) => void): Promise<string> {
  const run = chooseWeatherRun(await localWeatherRuns(), wanted);
  note(`weather run: ${describeWeatherRun(run)}${wanted === undefined ? " (the newest; pick another with --weather-run)" : ""}`);
  const weather = run.dir;
  const yieldFile = await dataFile(YIELD_FILE); // the real yields (lib/data-files.ts), or one line on how to get them
  const dir = path.join(PROJECT_ROOT, ".data", "jobs", "training");
  await mkdir(dir, { recursive: true });
  const config = path.join(dir, "config.json");
  await writeFile(config, `${JSON.stringify({ weather: `${pathToFileURL(weather).href}/`, yield: pathToFileURL(yieldFile).href }, null, 2)}\n`);
  return config;
}
