import { randomBytes } from "node:crypto";
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { lstat, mkdir, readFile, readdir, rename, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { localRunsRoot, RUNS_DIR_ENV } from "../lib/local-weather-runs.ts";
import { oneLineError, tierFromState } from "./engine.ts";
import { digestFailureLine, digestOf, runOutcome } from "./run-outcome.ts";
import { addRunCosts, type RunCostEstimate } from "../lib/aws-pricing.ts";
import { runCost } from "./run-cost.ts";
import { seenNow } from "./run-liveness.ts";

/**
 * The run record: one JSON document per execution, local or on AWS, documented in docs/RUN_RECORD.md and
 * checked against docs/run-record.schema.json. `npm start -- --json`, `.data/runs/<id>/run.json`,
 * `npm start -- --aws --json`, `npm run runs` and the console all read and write this one shape.
 *
 * The history is kept as Step Functions records it (GetExecutionHistory's events: ids, previousEventId, types
 * such as `TaskStateEntered`, and `…EventDetails` with inputs and outputs as JSON text). The local engine's run
 * is translated into the same events (local/run-recorder.ts); `states` is then derived from the history by the
 * same code whichever side ran it.
 */

export const RUN_RECORD_SCHEMA = "atlas-pipelines/run-record/v1";
export { RUNS_DIR_ENV };
/** Where run folders go: `.data/runs/`, or `$ATLAS_RUNS_DIR`. */
export const RUNS_ROOT = localRunsRoot();
/** Separates a parent run's id from a child execution's name in a child record's id. */
export const CHILD_SEPARATOR = "~";

export type RunStatus = "RUNNING" | "SUCCEEDED" | "FAILED" | "TIMED_OUT" | "ABORTED" | "PARTIAL";
export type AttemptStatus = "RUNNING" | "SUCCEEDED" | "FAILED" | "TIMED_OUT" | "ABORTED";
export type VisitStatus = AttemptStatus | "CAUGHT";

/** A GetExecutionHistory event, timestamps as ISO text. */
export interface HistoryEventRecord {
  id: number;
  previousEventId?: number;
  timestamp: string;
  type: string;
  [details: string]: unknown;
}

/** One try of a Task state: Step Functions' TaskScheduled … TaskSucceeded/TaskFailed. */
export interface AttemptRecord {
  number: number;
  started_at: string;
  stopped_at: string | null;
  duration_ms: number | null;
  status: AttemptStatus;
  error: string | null;
  cause: string | null;
  /** ECS steps: the size tier the attempt ran on. */
  tier: string | null;
  /** ECS steps run locally: the highest resident memory of the task's process tree. */
  peak_rss_bytes: number | null;
  /** ECS steps run locally: the step's log (stdout and stderr). */
  log_file: string | null;
  /** ECS steps run locally: the last `error:` line the step printed (what to fix, in the step's words). */
  message: string | null;
}

/** One entry into a state (a state entered again, e.g. a tier choice, is a new visit). */
export interface StateVisit {
  name: string;
  type: string;
  /** Inside a Map iteration: `Regions[0]`; null at the top level. */
  iteration: string | null;
  entered_at: string;
  exited_at: string | null;
  status: VisitStatus;
  input: unknown;
  output: unknown;
  error: string | null;
  cause: string | null;
  attempts: AttemptRecord[];
}

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
  error: { error: string; cause: string; line: string } | null;
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
   * (killed outright), the record reads as ABORTED (local/run-liveness.ts).
   */
  pid?: number;
}

/** What only the local ECS runner knows about an attempt, matched to attempts of the named state in order. */
export interface EcsAttemptNote {
  state: string;
  tier: string | null;
  peak_rss_bytes: number | null;
  log_file: string | null;
  message: string | null;
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

/** The record as it stands now: one left RUNNING by a process that is gone reads as ABORTED (local/run-liveness.ts). */
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
  const history = [...o.history].sort((a, b) => a.id - b.id);
  const started = history.find((e) => e.type === "ExecutionStarted");
  const end = history.find((e) => EXECUTION_END[e.type]);
  const endDetails = end ? detailsOf(end) : {};
  const input = parseJsonText(detailsOf(started ?? ({} as HistoryEventRecord)).input);
  const output = end?.type === "ExecutionSucceeded" ? parseJsonText(endDetails.output) : null;
  const states = deriveStates(history, o.ecsNotes ?? []);
  const status: RunStatus = runOutcome(end ? EXECUTION_END[end.type] : "RUNNING", output);

  let error: RunRecord["error"] = null;
  if (end && end.type !== "ExecutionSucceeded") {
    const err = text(endDetails.error) ?? (end.type === "ExecutionTimedOut" ? "States.Timeout" : end.type === "ExecutionAborted" ? "Aborted" : "");
    const cause = text(endDetails.cause) ?? "";
    error = { error: err, cause, line: failureLine(states, err, cause, end.type) };
  } else if (status === "PARTIAL" || status === "FAILED") {
    const digest = digestOf(output)!;
    error = { error: "Digest", cause: JSON.stringify(digest), line: digestFailureLine(digest) };
  }
  const cost = addRunCosts([runCost({ workflow: o.workflow, history, states, definition: o.definition ?? null }, o.s3Requests ?? null), ...(o.childCosts ?? [])]);
  const startedAt = started?.timestamp ?? new Date(o.now ?? Date.now()).toISOString();
  const stoppedAt = end?.timestamp ?? null;
  return {
    schema: RUN_RECORD_SCHEMA,
    id: o.id,
    source: o.source,
    workflow: o.workflow,
    execution: o.execution,
    parent: o.parent ?? null,
    children: o.children ?? [],
    status,
    key_input: keyInput(input),
    input,
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

/** The inputs worth a column in a list of runs. */
export function keyInput(input: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!input || typeof input !== "object") return out;
  for (const [k, v] of Object.entries(input as Record<string, unknown>)) {
    if (["region", "period", "regions", "job", "date", "stations", "runId", "run_id"].includes(k) && v !== undefined && v !== null) {
      out[k] = Array.isArray(v) ? v.join(",") : typeof v === "object" ? JSON.stringify(v) : String(v);
    }
  }
  return out;
}

const EXECUTION_END: Record<string, RunStatus> = {
  ExecutionSucceeded: "SUCCEEDED",
  ExecutionFailed: "FAILED",
  ExecutionTimedOut: "TIMED_OUT",
  ExecutionAborted: "ABORTED",
};
/** The history's event types, by what they mean for a state (shared with the progress view, cli/aws-follow.ts). */
export const STATE_TYPES = ["Task", "Map", "Pass", "Choice", "Wait", "Parallel", "Succeed", "Fail"] as const;
export const TASK_START_EVENTS: ReadonlySet<string> = new Set(["TaskScheduled", "LambdaFunctionScheduled", "ActivityScheduled"]);
export const TASK_SUCCESS_EVENTS: ReadonlySet<string> = new Set(["TaskSucceeded", "LambdaFunctionSucceeded", "ActivitySucceeded"]);
export const TASK_FAILURE_EVENTS: ReadonlySet<string> = new Set([
  "TaskFailed",
  "TaskTimedOut",
  "TaskStartFailed",
  "TaskSubmitFailed",
  "LambdaFunctionFailed",
  "LambdaFunctionTimedOut",
  "LambdaFunctionStartFailed",
  "LambdaFunctionScheduleFailed",
  "ActivityFailed",
  "ActivityTimedOut",
  "ActivityScheduleFailed",
]);
export const CONTAINER_FAILURE_EVENTS: ReadonlySet<string> = new Set(["MapStateFailed", "MapRunFailed", "ParallelStateFailed"]);
const STATE_TYPE_SET: ReadonlySet<string> = new Set(STATE_TYPES);

/**
 * Every state visit with its attempts, from a history. States inside a Map iteration are told apart by following
 * `previousEventId` back to their `MapIterationStarted`, so concurrent iterations of one state stay separate.
 */
export function deriveStates(history: HistoryEventRecord[], ecsNotes: EcsAttemptNote[] = []): StateVisit[] {
  const visits: StateVisit[] = [];
  const threadOf = new Map<number, string>();
  const open = new Map<string, StateVisit[]>();
  const innermost = (thread: string, test: (v: StateVisit) => boolean) => (open.get(thread) ?? []).findLast(test);
  const close = (thread: string, visit: StateVisit) => {
    const stack = open.get(thread) ?? [];
    stack.splice(stack.lastIndexOf(visit), 1);
  };
  const endAttempt = (attempt: AttemptRecord, at: string, status: AttemptStatus) => {
    attempt.stopped_at = at;
    attempt.duration_ms = Math.max(0, Date.parse(at) - Date.parse(attempt.started_at));
    attempt.status = status;
  };

  for (const event of history) {
    const d = detailsOf(event);
    const previous = event.previousEventId !== undefined ? (threadOf.get(event.previousEventId) ?? "") : "";
    let thread = previous;
    if (event.type === "MapIterationStarted") thread = `${previous}/${text(d.name) ?? ""}[${String(d.index ?? "")}]`;
    else if (event.type.startsWith("MapIteration")) {
      const own = `/${text(d.name) ?? ""}[${String(d.index ?? "")}]`;
      thread = previous.endsWith(own) ? previous.slice(0, -own.length) : previous;
    }
    threadOf.set(event.id, thread);
    const at = event.timestamp;

    if (event.type.endsWith("StateEntered") && STATE_TYPE_SET.has(event.type.slice(0, -"StateEntered".length))) {
      const visit: StateVisit = {
        name: text(d.name) ?? "",
        type: event.type.slice(0, -"StateEntered".length),
        iteration: thread ? thread.split("/").filter(Boolean).join("/") : null,
        entered_at: at,
        exited_at: null,
        status: "RUNNING",
        input: parseJsonText(d.input),
        output: null,
        error: null,
        cause: null,
        attempts: [],
      };
      visits.push(visit);
      open.set(thread, [...(open.get(thread) ?? []), visit]);
    } else if (event.type.endsWith("StateExited")) {
      const visit = innermost(thread, (v) => v.name === d.name);
      if (!visit) continue;
      close(thread, visit);
      visit.exited_at = at;
      visit.output = parseJsonText(d.output);
      const last = visit.attempts.at(-1);
      if (last?.status === "RUNNING") endAttempt(last, at, "SUCCEEDED");
      visit.status = visit.error !== null && (!last || last.status !== "SUCCEEDED") ? "CAUGHT" : "SUCCEEDED";
    } else if (TASK_START_EVENTS.has(event.type)) {
      const visit = innermost(thread, (v) => v.type === "Task");
      if (!visit) continue;
      visit.attempts.push({
        number: visit.attempts.length + 1,
        started_at: at,
        stopped_at: null,
        duration_ms: null,
        status: "RUNNING",
        error: null,
        cause: null,
        tier: tierFromState(visit.name) ?? null,
        peak_rss_bytes: null,
        log_file: null,
        message: null,
      });
    } else if (TASK_SUCCESS_EVENTS.has(event.type)) {
      const attempt = innermost(thread, (v) => v.type === "Task")?.attempts.at(-1);
      if (attempt?.status === "RUNNING") endAttempt(attempt, at, "SUCCEEDED");
    } else if (TASK_FAILURE_EVENTS.has(event.type) || CONTAINER_FAILURE_EVENTS.has(event.type)) {
      const container = CONTAINER_FAILURE_EVENTS.has(event.type);
      const visit = innermost(thread, (v) => (container ? v.type === "Map" || v.type === "Parallel" : v.type === "Task"));
      if (!visit) continue;
      visit.error = text(d.error) ?? (event.type.endsWith("TimedOut") ? "States.Timeout" : "States.TaskFailed");
      visit.cause = text(d.cause) ?? "";
      visit.status = "FAILED";
      const attempt = visit.attempts.at(-1);
      if (attempt?.status === "RUNNING") {
        endAttempt(attempt, at, event.type.endsWith("TimedOut") || visit.error === "States.Timeout" ? "TIMED_OUT" : "FAILED");
        attempt.error = visit.error;
        attempt.cause = visit.cause;
      }
    } else if (EXECUTION_END[event.type]) {
      const status = EXECUTION_END[event.type];
      for (const visit of [...open.values()].flat()) {
        const attempt = visit.attempts.at(-1);
        if (attempt?.status === "RUNNING") endAttempt(attempt, at, status === "SUCCEEDED" ? "SUCCEEDED" : (status as AttemptStatus));
        if (visit.status === "RUNNING") visit.status = status === "SUCCEEDED" ? "SUCCEEDED" : (status as AttemptStatus);
        visit.exited_at ??= at;
      }
      open.clear();
    }
  }

  // Local extras, in the order the ECS runner reported them for each state.
  const notesByState = new Map<string, EcsAttemptNote[]>();
  for (const note of ecsNotes) notesByState.set(note.state, [...(notesByState.get(note.state) ?? []), note]);
  for (const visit of visits) {
    const notes = notesByState.get(visit.name);
    if (!notes) continue;
    for (const attempt of visit.attempts) {
      if (attempt.status === "RUNNING") break;
      const note = notes.shift();
      if (!note) break;
      attempt.tier = note.tier ?? attempt.tier;
      attempt.peak_rss_bytes = note.peak_rss_bytes;
      attempt.log_file = note.log_file;
      attempt.message = note.message;
    }
  }
  return visits;
}

/** The line a person acts on: the step that failed and what it said, not the clean-up that ran after it. */
function failureLine(states: StateVisit[], error: string, cause: string, endType: string): string {
  if (endType === "ExecutionAborted") return "aborted: the run was interrupted";
  const failed = [...states]
    .reverse()
    .find((s) => s.type === "Task" && !s.name.startsWith("Roll back") && (s.status === "FAILED" || s.status === "CAUGHT") && s.error);
  const describe = (e: string, c: string) => oneLineError(e, c);
  const said = failed?.attempts.at(-1)?.message;
  if (failed && (error === "States.TaskFailed" || !cause)) return `${failed.name.replace(/ \(.*\)$/, "")}: ${said ?? describe(failed.error!, failed.cause ?? "")}`;
  return describe(error, cause);
}

/** The event's `…EventDetails` object (each event carries at most one). */
export function detailsOf(event: object): Record<string, unknown> {
  for (const [key, value] of Object.entries(event)) {
    if (key.endsWith("EventDetails") && value && typeof value === "object") return value as Record<string, unknown>;
  }
  return {};
}

function text(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

function parseJsonText(value: unknown): unknown {
  if (typeof value !== "string") return value ?? null;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

/** A history event in GetExecutionHistory's shape, at a time given in milliseconds. */
export function historyEvent(id: number, previousEventId: number | undefined, time: number, type: string, details?: Record<string, unknown>): HistoryEventRecord {
  const event: HistoryEventRecord = { id, timestamp: new Date(time).toISOString(), type };
  if (previousEventId !== undefined) event.previousEventId = previousEventId;
  if (details) event[detailsKeyOf(type)] = details;
  return event;
}

/** GetExecutionHistory names the details after the event (`taskFailedEventDetails`), except for state entry and exit. */
function detailsKeyOf(type: string): string {
  if (type.endsWith("StateEntered")) return "stateEnteredEventDetails";
  if (type.endsWith("StateExited")) return "stateExitedEventDetails";
  return `${type.charAt(0).toLowerCase()}${type.slice(1)}EventDetails`;
}
