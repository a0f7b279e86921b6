import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { historyEvent } from "../run-model/history.ts";
import { buildRecord, recordFile, RUNS_DIR_ENV, type RunRecord } from "../run-records/record.ts";
import { REPO_ROOT } from "../local/run-local.ts";
import { main as runsCli } from "./runs.ts";

/**
 * `npm run runs`: what `list` shows and what `clean` removes, on run folders written as the CLI writes them and on
 * folders a person (or a planted run.json) made look otherwise.
 */
let scratch: string;
let root: string;
beforeEach(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), "runs-cli-"));
  root = path.join(scratch, "runs");
  await mkdir(root);
});
afterEach(() => rm(scratch, { recursive: true, force: true }));

/** A run folder `name` holding a run.json: SUCCEEDED unless `running`, with the id and start it claims. */
async function runFolder(name: string, o: { id?: string; startedAt?: string; running?: boolean; pid?: number; under?: string } = {}): Promise<string> {
  const dir = path.join(o.under ?? root, name);
  const t = Date.parse(o.startedAt ?? "2026-11-01T06:00:00Z");
  const history = [historyEvent(1, undefined, t, "ExecutionStarted", { input: '{"runId":"2026-11-01"}' })];
  if (!o.running) history.push(historyEvent(2, 1, t + 5000, "ExecutionSucceeded", { output: "{}" }));
  const record: RunRecord = buildRecord({
    id: o.id ?? name,
    source: "local",
    workflow: "weather",
    execution: { name: "run-x", arn: "arn:aws:states:local:000000000000:execution:weather:run-x" },
    history,
    runDir: dir,
    now: t + 5000,
  });
  await mkdir(dir, { recursive: true });
  await writeFile(recordFile(dir), JSON.stringify(o.pid === undefined ? record : { ...record, pid: o.pid }));
  return dir;
}

/** The pid of a process that has ended (and been reaped): a run recorded by it was killed with it. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ["-e", ""]);
  return child.pid!;
}

async function cli(...args: string[]): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  const code = await runsCli(args, (l) => lines.push(l), root);
  return { code, lines };
}

describe("npm run runs -- clean", () => {
  it("GIVEN run.json ids that climb out (../victim) or name the runs folder (.) WHEN clean --keep 0 THEN only those folders go, by their own names", async () => {
    const victim = path.join(scratch, "victim");
    await mkdir(victim);
    await writeFile(path.join(victim, "precious.txt"), "not a run\n");
    const climbs = await runFolder("20261101-060000-weather-aaaaaa", { id: "../victim" });
    const dot = await runFolder("20261101-070000-weather-bbbbbb", { id: "." });
    const live = await runFolder("20261101-050000-weather-cccccc", { running: true, pid: process.pid });
    // A symlink in the runs folder pointing at a run elsewhere is no run folder: never followed, never removed.
    const elsewhere = await runFolder("20261101-040000-weather-dddddd", { under: scratch });
    await symlink(elsewhere, path.join(root, "20261101-040000-weather-dddddd"));

    const { code, lines } = await cli("clean", "--keep", "0");

    expect(code).toBe(0);
    expect(lines).toEqual(["removed 2 runs, kept 1"]);
    expect(existsSync(climbs) || existsSync(dot)).toBe(false);
    expect(existsSync(path.join(victim, "precious.txt"))).toBe(true);
    expect(existsSync(recordFile(live))).toBe(true); // the live run, older than every other, stays
    expect(existsSync(recordFile(elsewhere))).toBe(true);
    expect((await readdir(root)).sort()).toEqual(["20261101-040000-weather-dddddd", "20261101-050000-weather-cccccc"]);
  });

  it("GIVEN an old folder whose run.json claims the newest run's id and a later start WHEN clean --keep 1 THEN the newest run stays and the old folder goes", async () => {
    const newest = await runFolder("20261201-060000-weather-aaaaaa", { startedAt: "2026-12-01T06:00:00Z" });
    const planted = await runFolder("20260101-060000-weather-bbbbbb", { id: "20261201-060000-weather-aaaaaa", startedAt: "2027-06-01T06:00:00Z" });

    const { code, lines } = await cli("clean", "--keep", "1");

    expect(code).toBe(0);
    expect(lines).toEqual(["removed 1 run, kept 1"]);
    expect(existsSync(recordFile(newest))).toBe(true);
    expect(existsSync(planted)).toBe(false);
  });

  it("GIVEN a run folder a person renamed WHEN cleaned THEN it is really removed, and counted only then", async () => {
    const renamed = await runFolder("the-good-run", { id: "20261101-060000-weather-aaaaaa" });

    const { lines } = await cli("clean", "--keep", "0");

    expect(lines).toEqual(["removed 1 run, kept 0"]);
    expect(existsSync(renamed)).toBe(false);
    expect(await readdir(root)).toEqual([]);
  });

  it("GIVEN a run left RUNNING by a process that was killed WHEN listed, shown and cleaned THEN it is ABORTED and removed; a live run and an AWS-followed one stay", async () => {
    const killed = deadPid();
    const dead = await runFolder("20261101-060000-weather-aaaaaa", { running: true, pid: killed });
    const live = await runFolder("20261101-050000-weather-bbbbbb", { running: true, pid: process.pid });
    const noPid = await runFolder("20261101-040000-weather-cccccc", { running: true });

    const listed = await cli("list");
    expect(listed.lines.find((l) => l.includes("aaaaaa"))).toMatch(/^ABORTED\s+weather\s/);
    expect(listed.lines.find((l) => l.includes("bbbbbb"))).toMatch(/^RUNNING\s+weather\s+.*\brunning\b/);
    const shown = await cli("show", "20261101-060000-weather-aaaaaa");
    expect(shown.lines[0]).toBe("weather 20261101-060000-weather-aaaaaa: ABORTED in 5.00 s");
    expect(shown.lines).toContain(`error: aborted: the process running it (pid ${killed}) is gone`);

    const { lines } = await cli("clean", "--keep", "0");

    expect(lines).toEqual(["removed 1 run, kept 2"]);
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(recordFile(live))).toBe(true);
    expect(existsSync(recordFile(noPid))).toBe(true);
  });

  it("GIVEN --keep '' (or -1, 1.5, 1e1, abc) WHEN clean THEN one line, exit 64, and nothing removed", async () => {
    await runFolder("20261101-060000-weather-aaaaaa");
    await runFolder("20261101-070000-weather-bbbbbb");
    // The real command line, for its exit code and its one line.
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ["--import", "tsx", "cli/runs.ts", "clean", "--keep", ""], {
        cwd: REPO_ROOT,
        env: { ...process.env, [RUNS_DIR_ENV]: root },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stderr = "";
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      child.on("close", (code) => resolve({ code, stderr }));
    });
    expect(result.code).toBe(64);
    expect(result.stderr.trim().split("\n")).toEqual(["error: --keep '' is not a count: use a whole number of runs to keep, e.g. --keep 20 (see npm run runs -- --help)"]);
    for (const bad of ["-1", "1.5", "1e1", "abc", " 2"]) {
      await expect(cli("clean", `--keep=${bad}`), bad).rejects.toThrow(`--keep '${bad}' is not a count`);
    }
    expect((await readdir(root)).length).toBe(2);
  });
});
