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
  /** sha256 by key of what a reader of the current month gets afterwards: its manifest and the files it names. */
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

/**
 * What a reader of a month gets, checked independently of the project's own readers: sha256 by key of its
 * manifest and of the objects the manifest names (in its version folder). Empty when there is no manifest.
 * Objects no manifest names (a failed publish's folder) are never read, so they are not in it.
 */
async function monthDigests(env: Record<string, string>, period: string): Promise<Record<string, string>> {
  return (await readMonth(env, period)).visible;
}

async function readMonth(env: Record<string, string>, period: string): Promise<{ visible: Record<string, string>; listedSha: Record<string, string>; others: string[]; folder: string }> {
  const s3 = makeS3Client(env);
  const prefix = `sample/${period}/`;
  const sha = async (key: string) => {
    const body = await (await s3.send(new GetObjectCommand({ Bucket: LOCAL_BUCKET, Key: key }))).Body!.transformToByteArray();
    return createHash("sha256").update(body).digest("hex");
  };
  try {
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: LOCAL_BUCKET, Prefix: prefix }));
    const keys = (listed.Contents ?? []).map((o) => o.Key!);
    const manifestKey = `${prefix}manifest.json`;
    if (!keys.includes(manifestKey)) return { visible: {}, listedSha: {}, others: keys, folder: "" };
    const text = await (await s3.send(new GetObjectCommand({ Bucket: LOCAL_BUCKET, Key: manifestKey }))).Body!.transformToString();
    const manifest = JSON.parse(text) as { dataPrefix?: string; files: { name: string; sha256: string }[] };
    const folder = prefix + (manifest.dataPrefix ?? "");
    const visible: Record<string, string> = { [manifestKey]: createHash("sha256").update(text).digest("hex") };
    const listedSha: Record<string, string> = {};
    for (const f of manifest.files) {
      listedSha[folder + f.name] = f.sha256;
      if (keys.includes(folder + f.name)) visible[folder + f.name] = await sha(folder + f.name);
    }
    return { visible, listedSha, others: keys.filter((k) => !(k in visible)), folder };
  } finally {
    s3.destroy();
  }
}

/**
 * "complete": the manifest's files are all there, each with its listed sha256, and nothing else is in its
 * folder; "absent": no manifest, and no data file where a reader could take it for the month (only version
 * folders no manifest names, or the lease); "partial": anything else.
 */
async function monthState(env: Record<string, string>, period: string): Promise<CellOutcome["month"]> {
  const { visible, listedSha, others, folder } = await readMonth(env, period);
  const prefix = `sample/${period}/`;
  const unread = (k: string) => k.startsWith(`${prefix}versions/`) || k === `${prefix}_lease.json`;
  if (Object.keys(visible).length === 0) return others.every(unread) ? "absent" : "partial";
  const whole = Object.entries(listedSha).every(([k, sum]) => visible[k] === sum);
  const extra = others.filter((k) => k.startsWith(folder) && !(folder === prefix && unread(k)));
  return whole && extra.length === 0 ? "complete" : "partial";
}
