import * as path from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import type { AslDefinition } from "../stacks/resolve-asl.ts";
import { committedFiles, copyCommitted } from "../lib/published.ts";
import { parseS3Uri } from "../lib/s3.ts";
import { historyEvent, type HistoryEventRecord } from "../run-model/history.ts";
import type { EcsAttemptNote } from "../run-model/interpret.ts";
import { withSharedMetricSeries } from "../run-records/cost.ts";
import { buildRecord, CHILD_SEPARATOR, recordFile, writeRecord, writeRecordSync, type RunRecord } from "../run-records/record.ts";

/** How often a live record is rewritten at most while events arrive (only the records that changed). */
const WRITE_DEBOUNCE_MS = 300;

interface ExecutionTrack {
  name: string;
  machine: string;
  arn: string;
  history: HistoryEventRecord[];
  ecsNotes: EcsAttemptNote[];
  finished: boolean;
  outputs?: RunRecord["outputs"];
}

/**
 * Keeps the run record of a local run and of each execution it starts (a fan-out's items are executions of
 * their own, with their own records linked from the parent). The engine hands over each execution's history as
 * it is written (local/history-writer.ts, in GetExecutionHistory's shape), and the record file is rewritten as
 * the run goes so a console can follow it live.
 */
export class RunRecorder {
  private readonly executions = new Map<string, ExecutionTrack>();
  private top?: string;
  private timer?: NodeJS.Timeout;
  private writing: Promise<void> = Promise.resolve();
  /** Executions whose record changed since it was last written. */
  private readonly dirty = new Set<string>();
  private aborted = false;
  /** Requests the run made to the embedded S3 server, once it has ended (the top record's estimate counts them). */
  private s3Requests: { write: number; read: number } | null = null;

  constructor(
    readonly options: {
      id: string;
      runDir: string;
      definitions: Record<string, AslDefinition>;
    },
  ) {}

  get id(): string {
    return this.options.id;
  }
  get file(): string {
    return recordFile(this.options.runDir);
  }

  /** For `LocalEngine`'s `onHistory`. */
  onHistory = (execution: string, machine: string, event: HistoryEventRecord): void => {
    // Once aborted, what the dying steps' states do is not history: the record ends with ExecutionAborted.
    if (this.aborted) return;
    let track = this.executions.get(execution);
    if (!track) {
      track = {
        name: execution,
        machine,
        arn: `arn:aws:states:local:000000000000:execution:${machine}:${execution}`,
        history: [],
        ecsNotes: [],
        finished: false,
      };
      this.executions.set(execution, track);
      this.top ??= execution;
    }
    track.history.push(event);
    if (/^Execution(Succeeded|Failed|TimedOut|Aborted)$/.test(event.type)) track.finished = true;
    this.dirty.add(execution);
    // The run's record lists its children's status: it changes when a child starts or ends.
    if (execution !== this.top && /^Execution/.test(event.type) && this.top) this.dirty.add(this.top);
    this.scheduleWrite();
  };

  /** For `LocalEngine`'s `onEcsTask`: what only the local runner knows about an attempt. */
  onEcsTask = (execution: string, note: EcsAttemptNote): void => {
    this.executions.get(execution)?.ecsNotes.push(note);
  };

  /** The record of the run (the top-level execution), or of one of its child executions by name. */
  record(execution = this.top, now = Date.now()): RunRecord {
    const track = execution ? this.executions.get(execution) : undefined;
    const isTop = !track || execution === this.top;
    const id = isTop ? this.options.id : `${this.options.id}${CHILD_SEPARATOR}${execution}`;
    const workflow = track?.machine ?? "";
    const children = isTop ? this.childRecords(now) : [];
    const record = buildRecord({
      id,
      source: "local",
      workflow,
      execution: { name: track?.name ?? "", arn: track?.arn ?? "" },
      parent: isTop ? null : { id: this.options.id },
      history: track?.history ?? [],
      definition: this.options.definitions[workflow] ?? null,
      ecsNotes: track?.ecsNotes ?? [],
      children: children.map((r) => ({ id: r.id, name: r.execution.name, workflow: r.workflow, status: r.status, key_input: r.key_input, started_at: r.started_at, duration_ms: r.duration_ms })),
      outputs: track?.outputs,
      s3Requests: isTop ? this.s3Requests : null,
      // The children's metric series-hours are shared (the same region-less series): counted once in the total.
      childCosts: withSharedMetricSeries(children),
      runDir: this.options.runDir,
      now,
    });
    // While it runs, the record names this process: if it is killed outright, readers see the run ABORTED.
    return record.status === "RUNNING" ? { ...record, pid: process.pid } : record;
  }

  /** Every record: the run's first, then its children. */
  records(now = Date.now()): RunRecord[] {
    return [...this.executions.keys()].map((name) => this.record(name, now));
  }

  private childRecords(now: number): RunRecord[] {
    return [...this.executions.values()].filter((t) => t.name !== this.top).map((t) => this.record(t.name, now));
  }

  private fileOf(execution: string): string {
    return execution === this.top ? this.file : path.join(this.options.runDir, "children", execution, "run.json");
  }

  private scheduleWrite(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, WRITE_DEBOUNCE_MS);
  }

  /** Writes the records that changed (every record with `all`), after the writes already under way. */
  flush(now = Date.now(), all = false): Promise<void> {
    if (this.aborted) return this.writing;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const names = all ? [...this.executions.keys()] : [...this.dirty];
    this.dirty.clear();
    this.writing = this.writing.then(() =>
      Promise.all(names.map((name) => writeRecord(this.fileOf(name), this.record(name, now)))).then(() => undefined),
    );
    return this.writing;
  }

  /**
   * The run was interrupted: every execution still running ends as Step Functions ends a stopped one
   * (ExecutionAborted), and the records are written before the process goes.
   */
  /** `abortSync`, once the record writes already under way have landed (so none of them lands after it). */
  async abort(): Promise<RunRecord> {
    this.aborted = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.writing.catch(() => undefined);
    return this.abortSync();
  }

  abortSync(): RunRecord {
    this.aborted = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const now = Date.now();
    for (const track of this.executions.values()) {
      if (track.finished) continue;
      const last = track.history.at(-1)?.id;
      track.history.push(historyEvent((last ?? 0) + 1, last, now, "ExecutionAborted", { error: "Interrupted", cause: "the local run was interrupted (SIGINT or SIGTERM); every step process was stopped" }));
      track.finished = true;
    }
    for (const name of this.executions.keys()) writeRecordSync(this.fileOf(name), this.record(name, now));
    return this.record(this.top, now);
  }

  /**
   * After the run: the published files of each execution (the run's own already copied by the summary; each
   * child's copied here under `outDir` (--out) or `published/`, as `<region>/<period>/…`, so a fan-out's months
   * are files too), the S3 requests the run made (for the cost estimate), and a final write.
   */
  async finish(s3: S3Client, top: { copiedTo?: string; outDir?: string; s3Requests?: { write: number; read: number } | null; outputs?: RunRecord["outputs"] }): Promise<RunRecord> {
    this.s3Requests = top.s3Requests ?? null;
    // Outputs that are not a published prefix (a task's results, local/task-worker.ts): as the caller found them.
    if (top.outputs && this.top) this.executions.get(this.top)!.outputs = top.outputs;
    for (const track of this.executions.values()) {
      const record = this.record(track.name);
      const publish = (record.output as { plan?: { uris?: { publish?: string } } } | null)?.plan?.uris?.publish;
      const isTop = track.name === this.top;
      if (publish && record.status === "SUCCEEDED" && record.workflow !== "ski-atlas-monthly") {
        // The committed version, flat (lib/published.ts); the run's own was copied by the summary already.
        const { key: prefix } = parseS3Uri(publish);
        const copyDir = isTop && top.copiedTo ? top.copiedTo : path.join(top.outDir ?? path.join(this.options.runDir, "published"), prefix);
        const files = isTop && top.copiedTo ? await committedFiles(s3, publish) : await copyCommitted(s3, publish, copyDir);
        track.outputs = { location: publish, files: files.map((f) => ({ key: f.key, name: f.name, bytes: f.bytes, path: path.join(copyDir, f.name) })) };
      }
    }
    // The record returned is the one written.
    const now = Date.now();
    await this.flush(now, true);
    return this.record(this.top, now);
  }
}
