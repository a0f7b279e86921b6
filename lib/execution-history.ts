import { randomUUID } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { DescribeExecutionCommand, ExecutionDoesNotExist, SFNClient } from "@aws-sdk/client-sfn";
import { writerGone } from "./process-alive.ts";

/**
 * Which executions of a state machine exist, by name: what a rerun asks before it starts one. On AWS it is
 * DescribeExecution; offline it is the local engine's registry under `.data/executions/`, which the engine keeps
 * with the same rules as Step Functions. The code that decides what to rerun only sees this interface.
 */
export interface ExecutionHistory {
  /** The execution of `machine` (a workflow name) called `name`, or undefined when none holds the name. */
  describe(machine: string, name: string): Promise<ExecutionSummary | undefined>;
}

/** Step Functions' execution statuses (DescribeExecution). Every status but RUNNING is closed. */
export type ExecutionStatus = "RUNNING" | "SUCCEEDED" | "FAILED" | "TIMED_OUT" | "ABORTED" | "PENDING_REDRIVE";

export interface ExecutionSummary {
  name: string;
  executionArn: string;
  status: ExecutionStatus;
  startDate: string;
  stopDate?: string;
  /** The input as StartExecution got it (JSON text), when the history says it: a rerun compares attempts by it. */
  input?: string;
}

/**
 * "An execution can't use the name of another execution for 90 days" (StartExecution, AWS API reference): a
 * closed execution's name is reserved that long, whatever the input of a later start.
 */
export const EXECUTION_NAME_RESERVED_DAYS = 90;

/** The ARN of the execution of a (STANDARD) state machine called `name`. */
export function executionArnOf(stateMachineArn: string, name: string): string {
  return `${stateMachineArn.replace(":stateMachine:", ":execution:")}:${name}`;
}

/** The environment variable that hands a function the ARN of a workflow's machine, e.g. `ATLAS_MACHINE_ARN_SKI_ATLAS`. */
export function machineArnVariable(workflow: string): string {
  return `ATLAS_MACHINE_ARN_${workflow.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`;
}

/** Where the local engine keeps its execution names (set for the functions it runs in-process). */
export const LOCAL_EXECUTIONS_DIR_VARIABLE = "ATLAS_EXECUTIONS_DIR";

/** The execution history of wherever this code runs: the local engine's registry, or Step Functions. */
export function executionHistoryFromEnv(env: NodeJS.ProcessEnv = process.env): ExecutionHistory {
  const localDir = env[LOCAL_EXECUTIONS_DIR_VARIABLE];
  if (localDir) return new LocalExecutionRegistry(localDir);
  return new StepFunctionsExecutionHistory(new SFNClient({}), (machine) => env[machineArnVariable(machine)]);
}

/** DescribeExecution on the deployed machine; the function needs `states:DescribeExecution` on its executions. */
export class StepFunctionsExecutionHistory implements ExecutionHistory {
  constructor(
    private readonly client: SFNClient,
    private readonly machineArn: (machine: string) => string | undefined,
  ) {}

  async describe(machine: string, name: string): Promise<ExecutionSummary | undefined> {
    const stateMachineArn = this.machineArn(machine);
    if (!stateMachineArn) throw new Error(`no ARN for state machine '${machine}': set ${machineArnVariable(machine)}`);
    const executionArn = executionArnOf(stateMachineArn, name);
    try {
      const found = await this.client.send(new DescribeExecutionCommand({ executionArn }));
      return {
        name,
        executionArn,
        status: found.status as ExecutionStatus,
        startDate: (found.startDate ?? new Date(0)).toISOString(),
        ...(found.stopDate ? { stopDate: found.stopDate.toISOString() } : {}),
        ...(found.input !== undefined ? { input: found.input } : {}),
      };
    } catch (err) {
      if (err instanceof ExecutionDoesNotExist || (err as Error).name === "ExecutionDoesNotExist") return undefined;
      throw err;
    }
  }
}

/** One execution as the local engine keeps it: `<dir>/<machine>/<name>.json`. */
export interface ExecutionRecord extends ExecutionSummary {
  machine: string;
  /** The input as StartExecution got it (JSON text): a start with the same name is idempotent only if it matches. */
  input: string;
  /** The engine process running it: a RUNNING record whose process is gone was aborted with it. */
  pid?: number;
  output?: unknown;
  error?: string;
  cause?: string;
}

/** StartExecution's refusal of a taken name, with the SDK's error name and Step Functions' message. */
export class ExecutionAlreadyExistsError extends Error {
  constructor(readonly executionArn: string) {
    super(`Execution Already Exists: '${executionArn}'`);
    this.name = "ExecutionAlreadyExists";
  }
}

export type Reservation = { kind: "started"; record: ExecutionRecord } | { kind: "running"; record: ExecutionRecord };

/**
 * The local engine's execution names, persisted across runs of the engine, with Step Functions' rules for
 * StartExecution on a STANDARD machine: a name is free if no execution of that machine holds it, or if the one that
 * held it closed more than 90 days ago; a RUNNING execution with the same input is returned as is (idempotent);
 * any other start with a taken name is ExecutionAlreadyExists, whatever its input.
 */
export class LocalExecutionRegistry implements ExecutionHistory {
  constructor(
    readonly dir: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async describe(machine: string, name: string): Promise<ExecutionSummary | undefined> {
    const record = await this.read(machine, name);
    if (!record || this.expired(record)) return undefined;
    const { executionArn, status, startDate, stopDate, input } = record;
    return { name, executionArn, status, startDate, ...(stopDate ? { stopDate } : {}), input };
  }

  /** Claims the name for a new execution, or says which RUNNING execution a same-input start gets instead. */
  async reserve(machine: string, name: string, executionArn: string, input: string): Promise<Reservation> {
    const existing = await this.read(machine, name);
    if (existing && !this.expired(existing)) {
      if (existing.status === "RUNNING" && existing.input === input) return { kind: "running", record: existing };
      throw new ExecutionAlreadyExistsError(existing.executionArn);
    }
    const record: ExecutionRecord = { machine, name, executionArn, status: "RUNNING", input, startDate: this.now().toISOString(), pid: process.pid };
    await this.write(record);
    return { kind: "started", record };
  }

  async close(record: ExecutionRecord, outcome: Pick<ExecutionRecord, "status" | "output" | "error" | "cause">): Promise<ExecutionRecord> {
    const { pid: _pid, ...rest } = record;
    const closed: ExecutionRecord = { ...rest, ...outcome, stopDate: this.now().toISOString() };
    await this.write(closed);
    return closed;
  }

  async read(machine: string, name: string): Promise<ExecutionRecord | undefined> {
    let record: ExecutionRecord;
    try {
      record = JSON.parse(await readFile(this.file(machine, name), "utf8")) as ExecutionRecord;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
    // The engine that ran it is gone (Ctrl-C, a crash): on AWS a stopped execution is ABORTED.
    if (writerGone(record)) {
      return this.close(record, { status: "ABORTED", error: "States.Aborted", cause: "the local engine running it stopped" });
    }
    return record;
  }

  private expired(record: ExecutionRecord): boolean {
    if (record.status === "RUNNING" || !record.stopDate) return false;
    return this.now().getTime() - Date.parse(record.stopDate) > EXECUTION_NAME_RESERVED_DAYS * 24 * 3600 * 1000;
  }

  private file(machine: string, name: string): string {
    return path.join(this.dir, machine, `${name}.json`);
  }

  private async write(record: ExecutionRecord): Promise<void> {
    const file = this.file(record.machine, record.name);
    await mkdir(path.dirname(file), { recursive: true });
    // Readers (a planner in another process) never see half a record.
    const temp = `${file}.${randomUUID()}.tmp`;
    await writeFile(temp, `${JSON.stringify(record, null, 2)}\n`);
    await rename(temp, file);
  }
}
