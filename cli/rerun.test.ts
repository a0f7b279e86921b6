import { existsSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WEATHER_DIR } from "../lib/data-catalog.ts";
import { dataDir } from "../lib/data-files.ts";
import { ACCOUNT_DIR_ENV } from "../local/run-local.ts";
import type { RunRecord } from "../run-records/record.ts";
import { runCli } from "./testing/run-cli.ts";

/**
 * `npm start -- rerun <run-id>` offline, end to end through the real command line: a weather run that fails (a
 * fault injected into ingest, ATLAS_FAULTS) is started again with its own input under the next attempt's name, and
 * publishes the day the failed run was for; a run that did not fail, or that is not there, is refused in one line
 * with exit 64 and nothing runs. The runs and execution names are the test's own (ATLAS_RUNS_DIR, ATLAS_ACCOUNT_DIR).
 */
let scratch: string;
let stations: string;
beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), "cli-rerun-"));
  // Three real stations: enough for a real run, quick to ingest.
  const all = await dataDir(WEATHER_DIR);
  stations = path.join(scratch, "stations");
  await mkdir(stations);
  for (const name of (await readdir(all)).filter((n) => n.endsWith(".txt")).sort().slice(0, 3)) await copyFile(path.join(all, name), path.join(stations, name));
});
afterAll(() => rm(scratch, { recursive: true, force: true }));

interface CliRun {
  status: number | null;
  stderr: string;
  stdout: string;
  errors: string[];
}

async function cli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const run = await runCli(args, {
    ...process.env,
    ATLAS_FAULTS: "",
    ATLAS_RETRY_WAIT_MS: "10",
    ATLAS_RUNS_DIR: path.join(scratch, "runs"),
    [ACCOUNT_DIR_ENV]: path.join(scratch, "account"),
    NO_COLOR: "1",
    ...env,
  });
  return { ...run, errors: run.stderr.split("\n").filter((l) => l.startsWith("error:")) };
}

const runFolders = async () => (await readdir(path.join(scratch, "runs")).catch(() => [])).sort();

describe("npm start -- rerun <run-id>, offline", () => {
  let failed: RunRecord;
  let rerun: RunRecord;

  it("GIVEN a weather run whose ingest fails with exit 65 WHEN it is re-run THEN the same input runs as <name>-2, pinned to the failed run's day, and publishes it", async () => {
    const first = await cli(["weather", "--source", stations, "--json"], { ATLAS_FAULTS: "ingest:exit65:9" });
    expect(first.status, first.stderr).toBe(1);
    failed = JSON.parse(first.stdout) as RunRecord;
    expect(failed.status).toBe("FAILED");
    expect(failed.input).toEqual({ source: `${pathToFileURL(stations).href}/` });

    const second = await cli(["rerun", failed.id, "--json"]);
    expect(second.status, second.stderr).toBe(0);
    rerun = JSON.parse(second.stdout) as RunRecord;
    expect(second.stderr).toContain(`re-running weather ${failed.execution.name} as ${failed.execution.name}-2`);
    expect(rerun.workflow).toBe("weather");
    expect(rerun.status).toBe("SUCCEEDED");
    expect(rerun.execution.name).toBe(`${failed.execution.name}-2`);
    // Plan had taken the day from the failed run's start time; the rerun is told that day.
    const day = failed.started_at.slice(0, 10);
    expect(rerun.input).toEqual({ source: `${pathToFileURL(stations).href}/`, runId: day });
    expect(existsSync(path.join(rerun.run_dir!, "published", "weather", day, "manifest.json"))).toBe(true);
  }, 300_000);

  it.each([
    ["the failed run, once its rerun succeeded", () => ["rerun", failed.id], /^error: .+ was re-run already: .+-2 succeeded \(see npm start -- --help\)$/],
    ["a run that succeeded", () => ["rerun", rerun.id], /^error: weather .+-2 succeeded: only a run that failed, timed out or was stopped is re-run/],
    ["a run id that is not there", () => ["rerun", "no-such-run"], /^error: no run 'no-such-run' in .* and no execution of that name: npm run runs lists the runs/],
    ["a rerun given input options", () => ["rerun", failed.id, "--source", stations], /^error: rerun starts the failed run's own input again: drop --source/],
    ["no run id", () => ["rerun"], /^error: rerun needs the id of the run to re-run/],
  ])("GIVEN %s WHEN re-run THEN exit 64 with one line, and nothing runs", async (_, args, message) => {
    const before = await runFolders();
    const run = await cli(args());
    expect(run.errors, run.stderr).toHaveLength(1);
    expect(run.errors[0]).toMatch(message);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(run.status).toBe(64);
    expect(await runFolders()).toEqual(before);
  }, 60_000);
});
