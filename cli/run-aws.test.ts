import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import {
  DescribeExecutionCommand,
  DescribeStateMachineCommand,
  GetExecutionHistoryCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from "@aws-sdk/client-sfn";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { runOnAws } from "./run-aws.ts";

/**
 * `npm start -- --aws`: the execution's ARN and console link are said as soon as StartExecution answers, and Ctrl-C
 * (SIGINT, sent here to this process as the terminal would) stops following only: the execution keeps running on
 * AWS (no StopExecution), the CLI says so and gives the exact command that stops it, and exits 130.
 */
const sfn = mockClient(SFNClient);
const MACHINE_ARN = "arn:aws:states:eu-west-1:123456789012:stateMachine:skiatlasStateMachine8AE2B847-AbC123";
const EXECUTION_ARN = "arn:aws:states:eu-west-1:123456789012:execution:skiatlasStateMachine8AE2B847-AbC123:iceland-2026-11";

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), "run-aws-"));
});
afterAll(() => rm(scratch, { recursive: true, force: true }));
beforeEach(() => sfn.reset());

describe("npm start -- --aws", () => {
  it("GIVEN a started execution WHEN Ctrl-C THEN its ARN and console link were said first, it keeps running, and the stop command is given", async () => {
    const lines: string[] = [];
    let linesWhenInterrupted: string[] = [];
    const listenersBefore = process.listenerCount("SIGINT");
    sfn.on(StartExecutionCommand).resolves({ executionArn: EXECUTION_ARN, startDate: new Date() });
    sfn.on(DescribeStateMachineCommand).resolves({ definition: JSON.stringify({ StartAt: "Plan", States: {} }) });
    sfn.on(GetExecutionHistoryCommand).resolves({ events: [{ id: 1, timestamp: new Date(), type: "ExecutionStarted", executionStartedEventDetails: { input: "{}" } }] });
    sfn.on(DescribeExecutionCommand).callsFake(() => {
      // The first poll: the user presses Ctrl-C while the execution runs.
      if (linesWhenInterrupted.length === 0) {
        linesWhenInterrupted = [...lines];
        process.emit("SIGINT", "SIGINT");
      }
      return { executionArn: EXECUTION_ARN, status: "RUNNING", startDate: new Date() };
    });

    const code = await runOnAws({
      workflow: "ski-atlas",
      input: { region: "iceland", period: "2026-11" },
      stateMachineArn: MACHINE_ARN,
      json: false,
      onEvent: () => {},
      runsRoot: scratch,
      write: (line) => lines.push(...line.split("\n")),
    });

    expect(code).toBe(130);
    expect(linesWhenInterrupted).toEqual([
      `execution: ${EXECUTION_ARN}`,
      `console: https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/${EXECUTION_ARN}`,
    ]);
    expect(lines.slice(2)).toEqual([
      "interrupted: stopped following; the execution keeps running on AWS. To stop it:",
      `  aws stepfunctions stop-execution --execution-arn ${EXECUTION_ARN} --region eu-west-1`,
    ]);
    expect(sfn.commandCalls(StopExecutionCommand)).toHaveLength(0);
    expect(process.listenerCount("SIGINT")).toBe(listenersBefore);
  });
});
