import { createHash } from "node:crypto";
import { cp, mkdtemp, readdir, readFile } from "node:fs/promises";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { GetObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { writeSyntheticRegion } from "../../containers/ski-atlas/synthetic-osm.ts";
import { makeS3Client } from "../../lib/s3.ts";
import { parseFaults } from "../faults.ts";
import { LOCAL_BUCKET, runLocal, type LocalRun } from "../run-local.ts";

/**
 * The fault matrix's fixture: the generated sample region, whose previous month (2026-10) is already
 * published in an embedded S3 directory. Each cell copies that directory, publishes 2026-11 with one fault
 * injected, and reports what a reader would find.
 */
export const PREVIOUS = "2026-10";
export const CURRENT = "2026-11";

export interface Baseline {
  scratch: string;
  input: (period: string, variant?: "ski" | "no-ski") => Record<string, unknown>;
  s3Directory: string;
  previousMonth: Record<string, string>;
}

export async function publishBaseline(scratch: string): Promise<Baseline> {
  const pbf = path.join(scratch, "sample.osm.pbf");
  const noSki = path.join(scratch, "sample-no-ski.osm.pbf");
  await writeSyntheticRegion(pbf);
  await writeSyntheticRegion(noSki, "no-ski");
  const input = (period: string, variant: "ski" | "no-ski" = "ski") => ({
    region: "sample",
    period,
    source: pathToFileURL(variant === "ski" ? pbf : noSki).href,
  });
  const s3Directory = path.join(scratch, "baseline-s3");
  const run = await runLocal({ workflow: "ski-atlas", input: input(PREVIOUS), runDir: await mkdtemp(path.join(scratch, "baseline-")), s3Directory, retryWaitMs: 10 });
  const previousMonth = await monthDigests(run.env, PREVIOUS);
  await run.stop();
  if (run.result.status !== "SUCCEEDED") throw new Error(`baseline run failed: ${run.summary.error}`);
  // The six output files, changes.csv and manifest.json.
  if (Object.keys(previousMonth).length !== 8) throw new Error(`baseline month has ${Object.keys(previousMonth).length} objects, expected 8`);
  return { scratch, input, s3Directory, previousMonth };
}

export interface CellOutcome {
  run: LocalRun;
  /** sha256 of every object of the current month afterwards, by key. */
  currentMonth: Record<string, string>;
  /** What a reader finds for the current month: the complete month, nothing, or something in between. */
  month: "complete" | "absent" | "partial";
  /** The previous month, object by object, is byte-identical to the baseline. */
  previousUntouched: boolean;
  notifications: { subject: string }[];
}

export async function runCell(
  baseline: Baseline,
  options: { faults: string; timeoutOverrides?: Record<string, number>; s3Directory?: string; variant?: "ski" | "no-ski"; env?: Record<string, string>; allowShrink?: boolean },
): Promise<CellOutcome> {
  const cellDir = await mkdtemp(path.join(baseline.scratch, "cell-"));
  const s3Directory = options.s3Directory ?? path.join(cellDir, "s3");
  if (!options.s3Directory) await cp(baseline.s3Directory, s3Directory, { recursive: true });
  const run = await runLocal({
    workflow: "ski-atlas",
    input: { ...baseline.input(CURRENT, options.variant), ...(options.allowShrink === undefined ? {} : { allowShrink: options.allowShrink }) },
    runDir: cellDir,
    s3Directory,
    retryWaitMs: 10,
    faults: parseFaults(options.faults),
    timeoutOverrides: options.timeoutOverrides,
    env: options.env,
  });
  try {
    const previous = await monthDigests(run.env, PREVIOUS);
    const notifications = (await readFile(path.join(cellDir, "notifications.jsonl"), "utf8").catch(() => ""))
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { subject: string });
    return {
      run,
      currentMonth: await monthDigests(run.env, CURRENT),
      month: await monthState(run.env, CURRENT),
      previousUntouched: JSON.stringify(previous) === JSON.stringify(baseline.previousMonth),
      notifications,
    };
  } finally {
    await run.stop();
  }
}

/** The logs of a step's attempts in a cell's run, oldest first (the local ECS runner writes one per attempt). */
export async function stepLogs(runDir: string, step: string): Promise<string[]> {
  const logs = path.join(runDir, "logs");
  const files: string[] = [];
  for (const execution of await readdir(logs)) {
    for (const f of await readdir(path.join(logs, execution))) if (f.startsWith(`${step}-`)) files.push(path.join(logs, execution, f));
  }
  // Named `<step>-<start ms>.log`: the number orders the attempts.
  const started = (f: string) => Number(/-(\d+)\.log$/.exec(f)?.[1] ?? 0);
  return Promise.all(files.sort((a, b) => started(a) - started(b)).map((f) => readFile(f, "utf8")));
}

/** sha256 of every object of a month, by key. */
async function monthDigests(env: Record<string, string>, period: string): Promise<Record<string, string>> {
  const s3 = makeS3Client(env);
  try {
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: LOCAL_BUCKET, Prefix: `sample/${period}/` }));
    const out: Record<string, string> = {};
    for (const o of listed.Contents ?? []) {
      const body = await (await s3.send(new GetObjectCommand({ Bucket: LOCAL_BUCKET, Key: o.Key! }))).Body!.transformToByteArray();
      out[o.Key!] = createHash("sha256").update(body).digest("hex");
    }
    return out;
  } finally {
    s3.destroy();
  }
}

/** Checked independently of the project's own verify: the manifest lists exactly the objects present, by sha256. */
async function monthState(env: Record<string, string>, period: string): Promise<CellOutcome["month"]> {
  const digests = await monthDigests(env, period);
  const keys = Object.keys(digests);
  if (keys.length === 0) return "absent";
  const manifestKey = `sample/${period}/manifest.json`;
  if (!digests[manifestKey]) return "partial";
  const s3 = makeS3Client(env);
  try {
    const text = await (await s3.send(new GetObjectCommand({ Bucket: LOCAL_BUCKET, Key: manifestKey }))).Body!.transformToString();
    const files = (JSON.parse(text) as { files: { name: string; sha256: string }[] }).files;
    const listed = Object.fromEntries(files.map((f) => [`sample/${period}/${f.name}`, f.sha256]));
    const present = Object.fromEntries(Object.entries(digests).filter(([k]) => k !== manifestKey));
    return JSON.stringify(Object.entries(listed).sort()) === JSON.stringify(Object.entries(present).sort()) ? "complete" : "partial";
  } finally {
    s3.destroy();
  }
}
