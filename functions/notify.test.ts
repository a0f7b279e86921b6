import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ECS_OOM_CAUSE, LAMBDA_INVALID_INPUT_CAUSE } from "./test-fixtures.ts";
import { buildNotification, executionLine, handler, type NotifyEvent } from "./notify.ts";
import { summarize } from "./summarize.ts";

const sns = mockClient(SNSClient);
const savedEnv = { ...process.env };
beforeEach(() => {
  sns.reset();
  sns.on(PublishCommand).resolves({ MessageId: "msg-123" });
  process.env = { ...savedEnv, AWS_REGION: "eu-west-1", ATLAS_TOPIC_ARN: "arn:aws:sns:eu-west-1:123456789012:atlas" };
  delete process.env.ATLAS_LOCAL_SINK_DIR;
  delete process.env.ATLAS_LOCAL;
  delete process.env.ATLAS_CONSOLE_REGION;
});
afterEach(() => {
  process.env = savedEnv;
});

const ARN = "arn:aws:states:eu-west-1:123456789012:execution:ski-atlas:andorra-2026-11";
const AWS = { local: false };
const PLAN = {
  region: "andorra",
  period: "2026-11",
  runId: "andorra-2026-11",
  source: { url: "https://download.geofabrik.de/europe/andorra-latest.osm.pbf", bytes: 1778051, sizeKnown: true },
  uris: { publish: "s3://atlas-data/andorra/2026-11/" },
};
const SUCCESS: NotifyEvent = {
  status: "SUCCEEDED",
  workflow: "ski-atlas",
  execution: { id: ARN, name: "andorra-2026-11" },
  plan: PLAN,
  metrics: {
    counts: { ski_areas: 3, lifts: 27 },
    bytes: 3500,
    durationsMs: { download: 4000, extract: 7000 },
    totalMs: 95_000,
    tiers: { download: "small", extract: "medium" },
    escalations: 1,
    retries: 0,
  },
};
const OOM_FAILURE: NotifyEvent = {
  status: "FAILED",
  workflow: "ski-atlas",
  execution: { id: ARN, name: "andorra-2026-11" },
  plan: PLAN,
  error: { Error: "States.TaskFailed", Cause: ECS_OOM_CAUSE },
};

describe("buildNotification", () => {
  it("GIVEN a successful run WHEN notified THEN subject and body show counts, timings and the console link", () => {
    const { subject, body } = buildNotification(SUCCESS, AWS);
    expect(subject).toBe("[atlas] ski-atlas andorra 2026-11 SUCCEEDED");
    expect(body).toBe(
      [
        "ski-atlas andorra 2026-11 SUCCEEDED",
        "",
        "Source: https://download.geofabrik.de/europe/andorra-latest.osm.pbf (1.8 MB)",
        "Output: s3://atlas-data/andorra/2026-11/ (3.5 kB)",
        "",
        "Counts:",
        "  ski_areas  3",
        "  lifts      27",
        "",
        "Steps:",
        "  download  small   4.0 s",
        "  extract   medium  7.0 s",
        "  total             1 min 35 s",
        "Tier escalations: 1, reruns after a transient failure: 0",
        "",
        `Execution: https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/${ARN}`,
        "",
      ].join("\n"),
    );
  });

  it("GIVEN an ECS out-of-memory failure WHEN notified THEN the body shows the step, exit code and stopped reason", () => {
    const { subject, body } = buildNotification(OOM_FAILURE, AWS);
    expect(subject).toBe("[atlas] ski-atlas andorra 2026-11 FAILED");
    expect(body).toContain("Failed step: extract\n");
    expect(body).toContain("Container exit code: 137 (out of memory)\n");
    expect(body).toContain("Container reason: OutOfMemoryError: Container killed due to memory usage\n");
    expect(body).toContain("Stopped reason: Essential container in task exited\n");
    expect(body).not.toContain('"Containers"');
  });

  it("GIVEN Plan rejected the input WHEN notified THEN the region comes from the input and the Lambda message is shown", () => {
    const { subject, body } = buildNotification(
      {
        status: "FAILED",
        workflow: "ski-atlas",
        execution: { id: ARN, name: "x" },
        input: { region: "atlantis" },
        error: { Error: "InvalidInputError", Cause: LAMBDA_INVALID_INPUT_CAUSE },
      },
      AWS,
    );
    expect(subject).toBe("[atlas] ski-atlas atlantis FAILED");
    expect(body).toContain('Message: unknown region "atlantis"; known regions: andorra, iceland');
  });

  it("GIVEN a very long region-like text WHEN notified THEN the subject stays under 100 printable ASCII characters", () => {
    const { subject } = buildNotification({ ...SUCCESS, plan: { ...PLAN, region: `x${"é\n".repeat(80)}` } }, AWS);
    expect(subject.length).toBeLessThan(100);
    expect(subject).toMatch(/^[\x20-\x7e]+$/);
  });

  it("GIVEN the monthly digest WHEN notified THEN its subject and body are used with the link", () => {
    const digest = summarize({
      period: "2026-11",
      results: [
        { region: "andorra", status: "SUCCEEDED" },
        { region: "alps", status: "FAILED", error: { Error: "States.TaskFailed", Cause: ECS_OOM_CAUSE } },
      ],
    });
    const monthlyArn = "arn:aws:states:eu-west-1:123456789012:execution:ski-atlas-monthly:m-2026-11";
    const { subject, body } = buildNotification(
      { status: "FAILED", workflow: "ski-atlas-monthly", execution: { id: monthlyArn, name: "m-2026-11" }, digest },
      AWS,
    );
    expect(subject).toBe("[atlas] ski-atlas-monthly 2026-11 PARTIAL (1/2 regions ok)");
    expect(body.startsWith("ski-atlas-monthly 2026-11 PARTIAL: 1 of 2 regions succeeded\n")).toBe(true);
    expect(body).toContain(`#/v2/executions/details/${monthlyArn}`);
  });

  it("GIVEN the monthly machine failed before Summarize ($.digest is {}) WHEN notified THEN the failure itself is reported", () => {
    const { subject, body } = buildNotification(
      {
        status: "FAILED",
        workflow: "ski-atlas-monthly",
        execution: { id: "local-1", name: "m" },
        digest: {} as never,
        error: { Error: "InvalidInputError", Cause: LAMBDA_INVALID_INPUT_CAUSE },
      },
      AWS,
    );
    expect(subject).toBe("[atlas] ski-atlas-monthly FAILED");
    expect(body).toContain("Error: InvalidInputError");
  });

  it("GIVEN Metrics failed (its Catch stored the error in $.metrics) WHEN a success is notified THEN the body says so", () => {
    const { body } = buildNotification({ ...SUCCESS, metrics: { Error: "ManifestNotFoundError", Cause: '{"errorType":"ManifestNotFoundError","errorMessage":"no manifest"}' } }, AWS);
    expect(body).toContain("Metrics were not recorded: ManifestNotFoundError: no manifest");
  });

  it("GIVEN a bad status WHEN notified THEN InvalidInputError", () => {
    expect(() => buildNotification({ ...SUCCESS, status: "RUNNING" as never }, AWS)).toThrow(expect.objectContaining({ name: "InvalidInputError" }));
  });
});

describe("executionLine", () => {
  it("GIVEN ATLAS_CONSOLE_REGION WHEN linking THEN it wins over the ARN's region", () => {
    expect(executionLine({ id: ARN, name: "n" }, { local: false, consoleRegion: "us-east-1" })).toBe(
      `Execution: https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/${ARN}`,
    );
  });

  it("GIVEN a local run WHEN linking THEN the run id is printed instead", () => {
    expect(executionLine({ id: ARN, name: "andorra-2026-11" }, { local: true })).toBe("Run id: andorra-2026-11 (local run)");
    expect(executionLine({ id: "local-123", name: "" }, { local: false })).toBe("Run id: local-123 (local run)");
  });
});

describe("handler", () => {
  it("GIVEN AWS config WHEN a success is notified THEN SNS receives topic, subject and body", async () => {
    const out = await handler(SUCCESS);
    expect(out).toEqual({ messageId: "msg-123", subject: "[atlas] ski-atlas andorra 2026-11 SUCCEEDED" });
    const input = sns.commandCalls(PublishCommand)[0].args[0].input;
    expect(input.TopicArn).toBe("arn:aws:sns:eu-west-1:123456789012:atlas");
    expect(input.Subject).toBe(out.subject);
    expect(input.Message).toContain("lifts      27");
  });

  it("GIVEN ATLAS_LOCAL_SINK_DIR WHEN notified THEN a JSON line is written and SNS is not called", async () => {
    const dir = await mkdtemp(join(tmpdir(), "atlas-notify-"));
    try {
      Object.assign(process.env, { ATLAS_LOCAL_SINK_DIR: dir, ATLAS_LOCAL: "1" });
      const out = await handler(OOM_FAILURE);
      const lines = (await readFile(join(dir, "notifications.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l));
      expect(lines).toEqual([expect.objectContaining({ messageId: out.messageId, subject: "[atlas] ski-atlas andorra 2026-11 FAILED" })]);
      expect(lines[0].body).toContain("Run id: andorra-2026-11 (local run)");
      expect(sns.calls()).toHaveLength(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
