import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  ListStateMachinesCommand,
  SFNClient,
  SFNServiceException,
  StartExecutionCommand,
  type GetExecutionHistoryCommandInput,
  type HistoryEvent,
  type HistoryEventType,
} from "@aws-sdk/client-sfn";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import type { ProgressEvent } from "../run-model/progress-events.ts";
import { findStateMachineArn, historyToProgress, startAndFollow, type AwsRunOptions } from "./aws-follow.ts";

const sfn = mockClient(SFNClient);
const client = new SFNClient({ region: "eu-west-1", credentials: { accessKeyId: "test", secretAccessKey: "test" } });

const MACHINE_ARN = "arn:aws:states:eu-west-1:123456789012:stateMachine:skiatlasStateMachine8AE2B847-AbC123";
const EXECUTION_ARN = "arn:aws:states:eu-west-1:123456789012:execution:skiatlasStateMachine8AE2B847-AbC123:run-1";
const T0 = Date.parse("2026-03-01T06:00:00Z");
const at = (seconds: number) => T0 + seconds * 1000;

// As Fargate reports an out-of-memory kill (DescribeTasks): the reason is the container's, not the task's.
const OOM_CAUSE = JSON.stringify({ StoppedReason: "Essential container in task exited", Containers: [{ ExitCode: 137, Reason: "OutOfMemoryError: Container killed due to memory usage" }] });
const ECS_EXIT_65 = JSON.stringify({ StoppedReason: "Essential container in task exited", Containers: [{ ExitCode: 65 }] });
const LAMBDA_CAUSE = JSON.stringify({ errorType: "Lambda.ServiceException", errorMessage: "Rate exceeded" });

/** Builds a history the way Step Functions numbers it: ids from 1, each event pointing at the one before. */
class History {
  readonly events: HistoryEvent[] = [];

  add(seconds: number, type: string, extra: Partial<HistoryEvent> = {}, previousEventId?: number): this {
    const id = this.events.length + 1;
    this.events.push({ id, previousEventId: previousEventId ?? id - 1, timestamp: new Date(at(seconds)), type: type as HistoryEventType, ...extra });
    return this;
  }
  enter(seconds: number, type: string, name: string, previousEventId?: number, input: unknown = {}): this {
    return this.add(seconds, `${type}StateEntered`, { stateEnteredEventDetails: { name, input: JSON.stringify(input) } }, previousEventId);
  }
  /** An ECS attempt scheduled with RunTask's overrides for a tier (what the machine passes: workflows/compile.ts). */
  scheduleOn(seconds: number, tier: string): this {
    const parameters = { Overrides: { ContainerOverrides: [{ Name: "ski-atlas", Environment: [{ Name: "ATLAS_TIER", Value: tier }] }] } };
    return this.add(seconds, "TaskScheduled", { taskScheduledEventDetails: { resourceType: "ecs", resource: "runTask.sync", region: "eu-west-1", parameters: JSON.stringify(parameters) } });
  }
  exit(seconds: number, type: string, name: string): this {
    return this.add(seconds, `${type}StateExited`, { stateExitedEventDetails: { name, output: "{}" } });
  }
  /** Enter and leave a state that does no work (Pass, Choice). */
  through(seconds: number, type: string, name: string): this {
    return this.enter(seconds, type, name).exit(seconds, type, name);
  }
  taskFailed(seconds: number, error: string, cause: string): this {
    return this.add(seconds, "TaskFailed", { taskFailedEventDetails: { resourceType: "ecs", resource: "runTask.sync", error, cause } });
  }
  get lastId(): number {
    return this.events.length;
  }
}

/** `$.task` as a container step's "pick tier" state writes it (run-model/state-names.ts `TaskAttemptPlan`). */
const taskPlan = (tier: string, nextTier: string) => ({
  task: { step: "extract", state: "Extract", index: 1, tier, nextTier, timeoutSeconds: 1800, retries: 0, maxRetries: 3, retryWaitSeconds: 60, escalates: true },
});

/** A ski-atlas run: Plan retried once by its Retry, Extract killed out of memory on small and run again on medium. */
function successfulHistory(): History {
  return new History()
    .add(0, "ExecutionStarted", { executionStartedEventDetails: { input: '{"region":"andorra"}' } })
    .through(0, "Pass", "Initialize")
    .enter(1, "Task", "Plan")
    .add(1, "TaskScheduled")
    .add(1, "TaskStarted")
    .add(2, "TaskFailed", { taskFailedEventDetails: { resourceType: "lambda", resource: "invoke", error: "Lambda.ServiceException", cause: LAMBDA_CAUSE } })
    .add(4, "TaskScheduled")
    .add(4, "TaskStarted")
    .add(6, "TaskSucceeded")
    .exit(6, "Task", "Plan")
    .through(7, "Pass", "Extract: pick tier")
    .enter(8, "Task", "Extract", undefined, taskPlan("small", "medium"))
    .scheduleOn(8, "small")
    .add(8, "TaskStarted")
    .add(9, "TaskSubmitted")
    .taskFailed(20, "States.TaskFailed", OOM_CAUSE)
    .exit(20, "Task", "Extract")
    .through(21, "Choice", "Why did it fail?")
    .enter(21, "Pass", "Escalate tier", undefined, taskPlan("small", "medium"))
    .exit(21, "Pass", "Escalate tier")
    .through(21, "Choice", "Run the step again")
    .through(21, "Pass", "Extract: pick tier")
    .enter(22, "Task", "Extract", undefined, taskPlan("medium", "large"))
    .scheduleOn(22, "medium")
    .add(22, "TaskStarted")
    .add(23, "TaskSubmitted")
    .add(52, "TaskSucceeded")
    .exit(52, "Task", "Extract")
    .through(53, "Succeed", "Succeeded")
    .add(53, "ExecutionSucceeded", { executionSucceededEventDetails: { output: '{"counts":{"resorts":3}}' } });
}

/** The one sentence for a Cause (run-model/causes.ts), as every reader gives it. */
const OOM_LINE = "exit 137 (out of memory); OutOfMemoryError: Container killed due to memory usage; Essential container in task exited";
const EXIT_65_LINE = "exit 65 (bad input data); Essential container in task exited";

const EXPECTED_SUCCESS_EVENTS: ProgressEvent[] = [
  { kind: "execution-started", execution: "run-1", time: at(0), machine: "ski-atlas" },
  { kind: "state-started", execution: "run-1", time: at(1), state: "Plan", type: "Task", attempt: 1 },
  { kind: "state-failed", execution: "run-1", time: at(2), state: "Plan", type: "Task", error: "Lambda.ServiceException: Rate exceeded" },
  { kind: "retrying", execution: "run-1", time: at(4), state: "Plan", attempt: 2, waitMs: 2000, error: "Lambda.ServiceException: Rate exceeded" },
  { kind: "state-started", execution: "run-1", time: at(4), state: "Plan", type: "Task", attempt: 2 },
  { kind: "state-succeeded", execution: "run-1", time: at(6), state: "Plan", type: "Task", durationMs: 2000 },
  { kind: "state-started", execution: "run-1", time: at(8), state: "Extract", type: "Task", attempt: 1, tier: "small" },
  { kind: "state-failed", execution: "run-1", time: at(20), state: "Extract", type: "Task", error: OOM_LINE },
  { kind: "tier-escalated", execution: "run-1", time: at(21), state: "Extract", detail: "small to medium" },
  // The same Task state again, one tier up: its second attempt.
  { kind: "state-started", execution: "run-1", time: at(22), state: "Extract", type: "Task", attempt: 2, tier: "medium" },
  { kind: "state-succeeded", execution: "run-1", time: at(52), state: "Extract", type: "Task", durationMs: 30_000, tier: "medium" },
  { kind: "execution-finished", execution: "run-1", time: at(53), machine: "ski-atlas", status: "SUCCEEDED", durationMs: 53_000 },
];

function run(overrides: Partial<AwsRunOptions> = {}) {
  const events: ProgressEvent[] = [];
  const result = startAndFollow({
    client,
    stateMachineArn: MACHINE_ARN,
    input: { region: "andorra" },
    machine: "ski-atlas",
    pollMs: 1,
    onEvent: (e) => events.push(e),
    ...overrides,
  });
  return { events, result };
}

const historyCalls = () => sfn.commandCalls(GetExecutionHistoryCommand).map((c) => c.args[0].input as GetExecutionHistoryCommandInput);

beforeEach(() => {
  sfn.reset();
  sfn.on(StartExecutionCommand).resolves({ executionArn: EXECUTION_ARN, startDate: new Date(at(0)) });
});

describe("startAndFollow", () => {
  it("GIVEN a run that retries Plan and escalates Extract WHEN followed THEN emits the progress in order and returns the result", async () => {
    const full = successfulHistory().events;
    sfn
      .on(DescribeExecutionCommand)
      .resolvesOnce({ executionArn: EXECUTION_ARN, status: "RUNNING", startDate: new Date(at(0)) })
      .resolves({
        executionArn: EXECUTION_ARN,
        status: "SUCCEEDED",
        startDate: new Date(at(0)),
        stopDate: new Date(at(53)),
        output: '{"counts":{"resorts":3}}',
      });
    // First poll: the run is half way (up to Extract's OOM). Second poll: the whole history again, from event 1.
    const halfWay = full.findIndex((e) => e.type === "TaskFailed" && e.taskFailedEventDetails?.error === "States.TaskFailed") + 1;
    sfn.on(GetExecutionHistoryCommand).resolvesOnce({ events: full.slice(0, halfWay) }).resolves({ events: full });

    const { events, result } = run({ name: "run-1" });

    expect(events).toEqual([]); // nothing is reported before the execution is polled
    const done = await result;
    expect(events).toEqual(EXPECTED_SUCCESS_EVENTS);
    expect(done).toEqual({
      executionArn: EXECUTION_ARN,
      status: "SUCCEEDED",
      output: { counts: { resorts: 3 } },
      startedAt: at(0),
      stoppedAt: at(53),
      states: expect.any(Array),
    });
    // One row per state: Extract's two attempts (small, then medium) under its one name.
    expect(done.states.map((s) => [s.name, s.status, s.attempts, s.duration_ms, s.tier ?? null])).toEqual([
      ["Initialize", "SUCCEEDED", 1, 0, null],
      ["Plan", "SUCCEEDED", 2, 3000, null],
      ["Extract: pick tier", "SUCCEEDED", 2, 0, null],
      ["Extract", "SUCCEEDED", 2, 42_000, "medium"],
      ["Why did it fail?", "SUCCEEDED", 1, 0, null],
      ["Escalate tier", "SUCCEEDED", 1, 0, null],
      ["Run the step again", "SUCCEEDED", 1, 0, null],
      ["Succeeded", "SUCCEEDED", 1, 0, null],
    ]);
    const start = sfn.commandCalls(StartExecutionCommand);
    expect(start).toHaveLength(1);
    expect(start[0].args[0].input).toEqual({ stateMachineArn: MACHINE_ARN, input: '{"region":"andorra"}', name: "run-1" });
    expect(historyCalls().map((c) => c.executionArn)).toEqual([EXECUTION_ARN, EXECUTION_ARN]);
  });

  it("GIVEN a run whose Extract task exits 65 WHEN followed THEN the result is FAILED and the error is the ECS cause on one line", async () => {
    const history = new History()
      .add(0, "ExecutionStarted", { executionStartedEventDetails: { input: "{}" } })
      .through(0, "Pass", "Initialize")
      .through(1, "Pass", "Extract: pick tier")
      .enter(2, "Task", "Extract")
      .scheduleOn(2, "small")
      .add(2, "TaskStarted")
      .add(3, "TaskSubmitted")
      .taskFailed(30, "States.TaskFailed", ECS_EXIT_65)
      .exit(30, "Task", "Extract")
      .through(31, "Choice", "Why did it fail?")
      .enter(31, "Task", "Metrics (failed run)")
      .add(31, "TaskScheduled")
      .add(31, "TaskStarted")
      .add(32, "TaskSucceeded")
      .exit(32, "Task", "Metrics (failed run)")
      .enter(33, "Fail", "Failed")
      .add(33, "ExecutionFailed", { executionFailedEventDetails: { error: "States.TaskFailed", cause: ECS_EXIT_65 } });
    sfn.on(DescribeExecutionCommand).resolves({
      executionArn: EXECUTION_ARN,
      status: "FAILED",
      startDate: new Date(at(0)),
      stopDate: new Date(at(33)),
      error: "States.TaskFailed",
      cause: ECS_EXIT_65,
    });
    sfn.on(GetExecutionHistoryCommand).resolves({ events: history.events });

    const { events, result } = run();
    const done = await result;

    expect(done.status).toBe("FAILED");
    expect(done.error).toBe("States.TaskFailed");
    expect(done.cause).toBe(ECS_EXIT_65);
    expect(done.output).toBeUndefined();
    expect(done.stoppedAt - done.startedAt).toBe(33_000);
    expect(events.filter((e) => e.kind === "state-failed")).toEqual([
      { kind: "state-failed", execution: "run-1", time: at(30), state: "Extract", type: "Task", error: EXIT_65_LINE },
    ]);
    expect(events.at(-1)).toEqual({
      kind: "execution-finished",
      execution: "run-1",
      time: at(33),
      machine: "ski-atlas",
      status: "FAILED",
      // Which step failed, and what it said: the run model's one rule (run-model/interpret.ts).
      error: `Extract: ${EXIT_65_LINE}`,
      durationMs: 33_000,
    });
    expect(done.states.map((s) => [s.name, s.status])).toEqual([
      ["Initialize", "SUCCEEDED"],
      ["Extract: pick tier", "SUCCEEDED"],
      ["Extract", "CAUGHT"],
      ["Why did it fail?", "SUCCEEDED"],
      ["Metrics (failed run)", "SUCCEEDED"],
      ["Failed", "FAILED"],
    ]);
  });

  it("GIVEN a history paginated over two polls WHEN followed THEN the nextToken is passed on and no event is reported twice", async () => {
    const history = new History()
      .add(0, "ExecutionStarted", { executionStartedEventDetails: { input: "{}" } }) // 1
      .enter(1, "Task", "Plan") // 2
      .add(1, "TaskScheduled") // 3
      .add(2, "TaskSucceeded") // 4
      .exit(2, "Task", "Plan") // 5
      .through(3, "Succeed", "Succeeded") // 6, 7
      .add(3, "ExecutionSucceeded", { executionSucceededEventDetails: { output: "{}" } }); // 8
    const all = history.events;
    const timeline: string[] = [];
    sfn
      .on(DescribeExecutionCommand)
      .resolvesOnce({ status: "RUNNING" })
      .resolvesOnce({ status: "RUNNING" })
      .resolves({ status: "SUCCEEDED", startDate: new Date(at(0)), stopDate: new Date(at(3)), output: "{}" });
    let calls = 0;
    sfn.on(GetExecutionHistoryCommand).callsFake((input: GetExecutionHistoryCommandInput) => {
      calls += 1;
      timeline.push(`history ${input.nextToken ?? "(start)"}`);
      if (calls === 1) return { events: all.slice(0, 3), nextToken: "page-2" }; // poll 1: first page
      if (calls === 2) return { events: all.slice(3, 5) }; // poll 2: the rest so far, no more token
      return { events: all }; // poll 3: from the start again, now finished
    });

    const { events, result } = run({ onEvent: (e) => timeline.push(`${e.kind} ${"state" in e ? e.state : ""}`.trim()) });
    await result;

    expect(events).toEqual([]); // onEvent was replaced: everything went to the timeline
    expect(historyCalls().map((c) => c.nextToken)).toEqual([undefined, "page-2", undefined]);
    expect(timeline).toEqual([
      "history (start)",
      "execution-started",
      "state-started Plan",
      "history page-2",
      "state-succeeded Plan",
      "history (start)",
      "execution-finished",
    ]);
  });

  it("GIVEN Step Functions throttles the polls WHEN followed THEN it backs off and still returns the result", async () => {
    const throttled = () =>
      new SFNServiceException({ name: "ThrottlingException", $fault: "client", $metadata: { httpStatusCode: 400 }, message: "Rate exceeded" });
    const history = new History()
      .add(0, "ExecutionStarted", { executionStartedEventDetails: { input: "{}" } })
      .add(5, "ExecutionSucceeded", { executionSucceededEventDetails: { output: '{"ok":true}' } });
    sfn
      .on(DescribeExecutionCommand)
      .rejectsOnce(throttled())
      .resolves({ status: "SUCCEEDED", startDate: new Date(at(0)), stopDate: new Date(at(5)), output: '{"ok":true}' });
    sfn.on(GetExecutionHistoryCommand).rejectsOnce(throttled()).resolves({ events: history.events });

    const { events, result } = run();
    const done = await result;

    expect(done.status).toBe("SUCCEEDED");
    expect(done.output).toEqual({ ok: true });
    expect(sfn.commandCalls(DescribeExecutionCommand).length).toBe(3);
    expect(events.map((e) => e.kind)).toEqual(["execution-started", "execution-finished"]);
  });

  it("GIVEN a poll fails for another reason than throttling WHEN followed THEN the error is not swallowed", async () => {
    sfn.on(DescribeExecutionCommand).rejects(
      new SFNServiceException({ name: "AccessDeniedException", $fault: "client", $metadata: {}, message: "not authorized to DescribeExecution" }),
    );

    await expect(run().result).rejects.toThrow(/not authorized to DescribeExecution/);
  });

  it("GIVEN a cause-matched retry WHEN it waits THEN the retrying event names the step and says how long, from the step's retry policy in $.task", async () => {
    const history = new History()
      .add(0, "ExecutionStarted", { executionStartedEventDetails: { input: "{}" } })
      .enter(0, "Wait", "Wait before retry", undefined, taskPlan("small", "medium"))
      .exit(60, "Wait", "Wait before retry")
      .add(60, "ExecutionSucceeded", { executionSucceededEventDetails: { output: "{}" } });
    sfn.on(DescribeExecutionCommand).resolves({ status: "SUCCEEDED", startDate: new Date(at(0)), stopDate: new Date(at(60)), output: "{}" });
    sfn.on(GetExecutionHistoryCommand).resolves({ events: history.events });

    const { events, result } = run();
    await result;

    expect(events.find((e) => e.kind === "retrying")).toMatchObject({ state: "Extract", waitMs: 60_000 });
  });

  it("GIVEN an abort signal WHEN it fires while following THEN following stops with an AbortError", async () => {
    sfn.on(DescribeExecutionCommand).resolves({ status: "RUNNING" });
    sfn.on(GetExecutionHistoryCommand).resolves({ events: [] });
    const controller = new AbortController();

    const { result } = run({ signal: controller.signal, pollMs: 5 });
    setTimeout(() => controller.abort(), 30);

    await expect(result).rejects.toMatchObject({ name: "AbortError" });
  });
});

describe("historyToProgress", () => {
  it("GIVEN an execution ARN WHEN converting THEN the execution and machine names come from it", () => {
    const history = new History().add(0, "ExecutionStarted", { executionStartedEventDetails: { input: "{}" } });

    expect(historyToProgress(history.events, EXECUTION_ARN)).toEqual([
      { kind: "execution-started", execution: "run-1", time: at(0), machine: "skiatlasStateMachine8AE2B847-AbC123" },
    ]);
  });

  it("GIVEN a history WHEN converted whole or event by event THEN both give the same events (it can follow a growing history)", () => {
    const events = successfulHistory().events;

    const whole = historyToProgress(events, "run-1", { machine: "ski-atlas" });
    // Only prefixes: each longer history keeps what the shorter one gave and adds to the end.
    for (let n = 1; n <= events.length; n++) {
      const prefix = historyToProgress(events.slice(0, n), "run-1", { machine: "ski-atlas" });
      expect(whole.slice(0, prefix.length)).toEqual(prefix);
    }
    expect(whole).toEqual(EXPECTED_SUCCESS_EVENTS);
  });

  it("GIVEN a fan-out that succeeded WHEN its digest says PARTIAL THEN the headline says partial with the failed region and cause", () => {
    const digest = {
      status: "PARTIAL",
      subject: "[atlas] ski-atlas-monthly 2026-11 PARTIAL (1/2 regions ok)",
      failed: [{ region: "iceland", cause: "extract: exit 137 (out of memory)" }],
    };
    const history = new History()
      .add(0, "ExecutionStarted", { executionStartedEventDetails: { input: "{}" } })
      .add(60, "ExecutionSucceeded", { executionSucceededEventDetails: { output: JSON.stringify({ digest }) } });
    expect(historyToProgress(history.events, "m1", { machine: "ski-atlas-monthly" }).at(-1)).toMatchObject({
      kind: "execution-finished",
      status: "PARTIAL",
      error: "ski-atlas-monthly 2026-11 PARTIAL (1/2 regions ok); failed: iceland: extract: exit 137 (out of memory)",
    });
  });

  it("GIVEN a task whose own Retry fires WHEN converting THEN the second TaskScheduled is the next attempt, after a wait", () => {
    const history = new History()
      .enter(0, "Task", "Download")
      .scheduleOn(0, "xsmall")
      .taskFailed(10, "States.TaskFailed", ECS_EXIT_65)
      .scheduleOn(40, "xsmall")
      .add(45, "TaskSucceeded")
      .exit(45, "Task", "Download");

    expect(historyToProgress(history.events, "e1").map(({ kind, ...rest }) => [kind, "attempt" in rest ? rest.attempt : undefined])).toEqual([
      ["state-started", 1],
      ["state-failed", undefined],
      ["retrying", 2],
      ["state-started", 2],
      ["state-succeeded", undefined],
    ]);
    expect(historyToProgress(history.events, "e1")[2]).toMatchObject({ waitMs: 30_000, error: EXIT_65_LINE });
  });

  it("GIVEN a cause-matched retry through the shared retry states WHEN converting THEN retrying names the step and its next attempt, on the same tier", () => {
    const exit75 = JSON.stringify({ StoppedReason: "Essential container in task exited", Containers: [{ ExitCode: 75 }] });
    const plan = { task: { ...taskPlan("large", "xlarge").task, retryWaitSeconds: 60 } };
    const history = new History()
      .through(0, "Pass", "Extract: pick tier")
      .enter(0, "Task", "Extract", undefined, plan)
      .scheduleOn(0, "large")
      .taskFailed(5, "States.TaskFailed", exit75)
      .exit(5, "Task", "Extract")
      .through(5, "Choice", "Why did it fail?")
      .enter(5, "Wait", "Wait before retry", undefined, plan)
      .exit(65, "Wait", "Wait before retry")
      .through(65, "Pass", "Count retry")
      .through(65, "Choice", "Run the step again")
      .through(65, "Pass", "Extract: pick tier")
      .enter(65, "Task", "Extract", undefined, plan)
      .scheduleOn(65, "large");

    const events = historyToProgress(history.events, "e1");

    expect(events.slice(2)).toEqual([
      { kind: "retrying", execution: "e1", time: at(5), state: "Extract", attempt: 2, waitMs: 60_000, error: "exit 75 (temporary failure); Essential container in task exited" },
      { kind: "state-started", execution: "e1", time: at(65), state: "Extract", type: "Task", attempt: 2, tier: "large" },
    ]);
  });

  it("GIVEN two Map iterations running the same state at once WHEN converting THEN neither is taken for a retry", () => {
    const h = new History().enter(0, "Map", "Regions").add(0, "MapStateStarted", { mapStateStartedEventDetails: { length: 2 } });
    const mapStarted = h.lastId;
    h.add(0, "MapIterationStarted", { mapIterationStartedEventDetails: { name: "Regions", index: 0 } }, mapStarted);
    const iteration0 = h.lastId;
    h.add(0, "MapIterationStarted", { mapIterationStartedEventDetails: { name: "Regions", index: 1 } }, mapStarted);
    const iteration1 = h.lastId;
    h.enter(1, "Task", "Regions: run ski-atlas", iteration0);
    h.add(1, "TaskScheduled");
    const task0 = h.lastId;
    h.enter(1, "Task", "Regions: run ski-atlas", iteration1);
    h.add(1, "TaskScheduled");
    const task1 = h.lastId;
    h.add(2, "TaskFailed", { taskFailedEventDetails: { resourceType: "states", resource: "startExecution.sync:2", error: "States.TaskFailed", cause: "child failed" } }, task1);
    h.add(3, "TaskStateExited", { stateExitedEventDetails: { name: "Regions: run ski-atlas" } }, task0);
    h.add(4, "TaskStateExited", { stateExitedEventDetails: { name: "Regions: run ski-atlas" } }, h.lastId - 1);
    h.add(4, "MapStateSucceeded");
    h.exit(4, "Map", "Regions");

    const events = historyToProgress(h.events, "e1");

    expect(events.map((e) => [e.kind, "state" in e ? e.state : "", "attempt" in e ? e.attempt : ""])).toEqual([
      ["state-started", "Regions", 1],
      ["state-started", "Regions: run ski-atlas", 1],
      ["state-started", "Regions: run ski-atlas", 1],
      ["state-failed", "Regions: run ski-atlas", ""],
      ["state-succeeded", "Regions: run ski-atlas", ""],
      ["state-succeeded", "Regions", ""],
    ]);
  });

  it("GIVEN an execution that times out during a task WHEN converting THEN the open task fails with it", () => {
    const history = new History()
      .add(0, "ExecutionStarted", { executionStartedEventDetails: { input: "{}" } })
      .enter(1, "Task", "Analyze")
      .scheduleOn(1, "xlarge")
      .add(3600, "ExecutionTimedOut", { executionTimedOutEventDetails: { error: "States.Timeout", cause: "execution timed out" } });

    expect(historyToProgress(history.events, "e1").slice(2)).toEqual([
      { kind: "state-failed", execution: "e1", time: at(3600), state: "Analyze", type: "Task", error: "States.Timeout: the execution timed out" },
      { kind: "execution-finished", execution: "e1", time: at(3600), machine: "", status: "TIMED_OUT", error: "States.Timeout: execution timed out", durationMs: 3_600_000 },
    ]);
  });
});

describe("findStateMachineArn", () => {
  const arn = (name: string) => `arn:aws:states:eu-west-1:123456789012:stateMachine:${name}`;
  beforeEach(() => {
    sfn
      .on(ListStateMachinesCommand)
      .callsFake((input: { nextToken?: string }) =>
        input.nextToken === "p2"
          ? {
              stateMachines: [
                { name: "skiatlasStateMachine8AE2B847-AbC123", stateMachineArn: arn("skiatlasStateMachine8AE2B847-AbC123"), type: "STANDARD", creationDate: new Date() },
                { name: "otherappStateMachine1234ABCD-x", stateMachineArn: arn("otherappStateMachine1234ABCD-x"), type: "STANDARD", creationDate: new Date() },
              ],
            }
          : {
              stateMachines: [
                { name: "skiatlasmonthlyStateMachine5F3C9A10-Def456", stateMachineArn: arn("skiatlasmonthlyStateMachine5F3C9A10-Def456"), type: "STANDARD", creationDate: new Date() },
                { name: "skiatlassizingStateMachine77AA0B1C-Ghi789", stateMachineArn: arn("skiatlassizingStateMachine77AA0B1C-Ghi789"), type: "STANDARD", creationDate: new Date() },
              ],
              nextToken: "p2",
            },
      );
  });

  it("GIVEN ski-atlas and ski-atlas-monthly machines over two pages WHEN looking up ski-atlas THEN only the exact one is picked", async () => {
    await expect(findStateMachineArn(client, "ski-atlas")).resolves.toBe(arn("skiatlasStateMachine8AE2B847-AbC123"));
    expect(sfn.commandCalls(ListStateMachinesCommand).map((c) => c.args[0].input.nextToken)).toEqual([undefined, "p2"]);
  });

  it("GIVEN the same listing WHEN looking up ski-atlas-monthly THEN the monthly machine is picked", async () => {
    await expect(findStateMachineArn(client, "ski-atlas-monthly")).resolves.toBe(arn("skiatlasmonthlyStateMachine5F3C9A10-Def456"));
  });

  it("GIVEN no machine for the workflow WHEN looking it up THEN a one-line error says to pass --state-machine-arn", async () => {
    const error = await findStateMachineArn(client, "ski-atlas-yearly").catch((e: Error) => e);

    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/skiatlasyearlyStateMachine.*--state-machine-arn/);
    expect((error as Error).message).not.toContain("\n");
  });

  it("GIVEN two stages deployed in one account WHEN looking up ski-atlas THEN it refuses to guess", async () => {
    sfn.on(ListStateMachinesCommand).resolves({
      stateMachines: [
        { name: "skiatlasStateMachine8AE2B847-AbC123", stateMachineArn: arn("skiatlasStateMachine8AE2B847-AbC123"), type: "STANDARD", creationDate: new Date() },
        { name: "skiatlasStateMachine8AE2B847-ZyX987", stateMachineArn: arn("skiatlasStateMachine8AE2B847-ZyX987"), type: "STANDARD", creationDate: new Date() },
      ],
    });

    await expect(findStateMachineArn(client, "ski-atlas")).rejects.toThrow(/2 state machines match.*--state-machine-arn/);
  });
});
