import { rm } from "node:fs/promises";
import * as path from "node:path";
import { SFNClient } from "@aws-sdk/client-sfn";
import { executionConsoleUrl, regionOfExecutionArn } from "../lib/console-url.ts";
import { exitCodeOf, onInterrupt } from "../local/interrupt.ts";
import type { ProgressEvent } from "../run-model/progress-events.ts";
import { seconds } from "../local/progress.ts";
import { runOutcome } from "../run-model/outcome.ts";
import { createRunDir, RUNS_ROOT } from "../run-records/record.ts";
import { causeSentence } from "../run-model/causes.ts";
import { findStateMachineArn, startAndFollow } from "./aws-follow.ts";
import { liveAwsRecord, recordsFromAws, writeRecords } from "./aws-record.ts";

/** `npm start -- --aws …`: start the deployed machine and show the same progress as a local run. */
export async function runOnAws(options: {
  workflow: string;
  input: Record<string, unknown>;
  /** The execution name (default: the one Step Functions gives, a UUID); a rerun's is its next attempt. */
  name?: string;
  stateMachineArn?: string;
  json: boolean;
  onEvent: (event: ProgressEvent) => void;
  /** Where run folders go (default `.data/runs/` or `$ATLAS_RUNS_DIR`). */
  runsRoot?: string;
  /** Where the CLI's own lines go (default stderr). */
  write?: (line: string) => void;
}): Promise<number> {
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const client = new SFNClient({});
  const { id, runDir } = await createRunDir(options.runsRoot ?? RUNS_ROOT, options.workflow);
  const live = liveAwsRecord({ id, workflow: options.workflow, runDir });
  // Ctrl-C stops following, not the execution: it is AWS's to run (and to bill) until it ends or is stopped.
  const interrupted = new AbortController();
  let caught: NodeJS.Signals = "SIGINT";
  const stopListening = onInterrupt((signal) => {
    caught = signal;
    interrupted.abort();
  });
  let executionArn: string | undefined;
  const result = await (async () => {
    const stateMachineArn = options.stateMachineArn ?? (await findStateMachineArn(client, options.workflow));
    return startAndFollow({
      client,
      stateMachineArn,
      input: options.input,
      ...(options.name ? { name: options.name } : {}),
      onEvent: options.onEvent,
      onHistoryEvent: live.onHistoryEvent,
      machine: options.workflow,
      signal: interrupted.signal,
      onStarted: (arn) => {
        executionArn = arn;
        write(`execution: ${arn}`);
        write(`console: ${executionConsoleUrl(arn)}`);
      },
    });
  })()
    .finally(() => {
      stopListening();
      live.stop();
    })
    .catch(async (err: Error) => {
      if (interrupted.signal.aborted) return undefined;
      // Nothing started: no run folder is left behind.
      if (live.empty) await rm(runDir, { recursive: true, force: true });
      throw awsSetupError(err);
    });
  if (!result) {
    write(interruptedLines(executionArn));
    return exitCodeOf(caught);
  }
  write(`\n${options.workflow}: ${runOutcome(result.status, result.output)} in ${seconds(result.stoppedAt - result.startedAt)}`);
  write(`execution: ${result.executionArn}`);
  // The same run record as a local run's, from the execution's history (children included).
  const records = await recordsFromAws(client, result.executionArn, { id, workflow: options.workflow, runDir });
  await writeRecords(runDir, records);
  write(`run record: ${path.relative(process.cwd(), runDir)}/run.json`);
  if (options.json) await new Promise((resolve) => process.stdout.write(`${JSON.stringify(records[0], null, 2)}\n`, resolve));
  // The record's status is the run's outcome (a fan-out's digest may say PARTIAL or FAILED), and so is the exit code.
  if (records[0].status !== "SUCCEEDED") {
    write(`error: ${records[0].error?.line ?? causeSentence(result.error, result.cause)}`);
    return 1;
  }
  return 0;
}

/** The SDK's own words ("Region is missing") do not say what to do about it: this error does; any other is kept. */
export function awsSetupError(err: Error): Error {
  if (/Region is missing|Could not load credentials|credential/i.test(err.message)) {
    return new Error(`AWS is not configured (${err.message}): set AWS_REGION and credentials (AWS_PROFILE, or 'aws configure'), or run offline without --aws`);
  }
  return err;
}

/** What Ctrl-C leaves on AWS, and the exact command that stops it. */
export function interruptedLines(executionArn: string | undefined): string {
  if (!executionArn) {
    return "interrupted before StartExecution answered: an execution may have started; look for it in the Step Functions console";
  }
  const region = regionOfExecutionArn(executionArn);
  return [
    "interrupted: stopped following; the execution keeps running on AWS. To stop it:",
    `  aws stepfunctions stop-execution --execution-arn ${executionArn}${region ? ` --region ${region}` : ""}`,
  ].join("\n");
}
