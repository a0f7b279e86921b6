import { copyFile, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT, runLocal, type LocalRun } from "../../local/run-local.ts";
import { Duck, sqlString } from "../../lib/duckdb.ts";
import { WEATHER_DIR } from "../../lib/data-catalog.ts";
import { dataDir } from "../../lib/data-files.ts";
import { weather } from "../../workflows/weather.ts";

/**
 * The weather workflow end to end on the local engine: the real synthesized state machine, the step entrypoints as
 * child processes, the real helper functions and an embedded S3 server. The statistics are checked against a
 * plain recomputation written here (no DuckDB), on every station and year of the real station files.
 */
/** The 167 real station files (lib/data-files.ts finds them, or fetches them once). */
const SHARED_WX_DATA = await dataDir(WEATHER_DIR);
let scratch: string;
const runs: LocalRun[] = [];
beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), "weather-e2e-"));
});
afterAll(async () => {
  await Promise.all(runs.map((r) => r.stop()));
  await rm(scratch, { recursive: true, force: true });
});

async function run(input: Record<string, unknown>, extra: { s3Directory?: string } = {}): Promise<LocalRun> {
  const r = await runLocal({ workflow: "weather", input, runDir: await mkdtemp(path.join(scratch, "run-")), retryWaitMs: 10, ...extra });
  runs.push(r);
  return r;
}

/** `published/weather/<runId>/<file>` of a local run. */
const published = (r: LocalRun, runId: string, file: string) => path.join(r.runDir, "published", "weather", runId, file);

function readCsv(text: string): Record<string, string>[] {
  const [header, ...lines] = text.trim().split("\n");
  const cols = header.split(",");
  return lines.map((l) => Object.fromEntries(l.split(",").map((v, i) => [cols[i], v])));
}

/**
 * The independent oracle: every station and year straight from the raw files, by whole-file string splitting and
 * plain sums (no DuckDB, no ingest code), skipping only the missing value -9999. Lines whose max is below the min
 * count like any other. The real files have no malformed or duplicate line (the run checks that too).
 */
interface YearSums {
  maxSum: number;
  maxN: number;
  minSum: number;
  minN: number;
  pSum: number;
  pN: number;
}
async function oracleAllStations(dir: string): Promise<Map<string, YearSums>> {
  const out = new Map<string, YearSums>();
  for (const file of (await readdir(dir)).filter((f) => f.endsWith(".txt"))) {
    const station = file.slice(0, -4);
    for (const line of (await readFile(path.join(dir, file), "utf8")).split("\n")) {
      if (!line.trim()) continue;
      const [date, max, min, p] = line.split("\t").map((v) => parseInt(v, 10));
      const key = `${station} ${String(date).slice(0, 4)}`;
      let acc = out.get(key);
      if (!acc) out.set(key, (acc = { maxSum: 0, maxN: 0, minSum: 0, minN: 0, pSum: 0, pN: 0 }));
      if (max !== -9999) (acc.maxSum += max), acc.maxN++;
      if (min !== -9999) (acc.minSum += min), acc.minN++;
      if (p !== -9999) (acc.pSum += p), acc.pN++;
    }
  }
  return out;
}

const cell = (v: string) => (v === "" ? null : Number(v));

describe("weather on the local engine, all 167 real stations", () => {
  let r: LocalRun;
  beforeAll(async () => {
    r = await run({ source: `${pathToFileURL(SHARED_WX_DATA).href}/`, runId: "2014-12-31" });
  }, 300_000); // a bound against hanging, not a timing: a shared machine under load took over 120 s

  it("GIVEN the real station files WHEN the workflow runs THEN it succeeds and publishes the day with its manifest written last", async () => {
    expect(r.result.status, r.summary.error).toBe("SUCCEEDED");
    // The files in the version folder the manifest names (docs/ARCHITECTURE.md, "Publishing"), then the manifest.
    const manifestKey = "weather/2014-12-31/manifest.json";
    const folder = /^weather\/2014-12-31\/versions\/\d{8}T\d{6}Z-[0-9a-f]{8}\//.exec(r.summary.outputs.keys[0])?.[0];
    expect(r.summary.outputs.keys).toEqual([
      ...["rejected_lines.csv", "weather_records.parquet", "weather_stats.csv", "weather_stats.parquet"].map((f) => `${folder}${f}`),
      manifestKey,
    ]);
    for (const step of ["Ingest", "Analyze", "Publish"]) expect(r.result.states.find((s) => s.name === step)?.status, step).toBe("SUCCEEDED");
    const manifest = JSON.parse(await readFile(published(r, "2014-12-31", "manifest.json"), "utf8"));
    expect(manifest.files.map((f: { name: string }) => f.name)).toEqual([
      "rejected_lines.csv",
      "weather_records.parquet",
      "weather_stats.csv",
      "weather_stats.parquet",
    ]);
    for (const f of manifest.files) expect(f.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it("GIVEN the real files WHEN ingested THEN every line is a record, the 737 with max below min are flagged, and the IngestionErrors alarm stays quiet", async () => {
    const lineCount = (await Promise.all((await readdir(SHARED_WX_DATA)).map(async (f) => (await readFile(path.join(SHARED_WX_DATA, f), "utf8")).split("\n").filter((l) => l.trim()).length))).reduce((a, b) => a + b, 0);
    const manifest = JSON.parse(await readFile(published(r, "2014-12-31", "manifest.json"), "utf8"));
    expect(manifest.counts).toMatchObject({ stations: 167, rejected_lines: 0, flagged_records: 737, records: lineCount });
    expect(manifest.metrics).toEqual({ RecordsIngested: lineCount, IngestionErrors: 0, QualityWarnings: 737, DuplicateLines: 0 });
    expect(manifest.flaggedByReason).toEqual({ max_below_min: 737, out_of_range: 0 });
    const points = (await readFile(path.join(r.runDir, "metrics.jsonl"), "utf8")).trim().split("\n").flatMap((l) => JSON.parse(l).data);
    const workflowWide = (name: string) => points.find((d: { MetricName: string; Dimensions: unknown[] }) => d.MetricName === name && d.Dimensions.length === 1);
    expect(workflowWide("QualityWarnings")).toMatchObject({ Value: 737, Dimensions: [{ Name: "Workflow", Value: "weather" }] });
    expect(workflowWide("RecordsIngested")).toMatchObject({ Value: lineCount });
    // Every alarm of the workflow, against the point it watches: each stays below its threshold.
    for (const alarm of weather.alarms ?? []) expect(workflowWide(alarm.metric)?.Value, alarm.id).toBeLessThan(alarm.threshold);
    expect(workflowWide("IngestionErrors")).toMatchObject({ Value: 0 });
  });

  it("GIVEN a flagged day WHEN its record is published THEN it keeps its values and says why it is flagged", async () => {
    // USC00110072 has 15 days with max below min (counted with awk on the file); each keeps its precipitation.
    const db = await Duck.open();
    try {
      const rows = await db.query(
        `SELECT count(*)::INTEGER AS n, count(precipitation_mm)::INTEGER AS with_precip, bool_and(max_temp_c < min_temp_c) AS all_below
         FROM read_parquet(${sqlString(published(r, "2014-12-31", "weather_records.parquet"))})
         WHERE station = 'USC00110072' AND list_contains(quality_flags, 'max_below_min')`,
      );
      expect(rows[0]).toMatchObject({ n: 15, all_below: true });
      expect(rows[0].with_precip).toBeGreaterThan(0);
    } finally {
      db.close();
    }
  });

  it("GIVEN every station and year WHEN the yearly statistics are published THEN they match a plain recomputation from the raw files that skips only -9999", async () => {
    const oracle = await oracleAllStations(SHARED_WX_DATA);
    const rows = readCsv(await readFile(published(r, "2014-12-31", "weather_stats.csv"), "utf8"));
    expect(rows.map((x) => `${x.station} ${x.year}`).sort()).toEqual([...oracle.keys()].sort());
    const mismatches: string[] = [];
    const check = (what: string, ok: boolean) => void (ok || mismatches.push(what));
    for (const row of rows) {
      const key = `${row.station} ${row.year}`;
      const o = oracle.get(key)!;
      const avg = (sum: number, n: number) => (n === 0 ? null : sum / n / 10);
      for (const [col, expected] of [["avg_max_temp_c", avg(o.maxSum, o.maxN)], ["avg_min_temp_c", avg(o.minSum, o.minN)]] as const) {
        const got = cell(row[col]);
        check(`${key} ${col}: ${got} vs ${expected}`, expected === null ? got === null : got !== null && Math.abs(got - expected) <= 0.5e-4 + 1e-9);
      }
      const precip = cell(row.total_precipitation_cm);
      check(`${key} precipitation: ${precip} vs ${o.pSum / 100}`, o.pN === 0 ? precip === null : precip !== null && Math.abs(precip - o.pSum / 100) < 1e-9);
      check(`${key} days`, Number(row.max_temp_days) === o.maxN && Number(row.min_temp_days) === o.minN && Number(row.precipitation_days) === o.pN);
    }
    expect(rows.length).toBeGreaterThan(167 * 20);
    expect(mismatches.slice(0, 10)).toEqual([]);
  });
});

describe("weather on the local engine, a scheduled day with nothing under incoming/weather/", () => {
  it("GIVEN the schedule's empty input and an empty incoming prefix WHEN the workflow runs THEN it succeeds as nothing to ingest: no task, no notification, no metric", async () => {
    const r = await run(weather.schedule!.input);
    expect(r.result.status, r.summary.error).toBe("SUCCEEDED");
    expect(r.result.states.map((s) => s.name)).toEqual(["Initialize", "Plan", "Nothing to ingest?", "Nothing to ingest"]);
    expect(r.result.output).toMatchObject({ plan: { nothingToIngest: true, source: { files: 0 } } });
    expect(r.summary.outputs.keys).toEqual([]);
    for (const sink of ["notifications.jsonl", "metrics.jsonl"]) expect(existsSync(path.join(r.runDir, sink)), sink).toBe(false);
  }, 60_000);
});

describe("weather on the local engine, a generated file with bad, flagged, duplicate and overlong lines", () => {
  const GOOD_STATION = "USC00110072";
  const BAD = [
    "20000101\t100\t50\t10", // ok
    "20000102\t-9999\t-9999\t-9999", // ok: a record with every value missing
    "20000101\t90\t50\t10", // duplicate of line 1 with other values: the first one wins
    "20000103\t120\t60", // field_count
    "2000013\t120\t60\t0", // bad_date
    "20000231\t120\t60\t0", // bad_date
    "20000104\tx\t60\t0", // not_numeric
    "20000105\t800\t60\t0", // kept, flagged out_of_range
    "20000106\t10\t60\t0", // kept, flagged max_below_min
    "20000102\t1\t0\t0", // duplicate
    `20000107\t${"1".repeat(100_000)}\t0\t0`, // line_too_long (over MAX_LINE_BYTES)
    "",
  ];
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(scratch, "wx-"));
    await copyFile(path.join(SHARED_WX_DATA, `${GOOD_STATION}.txt`), path.join(dir, `${GOOD_STATION}.txt`));
    await writeFile(path.join(dir, "GENERATED1.txt"), BAD.join("\n"));
    await writeFile(path.join(dir, "notes.md"), "not a station file\n");
  });

  it("GIVEN bad, flagged, duplicate and overlong lines WHEN ingested THEN flagged lines are kept, the rest counted by reason, and a rerun publishes the same files", async () => {
    const goodLines = (await readFile(path.join(dir, `${GOOD_STATION}.txt`), "utf8")).split("\n").filter((l) => l.trim()).length;
    const goodFlagged = 15; // that station's lines with max < min (counted with awk on the file)
    const s3Directory = path.join(scratch, "shared-s3");
    const first = await run({ source: `${pathToFileURL(dir).href}/`, runId: "2000-01-31" }, { s3Directory });
    expect(first.result.status, first.summary.error).toBe("SUCCEEDED");
    const manifest = JSON.parse(await readFile(published(first, "2000-01-31", "manifest.json"), "utf8"));
    expect(manifest.rejectedByReason).toEqual({ field_count: 1, bad_date: 2, not_numeric: 1, line_too_long: 1, duplicate: 2 });
    expect(manifest.flaggedByReason).toEqual({ max_below_min: 1 + goodFlagged, out_of_range: 1 });
    expect(manifest.counts).toEqual({ stations: 2, records: goodLines + 4, rejected_lines: 7, flagged_records: 2 + goodFlagged, station_years: 30 + 1 });
    expect(manifest.metrics).toEqual({ RecordsIngested: goodLines + 4, IngestionErrors: 5, QualityWarnings: 2 + goodFlagged, DuplicateLines: 2 });

    const stats = readCsv(await readFile(published(first, "2000-01-31", "weather_stats.csv"), "utf8")).find((x) => x.station === "GENERATED1")!;
    // Days 1, 5 and 6 have values, flagged or not (the all-missing day adds nothing): max (10+80+1)/3 °C,
    // min (5+6+6)/3 °C, precipitation 1 mm = 0.1 cm.
    expect(stats).toMatchObject({ year: "2000", avg_max_temp_c: "30.3333", avg_min_temp_c: "5.6667", total_precipitation_cm: "0.1", max_temp_days: "3", flagged_days: "2" });
    const rejected = readCsv(await readFile(published(first, "2000-01-31", "rejected_lines.csv"), "utf8")).filter((x) => x.file === "GENERATED1.txt");
    expect(rejected.map((x) => [x.line, x.reason])).toEqual([
      ["3", "duplicate"], ["4", "field_count"], ["5", "bad_date"], ["6", "bad_date"], ["7", "not_numeric"], ["10", "duplicate"], ["11", "line_too_long"],
    ]);

    const again = await run({ source: `${pathToFileURL(dir).href}/`, runId: "2000-01-31" }, { s3Directory });
    expect(again.result.status).toBe("SUCCEEDED");
    const second = JSON.parse(await readFile(published(again, "2000-01-31", "manifest.json"), "utf8"));
    expect(second.files).toEqual(manifest.files);
    expect(again.summary.outputs.keys).toEqual(first.summary.outputs.keys);
    const publishLog = (await readdir(path.join(again.runDir, "logs"), { recursive: true })).find((f) => String(f).includes("publish-"))!;
    expect(await readFile(path.join(again.runDir, "logs", String(publishLog)), "utf8")).toContain("4 file(s) already published with the same sha256");
  }, 300_000); // two whole runs; a bound against hanging, not a timing
});

describe("weather cli", () => {
  it("GIVEN a missing source directory WHEN the input is built THEN one line says to pass --source", async () => {
    const { weather } = await import("../../workflows/weather.ts");
    const { workflowInput } = await import("../../cli/workflow-inputs.ts");
    await expect(workflowInput(weather).input({ source: path.join(REPO_ROOT, "no-such-dir") }, "local")).rejects.toThrow(/no such file or directory/);
    await expect(workflowInput(weather).input({ source: "/tmp" }, "aws")).rejects.toThrow(/s3:\/\//);
  });
});
