import { copyFile, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT, runLocal, type LocalRun } from "../../local/run-local.ts";
import { SHARED_WX_DATA } from "../../workflows/weather.ts";

/**
 * The weather workflow end to end on the local engine: the real synthesized state machine, the step entrypoints as
 * child processes, the real helper functions and an embedded S3 server. The statistics are checked against a
 * plain line-by-line reducer written here (no DuckDB), on the real station files.
 */
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

/** The independent oracle: per year, from the raw file, with -9999 skipped and lines with max < min left out. */
async function reduceStation(file: string) {
  const years = new Map<string, { maxSum: number; maxN: number; minSum: number; minN: number; pSum: number; pN: number }>();
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
    if (!line.trim()) continue;
    const [date, max, min, p] = line.split("\t").map((s) => s.trim());
    const [mx, mn, pr] = [Number(max), Number(min), Number(p)];
    if (mx !== -9999 && mn !== -9999 && mx < mn) continue;
    const y = date.slice(0, 4);
    const acc = years.get(y) ?? { maxSum: 0, maxN: 0, minSum: 0, minN: 0, pSum: 0, pN: 0 };
    if (mx !== -9999) (acc.maxSum += mx), acc.maxN++;
    if (mn !== -9999) (acc.minSum += mn), acc.minN++;
    if (pr !== -9999) (acc.pSum += pr), acc.pN++;
    years.set(y, acc);
  }
  return years;
}

const cell = (v: string) => (v === "" ? null : Number(v));

describe("weather on the local engine, all 167 real stations", () => {
  let r: LocalRun;
  beforeAll(async () => {
    r = await run({ source: `${pathToFileURL(SHARED_WX_DATA).href}/`, runId: "2014-12-31" });
  }, 120_000);

  it("GIVEN the real station files WHEN the workflow runs THEN it succeeds and publishes the day with its manifest written last", async () => {
    expect(r.result.status, r.summary.error).toBe("SUCCEEDED");
    expect(r.summary.outputs.keys.sort()).toEqual(
      ["manifest.json", "rejected_lines.csv", "weather_records.parquet", "weather_stats.csv", "weather_stats.parquet"].map((f) => `weather/2014-12-31/${f}`),
    );
    for (const step of ["Ingest", "Analyze", "Publish"]) expect(r.result.states.find((s) => s.name === `${step} (small)`)?.status, step).toBe("SUCCEEDED");
    const manifest = JSON.parse(await readFile(published(r, "2014-12-31", "manifest.json"), "utf8"));
    expect(manifest.files.map((f: { name: string }) => f.name)).toEqual([
      "rejected_lines.csv",
      "weather_records.parquet",
      "weather_stats.csv",
      "weather_stats.parquet",
    ]);
    for (const f of manifest.files) expect(f.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it("GIVEN the real files WHEN ingested THEN every line is a record except the 737 with max below min, and metrics say so", async () => {
    const lineCount = (await Promise.all((await readdir(SHARED_WX_DATA)).map(async (f) => (await readFile(path.join(SHARED_WX_DATA, f), "utf8")).split("\n").filter((l) => l.trim()).length))).reduce((a, b) => a + b, 0);
    const manifest = JSON.parse(await readFile(published(r, "2014-12-31", "manifest.json"), "utf8"));
    expect(manifest.counts).toMatchObject({ stations: 167, rejected_lines: 737, records: lineCount - 737 });
    expect(manifest.metrics).toEqual({ RecordsIngested: lineCount - 737, IngestionErrors: 737 });
    expect(manifest.rejectedByReason).toMatchObject({ max_below_min: 737, duplicate: 0, field_count: 0 });
    const points = (await readFile(path.join(r.runDir, "metrics.jsonl"), "utf8")).trim().split("\n").flatMap((l) => JSON.parse(l).data);
    const workflowWide = (name: string) => points.find((d: { MetricName: string; Dimensions: unknown[] }) => d.MetricName === name && d.Dimensions.length === 1);
    expect(workflowWide("IngestionErrors")).toMatchObject({ Value: 737, Dimensions: [{ Name: "Workflow", Value: "weather" }] });
    expect(workflowWide("RecordsIngested")).toMatchObject({ Value: lineCount - 737 });
  });

  it.each(["USC00110072", "USC00257715"])(
    "GIVEN station %s WHEN its yearly statistics are published THEN they match a line-by-line reducer",
    async (station) => {
      const oracle = await reduceStation(path.join(SHARED_WX_DATA, `${station}.txt`));
      const rows = readCsv(await readFile(published(r, "2014-12-31", "weather_stats.csv"), "utf8")).filter((x) => x.station === station);
      expect(rows.map((x) => x.year)).toEqual([...oracle.keys()]);
      for (const row of rows) {
        const o = oracle.get(row.year)!;
        const expected = (sum: number, n: number, scale: number) => (n === 0 ? null : sum / n / scale);
        const maxC = expected(o.maxSum, o.maxN, 10);
        const minC = expected(o.minSum, o.minN, 10);
        if (maxC === null) expect(row.avg_max_temp_c).toBe("");
        else expect(Math.abs(cell(row.avg_max_temp_c)! - maxC), `${station} ${row.year} max`).toBeLessThan(1e-4);
        if (minC === null) expect(row.avg_min_temp_c).toBe("");
        else expect(Math.abs(cell(row.avg_min_temp_c)! - minC), `${station} ${row.year} min`).toBeLessThan(1e-4);
        if (o.pN === 0) expect(row.total_precipitation_cm).toBe("");
        else expect(cell(row.total_precipitation_cm), `${station} ${row.year} precipitation`).toBeCloseTo(o.pSum / 100, 9);
        expect(Number(row.max_temp_days)).toBe(o.maxN);
      }
    },
  );
});

describe("weather on the local engine, a generated file with bad lines and duplicates", () => {
  const GOOD_STATION = "USC00110072";
  const BAD = [
    "20000101\t100\t50\t10", // ok
    "20000102\t-9999\t-9999\t-9999", // ok: a record with every value missing
    "20000101\t90\t50\t10", // duplicate of line 1 with other values: the first one wins
    "20000103\t120\t60", // field_count
    "2000013\t120\t60\t0", // bad_date
    "20000231\t120\t60\t0", // bad_date
    "20000104\tx\t60\t0", // not_numeric
    "20000105\t800\t60\t0", // out_of_range
    "20000106\t10\t60\t0", // max_below_min
    "20000102\t1\t0\t0", // duplicate
    "",
  ];
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(scratch, "wx-"));
    await copyFile(path.join(SHARED_WX_DATA, `${GOOD_STATION}.txt`), path.join(dir, `${GOOD_STATION}.txt`));
    await writeFile(path.join(dir, "GENERATED1.txt"), BAD.join("\n"));
    await writeFile(path.join(dir, "notes.md"), "not a station file\n");
  });

  it("GIVEN bad lines and duplicates WHEN ingested THEN records and rejections by reason are counted exactly, and a rerun publishes the same files", async () => {
    const goodLines = (await readFile(path.join(dir, `${GOOD_STATION}.txt`), "utf8")).split("\n").filter((l) => l.trim()).length;
    const goodRejected = 15; // that station's lines with max < min (counted with awk on the file)
    const s3Directory = path.join(scratch, "shared-s3");
    const first = await run({ source: `${pathToFileURL(dir).href}/`, runId: "2000-01-31" }, { s3Directory });
    expect(first.result.status, first.summary.error).toBe("SUCCEEDED");
    const manifest = JSON.parse(await readFile(published(first, "2000-01-31", "manifest.json"), "utf8"));
    expect(manifest.rejectedByReason).toEqual({
      field_count: 1,
      bad_date: 2,
      not_numeric: 1,
      out_of_range: 1,
      max_below_min: 1 + goodRejected,
      duplicate: 2,
    });
    expect(manifest.counts).toEqual({ stations: 2, records: goodLines - goodRejected + 2, rejected_lines: 8 + goodRejected, station_years: 30 + 1 });
    expect(manifest.metrics).toEqual({ RecordsIngested: goodLines - goodRejected + 2, IngestionErrors: 8 + goodRejected });

    const stats = readCsv(await readFile(published(first, "2000-01-31", "weather_stats.csv"), "utf8")).find((x) => x.station === "GENERATED1")!;
    // Only 20000101 has values (the all-missing day adds nothing): 10 °C, 5 °C, 1 mm = 0.1 cm.
    expect(stats).toMatchObject({ year: "2000", avg_max_temp_c: "10.0", avg_min_temp_c: "5.0", total_precipitation_cm: "0.1", max_temp_days: "1" });
    const rejected = readCsv(await readFile(published(first, "2000-01-31", "rejected_lines.csv"), "utf8")).filter((x) => x.file === "GENERATED1.txt");
    expect(rejected.map((x) => [x.line, x.reason])).toEqual([
      ["3", "duplicate"], ["4", "field_count"], ["5", "bad_date"], ["6", "bad_date"], ["7", "not_numeric"], ["8", "out_of_range"], ["9", "max_below_min"], ["10", "duplicate"],
    ]);

    const again = await run({ source: `${pathToFileURL(dir).href}/`, runId: "2000-01-31" }, { s3Directory });
    expect(again.result.status).toBe("SUCCEEDED");
    const second = JSON.parse(await readFile(published(again, "2000-01-31", "manifest.json"), "utf8"));
    expect(second.files).toEqual(manifest.files);
    expect(again.summary.outputs.keys).toEqual(first.summary.outputs.keys);
    const publishLog = (await readdir(path.join(again.runDir, "logs"), { recursive: true })).find((f) => String(f).includes("publish-"))!;
    expect(await readFile(path.join(again.runDir, "logs", String(publishLog)), "utf8")).toContain("4 file(s) already published with the same sha256");
  }, 90_000);
});

describe("weather cli", () => {
  it("GIVEN a missing source directory WHEN the input is built THEN one line says to pass --source", async () => {
    const { weather } = await import("../../workflows/weather.ts");
    await expect(weather.cli.input({ source: path.join(REPO_ROOT, "no-such-dir") }, "local")).rejects.toThrow(/no such file or directory/);
    await expect(weather.cli.input({ source: "/tmp" }, "aws")).rejects.toThrow(/s3:\/\//);
  });
});
