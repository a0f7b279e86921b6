import { randomBytes } from "node:crypto";
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { lstat, mkdir, readFile, readdir, rename, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { localRunsRoot, RUNS_DIR_ENV } from "../lib/local-weather-runs.ts";
import { addRunCosts, type RunCostEstimate } from "../lib/aws-pricing.ts";
import type { HistoryEventRecord } from "../run-model/history.ts";
import { interpretHistory, type EcsAttemptNote, type RunStatus, type StateVisit } from "../run-model/interpret.ts";
import { digestFailureLine, digestOf } from "../run-model/outcome.ts";
import { runCost } from "./cost.ts";
import { redactHistory } from "./redact.ts";
import { writerGone } from "../lib/process-alive.ts";

export type { AttemptRecord, AttemptStatus, EcsAttemptNote, RunStatus, StateVisit, VisitStatus } from "../run-model/interpret.ts";
export type { HistoryEventRecord } from "../run-model/history.ts";

/**
 * The run record: one JSON document per execution, local or on AWS, documented in docs/RUN_RECORD.md and
 * checked against docs/run-record.schema.json. `npm start -- --json`, `.data/runs/<id>/run.json`,
 * `npm start -- --aws --json`, `npm run runs` and the console all read and write this one shape.
 *
 * The history is kept as Step Functions records it (GetExecutionHistory's events: ids, previousEventId, types
 * such as `TaskStateEntered`, and `…EventDetails` with inputs and outputs as JSON text). The local engine writes its
 * run as the same events (local/history-writer.ts); `states`, `status` and `error` are then what the run model
 * (run-model/interpret.ts) reads from the history, whichever side ran it. Both the local and the AWS path write
 * records through here (local/run-recorder.ts, cli/aws-record.ts); credentials are taken out of the history here
 * first (run-records/redact.ts), so no record, nor anything that shows one, holds them.
 */

export const RUN_RECORD_SCHEMA = "atlas-pipelines/run-record/v1";
export { RUNS_DIR_ENV };
/** Where run folders go: `.data/runs/`, or `$ATLAS_RUNS_DIR`. */
export const RUNS_ROOT = localRunsRoot();
/** Separates a parent run's id from a child execution's name in a child record's id. */
export const CHILD_SEPARATOR = "~";

export interface ChildLink {
  id: string;
  name: string;
  workflow: string;
  status: RunStatus;
  key_input: Record<string, string>;
  started_at: string | null;
  duration_ms: number | null;
}

export interface PublishedFileRecord {
  key: string;
  name: string;
  bytes: number;
  /** Local copy (local runs); null on AWS. */
  path: string | null;
}

export interface RunRecord {
  schema: typeof RUN_RECORD_SCHEMA;
  id: string;
  source: "local" | "aws";
  workflow: string;
  execution: { name: string; arn: string };
  parent: { id: string } | null;
  children: ChildLink[];
  status: RunStatus;
  /** The inputs a person tells runs apart by: region, period, regions, job… */
  key_input: Record<string, string>;
  input: unknown;
  output: unknown;
  /**
   * Why the run did not succeed: the execution's Error and Cause, the one line a person acts on, and the state that
   * failed it (the run model's one rule, run-model/interpret.ts; null when no step did, e.g. a timeout or a digest).
   */
  error: { error: string; cause: string; line: string; state?: string | null } | null;
  started_at: string;
  stopped_at: string | null;
  duration_ms: number | null;
  updated_at: string;
  states: StateVisit[];
  history: HistoryEventRecord[];
  /** The state machine's ASL, so the record alone can draw the graph. */
  definition: unknown;
  outputs: { location: string | null; files: PublishedFileRecord[] };
  /** What the run would cost on AWS: the total, its parts and what they count (lib/aws-pricing.ts, local/run-cost.ts). */
  estimated_cost: RunCostEstimate;
  /** The Fargate part of `estimated_cost` (kept for readers of older records). */
  estimated_fargate_cost_usd: number | null;
  /** Local runs: the folder with logs, metrics, notifications and published copies. */
  run_dir: string | null;
  /**
   * While a local run is RUNNING: the process recording it. Once that process is gone without closing the record
   * (killed outright), the record reads as ABORTED (`seenNow` below).
   */
  pid?: number;
}

// ---------------------------------------------------------------------------------------------------------
// ids and files

/**
 * A new run folder under `root` with an id no other run has: time to the second, the workflow, and random
 * hex. The folder is created with a non-recursive mkdir, so two runs racing for one id cannot share it.
 */
export async function createRunDir(root: string, workflow: string, now = new Date()): Promise<{ id: string; runDir: string }> {
  await mkdir(root, { recursive: true });
  const stamp = now.toISOString().replace(/[-:]/g, "").replace(/\..*/, "").replace("T", "-");
  for (;;) {
    const id = `${stamp}-${workflow}-${randomBytes(3).toString("hex")}`;
    const runDir = path.join(root, id);
    try {
      await mkdir(runDir);
      return { id, runDir };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
}

export function recordFile(runDir: string): string {
  return path.join(runDir, "run.json");
}

/** Where a record lives: `<root>/<id>/run.json`, a child's `<root>/<parent>/children/<name>/run.json`. */
export function recordPath(root: string, id: string): string {
  const [parent, ...children] = id.split(CHILD_SEPARATOR);
  let dir = path.join(root, safeSegment(parent));
  for (const child of children) dir = path.join(dir, "children", safeSegment(child));
  return recordFile(dir);
}

function safeSegment(segment: string): string {
  if (!segment || segment === "." || segment === ".." || /[\\/]/.test(segment)) throw new Error(`not a run id: '${segment}'`);
  return segment;
}

/** Written to a temporary file and renamed: a live reader sees the previous record or this one, never half. */
export async function writeRecord(file: string, record: RunRecord): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${randomBytes(3).toString("hex")}.tmp`;
  await writeFile(tmp, `${JSON.stringify(record, null, 2)}\n`);
  await rename(tmp, file);
}

/** The same, synchronously: for the moment a signal is about to end the process. */
export function writeRecordSync(file: string, record: RunRecord): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(record, null, 2)}\n`);
  renameSync(tmp, file);
}

/** The record as it stands now: one left RUNNING by a process that is gone reads as ABORTED (`seenNow` below). */
export async function readRecord(root: string, id: string): Promise<RunRecord | undefined> {
  try {
    return seenNow(JSON.parse(await readFile(recordPath(root, id), "utf8")) as RunRecord);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT" || err instanceof SyntaxError) return undefined;
    throw err;
  }
}

/** A run's folder under the runs root, and its record. */
export interface RunFolder {
  /** The folder's own name: what `npm run runs -- show` takes, and what `clean` removes (never the id inside). */
  name: string;
  record: RunRecord;
}

/**
 * Top-level run folders under `root`, newest first by the folder's own facts, not by what its run.json says (a
 * record copied or planted into another folder must not pass for a newer run): the time in its name (`createRunDir`
 * names every folder `YYYYMMDD-HHMMSS-…`), else the folder's own creation time. Only real folders count: a symlink
 * is never followed. Folders without a readable run.json (being created, or from older versions) are skipped.
 */
export async function listRunFolders(root: string): Promise<RunFolder[]> {
  const entries = (await readdir(root, { withFileTypes: true }).catch(() => [])).filter((e) => e.isDirectory());
  const found = await Promise.all(
    entries.map(async (e) => {
      const record = await readRecord(root, e.name).catch(() => undefined);
      if (!record) return undefined;
      return { name: e.name, record, time: folderTime(e.name) ?? (await folderCreated(path.join(root, e.name))) };
    }),
  );
  return found
    .filter((f) => f !== undefined)
    .sort((a, b) => b.time - a.time || (a.name < b.name ? 1 : a.name > b.name ? -1 : 0))
    .map(({ name, record }) => ({ name, record }));
}

/** Top-level runs under `root`, newest first (`listRunFolders`). */
export async function listRecords(root: string): Promise<RunRecord[]> {
  return (await listRunFolders(root)).map((f) => f.record);
}

/** The time `createRunDir` wrote into a folder's name, in ms; undefined for a name it did not make. */
function folderTime(name: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})-/.exec(name);
  if (!m) return undefined;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  return Number.isNaN(ms) ? undefined : ms;
}

async function folderCreated(dir: string): Promise<number> {
  const s = await lstat(dir).catch(() => undefined);
  return s ? s.birthtimeMs || s.mtimeMs : 0;
}

// ---------------------------------------------------------------------------------------------------------
// building a record from a history

export interface BuildRecordOptions {
  id: string;
  source: "local" | "aws";
  workflow: string;
  execution: { name: string; arn: string };
  parent?: { id: string } | null;
  history: HistoryEventRecord[];
  definition?: unknown;
  ecsNotes?: EcsAttemptNote[];
  children?: ChildLink[];
  outputs?: RunRecord["outputs"];
  /** Requests to the data bucket, counted by the local engine's embedded S3 server; absent on AWS. */
  s3Requests?: { write: number; read: number } | null;
  /** The estimates of the executions this one started (a fan-out's items): added to its own. */
  childCosts?: RunCostEstimate[];
  runDir?: string | null;
  /** When the history has not ended yet: a started run is RUNNING. */
  now?: number;
}

export function buildRecord(o: BuildRecordOptions): RunRecord {
  // A scoped step's session credentials pass through the history: no record keeps them (run-records/redact.ts).
  const history = redactHistory([...o.history].sort((a, b) => a.id - b.id));
  const model = interpretHistory(history, { notes: o.ecsNotes });
  const states = model.visits;
  const output = model.status === "SUCCEEDED" ? model.output : null;
  const status: RunStatus = model.outcome;

  let error: RunRecord["error"] = null;
  if (model.failure) {
    error = { error: model.failure.error, cause: model.failure.cause, line: model.failure.line, state: model.failure.state };
  } else if (status === "PARTIAL" || status === "FAILED") {
    const digest = digestOf(output)!;
    error = { error: "Digest", cause: JSON.stringify(digest), line: digestFailureLine(digest) };
  }
  const cost = addRunCosts([runCost({ workflow: o.workflow, history, states, definition: o.definition ?? null }, o.s3Requests ?? null), ...(o.childCosts ?? [])]);
  const startedAt = history.find((e) => e.type === "ExecutionStarted")?.timestamp ?? new Date(o.now ?? Date.now()).toISOString();
  const stoppedAt = model.stoppedAt !== undefined ? new Date(model.stoppedAt).toISOString() : null;
  return {
    schema: RUN_RECORD_SCHEMA,
    id: o.id,
    source: o.source,
    workflow: o.workflow,
    execution: o.execution,
    parent: o.parent ?? null,
    children: o.children ?? [],
    status,
    key_input: keyInput(model.input),
    input: model.input,
    output,
    error,
    started_at: startedAt,
    stopped_at: stoppedAt,
    duration_ms: stoppedAt ? Date.parse(stoppedAt) - Date.parse(startedAt) : null,
    updated_at: new Date(o.now ?? Date.now()).toISOString(),
    states,
    history,
    definition: o.definition ?? null,
    outputs: o.outputs ?? { location: null, files: [] },
    estimated_cost: cost,
    estimated_fargate_cost_usd: cost.parts.fargate_usd,
    run_dir: o.runDir ?? null,
  };
}

/** The inputs worth a column in a list of runs; a task run's (its input is `{task, message}`), its task id and type. */
export function keyInput(input: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!input || typeof input !== "object") return out;
  const task = (input as { task?: unknown }).task;
  if (task && typeof task === "object") {
    const { taskId, type } = task as { taskId?: unknown; type?: unknown };
    if (typeof taskId === "string") out.task = taskId;
    if (typeof type === "string") out.type = type;
  }
  for (const [k, v] of Object.entries(input as Record<string, unknown>)) {
    if (["region", "period", "regions", "job", "date", "stations", "runId", "run_id"].includes(k) && v !== undefined && v !== null) {
      out[k] = Array.isArray(v) ? v.join(",") : typeof v === "object" ? JSON.stringify(v) : String(v);
    }
  }
  return out;
}

/**
 * A local run record as it stands now. The process running a local run rewrites its record while it runs and
 * closes it when it ends, even on Ctrl-C (local/interrupt.ts); a process killed outright (kill -9, a crash, the
 * machine going down) leaves it RUNNING. Such a record reads as ABORTED, by the same rule as the engine's executions
 * (lib/process-alive.ts), so `npm run runs` and the console do not show it running for ever and `runs clean` may
 * remove it. The file itself is left as it is: reading never writes.
 */
export function seenNow(record: RunRecord): RunRecord {
  if (!writerGone(record)) return record;
  const stoppedAt = record.updated_at;
  const duration = Math.max(0, Date.parse(stoppedAt) - Date.parse(record.started_at));
  const running = <T extends string>(status: T) => (status === "RUNNING" ? "ABORTED" : status);
  const { pid, ...rest } = record;
  return {
    ...rest,
    status: "ABORTED",
    error: {
      error: "States.Aborted",
      cause: `the process running it (pid ${pid}) ended without recording an end (killed, or its machine stopped); its last write was at ${stoppedAt}`,
      line: `aborted: the process running it (pid ${pid}) is gone`,
    },
    stopped_at: stoppedAt,
    duration_ms: Number.isNaN(duration) ? null : duration,
    children: record.children.map((c) => ({ ...c, status: running(c.status) })),
    states: record.states.map((v) => ({ ...v, status: running(v.status), attempts: v.attempts.map((a) => ({ ...a, status: running(a.status) })) })),
  };
}
