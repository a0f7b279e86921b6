import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CloudWatchClient, PutMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import { GetObjectCommand, NoSuchKey, S3Client } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AwsSinks } from "../lib/local-sinks.ts";
import { handler, metricData, recordMetrics, runSummary, toEpochMs, type MetricsEvent } from "./metrics.ts";

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

const dims = (extra?: [string, string]) => [
  { Name: "Workflow", Value: "ski-atlas" },
  { Name: "Region", Value: "andorra" },
  ...(extra ? [{ Name: extra[0], Value: extra[1] }] : []),
];

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
  it("GIVEN a succeeded run WHEN converted THEN every documented data point is there with its dimensions and unit", () => {
    const all = metricData(EVENT, runSummary(EVENT, MANIFEST), NOW);
    const data = all.filter((d) => d.Dimensions!.some((x) => x.Name === "Region"));
    const compact = data.map((d) => [d.MetricName, d.Dimensions?.slice(2).map((x) => `${x.Name}=${x.Value}`).join(), d.Value, d.Unit]);
    expect(compact).toEqual([
      ["FeatureCount", "Kind=ski_areas", 3, "Count"],
      ["FeatureCount", "Kind=lifts", 27, "Count"],
      ["FeatureCount", "Kind=pistes", 81, "Count"],
      ["FeatureCount", "Kind=osm_near_winter_sports", 140, "Count"],
      ["OutputBytes", "", 3500, "Bytes"],
      ["StepDuration", "Step=download", 4000, "Milliseconds"],
      ["StepDuration", "Step=extract", 7000, "Milliseconds"],
      ["StepDuration", "Step=analyze", 7000, "Milliseconds"],
      ["StepDuration", "Step=publish", 1500, "Milliseconds"],
      ["TierIndex", "Step=download", 1, "None"],
      ["TierIndex", "Step=extract", 2, "None"],
      ["TierIndex", "Step=analyze", 1, "None"],
      ["TierIndex", "Step=publish", 1, "None"],
      ["RunDuration", "", 22_500, "Milliseconds"],
      ["TierEscalations", "", 1, "Count"],
      ["StepRetries", "", 2, "Count"],
      ["RunSucceeded", "", 1, "Count"],
      ["RunFailed", "", 0, "Count"],
    ]);
    for (const d of data) {
      expect(d.Dimensions?.slice(0, 2)).toEqual(dims());
      expect(d.Timestamp).toEqual(NOW);
    }
    // The run-level points once more with the Workflow dimension alone, for the workflow-wide alarms.
    const workflowWide = all.filter((d) => !d.Dimensions!.some((x) => x.Name === "Region"));
    expect(workflowWide.map((d) => [d.MetricName, d.Value, d.Dimensions])).toEqual(
      ["TierEscalations", "StepRetries", "RunSucceeded", "RunFailed"].map((name) => [
        name,
        data.find((d) => d.MetricName === name)!.Value,
        [{ Name: "Workflow", Value: EVENT.workflow }],
      ]),
    );
  });

  it("GIVEN extra metrics WHEN converted THEN they are appended; a bad unit is an InvalidInputError", () => {
    const event: MetricsEvent = { workflow: "weather", status: "FAILED", extraMetrics: [{ name: "RowsIngested", value: 42, unit: "Count" }] };
    const data = metricData(event, runSummary(event), NOW);
    expect(data.filter((d) => d.MetricName === "RowsIngested").map((d) => d.Dimensions)).toEqual([
      [{ Name: "Workflow", Value: "weather" }, { Name: "Region", Value: "none" }],
      [{ Name: "Workflow", Value: "weather" }],
    ]);
    expect(data.find((d) => d.MetricName === "RowsIngested")).toEqual({
      MetricName: "RowsIngested",
      Dimensions: [
        { Name: "Workflow", Value: "weather" },
        { Name: "Region", Value: "none" },
      ],
      Timestamp: NOW,
      Value: 42,
      Unit: "Count",
    });
    expect(data.find((d) => d.MetricName === "RunFailed")?.Value).toBe(1);
    expect(data.find((d) => d.MetricName === "OutputBytes")).toBeUndefined();
    const bad = { ...event, extraMetrics: [{ name: "X", value: 1, unit: "Parsecs" }] };
    expect(() => metricData(bad, runSummary(bad), NOW)).toThrow(expect.objectContaining({ name: "InvalidInputError" }));
  });
});

describe("recordMetrics / handler on AWS", () => {
  it("GIVEN a succeeded run WHEN the handler runs THEN it reads the manifest and sends PutMetricData in AtlasPipelines", async () => {
    s3.on(GetObjectCommand, { Bucket: "atlas-data", Key: "andorra/2026-11/manifest.json" }).resolves({ Body: body(JSON.stringify(MANIFEST)) });
    const summary = await handler(EVENT);

    expect(summary).toMatchObject({ counts: MANIFEST.counts, bytes: 3500, totalMs: 22_500, escalations: 1, retries: 2 });
    const calls = cw.commandCalls(PutMetricDataCommand);
    expect(calls).toHaveLength(1);
    const input = calls[0].args[0].input;
    expect(input.Namespace).toBe("AtlasPipelines");
    expect(input.MetricData).toHaveLength(22);
    expect(input.MetricData).toContainEqual({
      MetricName: "FeatureCount",
      Dimensions: dims(["Kind", "lifts"]),
      Timestamp: expect.any(Date),
      Value: 27,
      Unit: "Count",
    });
    expect(input.MetricData).toContainEqual({
      MetricName: "StepDuration",
      Dimensions: dims(["Step", "extract"]),
      Timestamp: expect.any(Date),
      Value: 7000,
      Unit: "Milliseconds",
    });
  });

  it("GIVEN a failed run WHEN recorded THEN the manifest is not read and RunFailed is 1", async () => {
    const failed: MetricsEvent = { ...EVENT, status: "FAILED", steps: { download: EVENT.steps!.download } };
    const summary = await recordMetrics(failed, { sinks: new AwsSinks(), s3: new S3Client({ region: "eu-west-1" }), now: () => NOW });
    expect(s3.calls()).toHaveLength(0);
    expect(summary.counts).toEqual({});
    const data = cw.commandCalls(PutMetricDataCommand)[0].args[0].input.MetricData!;
    expect(data.find((d) => d.MetricName === "RunFailed")?.Value).toBe(1);
    expect(data.find((d) => d.MetricName === "RunSucceeded")?.Value).toBe(0);
  });

  it("GIVEN a succeeded run without manifest WHEN recorded THEN ManifestNotFoundError and no metrics", async () => {
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
  it("GIVEN a sink dir WHEN the handler runs THEN one JSON line is written and CloudWatch is not called", async () => {
    const dir = await mkdtemp(join(tmpdir(), "atlas-metrics-"));
    try {
      process.env.ATLAS_LOCAL_SINK_DIR = dir;
      s3.on(GetObjectCommand).resolves({ Body: body(JSON.stringify(MANIFEST)) });
      await handler(EVENT);
      const lines = (await readFile(join(dir, "metrics.jsonl"), "utf8")).trim().split("\n");
      expect(lines).toHaveLength(1);
      const record = JSON.parse(lines[0]);
      expect(record).toMatchObject({ namespace: "AtlasPipelines", label: "ski-atlas andorra 2026-11 SUCCEEDED" });
      expect(record.data).toHaveLength(22);
      expect(cw.calls()).toHaveLength(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("manifest metrics (weather's RecordsIngested and IngestionErrors)", () => {
  it("GIVEN a manifest with metrics WHEN recorded THEN each is sent as a Count, also with the Workflow dimension alone for alarms", async () => {
    const dir = await mkdtemp(join(tmpdir(), "metrics-named-"));
    try {
      process.env.ATLAS_LOCAL_SINK_DIR = dir;
      s3.on(GetObjectCommand).resolves({ Body: body(JSON.stringify({ counts: { records: 10 }, metrics: { RecordsIngested: 10, IngestionErrors: 3, junk: "x" }, files: [] })) });
      const event: MetricsEvent = { workflow: "weather", status: "SUCCEEDED", plan: { uris: { publish: "s3://atlas-data/weather/2026-07-01/" } } };
      await handler(event);
      const data = JSON.parse((await readFile(join(dir, "metrics.jsonl"), "utf8")).trim()).data as { MetricName: string; Value: number; Unit: string; Dimensions: unknown[] }[];
      const named = data.filter((d) => ["RecordsIngested", "IngestionErrors", "junk"].includes(d.MetricName));
      expect(named.map((d) => [d.MetricName, d.Value, d.Unit, d.Dimensions.length])).toEqual([
        ["RecordsIngested", 10, "Count", 2],
        ["IngestionErrors", 3, "Count", 2],
        ["RecordsIngested", 10, "Count", 1],
        ["IngestionErrors", 3, "Count", 1],
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
