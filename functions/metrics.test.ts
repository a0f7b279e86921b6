import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CloudWatchClient, PutMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import { GetObjectCommand, NoSuchKey, S3Client } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AwsSinks, localFunctionLog } from "../lib/local-sinks.ts";
import { handler, metricData, metricSeries, recordMetrics, RUN_METRICS, runSummary, runSummaryLine, toEpochMs, type MetricsEvent } from "./metrics.ts";

const s3 = mockClient(S3Client);
const cw = mockClient(CloudWatchClient);
const savedEnv = { ...process.env };
beforeEach(() => {
  s3.reset();
  cw.reset();
  cw.on(PutMetricDataCommand).resolves({});
  process.env = { ...savedEnv, AWS_REGION: "eu-west-1" };
  delete process.env.ATLAS_LOCAL_SINK_DIR;
});
afterEach(() => {
  process.env = savedEnv;
});

const NOW = new Date("2026-11-01T07:00:00Z");
const T0 = Date.parse("2026-11-01T06:00:00Z");

const MANIFEST = {
  counts: { ski_areas: 3, lifts: 27, pistes: 81, osm_near_winter_sports: 140 },
  files: [
    { name: "ski_areas.parquet", sha256: "a", bytes: 1000, rows: 3 },
    { name: "lifts.parquet", sha256: "b", bytes: 2500, rows: 27 },
  ],
  source: { url: "https://download.geofabrik.de/europe/andorra-latest.osm.pbf" },
};

function body(text: string) {
  return { transformToString: async () => text } as never;
}

const EVENT: MetricsEvent = {
  workflow: "ski-atlas",
  status: "SUCCEEDED",
  plan: { region: "andorra", period: "2026-11", uris: { publish: "s3://atlas-data/andorra/2026-11/" } },
  steps: {
    download: { tier: "small", startedAt: T0, stoppedAt: T0 + 4_000 },
    extract: { tier: "medium", startedAt: new Date(T0 + 5_000).toISOString(), stoppedAt: new Date(T0 + 12_000).toISOString() },
    analyze: { tier: "small", startedAt: String(T0 + 13_000), stoppedAt: T0 + 20_000 },
    publish: { tier: "small", startedAt: T0 + 21_000, stoppedAt: T0 + 22_500 },
  },
  run: {
    escalations: { extract_small: { step: "extract", from: "small", to: "medium", reason: "OutOfMemoryError" } },
    retries: { download: { count: 2 }, extract: { count: 0 } },
  },
};

const WORKFLOW_ONLY = [{ Name: "Workflow", Value: "ski-atlas" }];
describe("runSummary", () => {
  it("GIVEN step timings as numbers, ISO and numeric strings WHEN summarized THEN durations, tiers and totals are right", () => {
    expect(runSummary(EVENT, MANIFEST)).toEqual({
      counts: MANIFEST.counts,
      bytes: 3500,
      durationsMs: { download: 4000, extract: 7000, analyze: 7000, publish: 1500 },
      totalMs: 22_500,
      tiers: { download: "small", extract: "medium", analyze: "small", publish: "small" },
      escalations: 1,
      retries: 2,
    });
  });

  it("GIVEN another workflow's counts with junk values WHEN summarized THEN only finite numbers are kept", () => {
    const summary = runSummary({ workflow: "weather", status: "SUCCEEDED" }, { counts: { stations: 12, note: "x", nan: Number.NaN } });
    expect(summary.counts).toEqual({ stations: 12 });
    expect(summary).toMatchObject({ bytes: 0, totalMs: 0, escalations: 0, retries: 0, durationsMs: {} });
  });
});

describe("toEpochMs", () => {
  it.each([
    [1700000000000, 1700000000000],
    ["1700000000000", 1700000000000],
    ["2026-11-01T06:00:00Z", Date.parse("2026-11-01T06:00:00Z")],
    ["yesterday", undefined],
    [null, undefined],
  ])("GIVEN %j WHEN converted THEN %j", (value, expected) => {
    expect(toEpochMs(value)).toBe(expected);
  });
});

describe("metricData", () => {
  it("GIVEN a succeeded ski-atlas run WHEN converted THEN no data point at all: a success pays no metric-hour", () => {
    expect(metricData(EVENT, NOW)).toEqual([]);
  });

  it("GIVEN a failed ski-atlas run WHEN converted THEN only RunFailed = 1 is sent, with the Workflow dimension alone", () => {
    const data = metricData({ ...EVENT, status: "FAILED" }, NOW);
    expect(data).toEqual([{ MetricName: "RunFailed", Dimensions: WORKFLOW_ONLY, Timestamp: NOW, Value: 1, Unit: "Count" }]);
    expect(RUN_METRICS).toEqual(["RunFailed"]);
  });

  it("GIVEN runs of many regions WHEN converted THEN the failed ones all send the same series (no Region, Step or Kind dimension) and the succeeded ones none", () => {
    const regions = ["iceland", "andorra", "alps", undefined];
    const seriesOf = (status: MetricsEvent["status"]) =>
      regions.flatMap((region) => metricSeries(metricData({ ...EVENT, status, plan: region ? { region } : null }, NOW)));
    expect(seriesOf("FAILED")).toEqual(regions.map(() => "RunFailed|Workflow=ski-atlas"));
    expect(seriesOf("SUCCEEDED")).toEqual([]);
  });

  it("GIVEN extra metrics WHEN converted THEN they are sent with the Workflow dimension alone; a bad unit is an InvalidInputError", () => {
    const event: MetricsEvent = { workflow: "weather", status: "FAILED", extraMetrics: [{ name: "RowsIngested", value: 42, unit: "Count" }] };
    expect(metricData(event, NOW)).toEqual([
      { MetricName: "RunFailed", Dimensions: [{ Name: "Workflow", Value: "weather" }], Timestamp: NOW, Value: 1, Unit: "Count" },
      { MetricName: "RowsIngested", Dimensions: [{ Name: "Workflow", Value: "weather" }], Timestamp: NOW, Value: 42, Unit: "Count" },
    ]);
    const bad = { ...event, extraMetrics: [{ name: "X", value: 1, unit: "Parsecs" }] };
    expect(() => metricData(bad, NOW)).toThrow(expect.objectContaining({ name: "InvalidInputError" }));
  });

  it("GIVEN the same metric twice WHEN its series are counted THEN it is one series (what CloudWatch bills)", () => {
    const event: MetricsEvent = { workflow: "weather", status: "SUCCEEDED", extraMetrics: [{ name: "A", value: 1 }, { name: "A", value: 2 }] };
    expect(metricSeries(metricData(event, NOW))).toEqual(["A|Workflow=weather"]);
    expect(metricSeries(metricData({ ...event, status: "FAILED" }, NOW))).toEqual(["RunFailed|Workflow=weather", "A|Workflow=weather"]);
  });
});

describe("runSummaryLine", () => {
  it("GIVEN a succeeded run WHEN summarized for the log THEN the line has the stable run-summary shape with the per-region detail", () => {
    const line = runSummaryLine(EVENT, runSummary(EVENT, MANIFEST), NOW);
    expect(line).toEqual({
      type: "run-summary",
      time: NOW.toISOString(),
      workflow: "ski-atlas",
      region: "andorra",
      period: "2026-11",
      runId: null,
      status: "SUCCEEDED",
      counts: MANIFEST.counts,
      bytes: 3500,
      durationsMs: { download: 4000, extract: 7000, analyze: 7000, publish: 1500 },
      totalMs: 22_500,
      tiers: { download: "small", extract: "medium", analyze: "small", publish: "small" },
      tierIndex: { download: 1, extract: 2, analyze: 1, publish: 1 },
      escalations: 1,
      retries: 2,
      metrics: {},
    });
  });

  it("GIVEN a run that failed in Plan WHEN summarized for the log THEN every key is still there, null or empty", () => {
    const line = runSummaryLine({ workflow: "weather", status: "FAILED", plan: null }, runSummary({ workflow: "weather", status: "FAILED" }), NOW);
    expect(Object.keys(line)).toEqual(Object.keys(runSummaryLine(EVENT, runSummary(EVENT, MANIFEST), NOW)));
    expect(line).toMatchObject({ region: null, period: null, runId: null, status: "FAILED", counts: {}, bytes: 0, durationsMs: {}, tiers: {}, metrics: {} });
  });
});

describe("recordMetrics / handler on AWS", () => {
  it("GIVEN a succeeded run WHEN the handler runs THEN it reads the manifest, logs one run-summary line on stdout and makes no PutMetricData call", async () => {
    s3.on(GetObjectCommand, { Bucket: "atlas-data", Key: "andorra/2026-11/manifest.json" }).resolves({ Body: body(JSON.stringify(MANIFEST)) });
    const written: string[] = [];
    const stdout = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => (written.push(String(chunk)), true));
    let summary;
    try {
      summary = await handler(EVENT);
    } finally {
      stdout.mockRestore();
    }

    expect(summary).toMatchObject({ counts: MANIFEST.counts, bytes: 3500, totalMs: 22_500, escalations: 1, retries: 2, named: {} });
    // A success sends no custom metric: the run counts are AWS/States' free ExecutionsSucceeded/ExecutionsFailed.
    expect(cw.calls()).toHaveLength(0);
    // The detail is in the function's log instead: one bare JSON line, the counts, durations and tiers per step.
    const lines = written.filter((w) => w.includes('"run-summary"'));
    expect(lines).toHaveLength(1);
    expect(lines[0].endsWith("}\n") && lines[0].indexOf("\n") === lines[0].length - 1).toBe(true);
    expect(JSON.parse(lines[0])).toMatchObject({
      type: "run-summary",
      workflow: "ski-atlas",
      region: "andorra",
      period: "2026-11",
      status: "SUCCEEDED",
      counts: { lifts: 27 },
      durationsMs: { extract: 7000 },
      tiers: { extract: "medium" },
    });
  });

  it("GIVEN a failed run WHEN recorded THEN the manifest is not read, one PutMetricData call sends RunFailed = 1 and the log line says FAILED", async () => {
    const failed: MetricsEvent = { ...EVENT, status: "FAILED", steps: { download: EVENT.steps!.download } };
    const logged: string[] = [];
    const sinks = new AwsSinks({ stdout: (l) => logged.push(l) });
    const summary = await recordMetrics(failed, { sinks, s3: new S3Client({ region: "eu-west-1" }), now: () => NOW });
    expect(s3.calls()).toHaveLength(0);
    expect(summary.counts).toEqual({});
    const calls = cw.commandCalls(PutMetricDataCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0].args[0].input.Namespace).toBe("AtlasPipelines");
    expect(calls[0].args[0].input.MetricData).toEqual([{ MetricName: "RunFailed", Dimensions: WORKFLOW_ONLY, Timestamp: NOW, Value: 1, Unit: "Count" }]);
    expect(logged.map((l) => JSON.parse(l))).toEqual([expect.objectContaining({ type: "run-summary", status: "FAILED", region: "andorra", bytes: 0 })]);
  });

  it("GIVEN a succeeded run without manifest WHEN recorded THEN ManifestNotFoundError, no metrics and no log line", async () => {
    s3.on(GetObjectCommand).rejects(new NoSuchKey({ message: "nope", $metadata: {} }));
    await expect(handler(EVENT)).rejects.toMatchObject({
      name: "ManifestNotFoundError",
      message: expect.stringContaining("s3://atlas-data/andorra/2026-11/manifest.json"),
    });
    expect(cw.calls()).toHaveLength(0);
  });

  it("GIVEN a manifest that is not JSON WHEN recorded THEN InvalidManifestError", async () => {
    s3.on(GetObjectCommand).resolves({ Body: body("<html>") });
    await expect(handler(EVENT)).rejects.toMatchObject({ name: "InvalidManifestError" });
  });

  it("GIVEN a bad status WHEN recorded THEN InvalidInputError", async () => {
    await expect(handler({ ...EVENT, status: "RUNNING" as never })).rejects.toMatchObject({ name: "InvalidInputError" });
  });
});

describe("handler offline (ATLAS_LOCAL_SINK_DIR)", () => {
  it("GIVEN a sink dir and a succeeded run WHEN the handler runs THEN the run-summary line is written locally, metrics.jsonl is not, and CloudWatch is not called", async () => {
    const dir = await mkdtemp(join(tmpdir(), "atlas-metrics-"));
    try {
      process.env.ATLAS_LOCAL_SINK_DIR = dir;
      s3.on(GetObjectCommand).resolves({ Body: body(JSON.stringify(MANIFEST)) });
      await handler(EVENT);
      expect(existsSync(join(dir, "metrics.jsonl"))).toBe(false);
      const log = (await readFile(join(dir, localFunctionLog("metrics")), "utf8")).trim().split("\n").map((l) => JSON.parse(l));
      expect(log).toEqual([runSummaryLine(EVENT, { ...runSummary(EVENT, MANIFEST), named: {} }, new Date(log[0].time))]);
      expect(cw.calls()).toHaveLength(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("GIVEN a sink dir and a failed run WHEN the handler runs THEN metrics.jsonl holds one request with RunFailed = 1 and CloudWatch is not called", async () => {
    const dir = await mkdtemp(join(tmpdir(), "atlas-metrics-"));
    try {
      process.env.ATLAS_LOCAL_SINK_DIR = dir;
      await handler({ ...EVENT, status: "FAILED" });
      const lines = (await readFile(join(dir, "metrics.jsonl"), "utf8")).trim().split("\n");
      expect(lines).toHaveLength(1);
      const record = JSON.parse(lines[0]);
      expect(record).toMatchObject({ namespace: "AtlasPipelines", label: "ski-atlas andorra 2026-11 FAILED" });
      expect(record.data.map((d: { MetricName: string; Value: number }) => [d.MetricName, d.Value])).toEqual([["RunFailed", 1]]);
      expect(s3.calls()).toHaveLength(0);
      expect(cw.calls()).toHaveLength(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("manifest metrics (weather's RecordsIngested and IngestionErrors)", () => {
  it("GIVEN a succeeded run whose manifest has metrics WHEN recorded THEN each is sent once as a Count with the Workflow dimension alone (what the alarm watches), without RunFailed, and is in the log line", async () => {
    const dir = await mkdtemp(join(tmpdir(), "metrics-named-"));
    try {
      process.env.ATLAS_LOCAL_SINK_DIR = dir;
      s3.on(GetObjectCommand).resolves({ Body: body(JSON.stringify({ counts: { records: 10 }, metrics: { RecordsIngested: 10, IngestionErrors: 3, junk: "x" }, files: [] })) });
      const event: MetricsEvent = { workflow: "weather", status: "SUCCEEDED", plan: { runId: "2026-07-01", uris: { publish: "s3://atlas-data/weather/2026-07-01/" } } };
      const summary = await handler(event);
      const data = JSON.parse((await readFile(join(dir, "metrics.jsonl"), "utf8")).trim()).data as { MetricName: string; Value: number; Unit: string; Dimensions: unknown[] }[];
      expect(data.map((d) => [d.MetricName, d.Value, d.Unit, d.Dimensions])).toEqual(
        [["RecordsIngested", 10], ["IngestionErrors", 3]].map(([name, value]) => [name, value, "Count", [{ Name: "Workflow", Value: "weather" }]]),
      );
      expect(summary.named).toEqual({ RecordsIngested: 10, IngestionErrors: 3 });
      const log = JSON.parse((await readFile(join(dir, localFunctionLog("metrics")), "utf8")).trim());
      expect(log).toMatchObject({ type: "run-summary", workflow: "weather", region: null, runId: "2026-07-01", counts: { records: 10 }, metrics: { RecordsIngested: 10, IngestionErrors: 3 } });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
