import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import {
  DescribeExecutionCommand,
  DescribeStateMachineCommand,
  ExecutionDoesNotExist,
  GetExecutionHistoryCommand,
  ListStateMachinesCommand,
  SFNClient,
  StartExecutionCommand,
  type DescribeExecutionCommandOutput,
} from "@aws-sdk/client-sfn";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { allWorkflows } from "../workflows/index.ts";
import { findRerun } from "./rerun.ts";
import { runOnAws } from "./run-aws.ts";

/**
 * `npm start -- rerun <run> --aws`, against a mocked Step Functions: the failed execution is found with
 * DescribeExecution (by ARN, or by name on each workflow's deployed machine), and the same workflow starts with the
 * same input on the same machine, under the next execution name no attempt holds, then is followed to its end.
 */
const sfn = mockClient(SFNClient);
const ACCOUNT = "arn:aws:states:eu-west-1:123456789012";
const MACHINES = {
  "ski-atlas": "skiatlasStateMachine8AE2B847-AbC123",
  "ski-atlas-monthly": "skiatlasmonthlyStateMachine0BC58121-DeF456",
  weather: "weatherStateMachineDEEBCA47-GhI789",
  grader: "graderStateMachine5BD3C617-JkL012",
  training: "trainingStateMachineBB7C0572-MnO345",
};
const machineArn = (workflow: keyof typeof MACHINES) => `${ACCOUNT}:stateMachine:${MACHINES[workflow]}`;
const executionArn = (workflow: keyof typeof MACHINES, name: string) => `${ACCOUNT}:execution:${MACHINES[workflow]}:${name}`;
const WORKFLOWS = allWorkflows();
/** A name as EventBridge Scheduler gives one. */
const SCHEDULED = "4b1e2f6a-8c3d-4e5f-9a0b-1c2d3e4f5a6b";

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), "rerun-aws-"));
});
afterAll(() => rm(scratch, { recursive: true, force: true }));

/** The executions "on AWS", by ARN; DescribeExecution of any other is ExecutionDoesNotExist. */
let executions: Map<string, DescribeExecutionCommandOutput>;
beforeEach(() => {
  sfn.reset();
  executions = new Map();
  sfn.on(ListStateMachinesCommand).resolves({
    stateMachines: Object.entries(MACHINES).map(([, name]) => ({ name, stateMachineArn: `${ACCOUNT}:stateMachine:${name}`, type: "STANDARD", creationDate: new Date() })),
  });
  sfn.on(DescribeExecutionCommand).callsFake(({ executionArn: arn }: { executionArn: string }) => {
    const found = executions.get(arn);
    if (!found) throw new ExecutionDoesNotExist({ message: `Execution Does Not Exist: '${arn}'`, $metadata: {} });
    return found;
  });
});

function execution(workflow: keyof typeof MACHINES, name: string, status: string, input: unknown, startDate = "2026-07-01T02:00:05.000Z"): void {
  executions.set(executionArn(workflow, name), {
    executionArn: executionArn(workflow, name),
    stateMachineArn: machineArn(workflow),
    name,
    status: status as DescribeExecutionCommandOutput["status"],
    input: JSON.stringify(input),
    startDate: new Date(startDate),
    ...(status === "RUNNING" ? {} : { stopDate: new Date(Date.parse(startDate) + 60_000) }),
    $metadata: {},
  });
}

const find = (runId: string) => findRerun(runId, "aws", { workflows: WORKFLOWS, runsRoot: scratch, client: new SFNClient({}) });

describe("npm start -- rerun <run> --aws", () => {
  it("GIVEN a scheduled weather run that failed (input {}) WHEN re-run a day later by its ARN THEN the weather machine starts it as <name>-2 with that day pinned, and the CLI follows it to SUCCEEDED", async () => {
    execution("weather", SCHEDULED, "FAILED", {});
    const rerun = await find(executionArn("weather", SCHEDULED));
    // The input said nothing of the day: Plan took it from the start time, so a rerun on another day must say it.
    expect(rerun).toEqual({ workflow: "weather", input: { runId: "2026-07-01" }, name: `${SCHEDULED}-2`, of: SCHEDULED, stateMachineArn: machineArn("weather") });

    const started = executionArn("weather", `${SCHEDULED}-2`);
    sfn.on(StartExecutionCommand).callsFake(() => {
      execution("weather", `${SCHEDULED}-2`, "SUCCEEDED", rerun.input, "2026-07-02T09:00:00.000Z");
      return { executionArn: started, startDate: new Date() };
    });
    sfn.on(DescribeStateMachineCommand).resolves({ definition: JSON.stringify({ StartAt: "Plan", States: {} }) });
    sfn.on(GetExecutionHistoryCommand).resolves({
      events: [
        { id: 1, timestamp: new Date("2026-07-02T09:00:00Z"), type: "ExecutionStarted", executionStartedEventDetails: { input: JSON.stringify(rerun.input) } },
        { id: 2, previousEventId: 1, timestamp: new Date("2026-07-02T09:01:00Z"), type: "ExecutionSucceeded", executionSucceededEventDetails: { output: "{}" } },
      ],
    });
    const lines: string[] = [];
    const code = await runOnAws({ ...rerun, json: false, onEvent: () => {}, runsRoot: scratch, write: (line) => lines.push(...line.split("\n")) });

    expect(code, lines.join("\n")).toBe(0);
    const [start] = sfn.commandCalls(StartExecutionCommand);
    expect(start.args[0].input).toEqual({ stateMachineArn: machineArn("weather"), name: `${SCHEDULED}-2`, input: '{"runId":"2026-07-01"}' });
    expect(lines[0]).toBe(`execution: ${started}`);
    expect(lines).toContain("weather: SUCCEEDED in 60.0 s");
  });

  it("GIVEN a grader job whose first two attempts failed WHEN the second is re-run by its name THEN it runs as attempt -3, with the job's run id the first attempt's (Plan's default: the execution name)", async () => {
    const config = "s3://bucket/jobs/grader/exams/e1/config.json";
    execution("grader", "exam-run", "FAILED", { config });
    execution("grader", "exam-run-2", "TIMED_OUT", { config, runId: "exam-run" });
    // Another workflow's machine has no execution of that name: only the grader's is found.
    expect(await find("exam-run-2")).toMatchObject({ workflow: "grader", name: "exam-run-3", input: { config, runId: "exam-run" }, stateMachineArn: machineArn("grader") });
  });

  it("GIVEN runs named after days WHEN one of them is re-run THEN a neighbour day is not taken for an earlier attempt of it", async () => {
    execution("weather", "day-2026-07-11", "SUCCEEDED", { runId: "2026-07-11" });
    execution("weather", "day-2026-07-12", "FAILED", { runId: "2026-07-12" });
    execution("weather", "day-2026-07-12-2", "SUCCEEDED", { runId: "2026-07-13" });
    // -2 holds other work (another day), so it is skipped, not mistaken for a successful rerun.
    expect((await find("day-2026-07-12")).name).toBe("day-2026-07-12-3");
  });

  it("GIVEN AWS not configured WHEN a run is looked up by name THEN the SDK's error comes through, not a \"no execution named\"", async () => {
    sfn.on(ListStateMachinesCommand).rejects(new Error("Region is missing"));
    await expect(find("some-run")).rejects.toThrow(/^Region is missing$/);
  });

  it.each([
    ["a run that succeeded", () => execution("weather", "ok-run", "SUCCEEDED", {}), "ok-run", /^weather ok-run succeeded: only a run that failed, timed out or was stopped is re-run$/],
    ["a run still running", () => execution("weather", "busy", "RUNNING", {}), "busy", /^weather busy is still running/],
    ["a name no machine has", () => {}, "nope", /^no execution named 'nope' on the deployed machines of ski-atlas, ski-atlas-monthly, weather, grader, training: pass its execution ARN$/],
    ["an ARN that does not exist", () => {}, executionArn("weather", "gone"), /^no execution arn:aws:states:.*:gone: Execution Does Not Exist/],
    [
      "a run re-run already, with success",
      () => {
        execution("weather", "r1", "FAILED", { runId: "2026-07-01" });
        execution("weather", "r1-2", "SUCCEEDED", { runId: "2026-07-01" });
      },
      "r1",
      /^r1 was re-run already: r1-2 succeeded$/,
    ],
    [
      "a run being re-run",
      () => {
        execution("weather", "r2", "FAILED", { runId: "2026-07-01" });
        execution("weather", "r2-2", "RUNNING", { runId: "2026-07-01" });
      },
      "r2",
      /^r2 is being re-run already: r2-2 is running$/,
    ],
  ])("GIVEN %s WHEN re-run THEN refused in one line, nothing started", async (_, given, runId, message) => {
    given();
    const refusal = await find(runId).then(
      () => undefined,
      (err: Error) => err,
    );
    expect(refusal?.name).toBe("RerunRefused");
    expect(refusal?.message).toMatch(message);
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });
});
