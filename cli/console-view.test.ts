import { describe, expect, it } from "vitest";
import { causeSentence } from "../run-model/causes.ts";
import { STATE_NAMES } from "../run-model/state-names.ts";
import { fanOutHistory } from "../run-model/testing/fan-out-history.ts";
import { History, stoppedTask } from "../run-model/testing/history-builder.ts";
import { buildRecord, type HistoryEventRecord } from "../run-records/record.ts";
import { runSummary } from "./console-server.ts";
import { runView } from "./console-view.ts";

/**
 * What the console shows of a run beyond its record, from records built the way both the local engine and `--aws`
 * build them (from an execution history): the failed state and its one sentence, each attempt's sentence, a
 * fan-out's named items with their counts, and the list's line.
 */
const EXIT_75 = stoppedTask(75, undefined, "analyze");
const plan = { task: { step: "analyze", state: "Analyze", tier: "small", index: 1, retries: 0, maxRetries: 3, retryWaitSeconds: 60, escalates: true } };

const record = (workflow: string, history: HistoryEventRecord[], children: Parameters<typeof buildRecord>[0]["children"] = []) =>
  buildRecord({ id: `run-${workflow}`, source: "aws", workflow, execution: { name: `${workflow}-exec`, arn: "arn:aws:states:eu-west-1:123456789012:execution:x:y" }, history, children });

/** Analyze fails with exit 75 four times (the first try and three cause-matched retries), then the run fails. */
function retriedThenFailed(): History {
  const h = new History().add(0, "ExecutionStarted", { input: JSON.stringify({ region: "andorra" }) });
  for (let k = 0; k < 4; k++) {
    const t = 1 + k * 10;
    h.through(t, "Pass", STATE_NAMES.pickTier("analyze"), plan).enter(t, "Task", "Analyze", plan).ecs(t, "small", { cause: EXIT_75, after: 2 }).exit(t + 2, "Task", "Analyze");
    h.through(t + 2, "Choice", STATE_NAMES.whyDidItFail, plan);
    if (k < 3) h.through(t + 2, "Wait", STATE_NAMES.waitBeforeRetry, plan).through(t + 3, "Pass", STATE_NAMES.countRetry).through(t + 3, "Choice", STATE_NAMES.runAgain);
  }
  return h.through(40, "Task", STATE_NAMES.notifyFailed).through(41, "Fail", STATE_NAMES.failed).add(41, "ExecutionFailed", { error: "States.TaskFailed", cause: EXIT_75 });
}

describe("the console's view of a failed run", () => {
  it("GIVEN a step that failed after three retries WHEN viewed THEN it opens on that step's 4th attempt, the reason in one sentence with the exit code's meaning, the raw Cause kept", () => {
    const r = record("ski-atlas", retriedThenFailed().events);
    const { failure, sentences } = runView(r);
    expect(failure).toMatchObject({ kind: "step", state: "Analyze", iteration: null, attempt: 4, attempts: 4, tier: "small", error: "States.TaskFailed", cause: EXIT_75 });
    expect(failure?.sentence).toBe("exit 75 (temporary failure); Essential container in task exited");
    expect(failure?.sentence).toBe(causeSentence("States.TaskFailed", EXIT_75));
    expect(failure?.details).toContain("Container exit code: 75 (temporary failure)");
    // The visit it opens on is the one that holds attempt 4: the attempts are numbered across the step's visits.
    expect(r.states[failure!.visit!].attempts.map((a) => a.number)).toEqual([4]);
    const analyzeVisits = r.states.map((v, i) => [v, i] as const).filter(([v]) => v.name === "Analyze");
    expect(analyzeVisits.map(([v, i]) => [i, v.attempts.map((a) => a.number)])).toEqual(analyzeVisits.map(([, i], k) => [i, [k + 1]]));
    expect(Object.entries(sentences)).toEqual(analyzeVisits.map(([, i], k) => [`${i}/${k + 1}`, failure!.sentence]));
  });

  it("GIVEN a fan-out whose digest says PARTIAL WHEN viewed THEN it opens on the Map, names each item with its outcome and counts, and says why the failed one failed", () => {
    const history = fanOutHistory("2026-11", [
      { region: "andorra", outcome: "succeeded" },
      { region: "iceland", outcome: "failed", error: "SourceOfflineError", message: "download.invalid does not resolve" },
      { region: "alps", outcome: "not started", previous: "alps-2026-11" },
    ]);
    const children = [{ id: "run-ski-atlas-monthly~iceland-2026-11", name: "iceland-2026-11", workflow: "ski-atlas", status: "FAILED" as const, key_input: { region: "iceland" }, started_at: null, duration_ms: 1200 }];
    const r = record("ski-atlas-monthly", history.events, children);
    expect(r.status).toBe("PARTIAL");
    const { failure, fanOuts } = runView(r);
    expect(failure).toMatchObject({ kind: "fan-out", state: "Regions", sentence: r.error!.line });
    expect(failure?.details).toEqual(["iceland: SourceOfflineError: download.invalid does not resolve"]);
    expect(fanOuts).toHaveLength(1);
    expect(fanOuts[0].state).toBe("Regions");
    expect(fanOuts[0].counts).toMatchObject({ SUCCEEDED: 1, FAILED: 1, NOT_STARTED: 1 });
    expect(fanOuts[0].items.map((i) => [i.name, i.execution, i.status, i.child, i.sentence])).toEqual([
      ["andorra", "andorra-2026-11", "SUCCEEDED", null, null],
      ["iceland", "iceland-2026-11", "FAILED", "run-ski-atlas-monthly~iceland-2026-11", "SourceOfflineError: download.invalid does not resolve"],
      ["alps", "alps-2026-11", "NOT_STARTED", null, "not started: alps-2026-11 succeeded stands"],
    ]);
  });

  it("GIVEN a run stopped while a step ran WHEN viewed THEN it opens on that step (not a Choice), the line saying it was interrupted", () => {
    const history = new History()
      .add(0, "ExecutionStarted", { input: "{}" })
      .through(0, "Pass", STATE_NAMES.pickTier("analyze"), plan)
      .enter(1, "Task", "Analyze", plan)
      .add(1, "TaskScheduled", { resourceType: "ecs", resource: "runTask.sync", region: "eu-west-1", parameters: "{}" })
      .add(5, "ExecutionAborted", { error: "Interrupted", cause: "Ctrl-C" });
    const { failure } = runView(record("ski-atlas", history.events));
    expect(failure).toMatchObject({ kind: "stopped", state: "Analyze", attempt: 1, sentence: "aborted: the run was interrupted" });
  });

  it("GIVEN a run that succeeded WHEN viewed THEN nothing failed and nothing is opened on", () => {
    const history = new History().add(0, "ExecutionStarted", { input: "{}" }).through(1, "Succeed", STATE_NAMES.succeeded).add(1, "ExecutionSucceeded", { output: "{}" });
    expect(runView(record("ski-atlas", history.events))).toEqual({ failure: null, fanOuts: [], sentences: {} });
  });
});

describe("the list's line of a run", () => {
  it("GIVEN a failed run WHEN listed THEN its execution's name, its end and the step that failed it with the sentence", () => {
    const r = record("ski-atlas", retriedThenFailed().events);
    expect(runSummary(r)).toMatchObject({
      id: r.id,
      execution: "ski-atlas-exec",
      status: "FAILED",
      stopped_at: r.stopped_at,
      failure: { state: "Analyze", sentence: "exit 75 (temporary failure); Essential container in task exited" },
    });
    expect(r.stopped_at).not.toBeNull();
  });
});
