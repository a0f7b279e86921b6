import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { S3Client } from "@aws-sdk/client-s3";
import { dataFile } from "../../../lib/data-files.ts";
import { readCommitted } from "../../../lib/published.ts";
import { ANDORRA_PBF as ANDORRA_PBF_NAME } from "../../../lib/data-catalog.ts";
import { TableWriter } from "../tables.ts";
import { runSkiAtlasStep } from "../steps.ts";

/** Test helpers for the ski-atlas steps (not part of the image). */

export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
/** The real Andorra extract (© OpenStreetMap contributors, ODbL 1.0), wherever lib/data-files.ts finds or fetches it. */
export const andorraPbf = (): Promise<string> => dataFile(ANDORRA_PBF_NAME);
export const BUCKET = "test-bucket";

export interface RunUris {
  raw: string;
  extract: string;
  staging: string;
  publish: string;
}

export function uris(region: string, period = "2021-06", runId = `${region}-${period}`): RunUris {
  return {
    raw: `s3://${BUCKET}/raw/${region}/${region}.osm.pbf`,
    extract: `s3://${BUCKET}/staging/${region}/${period}/${runId}/extract.osm.pbf`,
    staging: `s3://${BUCKET}/staging/${region}/${period}/${runId}/out/`,
    publish: `s3://${BUCKET}/${region}/${period}/`,
  };
}

/** `s3://…` of a file of the version committed under `publishUri`, where its manifest says (lib/published.ts). */
export async function publishedFile(s3: S3Client, publishUri: string, name: string): Promise<string> {
  const version = await readCommitted(s3, publishUri);
  if (!version) throw new Error(`nothing is published under ${publishUri}`);
  return version.uri(name);
}

/** The step environment contract (docs/ARCHITECTURE.md) for one run. */
export function stepEnv(s3Env: Record<string, string>, region: string, extra: Record<string, string> = {}, period = "2021-06"): Record<string, string> {
  const u = uris(region, period);
  return {
    ...s3Env,
    ATLAS_S3_MAX_ATTEMPTS: "1",
    REGION: region,
    PERIOD: period,
    RUN_ID: `${region}-${period}`,
    RAW_URI: u.raw,
    EXTRACT_URI: u.extract,
    STAGING_URI: u.staging,
    PUBLISH_URI: u.publish,
    CODE_VERSION: "test-1",
    ...extra,
  };
}

export interface StepRun {
  code: number;
  stderr: string;
  errorLines: string[];
}

/** Runs a step in this process (credentials for the SDK's default chain come from process.env). */
export async function runInProcess(step: string, env: Record<string, string>): Promise<StepRun> {
  process.env.AWS_ACCESS_KEY_ID ??= env.AWS_ACCESS_KEY_ID ?? "S3RVER";
  process.env.AWS_SECRET_ACCESS_KEY ??= env.AWS_SECRET_ACCESS_KEY ?? "S3RVER";
  let stderr = "";
  const code = await runSkiAtlasStep([step], env, { stderr: { write: (s: string) => (stderr += s) } });
  return { code, stderr, errorLines: stderr.split("\n").filter((l) => l.startsWith("error:")) };
}

/** Runs `tsx containers/ski-atlas/main.ts <step>` as a child process, the way the local engine does. */
export function runChild(step: string, env: Record<string, string>): Promise<StepRun> {
  const bin = join(REPO_ROOT, "node_modules/.bin");
  const tsx = join(bin, "tsx");
  if (!existsSync(tsx)) throw new Error(`tsx not found at ${tsx}: run npm ci`);
  return new Promise((resolve, reject) => {
    const child = spawn(tsx, ["containers/ski-atlas/main.ts", step], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env, PATH: `${bin}:${process.env.PATH}` },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) =>
      resolve({ code: code ?? -1, stderr, errorLines: stderr.split("\n").filter((l) => l.startsWith("error:")) }),
    );
  });
}

export interface Bounds {
  /** Wall time after which the child is killed (a hang guard, generous: not a performance assertion). */
  timeoutMs: number;
  /** Resident memory above which the child is killed (a blow-up guard). */
  maxRssBytes: number;
}

export interface BoundedRun extends StepRun {
  /** The signal that ended the child, if one did (a crash fault, or a bound's SIGKILL). */
  signal: NodeJS.Signals | null;
  /** Set when a bound killed the child. */
  killedFor?: "time" | "memory";
  /** Highest resident memory seen (sampled every 50 ms from /proc; 0 where /proc is missing). */
  peakRssBytes: number;
}

function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * Runs a step as its own Node process (`node --import tsx main.ts <step>`, one process, so its memory is the
 * step's) and kills it if it outlives `bounds.timeoutMs` or its RSS passes `bounds.maxRssBytes`.
 */
export function runChildBounded(step: string, env: Record<string, string>, bounds: Bounds): Promise<BoundedRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "containers/ski-atlas/main.ts", step], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    let killedFor: BoundedRun["killedFor"];
    let peakRssBytes = 0;
    const kill = (why: "time" | "memory") => {
      killedFor ??= why;
      child.kill("SIGKILL");
    };
    const timer = setTimeout(() => kill("time"), bounds.timeoutMs);
    const sampler = setInterval(() => {
      const rss = child.pid ? rssOf(child.pid) : 0;
      peakRssBytes = Math.max(peakRssBytes, rss);
      if (rss > bounds.maxRssBytes) kill("memory");
    }, 50);
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      clearInterval(sampler);
      resolve({
        code: code ?? (signal ? 128 + (signal === "SIGKILL" ? 9 : 15) : -1),
        stderr,
        errorLines: stderr.split("\n").filter((l) => l.startsWith("error:")),
        signal,
        killedFor,
        peakRssBytes,
      });
    });
  });
}

/** Rows of a local Parquet/CSV file (via DuckDB), as plain JS values. */
export async function readTable(path: string): Promise<Record<string, unknown>[]> {
  const w = await TableWriter.open();
  try {
    const fn = path.endsWith(".csv") ? "read_csv" : "read_parquet";
    return await w.query(`SELECT * FROM ${fn}('${path}')`);
  } finally {
    w.close();
  }
}

export async function parquetKv(path: string): Promise<Record<string, string>> {
  const w = await TableWriter.open();
  try {
    const rows = await w.query(`SELECT decode(key) AS k, decode(value) AS v FROM parquet_kv_metadata('${path}')`);
    return Object.fromEntries(rows.map((r) => [String(r.k), String(r.v)]));
  } finally {
    w.close();
  }
}
