import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RUNS_DIR_ENV } from "../run-records/record.ts";
import { stepState } from "../local/testing/planned-tiers.ts";
import { ACCOUNT_DIR_ENV, REPO_ROOT } from "../local/run-local.ts";
import { bucketKeys, processesOfRun } from "../local/testing/interrupted-run.ts";

/**
 * The real command line (`npm start -- ski-atlas --verbose` runs `node --import tsx cli/main.ts …`) on the generated sample region,
 * in a scratch account, with two injected faults: Download fails once (exit 75, retried) and Publish stops after its
 * first copy (`pause1`: one file copied into its version folder, lease held, no manifest). Once Publish is stuck there, the
 * CLI gets SIGINT, as from Ctrl-C. One run shows what a person sees and what is left behind:
 *  - --verbose: each step's own lines, prefixed by the step;
 *  - a heartbeat while a step runs (elapsed time and the memory its processes hold now);
 *  - a failed attempt names its log file, which holds the step's error;
 *  - Ctrl-C: one "interrupted" line, every step process stopped, the stopped publish's lease released (it had
 *    changed nothing a reader sees: no month, no lease stays), no failure path run (no Notify), the run recorded as
 *    ABORTED, exit 130.
 */
let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), "cli-progress-"));
});
afterAll(() => rm(scratch, { recursive: true, force: true }));

interface Interrupted {
  status: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** Starts the CLI, sends SIGINT once `ready(stderr)` holds, and waits for it to end. */
function runAndInterrupt(args: string[], env: Record<string, string>, ready: (stderr: string) => boolean): Promise<Interrupted> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "cli/main.ts", ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    let sent = false;
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
      if (!sent && ready(stderr)) {
        sent = true;
        child.kill("SIGINT");
      }
    });
    child.on("close", (status, signal) => resolve({ status, signal, stderr }));
  });
}

describe("npm start -- --verbose, then Ctrl-C during Publish", () => {
  it("GIVEN a publish stopped half-way WHEN SIGINT THEN no month is published, its lease is released, every step stopped, the run ABORTED, exit 130", async () => {
    const runsDir = path.join(scratch, "runs");
    const accountDir = path.join(scratch, "account");
    const publishPaused = /Publish \| \[publish\] \[fault\] ATLAS_FAULT_PAUSE_AFTER_COPIES=1: publish paused/;
    const publishHeartbeat = /… \[sample\] Publish running for /;
    const { status, signal, stderr } = await runAndInterrupt(
      ["ski-atlas", "--verbose"],
      {
        [RUNS_DIR_ENV]: runsDir,
        [ACCOUNT_DIR_ENV]: accountDir,
        ATLAS_FAULTS: "download:exit75:1,publish:pause1",
        ATLAS_HEARTBEAT_MS: "300",
        ATLAS_RETRY_WAIT_MS: "5",
      },
      (text) => publishPaused.test(text) && publishHeartbeat.test(text),
    );
    const lines = stderr.split("\n");

    // What a person saw while it ran.
    expect(lines.some((l) => /^\d\d:\d\d\.\d {2}\s+\[sample\] Extract \| \[extract\] /.test(l)), stderr).toBe(true);
    const beats = [...stderr.matchAll(/… \[sample\] (\w+) running for [\d.]+ s, (\d+) MiB in memory now/g)];
    expect(beats.map((b) => b[1])).toContain("Publish");
    expect(Math.max(...beats.map((b) => Number(b[2])))).toBeGreaterThan(0);
    const failed = /✗ \[sample\] Download failed: injected fault \(exit 75\)\n\s+log: (\S+)/.exec(stderr);
    expect(failed, stderr).not.toBeNull();
    const logFile = path.resolve(REPO_ROOT, failed![1]);
    expect(await readFile(logFile, "utf8")).toContain("error: injected fault (exit 75)");

    // How it ended.
    expect({ status, signal }).toEqual({ status: 130, signal: null });
    expect(lines.filter((l) => l.startsWith("interrupted"))).toEqual(["interrupted (SIGINT): stopping 1 step…"]);
    const after = lines.slice(lines.findIndex((l) => l.startsWith("interrupted")));
    expect(after.some((l) => /\[publish interrupted\] released the lease of s3:\/\/atlas-local\/sample\/\d{4}-\d{2}\/ held by the stopped step/.test(l)), stderr).toBe(true);
    // Nothing the dying steps set off is shown or run: no failure path, no Notify.
    expect(after.filter((l) => /Metrics \(failed run\)|Notify|✗|✘/.test(l)), stderr).toEqual([]);
    const recorded = /^run (\S+) recorded as ABORTED in (\S+)$/.exec(after.filter(Boolean).at(-1)!);
    expect(recorded, stderr).not.toBeNull();
    const runDir = path.join(runsDir, recorded![1]);
    const record = JSON.parse(await readFile(path.join(runDir, "run.json"), "utf8")) as { status: string; states: { name: string; status: string }[] };
    expect(record.status).toBe("ABORTED");
    // The step that was stopped ends ABORTED (as StopExecution leaves it), not failed by the kill; nothing runs on.
    expect(record.states.find((s) => s.name === stepState("publish"))?.status).toBe("ABORTED");
    expect(record.states.filter((s) => s.status === "RUNNING")).toEqual([]);
    expect(existsSync(path.join(runDir, "notifications.jsonl"))).toBe(false);
    expect(await processesOfRun(runDir)).toEqual([]);

    // The bucket: the month was never published: no manifest and no lease; only the stopped publish's own version
    // folder, which no reader follows (the next publish removes it).
    const keys = await bucketKeys(accountDir);
    expect(keys.some((k) => k.startsWith("staging/sample/")), keys.join("\n")).toBe(true); // the run got that far
    expect(keys.filter((k) => k.startsWith("sample/"))).toEqual([expect.stringMatching(/^sample\/\d{4}-\d{2}\/versions\/\d{8}T\d{6}Z-[0-9a-f]{8}\/[a-z_]+\.(parquet|csv)$/)]);
  }, 600_000); // a hang guard only: about 100 s on a quiet 2-core machine
});
