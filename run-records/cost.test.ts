import { StateMachine } from "aws-local-stepfunctions";
import { describe, expect, it } from "vitest";
import { metricData, type MetricsSummary } from "../functions/metrics.ts";
import { addRunCosts, AWS_PRICES, estimateRunCost, fargateTaskCost } from "../lib/aws-pricing.ts";
import type { AslDefinition } from "../stacks/resolve-asl.ts";
import { readFileSync } from "node:fs";
import { HELPER_LAMBDA_MEMORY_MIB, TIER_NAMES, tierByName, tierEnvironment } from "../workflows/tiers.ts";
import { HistoryWriter, type InterpreterEvent } from "../local/history-writer.ts";
import { ecsTaskStarted, metricSeriesHours, runUsage, withSharedMetricSeries } from "./cost.ts";
import { RunRecorder } from "../local/run-recorder.ts";
import { schemaProblems } from "../local/testing/run-record-schema.ts";

/**
 * The cost estimate is computed from the run record, so it is checked on a record the recorder wrote from a real
 * interpreter run (aws-local-stepfunctions), written down as the engine writes it (local/history-writer.ts), shaped
 * like a workflow: a Lambda Plan that is retried once, an ECS step on the small tier, Metrics and Notify.
 */
const fn = (name: string) => ({ FunctionName: `arn:aws:lambda:us-east-1:123456789012:function:${name}`, "Payload.$": "$" });
const MACHINE: AslDefinition = {
  StartAt: "Plan",
  States: {
    Plan: {
      Type: "Task",
      Resource: "arn:aws:states:::lambda:invoke",
      Parameters: fn("plan"),
      Retry: [{ ErrorEquals: ["Transient"], IntervalSeconds: 1, MaxAttempts: 2 }],
      Next: "Extract",
    },
    Extract: {
      Type: "Task",
      Resource: "arn:aws:states:::ecs:runTask.sync",
      // RunTask's overrides name the tier (workflows/compile.ts): the small tier's size and environment.
      Parameters: {
        Overrides: {
          Cpu: "1024",
          Memory: "2048",
          ContainerOverrides: [{ Name: "ski-atlas", Command: ["extract"], Environment: Object.entries(tierEnvironment(tierByName("small"))).map(([Name, Value]) => ({ Name, Value })) }],
        },
      },
      Next: "Metrics",
    },
    Metrics: { Type: "Task", Resource: "arn:aws:states:::lambda:invoke", Parameters: fn("metrics"), ResultPath: "$.metrics", Next: "Notify success" },
    "Notify success": { Type: "Task", Resource: "arn:aws:states:::lambda:invoke", Parameters: fn("notify"), End: true },
  },
} as unknown as AslDefinition;

/** The failure path's Metrics state (workflows/compile.ts `stateNames.metricsFailed`): the helper is called with FAILED. */
const METRICS_FAILED = "Metrics (failed run)";

/** What the Metrics helper returns (functions/metrics.ts `runSummary`) for a run with one step. */
const SUMMARY: MetricsSummary = { counts: { lifts: 3 }, bytes: 10, durationsMs: { extract: 5 }, totalMs: 5, tiers: { extract: "small" }, escalations: 0, retries: 0, named: {} };

describe("a run's cost, from its record", () => {
  it("GIVEN a successful run with a retried Lambda, an ECS step, Metrics and Notify WHEN priced THEN each is counted once per attempt, and CloudWatch nothing", async () => {
    const recorder = new RunRecorder({ id: "run-cost", runDir: "/nonexistent/run-cost", definitions: { demo: MACHINE } });
    let planCalls = 0;
    const history = new HistoryWriter(MACHINE, (event) => recorder.onHistory("demo-1", "demo", event));
    const handler = (state: string, answer: (input: unknown) => Promise<unknown>) => (input: unknown) => {
      history.scheduled(state, input);
      return answer(input);
    };
    const sm = new StateMachine(MACHINE as never, { validationOptions: { checkArn: false } });
    const execution = sm.run({} as never, {
      overrides: {
        retryIntervalOverrides: { Plan: 0 },
        taskResourceLocalHandlers: {
          Plan: handler("Plan", async () => {
            if (++planCalls === 1) throw Object.assign(new Error("try again"), { name: "Transient" });
            return {};
          }),
          Extract: handler("Extract", async () => ({})),
          Metrics: handler("Metrics", async () => SUMMARY),
          "Notify success": handler("Notify success", async () => ({})),
        } as never,
      },
    });
    for await (const event of execution.eventLogs) history.push(event as InterpreterEvent);
    await execution.result;

    const record = recorder.record();
    expect(schemaProblems(record)).toEqual([]);
    const usage = runUsage(record);
    // 4 states entered + 1 retry of Plan.
    expect(usage.stateTransitions).toBe(5);
    expect(usage.lambdaInvocations).toHaveLength(4);
    expect(usage.lambdaInvocations.every((i) => i.memoryMiB === HELPER_LAMBDA_MEMORY_MIB)).toBe(true);
    expect(usage.ecsTasks.map((t) => t.tier)).toEqual(["small"]);
    expect(usage.snsPublishes).toBe(1);
    // The series the helper sent, recomputed by its own code from the summary it returned: a successful run sends
    // none (RunFailed only on failure; the per-step and per-kind detail goes to the log), so no PutMetricData request.
    expect(metricData({ workflow: "demo", status: "SUCCEEDED" }, new Date(0))).toEqual([]);
    expect(usage.customMetricSeries).toBe(0);
    expect(usage.putMetricDataRequests).toBe(0);
    expect(usage.s3Requests).toBeNull();

    expect(record.estimated_cost).toEqual(estimateRunCost(usage));
    expect(record.estimated_cost.parts.fargate_usd).toBeCloseTo(fargateTaskCost(tierByName("small"), 60), 7);
    expect(record.estimated_fargate_cost_usd).toBe(record.estimated_cost.parts.fargate_usd);
    expect(record.estimated_cost.parts.s3_requests_usd).toBeNull();
    expect(record.estimated_cost.parts.cloudwatch_usd).toBe(0);
  });

  it("GIVEN a step refused once by RunTask, failed and entered again, and a Map of two items WHEN priced THEN a transition per state entered and per Retry, and Fargate only for tasks that started", async () => {
    // Prepare → Work (RunTask refuses: no capacity; its Retry; the task exits 1: caught) → Why? → Work again
    // (succeeds) → Items (a Map: Each, once per item) → Done.
    const machine = {
      StartAt: "Prepare",
      States: {
        Prepare: { Type: "Pass", Next: "Work" },
        Work: {
          Type: "Task",
          Resource: "arn:aws:states:::ecs:runTask.sync",
          Parameters: MACHINE.States.Extract.Parameters,
          Retry: [{ ErrorEquals: ["AmazonECS.Unknown"], IntervalSeconds: 1, MaxAttempts: 2 }],
          Catch: [{ ErrorEquals: ["States.TaskFailed"], ResultPath: "$.error", Next: "Why?" }],
          ResultPath: "$.work",
          Next: "Items",
        },
        "Why?": { Type: "Choice", Choices: [{ Variable: "$.error.Error", StringEquals: "never", Next: "Done" }], Default: "Work" },
        Items: { Type: "Map", ItemsPath: "$.items", ItemProcessor: { StartAt: "Each", States: { Each: { Type: "Pass", End: true } } }, ResultPath: null, Next: "Done" },
        Done: { Type: "Succeed" },
      },
    } as unknown as AslDefinition;
    const recorder = new RunRecorder({ id: "run-transitions", runDir: "/nonexistent/run-transitions", definitions: { demo: machine } });
    const history = new HistoryWriter(machine, (event) => recorder.onHistory("demo-1", "demo", event));
    const answers = [
      () => Promise.reject(Object.assign(new Error(JSON.stringify({ Failures: [{ Reason: "Capacity is unavailable at this time" }], Tasks: [] })), { name: "AmazonECS.Unknown" })),
      () => Promise.reject(Object.assign(new Error(JSON.stringify({ StoppedReason: "Essential container in task exited", Containers: [{ ExitCode: 1 }] })), { name: "States.TaskFailed" })),
      () => Promise.resolve({}),
    ];
    const sm = new StateMachine(machine as never, { validationOptions: { checkArn: false } });
    const execution = sm.run({ items: [1, 2] } as never, {
      overrides: {
        retryIntervalOverrides: { Work: 0 },
        taskResourceLocalHandlers: {
          Work: (input: unknown) => {
            history.scheduled("Work", input);
            return answers.shift()!();
          },
        } as never,
      },
    });
    for await (const event of execution.eventLogs) history.push(event as InterpreterEvent);
    await execution.result;

    const record = recorder.record();
    expect(record.status).toBe("SUCCEEDED");
    const usage = runUsage(record);
    // Entered: Prepare, Work, Why?, Work, Items, Each × 2, Done = 8; Work's Retry after the refusal = 1.
    expect(usage.stateTransitions).toBe(9);
    // The same count straight from the history, as Step Functions bills it: every state entered, every Retry (a
    // task scheduled again without the state being entered again).
    const entered = record.history.filter((e) => e.type.endsWith("StateEntered")).length;
    const retries = record.history.filter((e, i, all) => e.type === "TaskScheduled" && all.slice(0, i).findLast((p) => p.type.endsWith("StateEntered") || p.type === "TaskScheduled")?.type === "TaskScheduled").length;
    expect(entered + retries).toBe(9);
    // RunTask's refusal started no task: Fargate bills the failed task and the one that succeeded.
    expect(usage.ecsTasks).toHaveLength(2);
    expect(record.states.filter((v) => v.name === "Work").flatMap((v) => v.attempts.map((a) => a.error))).toEqual(["AmazonECS.Unknown", "States.TaskFailed", null]);
  });

  it("GIVEN ECS attempts WHEN asked whether each started a task THEN not those RunTask refused (capacity, throttling), all the others", () => {
    for (const error of ["AmazonECS.Unknown", "ECS.AmazonECSException", "ECS.ThrottlingException"]) expect(ecsTaskStarted({ error }), error).toBe(false);
    for (const error of [null, "States.TaskFailed", "States.Timeout"]) expect(ecsTaskStarted({ error }), String(error)).toBe(true);
  });

  it("GIVEN a failed run's Metrics visit WHEN priced THEN one PutMetricData request and one hour of RunFailed", () => {
    const definition = { StartAt: METRICS_FAILED, States: { [METRICS_FAILED]: MACHINE.States.Metrics } };
    const usage = runUsage({
      workflow: "ski-atlas",
      definition,
      history: [],
      states: [{ name: METRICS_FAILED, type: "Task", output: { metrics: SUMMARY }, attempts: [{ tier: null, duration_ms: 300, status: "SUCCEEDED" }] }] as never,
    });
    expect(usage.putMetricDataRequests).toBe(1);
    expect(usage.customMetricSeries).toBe(1);
    expect(estimateRunCost(usage).parts.cloudwatch_usd).toBeCloseTo(AWS_PRICES.cloudWatch.perPutMetricDataRequest + AWS_PRICES.cloudWatch.perCustomMetricHour, 7);
  });

  it("GIVEN a successful run's Metrics visit whose summary names the workflow's metrics WHEN priced THEN each named metric is a series, sent in one request", () => {
    const definition = { StartAt: "Metrics", States: { Metrics: MACHINE.States.Metrics } };
    const summary: MetricsSummary = { ...SUMMARY, named: { RecordsIngested: 10, IngestionErrors: 0 } };
    const usage = runUsage({
      workflow: "weather",
      definition,
      history: [],
      states: [{ name: "Metrics", type: "Task", output: { metrics: summary }, attempts: [{ tier: null, duration_ms: 300, status: "SUCCEEDED" }] }] as never,
    });
    expect(usage.customMetricSeries).toBe(2);
    expect(usage.putMetricDataRequests).toBe(1);
    expect(estimateRunCost(usage).parts.cloudwatch_usd).toBeCloseTo(0.00001 + (2 * 0.3) / 730, 7);
  });

  it("GIVEN the failed and succeeded regions of a fan-out WHEN their series-hours are shared THEN each distinct series-hour is paid once, split among the failed regions that sent it", () => {
    const definition = { StartAt: "Metrics", States: { Metrics: MACHINE.States.Metrics, [METRICS_FAILED]: MACHINE.States.Metrics } };
    const region = (hour: string, { failed = true, retried = false } = {}) => {
      const attempt = (n: number) => ({ number: n, started_at: `2026-12-01T${hour}:${10 + n}:00.000Z`, tier: null, duration_ms: 300, status: "SUCCEEDED" });
      const o = {
        workflow: "ski-atlas",
        definition,
        history: [],
        states: [{ name: failed ? METRICS_FAILED : "Metrics", type: "Task", entered_at: `2026-12-01T${hour}:10:00.000Z`, output: { metrics: SUMMARY }, attempts: retried ? [attempt(1), attempt(2)] : [attempt(1)] }] as never,
      };
      return { ...o, estimated_cost: estimateRunCost(runUsage(o)) };
    };
    // Three failed regions' Metrics in the 06:00 hour (one of them sent twice: the same series-hour), one at 07:00,
    // and a region that succeeded in the 06:00 hour: it sent nothing, so it pays no share.
    const regions = [region("06"), region("06", { retried: true }), region("06"), region("07"), region("06", { failed: false })];
    expect(metricSeriesHours(regions[1])).toEqual(["RunFailed|Workflow=ski-atlas@2026-12-01T06"]);
    expect(metricSeriesHours(regions[4])).toEqual([]);
    expect(regions.map((r) => r.estimated_cost.usage.custom_metric_series)).toEqual([1, 1, 1, 1, 0]);
    expect(regions.map((r) => r.estimated_cost.usage.put_metric_data_requests)).toEqual([1, 2, 1, 1, 0]);
    const hour = AWS_PRICES.cloudWatch.perCustomMetricHour;
    const shared = withSharedMetricSeries(regions);
    // Alone, each would pay the hour; together the 06:00 hour is split three ways, the 07:00 one is the fourth region's.
    expect(shared.map((e, i) => regions[i].estimated_cost.parts.cloudwatch_usd - e.parts.cloudwatch_usd)).toEqual(
      [(2 / 3) * hour, (2 / 3) * hour, (2 / 3) * hour, 0, 0].map((x) => expect.closeTo(x, 7)),
    );
    expect(shared[4].parts.cloudwatch_usd).toBe(0);
    const total = addRunCosts(shared);
    expect(total.parts.cloudwatch_usd).toBeCloseTo(5 * AWS_PRICES.cloudWatch.perPutMetricDataRequest + 2 * hour, 6);
    expect(total.total_usd).toBeCloseTo(addRunCosts(regions.map((r) => r.estimated_cost)).total_usd - 2 * hour, 6);
  });

  it("GIVEN a record without its definition (as AWS may return one) WHEN priced THEN ECS attempts are known by their tier and Lambdas by the history", () => {
    const usage = runUsage({
      definition: null,
      states: [
        { name: "Plan", type: "Task", attempts: [{ tier: null, duration_ms: 200 }] },
        { name: "Analyze", type: "Task", attempts: [{ tier: "medium", duration_ms: 5000, status: "FAILED" }, { tier: "large", duration_ms: 70_000 }] },
      ] as never,
      history: [{ id: 1, timestamp: "2026-12-01T00:00:00Z", type: "TaskScheduled", taskScheduledEventDetails: { resourceType: "lambda", resource: "invoke" } }],
    });
    expect(usage.ecsTasks).toEqual([
      { tier: "medium", size: tierByName("medium"), seconds: 5 },
      { tier: "large", size: tierByName("large"), seconds: 70 },
    ]);
    expect(usage.lambdaInvocations).toHaveLength(1);
    expect(usage.stateTransitions).toBe(3);
  });

  it("GIVEN the tiers in code WHEN the run record schema names an attempt's tier THEN it allows exactly those (and null)", () => {
    const schema = JSON.parse(readFileSync(new URL("../docs/run-record.schema.json", import.meta.url), "utf8"));
    const text = JSON.stringify(schema);
    const enums = [...text.matchAll(/"tier":\{"enum":(\[[^\]]*\])/g)].map((m) => JSON.parse(m[1]));
    expect(enums.length).toBeGreaterThan(0);
    for (const e of enums) expect(e).toEqual([...TIER_NAMES, null]);
  });
});
