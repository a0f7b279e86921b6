import * as path from "node:path";
import { isDeepStrictEqual } from "node:util";
import { DescribeExecutionCommand, ExecutionDoesNotExist, type DescribeExecutionCommandOutput, type SFNClient } from "@aws-sdk/client-sfn";
import { decideRerun, type SameWork } from "../lib/attempts.ts";
import { executionArnOf, LocalExecutionRegistry, StepFunctionsExecutionHistory, type ExecutionHistory, type ExecutionSummary } from "../lib/execution-history.ts";
import { dayOfStartTime, periodOfStartTime } from "../lib/input-checks.ts";
import { sanitizeRunId } from "../functions/plan.ts";
import { runOutcome } from "../run-model/outcome.ts";
import { readRecord } from "../run-records/record.ts";
import type { Workflow } from "../workflows/types.ts";
import { findStateMachineArn } from "./aws-follow.ts";
import { workflowInput } from "./workflow-inputs.ts";

/**
 * `npm start -- rerun <run-id> [--aws]`: starts a run that ended without success again, as the same workflow with
 * the same input, under the next free execution name (lib/attempts.ts), and follows it like any run.
 *
 * "The same input" includes what Plan took from the failed execution itself when the input left it out: its day or
 * month from the start time, a job's run id from the execution name. Started again later, under another name, Plan
 * would otherwise pick today's day (a scheduled weather run's `{}`), this month, or a new job run id, and publish
 * somewhere else than the run being re-run. Those values are written into the rerun's input (`FROM_EXECUTION`).
 */

/** A refusal: one line, exit 64, nothing started. */
export class RerunRefused extends Error {
  override name = "RerunRefused";
}

/** The run to start. */
export interface Rerun {
  workflow: string;
  input: Record<string, unknown>;
  /** The execution name: the next free attempt after the failed run's. */
  name: string;
  /** The failed run's execution name. */
  of: string;
  /** With --aws: the machine the failed run ran on. */
  stateMachineArn?: string;
}

/** The run being re-run, wherever it was found. */
interface FailedRun {
  workflow: string;
  name: string;
  /** What the run came to (a fan-out that Step Functions ended SUCCEEDED may be PARTIAL: local/run-outcome.ts). */
  outcome: string;
  input: unknown;
  startDate: string;
  stateMachineArn?: string;
}

/** What a rerun may start again: a run that ended without success (an interrupted one included). */
const RERUNNABLE = new Set(["FAILED", "TIMED_OUT", "ABORTED", "PARTIAL"]);

/**
 * What each Plan takes from the execution when the input leaves it out (functions/plan*.ts), keyed by the Plan's
 * function: the rerun's input gets the failed execution's value. ski-atlas's Plan also names its staging folder after
 * the execution, which an attempt keeps to itself; that is not pinned.
 */
export const FROM_EXECUTION: Record<string, (input: Record<string, unknown>, execution: Pick<ExecutionSummary, "name" | "startDate">) => Record<string, unknown>> = {
  plan: (input, execution) => (input.period === undefined ? { period: periodOfStartTime(execution.startDate) } : {}),
  "plan-month": (input, execution) => (input.period === undefined ? { period: periodOfStartTime(execution.startDate) } : {}),
  "plan-weather": (input, execution) => (input.runId === undefined ? { runId: dayOfStartTime(execution.startDate) } : {}),
  "plan-job": (input, execution) => {
    const runId = sanitizeRunId(execution.name);
    return input.runId === undefined && runId ? { runId } : {};
  },
};

/** The workflow's Plan: its first step, a function. */
function planOf(workflow: Workflow): string {
  const first = workflow.steps[0];
  return first?.kind === "function" ? first.fn : "";
}

/**
 * The input a run of `workflow` named `execution` ran with, as its rerun starts it: what Step Functions added for a
 * nested execution (`AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID`: a rerun by hand is no child of the fan-out) left
 * out, and what Plan took from the execution written in.
 */
export function rerunInput(workflow: Workflow, input: unknown, execution: Pick<ExecutionSummary, "name" | "startDate">): Record<string, unknown> {
  const own = Object.fromEntries(
    Object.entries(input && typeof input === "object" && !Array.isArray(input) ? (input as Record<string, unknown>) : {}).filter(([key]) => !key.startsWith("AWS_STEP_FUNCTIONS_")),
  );
  const pin = FROM_EXECUTION[planOf(workflow)];
  return { ...own, ...(pin ? pin(own, execution) : {}) };
}

export interface FindRerunOptions {
  workflows: Workflow[];
  /** Where local run folders are (`.data/runs/`). */
  runsRoot: string;
  /** Offline: the local account's execution names (`.data/executions/`). */
  executionsDir?: string;
  /** With --aws. */
  client?: SFNClient;
}

/** Finds the run `runId` names, checks it may be re-run, and picks the rerun's name. Throws `RerunRefused`. */
export async function findRerun(runId: string, target: "local" | "aws", options: FindRerunOptions): Promise<Rerun> {
  const failed = target === "aws" ? await findOnAws(runId, options) : await findLocally(runId, options);
  if (!RERUNNABLE.has(failed.outcome)) {
    throw new RerunRefused(
      failed.outcome === "RUNNING"
        ? `${failed.workflow} ${failed.name} is still running: there is nothing to re-run yet`
        : `${failed.workflow} ${failed.name} ${failed.outcome === "SUCCEEDED" ? "succeeded" : `is ${failed.outcome}`}: only a run that failed, timed out or was stopped is re-run`,
    );
  }
  const workflow = options.workflows.find((w) => w.name === failed.workflow);
  if (!workflow) throw new RerunRefused(`${failed.name} ran workflow '${failed.workflow}', which this checkout does not have`);
  const input = rerunInput(workflow, failed.input, failed);
  // Attempts are told apart from other runs that took a numbered name by what they were given to do.
  const sameWork: SameWork = (earlier) => earlier.input !== undefined && isDeepStrictEqual(rerunInput(workflow, parseJson(earlier.input), earlier), input);
  const history: ExecutionHistory =
    target === "aws"
      ? new StepFunctionsExecutionHistory(options.client!, () => failed.stateMachineArn)
      : new LocalExecutionRegistry(options.executionsDir!);
  const decision = await decideRerun(history, workflow.name, failed.name, sameWork);
  if (decision.action === "running") throw new RerunRefused(`${failed.name} is being re-run already: ${decision.name} is running`);
  if (decision.action === "reuse") throw new RerunRefused(`${failed.name} was re-run already: ${decision.name} succeeded`);
  return { workflow: workflow.name, input, name: decision.name, of: failed.name, ...(failed.stateMachineArn ? { stateMachineArn: failed.stateMachineArn } : {}) };
}

/** Offline: a run folder's id (`npm run runs` lists them; a fan-out item's is `<run>~<name>`), or an execution name. */
async function findLocally(runId: string, options: FindRerunOptions): Promise<FailedRun> {
  const record = await readRecord(options.runsRoot, runId).catch(() => undefined);
  if (record) {
    if (record.source === "aws") throw new RerunRefused(`run ${runId} ran on AWS: re-run it with --aws`);
    return { workflow: record.workflow, name: record.execution.name, outcome: record.status, input: record.input, startDate: record.started_at };
  }
  // An execution name is one path segment of the registry's folder, never a way out of it.
  if (!/^[^/\\]+$/.test(runId) || runId === "." || runId === "..") throw notFound(runId, options);
  const registry = new LocalExecutionRegistry(options.executionsDir!);
  for (const workflow of options.workflows) {
    const execution = await registry.read(workflow.name, runId).catch(() => undefined);
    if (execution) {
      return { workflow: workflow.name, name: execution.name, outcome: runOutcome(execution.status, execution.output), input: parseJson(execution.input), startDate: execution.startDate };
    }
  }
  throw notFound(runId, options);
}

function notFound(runId: string, options: FindRerunOptions): RerunRefused {
  return new RerunRefused(`no run '${runId}' in ${path.relative(process.cwd(), options.runsRoot) || options.runsRoot} and no execution of that name: npm run runs lists the runs`);
}

/**
 * With --aws: an execution ARN, the id of a run folder that `npm start -- --aws` made, or an execution name (looked
 * up on each workflow's deployed machine with DescribeExecution, which takes the exact name).
 */
async function findOnAws(runId: string, options: FindRerunOptions): Promise<FailedRun> {
  const client = options.client!;
  if (runId.startsWith("arn:")) return describeFailed(client, runId, options.workflows);
  const record = await readRecord(options.runsRoot, runId).catch(() => undefined);
  if (record) {
    if (record.source === "local") throw new RerunRefused(`run ${runId} ran locally: re-run it without --aws`);
    return describeFailed(client, record.execution.arn, options.workflows, record.workflow);
  }
  const found: FailedRun[] = [];
  for (const workflow of options.workflows) {
    const machineArn = await deployedMachine(client, workflow.name);
    if (!machineArn) continue;
    const run = await describeFailed(client, executionArnOf(machineArn, runId), options.workflows, workflow.name).catch((err: Error) => {
      if (err instanceof RerunRefused) return undefined;
      throw err;
    });
    if (run) found.push(run);
  }
  if (found.length === 1) return found[0];
  if (found.length > 1) throw new RerunRefused(`${runId} names an execution of ${found.map((f) => f.workflow).join(" and of ")}: pass its execution ARN`);
  throw new RerunRefused(`no execution named '${runId}' on the deployed machines of ${options.workflows.map((w) => w.name).join(", ")}: pass its execution ARN`);
}

async function describeFailed(client: SFNClient, executionArn: string, workflows: Workflow[], workflow?: string): Promise<FailedRun> {
  let described: DescribeExecutionCommandOutput;
  try {
    described = await client.send(new DescribeExecutionCommand({ executionArn }));
  } catch (err) {
    const { name, message } = err as Error;
    if (err instanceof ExecutionDoesNotExist || name === "ExecutionDoesNotExist" || name === "InvalidArn") throw new RerunRefused(`no execution ${executionArn}: ${message}`);
    throw err;
  }
  const stateMachineArn = described.stateMachineArn ?? executionArn.replace(":execution:", ":stateMachine:").replace(/:[^:]+$/, "");
  const name = described.name ?? executionArn.split(":").at(-1)!;
  return {
    workflow: workflow ?? (await workflowOfMachine(client, stateMachineArn, workflows)),
    name,
    outcome: runOutcome(String(described.status), parseJson(described.output)),
    input: parseJson(described.input),
    startDate: (described.startDate ?? new Date(0)).toISOString(),
    stateMachineArn,
  };
}

/**
 * A workflow's deployed machine, or undefined when this account and region have none (a workflow not deployed here);
 * any other error (no credentials, no region, throttling) is the caller's, not a "not found".
 */
async function deployedMachine(client: SFNClient, workflow: string): Promise<string | undefined> {
  try {
    return await findStateMachineArn(client, workflow);
  } catch (err) {
    if (/^no state machine named /.test((err as Error).message)) return undefined;
    throw err;
  }
}

/** Which workflow's deployed machine this is: the one `findStateMachineArn` finds for it. */
async function workflowOfMachine(client: SFNClient, stateMachineArn: string, workflows: Workflow[]): Promise<string> {
  for (const workflow of workflows) {
    if ((await deployedMachine(client, workflow.name)) === stateMachineArn) return workflow.name;
  }
  throw new RerunRefused(`${stateMachineArn} is not the deployed machine of any workflow (${workflows.map((w) => w.name).join(", ")})`);
}

function parseJson(text: string | undefined | unknown): unknown {
  if (typeof text !== "string") return text ?? null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/**
 * The CLI's `rerun <run-id> [--aws]`: the arguments after `rerun`, and the options given. The failed run's own input
 * is used as it was, so options that build an input (`--region`, `--source`, …) are refused, not silently dropped.
 */
export async function rerunFromCli(args: string[], options: { aws: boolean; workflows: Workflow[]; options: Record<string, unknown> }): Promise<Rerun> {
  const [runId, extra] = args;
  if (!runId) throw new RerunRefused("rerun needs the id of the run to re-run: npm run runs lists them (with --aws: an execution ARN or name)");
  if (extra !== undefined) throw new RerunRefused(`unexpected argument '${extra}': rerun takes one run id`);
  const inputOptions = [...new Set(options.workflows.flatMap((w) => Object.keys(workflowInput(w).options)))].filter((o) => options.options[o] !== undefined);
  if (inputOptions.length) {
    throw new RerunRefused(`rerun starts the failed run's own input again: drop --${inputOptions.join(", --")} (or start a new run with them)`);
  }
  const { localRunsRoot } = await import("../lib/local-weather-runs.ts");
  if (options.aws) {
    const { SFNClient } = await import("@aws-sdk/client-sfn");
    const { awsSetupError } = await import("./run-aws.ts");
    return findRerun(runId, "aws", { workflows: options.workflows, runsRoot: localRunsRoot(), client: new SFNClient({}) }).catch((err: Error) => {
      throw awsSetupError(err);
    });
  }
  const { cliAccountDir, executionsDirOf } = await import("../lib/local-account.ts");
  return findRerun(runId, "local", { workflows: options.workflows, runsRoot: localRunsRoot(), executionsDir: executionsDirOf(cliAccountDir()) });
}
