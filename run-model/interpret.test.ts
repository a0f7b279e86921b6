import { describe, expect, it } from "vitest";
import { interpretHistory, RunInterpreter, stateSummaries } from "./interpret.ts";
import { STATE_NAMES } from "./state-names.ts";
import { History, stoppedTask } from "./testing/history-builder.ts";

/**
 * The one reader of an execution history (run-model/interpret.ts), on histories shaped as Step Functions writes
 * them: the step that failed a run, attempts numbered across a step's visits, the tier of each attempt.
 */
const stopped = stoppedTask;
const OOM = stopped(137, "OutOfMemoryError: Container killed due to memory usage");
const EXIT_65 = stopped(65);
const plan = (tier: string, nextTier: string) => ({ task: { step: "extract", state: "Extract", tier, nextTier, index: 1, retries: 0, maxRetries: 3, retryWaitSeconds: 60, escalates: true } });

/** Extract killed out of memory on small, run again on medium (a second visit of the one Task state). */
function escalated(): History {
  return new History()
    .add(0, "ExecutionStarted", { input: "{}" })
    .through(0, "Pass", STATE_NAMES.pickTier("extract"))
    .enter(1, "Task", "Extract", plan("small", "medium"))
    .ecs(1, "small", { cause: OOM, after: 10 })
    .exit(11, "Task", "Extract")
    .through(11, "Choice", STATE_NAMES.whyDidItFail)
    .through(11, "Pass", STATE_NAMES.escalate, plan("small", "medium"))
    .through(11, "Choice", STATE_NAMES.runAgain)
    .through(11, "Pass", STATE_NAMES.pickTier("extract"))
    .enter(12, "Task", "Extract", plan("medium", "large"));
}

describe("the run model", () => {
  it("GIVEN a step run again one tier up WHEN read THEN its attempts are numbered 1..N across its visits, each with its tier, and progress says escalated", () => {
    const interpreter = new RunInterpreter({ execution: "e1" });
    const progress = escalated()
      .ecs(12, "medium", { after: 30 })
      .exit(42, "Task", "Extract")
      .add(43, "ExecutionSucceeded", { output: "{}" })
      .events.flatMap((e) => interpreter.push(e));
    const model = interpreter.model();
    expect(model.visits.filter((v) => v.name === "Extract").map((v) => [v.status, v.attempts.map((a) => [a.number, a.status, a.tier])])).toEqual([
      ["CAUGHT", [[1, "FAILED", "small"]]],
      ["SUCCEEDED", [[2, "SUCCEEDED", "medium"]]],
    ]);
    expect(progress.filter((p) => p.kind === "tier-escalated")).toEqual([expect.objectContaining({ state: "Extract", detail: "small to medium" })]);
    expect(progress.filter((p) => p.kind === "state-started").map((p) => "attempt" in p && [p.attempt, p.tier])).toEqual([
      [1, "small"],
      [2, "medium"],
    ]);
    expect(stateSummaries(model, "e1").find((s) => s.name === "Extract")).toMatchObject({ status: "SUCCEEDED", attempts: 2, tier: "medium" });
    expect(model.failure).toBeNull();
  });

  it("GIVEN a step that fails the run and a failure-path step that fails after it WHEN read THEN the step, not the later one, failed the run", () => {
    const metricsFailure = JSON.stringify({ errorType: "ServiceException", errorMessage: "Rate exceeded" });
    const history = new History()
      .add(0, "ExecutionStarted", { input: "{}" })
      .enter(1, "Task", "Analyze")
      .ecs(1, "small", { cause: EXIT_65, after: 2 })
      .exit(3, "Task", "Analyze")
      .through(3, "Choice", STATE_NAMES.whyDidItFail)
      .enter(4, "Task", STATE_NAMES.metricsFailed)
      .add(4, "TaskScheduled", { resourceType: "lambda", resource: "invoke", region: "eu-west-1", parameters: "{}" })
      .add(5, "TaskFailed", { resourceType: "lambda", resource: "invoke", error: "Lambda.ServiceException", cause: metricsFailure })
      .exit(5, "Task", STATE_NAMES.metricsFailed)
      .through(6, "Fail", "Failed")
      .add(6, "ExecutionFailed", { error: "States.TaskFailed", cause: EXIT_65 });
    const model = interpretHistory(history.events);
    expect(model.status).toBe("FAILED");
    expect(model.failure).toEqual({ state: "Analyze", error: "States.TaskFailed", cause: EXIT_65, line: "Analyze: exit 65 (bad input data); Essential container in task exited" });
  });

  it("GIVEN the local runner's note of a failed attempt WHEN read THEN its own error: line is what the step said", () => {
    const history = new History()
      .add(0, "ExecutionStarted", { input: "{}" })
      .enter(1, "Task", "Analyze")
      .ecs(1, "small", { cause: EXIT_65, after: 2 })
      .exit(3, "Task", "Analyze")
      .add(4, "ExecutionFailed", { error: "States.TaskFailed", cause: EXIT_65 });
    const model = interpretHistory(history.events, { notes: [{ state: "Analyze", peak_rss_bytes: 1024, log_file: "analyze/attempt-1.log", message: "extract.osm.pbf holds no ski areas" }] });
    expect(model.failure?.line).toBe("Analyze: extract.osm.pbf holds no ski areas");
    expect(model.visits[0].attempts[0]).toMatchObject({ peak_rss_bytes: 1024, log_file: "analyze/attempt-1.log" });
  });

  it("GIVEN a Plan that rejects its input WHEN read THEN the line names Plan and the Lambda's own words", () => {
    const cause = JSON.stringify({ errorType: "InvalidInputError", errorMessage: 'unknown region "atlantis"' });
    const history = new History()
      .add(0, "ExecutionStarted", { input: "{}" })
      .enter(1, "Task", "Plan")
      .add(1, "TaskScheduled", { resourceType: "lambda", resource: "invoke", region: "eu-west-1", parameters: "{}" })
      .add(2, "TaskFailed", { resourceType: "lambda", resource: "invoke", error: "InvalidInputError", cause })
      .exit(2, "Task", "Plan")
      .add(3, "ExecutionFailed", { error: "InvalidInputError", cause });
    expect(interpretHistory(history.events).failure?.line).toBe('Plan: InvalidInputError: unknown region "atlantis"');
  });

  it("GIVEN an execution that times out or is stopped WHEN read THEN no step is blamed and the open step ends with it", () => {
    const timedOut = escalated().add(3600, "ExecutionTimedOut", { error: "States.Timeout", cause: "the execution's TimeoutSeconds elapsed" });
    const model = interpretHistory(timedOut.events);
    expect(model.failure).toEqual({ state: null, error: "States.Timeout", cause: "the execution's TimeoutSeconds elapsed", line: "States.Timeout: the execution's TimeoutSeconds elapsed" });
    expect(model.visits.at(-1)).toMatchObject({ name: "Extract", status: "TIMED_OUT" });
    const aborted = interpretHistory(escalated().add(20, "ExecutionAborted", { error: "Interrupted", cause: "Ctrl-C" }).events);
    expect(aborted).toMatchObject({ status: "ABORTED", outcome: "ABORTED", failure: { state: null, line: "aborted: the run was interrupted" } });
  });

  it("GIVEN a cause-matched retry WHEN read event by event THEN retrying names the step, its next attempt and the failure's sentence", () => {
    const exit75 = stopped(75);
    const interpreter = new RunInterpreter({ execution: "e1", waitMs: 10 });
    const events = new History()
      .enter(0, "Task", "Extract", plan("small", "medium"))
      .ecs(0, "small", { cause: exit75, after: 5 })
      .exit(5, "Task", "Extract")
      .through(5, "Choice", STATE_NAMES.whyDidItFail)
      .enter(5, "Wait", STATE_NAMES.waitBeforeRetry, plan("small", "medium"))
      .events.flatMap((e) => interpreter.push(e));
    // The engine replaces the wait (waitMs); on AWS the step's policy says how long ($.task.retryWaitSeconds).
    expect(events.at(-1)).toMatchObject({ kind: "retrying", state: "Extract", attempt: 2, waitMs: 10, error: "exit 75 (temporary failure); Essential container in task exited" });
  });
});
