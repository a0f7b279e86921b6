import { spawn, type ChildProcess } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import * as path from "node:path";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { startEmbeddedS3 } from "../../lib/embedded-s3.ts";
import { parseProcStat } from "../../lib/proc-stat.ts";
import { makeS3Client } from "../../lib/s3.ts";
import { ACCOUNT_DIR_ENV, LOCAL_BUCKET, REPO_ROOT } from "../run-local.ts";
import { RUNS_DIR_ENV, type RunRecord } from "../../run-records/record.ts";

/**
 * For the tests that interrupt a real command line (`npm start` or `node --import tsx cli/main.ts`) and then look at
 * what it left: its processes, its run record and the embedded S3 bucket.
 */

export interface Started {
  child: ChildProcess;
  /** Everything it wrote to stderr so far. */
  stderr(): string;
  /** Resolves once `ready(stderr)` holds. */
  ready: Promise<void>;
  /** Resolves with how it ended, once its stderr is closed too. */
  ended: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `command` (argv) in the repository, with its runs folder and account (bucket, executions) under `dir`, in
 * a process group of its own, as a terminal runs a foreground job (so the group can be signalled as Ctrl-C does).
 */
export function startCli(command: string[], dir: string, env: Record<string, string>, ready: (stderr: string) => boolean): Started {
  const child = spawn(command[0], command.slice(1), {
    cwd: REPO_ROOT,
    env: { ...process.env, [RUNS_DIR_ENV]: path.join(dir, "runs"), [ACCOUNT_DIR_ENV]: path.join(dir, "account"), ...env },
    stdio: ["ignore", "ignore", "pipe"],
    detached: true,
  });
  let text = "";
  let markReady: () => void;
  const readyPromise = new Promise<void>((resolve) => (markReady = resolve));
  child.stderr!.on("data", (d: Buffer) => {
    text += d.toString();
    if (ready(text)) markReady();
  });
  child.stderr!.on("error", () => {}); // a test may close its end on purpose (a terminal going away)
  // "close": the process has exited and every process that shared its stderr (a CLI under npm) has let it go.
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on("close", (code, signal) => resolve({ code, signal })));
  return { child, stderr: () => text, ready: readyPromise, ended };
}

/** The processes of a process group, each with its command line (argv). */
export async function processGroup(pgid: number): Promise<{ pid: number; argv: string[] }[]> {
  const found: { pid: number; argv: string[] }[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, "utf8").catch(() => "");
    if (!stat || Number(parseProcStat(stat).fields[2]) !== pgid) continue;
    const argv = (await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "")).split("\0").filter(Boolean);
    found.push({ pid: Number(entry), argv });
  }
  return found;
}

/** Processes still alive whose environment names this run's folder (every step process gets it). */
export async function processesOfRun(runDir: string): Promise<number[]> {
  const marker = `ATLAS_LOCAL_SINK_DIR=${runDir}\0`;
  const found: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const environ = await readFile(`/proc/${entry}/environ`, "utf8").catch(() => "");
    if (`${environ}\0`.includes(marker)) found.push(Number(entry));
  }
  return found;
}

/** The only run under `dir`'s runs folder: its folder and record. */
export async function onlyRun(dir: string): Promise<{ runDir: string; record: RunRecord }> {
  const runs = path.join(dir, "runs");
  const [id, ...more] = await readdir(runs);
  if (!id || more.length) throw new Error(`expected one run in ${runs}, found ${[id, ...more].join(", ")}`);
  const runDir = path.join(runs, id);
  return { runDir, record: JSON.parse(await readFile(path.join(runDir, "run.json"), "utf8")) as RunRecord };
}

/** Every key in the local account's bucket (`<account>/s3`), read through its own embedded S3 server. */
export async function bucketKeys(accountDir: string): Promise<string[]> {
  const server = await startEmbeddedS3({ directory: path.join(accountDir, "s3"), buckets: [LOCAL_BUCKET] });
  const s3 = makeS3Client({ AWS_ENDPOINT_URL_S3: server.endpoint, AWS_ACCESS_KEY_ID: "S3RVER", AWS_SECRET_ACCESS_KEY: "S3RVER", AWS_REGION: "us-east-1" });
  try {
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: LOCAL_BUCKET }));
    return (listed.Contents ?? []).map((o) => o.Key!);
  } finally {
    s3.destroy();
    await server.stop();
  }
}
