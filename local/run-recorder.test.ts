import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { StateMachine } from "aws-local-stepfunctions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AslDefinition } from "../stacks/resolve-asl.ts";
import { readRecord } from "../run-records/record.ts";
import { historyEvent } from "../run-model/history.ts";
import { HistoryWriter, type InterpreterEvent } from "./history-writer.ts";
import { RunRecorder } from "./run-recorder.ts";
import { schemaProblems } from "./testing/run-record-schema.ts";

/**
 * The local engine's interpreter (aws-local-stepfunctions) runs a small machine with a Retry, a Catch and a Map;
 * the recorder must write its events down as Step Functions' history would, and the record derived from them
 * must show each attempt and each iteration.
 */
const LAMBDA = "arn:aws:states:::lambda:invoke";
const MACHINE: AslDefinition = {
  StartAt: "Flaky",
  States: {
    Flaky: {
      Type: "Task",
      Resource: LAMBDA,
      Retry: [{ ErrorEquals: ["Transient"], IntervalSeconds: 1, MaxAttempts: 2 }],
      Next: "Items",
    },
    Items: {
      Type: "Map",
      ItemsPath: "$.items",
      ItemProcessor: {
        StartAt: "Work",
        States: {
          Work: { Type: "Task", Resource: LAMBDA, Catch: [{ ErrorEquals: ["States.ALL"], Next: "Item failed" }], End: true },
          "Item failed": { Type: "Pass", End: true },
        },
      },
      Next: "Done",
    },
    Done: { Type: "Succeed" },
  },
} as unknown as AslDefinition;

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), "run-recorder-"));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe("the local run recorder", () => {
  it("GIVEN a retried task and a Map with a caught item WHEN run THEN the record has each attempt, each iteration and the AWS history shape", async () => {
    const runDir = path.join(scratch, "run-1");
    const recorder = new RunRecorder({ id: "run-1", runDir, definitions: { demo: MACHINE } });
    let flakyCalls = 0;
    // Written down as the engine writes it (local/history-writer.ts), handed to the recorder event by event.
    const history = new HistoryWriter(MACHINE as never, (event) => recorder.onHistory("demo-1", "demo", event));
    const sm = new StateMachine(MACHINE as never, { validationOptions: { checkArn: false } });
    const execution = sm.run({ items: [{ ok: true }, { ok: false }] } as never, {
      overrides: {
        retryIntervalOverrides: { Flaky: 0 },
        taskResourceLocalHandlers: {
          Flaky: async (input: unknown) => {
            if (++flakyCalls === 1) throw Object.assign(new Error("try again"), { name: "Transient" });
            return input as never;
          },
          Work: async (input: unknown) => {
            if (!(input as { ok: boolean }).ok) throw Object.assign(new Error("bad item"), { name: "BadData" });
            return { done: true };
          },
        } as never,
      },
    });
    const follow = (async () => {
      for await (const event of execution.eventLogs) history.push(event as InterpreterEvent);
    })();
    await execution.result;
    await follow;
    await recorder.flush();

    const record = (await readRecord(scratch, "run-1"))!;
    expect(schemaProblems(record)).toEqual([]);
    expect(record).toMatchObject({ status: "SUCCEEDED", workflow: "demo", execution: { name: "demo-1" }, input: { items: [{ ok: true }, { ok: false }] } });

    const flaky = record.states.find((s) => s.name === "Flaky")!;
    expect(flaky.attempts.map((a) => [a.status, a.error])).toEqual([
      ["FAILED", "Transient"],
      ["SUCCEEDED", null],
    ]);
    const work = record.states.filter((s) => s.name === "Work");
    expect(work.map((s) => [s.iteration, s.status, s.error]).sort()).toEqual([
      ["Items[0]", "SUCCEEDED", null],
      ["Items[1]", "CAUGHT", "BadData"],
    ]);
    expect(record.states.find((s) => s.name === "Item failed")?.iteration).toBe("Items[1]");

    // The history reads as GetExecutionHistory's: event types, ids chained by previousEventId, details as JSON text.
    const types = record.history.map((e) => e.type);
    expect(types[0]).toBe("ExecutionStarted");
    expect(types.at(-1)).toBe("ExecutionSucceeded");
    expect(types).toEqual(expect.arrayContaining(["TaskStateEntered", "TaskScheduled", "TaskFailed", "TaskSucceeded", "MapStateEntered", "MapIterationStarted", "MapIterationSucceeded", "MapStateExited"]));
    expect(types.filter((t) => t === "TaskScheduled")).toHaveLength(4); // Flaky twice, Work once per item
    const entered = record.history.find((e) => e.type === "TaskStateEntered")!;
    expect(entered.stateEnteredEventDetails).toMatchObject({ name: "Flaky", input: JSON.stringify({ items: [{ ok: true }, { ok: false }] }) });
    expect(record.history.every((e, i) => e.id === i + 1 && (i === 0 || (e.previousEventId !== undefined && e.previousEventId < e.id)))).toBe(true);
  });

  it("GIVEN a run under way WHEN its record is written THEN it names the recording process, until the run ends", async () => {
    const runDir = path.join(scratch, "run-2");
    const recorder = new RunRecorder({ id: "run-2", runDir, definitions: { demo: MACHINE } });
    recorder.onHistory("demo-2", "demo", historyEvent(1, undefined, Date.now(), "ExecutionStarted", { input: "{}" }));
    await recorder.flush();
    const running = (await readRecord(scratch, "run-2"))!;
    expect(schemaProblems(running)).toEqual([]);
    expect([running.status, running.pid]).toEqual(["RUNNING", process.pid]);

    recorder.onHistory("demo-2", "demo", historyEvent(2, 1, Date.now(), "ExecutionSucceeded", { output: "{}" }));
    await recorder.flush();
    const ended = (await readRecord(scratch, "run-2"))!;
    expect([ended.status, ended.pid]).toEqual(["SUCCEEDED", undefined]);
  });
});
