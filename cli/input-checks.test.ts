import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../local/run-local.ts";

/**
 * The real command line (`npm start -- …` runs `node --import tsx cli/main.ts …`) refusing bad input before anything runs, with
 * Plan's own checks (lib/input-checks.ts), a checked ATLAS_FAULTS and a checked weather run for training: stderr is
 * one `error:` line saying what to fix, the exit code is 64, and no engine starts, so no run folder (where the
 * notifications, logs and the run record go) appears. Run folders go to a scratch ATLAS_RUNS_DIR, watched here.
 */
let scratch: string;
let runsDir: string;
let pbf: string;
let badTenantConfig: string;
let notJsonConfig: string;

/** Local weather runs as the CLI finds them: `<runs>/<run>/published/weather/<day>/` with a manifest. */
const weatherRuns = [
  // Folder names do not sort as the publication times do: the newest is the one published last.
  { id: "20260101-000000-weather-aaaaaa", day: "2026-01-01", publishedAt: "2026-01-01T02:10:00.000Z", stations: 167 },
  { id: "20250101-000000-weather-bbbbbb", day: "2026-01-02", publishedAt: "2026-01-02T02:10:00.000Z", stations: 3 },
  ...Array.from({ length: 5 }, (_, i) => ({ id: `20240101-00000${i}-weather-cccccc`, day: `2025-06-0${i + 1}`, publishedAt: `2025-06-0${i + 1}T02:10:00.000Z`, stations: 10 + i })),
  // Published with --out: its files are outside its run folder, and only its run.json says where.
  { id: "20230101-000000-weather-dddddd", day: "2024-02-02", publishedAt: "2024-02-02T02:10:00.000Z", stations: 9, out: true },
];

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), "cli-input-checks-"));
  runsDir = path.join(scratch, "runs");
  for (const run of weatherRuns) {
    const dir = "out" in run ? path.join(scratch, "out", "weather", run.day) : path.join(runsDir, run.id, "published", "weather", run.day);
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, "weather_stats.parquet"), "");
    await writeFile(path.join(dir, "manifest.json"), JSON.stringify({ workflow: "weather", runId: run.day, publishedAt: run.publishedAt, counts: { stations: run.stations }, files: [] }));
    if ("out" in run) {
      await mkdir(path.join(runsDir, run.id), { recursive: true });
      const files = ["weather_stats.parquet", "manifest.json"].map((name) => ({ key: `weather/${run.day}/${name}`, name, bytes: 0, path: path.join(dir, name) }));
      await writeFile(path.join(runsDir, run.id, "run.json"), JSON.stringify({ workflow: "weather", status: "SUCCEEDED", outputs: { location: `s3://atlas-local/weather/${run.day}/`, files } }));
    }
  }
  pbf = path.join(scratch, "region.osm.pbf");
  await writeFile(pbf, "");
  // A grader config in a folder whose name cannot be a tenant (it names the run's S3 prefix).
  badTenantConfig = path.join(scratch, "my exam", "config.json");
  await mkdir(path.dirname(badTenantConfig));
  await writeFile(badTenantConfig, "{}");
  notJsonConfig = path.join(scratch, "exam-1", "config.json");
  await mkdir(path.dirname(notJsonConfig));
  await writeFile(notJsonConfig, "answerKey: { q1: b }\n");
});
afterAll(() => rm(scratch, { recursive: true, force: true }));

/** This process's environment without the settings the cases set (a developer's shell may hold them). */
const cleanEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !["ATLAS_FAULTS", "ATLAS_ALLOWED_SOURCE_HOSTS", "ATLAS_MONTHLY_MAX_CONCURRENCY", "ATLAS_MONTHLY_REGIONS"].includes(k) && !k.startsWith("ATLAS_S3_")),
);

function cli(args: string[], env: Record<string, string> = {}): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "cli/main.ts", ...args], {
      cwd: REPO_ROOT,
      env: { ...cleanEnv, ATLAS_RUNS_DIR: runsDir, ...env },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (status) => resolve({ status, stderr }));
  });
}

const runFolders = async () => (await readdir(runsDir)).sort();

type Case = [string, () => string[], Record<string, string>, RegExp];
const cases: Case[] = [
  // Plan's checks, run by the CLI first.
  ["a region that climbs out of its prefix", () => ["--region", "../x"], {}, /^error: invalid region "\.\.\/x": use lowercase letters, digits and dashes.*; known regions: /],
  ["an unknown region", () => ["--region", "atlantis"], {}, /^error: unknown region "atlantis"; known regions: /],
  ["an unknown region with --aws (refused before any AWS call)", () => ["--aws", "--region", "atlantis"], {}, /^error: unknown region "atlantis"; known regions: /],
  ["a month 13", () => ["--period", "2021-13"], {}, /^error: --period: invalid period "2021-13": use YYYY-MM with a month from 01 to 12/],
  ["a source with another scheme", () => ["--region", "andorra", "--source", "ftp://example.com/a.osm.pbf"], {}, /^error: source scheme ftp:\/\/ is not allowed: use https:\/\/ from download\.geofabrik\.de/],
  ["a source from a host not allowed", () => ["--region", "andorra", "--source", "https://example.com/a.osm.pbf"], {}, /^error: source host example\.com is not allowed: sources must come from download\.geofabrik\.de/],
  ["a monthly list with an unknown region", () => ["ski-atlas-monthly", "--regions", "andorra,atlantis"], {}, /^error: unknown region "atlantis"; known regions: /],
  ["--sources for a region not in the run", () => ["ski-atlas-monthly", "--regions", "andorra", "--sources", `liechtenstein=${pbf}`], {}, /^error: sources names regions that are not in this run: liechtenstein/],
  ["--sources naming a missing file", () => ["ski-atlas-monthly", "--regions", "andorra", "--sources", "andorra=nope.osm.pbf"], {}, /^error: --sources andorra: nope\.osm\.pbf: no such file or directory/],
  ["--sources with a URL a region's Plan refuses", () => ["ski-atlas-monthly", "--regions", "andorra", "--sources", "andorra=http://example.com/a.osm.pbf"], {}, /^error: http:\/\/ sources are not allowed/],
  ["--force naming a region not in the run", () => ["ski-atlas-monthly", "--regions", "andorra", "--force", "iceland"], {}, /^error: force names regions that are not in this run: iceland/],
  ["a weather day that does not exist", () => ["weather", "--run-id", "2026-13-01"], {}, /^error: --run-id "2026-13-01" is not a day: use YYYY-MM-DD/],
  ["a weather source that is no S3 prefix", () => ["weather", "--source", "s3://"], {}, /^error: source "s3:\/\/" is not an S3 prefix: use s3:\/\/bucket\/prefix\//],
  ["a weather folder with no station files", () => ["weather", "--source", path.join(scratch, "my exam")], {}, /^error: --source .*my exam holds no station files \(<station>\.txt, the station in letters, digits, _ and -\): pass the directory that holds them/],
  ["a job config outside the job's prefix", () => ["grader", "--config", "s3://elsewhere/config.json"], {}, /^error: config s3:\/\/elsewhere\/config\.json must be under s3:\/\/atlas-local\/jobs\/grader\/: the grader task may read nothing else/],
  ["a grader config in a folder that cannot name an exam", () => ["grader", "--config", badTenantConfig], {}, /^error: config file:.*my%20exam\/config\.json: invalid exams folder name "my exam": use 1-80 letters/],
  ["a bad deploy-time setting", () => ["--region", "andorra"], { ATLAS_MONTHLY_MAX_CONCURRENCY: "0" }, /^error: ATLAS_MONTHLY_MAX_CONCURRENCY must be a whole number from 1 to 40, got '0'/],
  // ATLAS_FAULTS, checked against the workflow it runs.
  ["a fault on a misspelt step", () => [], { ATLAS_FAULTS: "extrct:oom" }, /^error: ATLAS_FAULTS entry 'extrct:oom': ski-atlas has no step 'extrct' \(its steps: plan, download, extract, analyze, publish, metrics, notify\)/],
  ["a fault on a step of another workflow", () => ["weather"], { ATLAS_FAULTS: "extract:oom" }, /^error: ATLAS_FAULTS entry 'extract:oom': weather has no step 'extract' \(its steps: plan-weather, ingest, /],
  ["a fan-out fault on a misspelt helper", () => ["ski-atlas-monthly", "--regions", "andorra"], { ATLAS_FAULTS: "summarise:error" }, /^error: ATLAS_FAULTS entry 'summarise:error': ski-atlas-monthly has no step 'summarise' \(its steps: plan-month, plan, download, extract, analyze, publish, metrics, notify, summarize\)/],
  ["an unknown fault kind", () => [], { ATLAS_FAULTS: "extract:explode" }, /^error: ATLAS_FAULTS entry 'extract:explode' is not <step>:<oom\|exit<N>\|hang/],
  ["a container fault on a function", () => [], { ATLAS_FAULTS: "plan:capacity" }, /^error: ATLAS_FAULTS entry 'plan:capacity': 'plan' is a function step, whose faults are error, throttle, oom, hang, s3down/],
  // crash<N> and pause<N> fire in a publish's copy loop only: anywhere else they would be announced and never happen.
  ["a pause on a step that copies nothing", () => [], { ATLAS_FAULTS: "extract:pause3" }, /^error: ATLAS_FAULTS entry 'extract:pause3': 'extract' is a container step, whose faults are oom, .*exit<N> \(pause<N> fires in a publish's copy loop: ski-atlas publish \(crash<N>, pause<N>\), weather publish \(crash<N>, pause<N>\)\) \(see/],
  ["a crash on the grader, whose outputs are not copied", () => ["grader"], { ATLAS_FAULTS: "grade:crash1" }, /^error: ATLAS_FAULTS entry 'grade:crash1': 'grade' is a container step/],
  // The S3 client's bounds the local steps get.
  ["an S3 timeout that is not a number", () => [], { ATLAS_S3_IDLE_TIMEOUT_MS: "soon" }, /^error: ATLAS_S3_IDLE_TIMEOUT_MS='soon' is not a number of milliseconds/],
  ["S3 attempts that are not a count", () => ["weather"], { ATLAS_S3_MAX_ATTEMPTS: "0" }, /^error: ATLAS_S3_MAX_ATTEMPTS='0' is not a whole number of attempts \(1 or more\)/],
  // What a failed $(npm run --silent data -- path …) leaves: an empty value, not the current directory.
  ["an empty --source", () => ["--region", "andorra", "--source", "", "--period", "2021-06"], {}, /^error: --source is empty: pass a file path or a URL \(if it came from \$\(…\), see the error that command printed above\)/],
  ["a grader config that is not JSON", () => ["grader", "--config", notJsonConfig], {}, /^error: --config .*config\.json is not JSON \(Unexpected token .*\): a job's config is a JSON document/],
  // training's weather run.
  [
    "a weather run that does not exist",
    () => ["training", "--weather-run", "2020-01-01"],
    {},
    // The newest five, newest first, and how many more.
    /^error: --weather-run "2020-01-01" is no local weather run: pass a run id or a day \(YYYY-MM-DD\) of one of these \(newest first\): 20250101-000000-weather-bbbbbb \(day 2026-01-02, 3 stations, published 2026-01-02 02:10:00 UTC\); 20260101-000000-weather-aaaaaa \(day 2026-01-01, 167 stations, .*\); 20240101-000004-weather-cccccc .*; 20240101-000002-weather-cccccc \(day 2025-06-03, 12 stations, published 2025-06-03 02:10:00 UTC\); and 3 older \(see/,
  ],
  ["--weather-run beside --config", () => ["training", "--weather-run", "2026-01-01", "--config", badTenantConfig], {}, /^error: --weather-run shapes the generated config: pass it or --config, not both/],
];

describe("npm start with input its Plan would refuse", () => {
  it.concurrent.each(cases)("GIVEN %s WHEN started THEN one error line, exit 64, and nothing runs", async (_, args, env, message) => {
    const before = await runFolders();
    const { status, stderr } = await cli(args(), env);
    const lines = stderr.split("\n").filter(Boolean);
    expect(lines, stderr).toHaveLength(1);
    expect(lines[0]).toMatch(message);
    expect(status).toBe(64);
    expect(await runFolders()).toEqual(before);
  });
});

describe("training's weather run", () => {
  // A run that cannot start (--out names a file) shows what was chosen, before anything runs.
  const chosen = async (args: string[]) => {
    const { status, stderr } = await cli(["training", ...args, "--out", pbf]);
    expect(status).toBe(64);
    expect(await runFolders()).toEqual(weatherRuns.map((r) => r.id).sort());
    return stderr.split("\n").filter(Boolean);
  };

  it("GIVEN no --weather-run WHEN started THEN it says it takes the newest published run, with its day and stations", async () => {
    expect((await chosen([]))[0]).toBe(
      "weather run: 20250101-000000-weather-bbbbbb (day 2026-01-02, 3 stations, published 2026-01-02 02:10:00 UTC) (the newest; pick another with --weather-run)",
    );
  });

  it("GIVEN --weather-run with a run id or a day WHEN started THEN it says it takes that run", async () => {
    expect((await chosen(["--weather-run", "20260101-000000-weather-aaaaaa"]))[0]).toBe(
      "weather run: 20260101-000000-weather-aaaaaa (day 2026-01-01, 167 stations, published 2026-01-01 02:10:00 UTC)",
    );
    expect((await chosen(["--weather-run", "2025-06-02"]))[0]).toMatch(/^weather run: 20240101-000001-weather-cccccc \(day 2025-06-02, 11 stations/);
  });

  it("GIVEN a weather run published with --out WHEN picked by its day THEN it is found through its run record", async () => {
    expect((await chosen(["--weather-run", "2024-02-02"]))[0]).toBe(
      "weather run: 20230101-000000-weather-dddddd (day 2024-02-02, 9 stations, published 2024-02-02 02:10:00 UTC)",
    );
  });
});

describe("osmium-tool, needed only for the generated sample region", () => {
  /**
   * A machine without osmium: PATH holds bash and id, and an apt-get that only records that it was called (then
   * fails, as offline). Node itself is started by its full path.
   */
  let bin: string;
  let calls: string;
  beforeAll(async () => {
    bin = path.join(scratch, "bin");
    calls = path.join(scratch, "apt-get-calls");
    await mkdir(bin);
    await symlink("/bin/bash", path.join(bin, "bash"));
    await symlink("/usr/bin/id", path.join(bin, "id"));
    await writeFile(path.join(bin, "apt-get"), `#!/bin/bash\necho "apt-get $*" >> '${calls}'\nexit 100\n`, { mode: 0o755 });
  });
  const aptGetCalls = async () => (await readFile(calls, "utf8").catch(() => "")).split("\n").filter(Boolean);

  it("GIVEN no osmium WHEN npm start gets an unknown region THEN it says so at once, and nothing tries to install osmium", async () => {
    const pkg = JSON.parse(await readFile(path.join(REPO_ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).not.toContain("ensure-osmium");
    const { status, stderr } = await cli(["--region", "atlantis"], { PATH: bin });
    expect(stderr.split("\n").filter(Boolean)).toEqual([expect.stringMatching(/^error: unknown region "atlantis"; known regions: /)]);
    expect(status).toBe(64);
    expect(await aptGetCalls()).toEqual([]);
  });

  it("GIVEN no osmium WHEN npm start writes the sample region THEN the install is tried then, and its failure is one line saying what to do", async () => {
    const { status, stderr } = await cli([], { PATH: bin });
    expect(await aptGetCalls()).toEqual(["apt-get update -qq"]);
    const errors = stderr.split("\n").filter((l) => l.startsWith("error:"));
    expect(errors).toEqual([expect.stringMatching(/^error: osmium-tool is required: install it \(Debian\/Ubuntu: 'sudo apt-get install osmium-tool'/)]);
    expect(status).not.toBe(0);
  });
});
