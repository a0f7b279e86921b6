import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { ParsedBlob } from "./blocks.ts";
import type { NodeBatch } from "./node-filter.ts";
import type { WorkerRequest } from "./node-worker.ts";
import { PbfFormatError } from "./protobuf.ts";
import type { TagRule } from "./rules.ts";

/**
 * Worker threads for pass 2 of the extractor: each inflates and filters whole node blocks (zlib and the
 * decoding both off the main thread), so the extract uses every core. Blocks are handed to the first idle
 * worker; results come back as promises, which the caller awaits in file order. The split is osmpbf's
 * (https://docs.rs/osmpbf, `par_map_reduce`): one thread reads Blobs in sequence, whole Blobs are inflated and
 * decoded in parallel, so zlib and decoding scale with the cores while reading stays sequential.
 */

/**
 * Worker threads for the extract: ATLAS_PBF_WORKERS, else one per available core, and none on a single core
 * (a 1-vCPU task: a thread there only adds the cost of handing blocks over).
 */
export function workerCount(env: NodeJS.ProcessEnv = process.env): number {
  const cores = availableParallelism();
  const byDefault = cores > 1 ? cores : 0;
  const n = Number(env.ATLAS_PBF_WORKERS ?? byDefault);
  return Number.isInteger(n) && n >= 0 ? n : byDefault;
}

// The worker runs the same module format as this file: .ts in development and tests (Node 24 strips the
// types), .js in the image.
const WORKER_URL = new URL(import.meta.url.endsWith(".ts") ? "./node-worker.ts" : "./node-worker.js", import.meta.url);

interface Pending {
  resolve: (b: NodeBatch) => void;
  reject: (e: Error) => void;
}

export class NodePool {
  private readonly workers: Worker[] = [];
  private readonly idle: Worker[] = [];
  private readonly queue: { request: WorkerRequest & { type: "block" } }[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private failed: Error | undefined;

  /** Starts the threads (they load their code meanwhile); `init` gives them the work's parameters. */
  constructor(size: number) {
    for (let i = 0; i < size; i++) {
      const w = new Worker(WORKER_URL, { execArgv: [] });
      w.on("message", (m: { id: number; batch?: NodeBatch; error?: string; format?: boolean }) => {
        const p = this.pending.get(m.id)!;
        this.pending.delete(m.id);
        this.idle.push(w);
        this.drain();
        if (m.batch) p.resolve(m.batch);
        else p.reject(m.format ? new PbfFormatError(m.error!) : new Error(m.error));
      });
      w.on("error", (err) => this.fail(err));
      this.workers.push(w);
      this.idle.push(w);
    }
  }

  get size(): number {
    return this.workers.length;
  }

  /** The sorted, distinct ids of the nodes to keep (shared, not copied) and the tag rules. */
  init(needed: SharedArrayBuffer, nNeeded: number, rules: readonly TagRule[]): void {
    for (const w of this.workers) w.postMessage({ type: "init", needed, nNeeded, rules: [...rules] } satisfies WorkerRequest);
  }

  /** Inflates and filters one node block on a worker. */
  run(blob: ParsedBlob, mayHoldWays: boolean): Promise<NodeBatch> {
    if (this.failed) return Promise.reject(this.failed);
    const id = this.nextId++;
    const promise = new Promise<NodeBatch>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.queue.push({ request: { type: "block", id, blob, mayHoldWays } });
    this.drain();
    return promise;
  }

  private drain(): void {
    while (this.idle.length > 0 && this.queue.length > 0) this.idle.pop()!.postMessage(this.queue.shift()!.request);
  }

  private fail(err: Error): void {
    this.failed = err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
