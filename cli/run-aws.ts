import { rm } from "node:fs/promises";
import * as path from "node:path";
import { SFNClient } from "@aws-sdk/client-sfn";
import type { ProgressEvent } from "../local/progress-events.ts";
import { seconds } from "../local/progress.ts";
import { runOutcome } from "../local/run-outcome.ts";
import { createRunDir, RUNS_ROOT } from "../local/run-record.ts";
import { findStateMachineArn, startAndFollow } from "./aws-follow.ts";
import { liveAwsRecord, recordsFromAws, writeRecords } from "./aws-record.ts";

/** `npm start -- --aws …`: start the deployed machine and show the same progress as a local run. */
export async function runOnAws(options: {
  workflow: string;
  input: Record<string, unknown>;
  stateMachineArn?: string;
  json: boolean;
  onEvent: (event: ProgressEvent) => void;
}): Promise<number> {
  const client = new SFNClient({});
  const { id, runDir } = await createRunDir(RUNS_ROOT, options.workflow);
  const live = liveAwsRecord({ id, workflow: options.workflow, runDir });
  const result = await (async () => {
    const stateMachineArn = options.stateMachineArn ?? (await findStateMachineArn(client, options.workflow));
    return startAndFollow({
      client,
      stateMachineArn,
      input: options.input,
      onEvent: options.onEvent,
      onHistoryEvent: live.onHistoryEvent,
      machine: options.workflow,
    });
  })().finally(() => live.stop()).catch(async (err: Error) => {
    // Nothing started: no run folder is left behind.
    if (live.empty) await rm(runDir, { recursive: true, force: true });
    // The SDK's own words ("Region is missing") do not say what to do about it.
    if (/Region is missing|Could not load credentials|credential/i.test(err.message)) {
      throw new Error(`AWS is not configured (${err.message}): set AWS_REGION and credentials (AWS_PROFILE, or 'aws configure'), or run offline without --aws`);
    }
    throw err;
  });
  process.stderr.write(`\n${options.workflow}: ${runOutcome(result.status, result.output)} in ${seconds(result.stoppedAt - result.startedAt)}\n`);
  process.stderr.write(`execution: ${result.executionArn}\n`);
  // The same run record as a local run's, from the execution's history (children included).
  const records = await recordsFromAws(client, result.executionArn, { id, workflow: options.workflow, runDir });
  await writeRecords(runDir, records);
  process.stderr.write(`run record: ${path.relative(process.cwd(), runDir)}/run.json\n`);
  if (options.json) await new Promise((resolve) => process.stdout.write(`${JSON.stringify(records[0], null, 2)}\n`, resolve));
  // The record's status is the run's outcome (a fan-out's digest may say PARTIAL or FAILED), and so is the exit code.
  if (records[0].status !== "SUCCEEDED") {
    const { oneLineError } = await import("../local/engine.ts");
    console.error(`error: ${records[0].error?.line ?? oneLineError(result.error, result.cause)}`);
    return 1;
  }
  return 0;
}
