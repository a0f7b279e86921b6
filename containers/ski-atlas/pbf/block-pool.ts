import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { ParsedBlob } from "./blocks.ts";
import type { CoreKind, WaysResult } from "./block-core.ts";
import type { NodeBatch } from "./node-filter.ts";
import type { WorkerRequest } from "./block-worker.ts";
import { PbfFormatError } from "./protobuf.ts";
import type { TagRule } from "./rules.ts";

/**
 * Worker threads of the extractor: each inflates and filters whole blocks, the way blocks of pass 1 and the node
 * blocks of pass 2 (inflating and decoding both off the main thread), so the extract uses every core. Blocks are
 * handed to the first idle worker; results come back as promises, which the caller awaits in file order. The
 * split is osmpbf's (https://docs.rs/osmpbf, `par_map_reduce`): one thread reads Blobs in sequence, whole Blobs
 * are inflated and decoded in parallel, so inflating and decoding scale with the cores while reading stays sequential.
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
const WORKER_URL = new URL(import.meta.url.endsWith(".ts") ? "./block-worker.ts" : "./block-worker.js", import.meta.url);

interface Pending {
  resolve: (result: unknown) => void;
  reject: (e: Error) => void;
}

export class BlockPool {
  private readonly workers: Worker[] = [];
  private readonly idle: Worker[] = [];
  private readonly queue: { request: WorkerRequest; transfer: ArrayBuffer[] }[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private failed: Error | undefined;

  /**
   * Starts the threads (they load their code meanwhile), each with a block core of `core`'s kind for `rules`;
   * `setWayRefs` / `setNeeded` give them each pass's ids.
   */
  constructor(size: number, core: CoreKind, rules: readonly TagRule[]) {
    for (let i = 0; i < size; i++) {
      const w = new Worker(WORKER_URL, { execArgv: [] });
      w.on("message", (m: { id: number; result?: unknown; error?: string; format?: boolean }) => {
        const p = this.pending.get(m.id)!;
        this.pending.delete(m.id);
        this.idle.push(w);
        this.drain();
        if (m.result) p.resolve(m.result);
        else p.reject(m.format ? new PbfFormatError(m.error!) : new Error(m.error));
      });
      w.on("error", (err) => this.fail(err));
      w.postMessage({ type: "init", core, rules: [...rules] } satisfies WorkerRequest);
      this.workers.push(w);
      this.idle.push(w);
    }
  }

  get size(): number {
    return this.workers.length;
  }

  /** Pass 1: the sorted, distinct ids of the ways kept relations list (shared, not copied). */
  setWayRefs(ids: SharedArrayBuffer, count: number): void {
    for (const w of this.workers) w.postMessage({ type: "way-refs", ids, count } satisfies WorkerRequest);
  }

  /** Pass 2: the sorted, distinct ids of the nodes to keep (shared, not copied). */
  setNeeded(ids: SharedArrayBuffer, count: number): void {
    for (const w of this.workers) w.postMessage({ type: "needed", ids, count } satisfies WorkerRequest);
  }

  /** Inflates and filters the ways of one block on a worker (the Blob's bytes are transferred, not copied). */
  ways(blob: ParsedBlob): Promise<WaysResult> {
    return this.run("ways", blob) as Promise<WaysResult>;
  }

  /** Inflates and filters the nodes of one block on a worker (the Blob's bytes are transferred, not copied). */
  nodes(blob: ParsedBlob): Promise<NodeBatch> {
    return this.run("nodes", blob) as Promise<NodeBatch>;
  }

  private run(type: "ways" | "nodes", blob: ParsedBlob): Promise<unknown> {
    if (this.failed) return Promise.reject(this.failed);
    const id = this.nextId++;
    const promise = new Promise<unknown>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    // The Blob's bytes own their buffer (ByteSource.read): moved to the worker, whose memory it then is. (A view of
    // shared memory would be shared instead.)
    const buffer = blob.data.buffer;
    this.queue.push({ request: { type, id, blob }, transfer: buffer instanceof SharedArrayBuffer ? [] : [buffer as ArrayBuffer] });
    this.drain();
    return promise;
  }

  private drain(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const { request, transfer } = this.queue.shift()!;
      this.idle.pop()!.postMessage(request, transfer);
    }
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
