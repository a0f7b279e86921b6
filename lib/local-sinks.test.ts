import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CloudWatchClient, PutMetricDataCommand, type MetricDatum } from "@aws-sdk/client-cloudwatch";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { AwsSinks, chunk, localFunctionLog, LocalFileSinks, makeSinks } from "./local-sinks.ts";

const cw = mockClient(CloudWatchClient);
const sns = mockClient(SNSClient);
beforeEach(() => {
  cw.reset();
  sns.reset();
});

const points = (n: number): MetricDatum[] => Array.from({ length: n }, (_, i) => ({ MetricName: "M", Value: i }));

describe("makeSinks", () => {
  it("GIVEN a sink dir WHEN sinks are made THEN they are local files, else AWS", () => {
    expect(makeSinks({ localSinkDir: "sinks" })).toBeInstanceOf(LocalFileSinks);
    expect(makeSinks({ topicArn: "arn:aws:sns:eu-west-1:1:t" })).toBeInstanceOf(AwsSinks);
  });
});

describe("AwsSinks", () => {
  it("GIVEN 2500 data points WHEN put THEN three calls of at most 1000 go to CloudWatch", async () => {
    cw.on(PutMetricDataCommand).resolves({});
    const out = await new AwsSinks({ region: "eu-west-1" }).putMetricData("AtlasPipelines", points(2500));
    const calls = cw.commandCalls(PutMetricDataCommand).map((c) => c.args[0].input);
    expect(out.requests).toBe(3);
    expect(calls.map((c) => c.MetricData?.length)).toEqual([1000, 1000, 500]);
    expect(calls.every((c) => c.Namespace === "AtlasPipelines")).toBe(true);
    expect(calls[2].MetricData?.[0].Value).toBe(2000);
  });

  it("GIVEN no data points (a successful run) WHEN put THEN no request goes to CloudWatch", async () => {
    cw.on(PutMetricDataCommand).resolves({});
    const out = await new AwsSinks({ region: "eu-west-1" }).putMetricData("AtlasPipelines", []);
    expect(out.requests).toBe(0);
    expect(cw.calls()).toHaveLength(0);
  });

  it("GIVEN a topic WHEN a message is published THEN SNS gets the subject and body", async () => {
    sns.on(PublishCommand).resolves({ MessageId: "m-1" });
    const out = await new AwsSinks({ region: "eu-west-1", topicArn: "arn:aws:sns:eu-west-1:1:t" }).publish({ subject: "S", body: "B" });
    expect(out).toEqual({ messageId: "m-1" });
    expect(sns.commandCalls(PublishCommand)[0].args[0].input).toEqual({ TopicArn: "arn:aws:sns:eu-west-1:1:t", Subject: "S", Message: "B" });
  });

  it("GIVEN no topic WHEN publishing THEN a ConfigurationError names the variable and SNS is not called", async () => {
    await expect(new AwsSinks({ region: "eu-west-1" }).publish({ subject: "S", body: "B" })).rejects.toMatchObject({
      name: "ConfigurationError",
      message: expect.stringContaining("ATLAS_TOPIC_ARN"),
    });
    expect(sns.commandCalls(PublishCommand)).toHaveLength(0);
  });

  it("GIVEN a record WHEN logged THEN it is one bare JSON line on stdout (the function's log group), no AWS call", async () => {
    const out: string[] = [];
    await new AwsSinks({ region: "eu-west-1", stdout: (l) => out.push(l) }).writeLog("metrics", { type: "run-summary", counts: { lifts: 3 } });
    expect(out).toEqual(['{"type":"run-summary","counts":{"lifts":3}}\n']);
    expect(cw.calls()).toHaveLength(0);
  });
});

describe("LocalFileSinks", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "atlas-sinks-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("GIVEN two calls WHEN put and published THEN one JSON line each is appended, a line is logged, AWS is untouched", async () => {
    const lines: string[] = [];
    const sinks = new LocalFileSinks(join(dir, "sinks"), (l) => lines.push(l));
    await sinks.putMetricData("AtlasPipelines", points(1500), "ski-atlas/andorra");
    await sinks.putMetricData("AtlasPipelines", points(2));
    const { messageId } = await sinks.publish({ subject: "[atlas] hello", body: "body" });

    const metrics = (await readFile(join(dir, "sinks", "metrics.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l));
    expect(metrics).toHaveLength(2);
    expect(metrics[0]).toMatchObject({ namespace: "AtlasPipelines", label: "ski-atlas/andorra" });
    expect(metrics[0].data).toHaveLength(1500);
    const notes = (await readFile(join(dir, "sinks", "notifications.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l));
    expect(notes).toEqual([expect.objectContaining({ messageId, subject: "[atlas] hello", body: "body" })]);
    expect(messageId).toMatch(/^local-/);
    expect(lines).toEqual([
      "[metrics] 1500 data points → AtlasPipelines (ski-atlas/andorra)",
      "[metrics] 2 data points → AtlasPipelines",
      "[notify] [atlas] hello",
    ]);
    expect(cw.calls()).toHaveLength(0);
    expect(sns.calls()).toHaveLength(0);
  });

  it("GIVEN no data points (a successful run) WHEN put THEN no request: metrics.jsonl is not written and nothing is logged", async () => {
    const lines: string[] = [];
    const out = await new LocalFileSinks(join(dir, "empty-sinks"), (l) => lines.push(l)).putMetricData("AtlasPipelines", [], "ski-atlas iceland");
    expect(out.requests).toBe(0);
    expect(existsSync(join(dir, "empty-sinks", "metrics.jsonl"))).toBe(false);
    expect(lines).toEqual([]);
  });

  it("GIVEN two log records WHEN written THEN both are JSON lines in the function's local log, nothing on stderr", async () => {
    const lines: string[] = [];
    const sinks = new LocalFileSinks(join(dir, "logs-sinks"), (l) => lines.push(l));
    await sinks.writeLog("metrics", { type: "run-summary", region: "andorra" });
    await sinks.writeLog("metrics", { type: "run-summary", region: "iceland" });
    const log = (await readFile(join(dir, "logs-sinks", localFunctionLog("metrics")), "utf8")).trim().split("\n").map((l) => JSON.parse(l));
    expect(localFunctionLog("metrics")).toBe(join("logs", "lambda", "metrics.log"));
    expect(log.map((r) => r.region)).toEqual(["andorra", "iceland"]);
    expect(lines).toEqual([]);
  });
});

describe("chunk", () => {
  it("GIVEN 5 items WHEN chunked by 2 THEN 2+2+1", () => {
    expect(chunk([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(chunk([], 2)).toEqual([]);
  });
});
