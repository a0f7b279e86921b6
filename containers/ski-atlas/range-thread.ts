import { Worker } from "node:worker_threads";
import type { S3Client } from "@aws-sdk/client-s3";
import { getObjectRange } from "../../lib/s3-objects.ts";
import type { RangeReader } from "./pbf/source.ts";

/**
 * Ranged GETs of one S3 object for the extract's RangeSource. The extract reads the raw file twice (a continent's:
 * tens of GB), and receiving that over HTTP (the SDK's parsing, a callback and a copy per 64 KiB piece, and the
 * garbage of it) was about half the main thread's CPU: on a thread of its own (range-thread-worker.ts, its own S3
 * client made from the step's environment) the responses are received and copied into RangeSource's shared chunk
 * slots there, and the main thread is left with handing blocks to the workers. Its OS thread is named S3Reader
 * (the bench's per-thread account shows it apart).
 */
export interface RangeReading {
  read: RangeReader;
  close(): Promise<void>;
}

/** What crosses from the thread for a failed GET: what classifyError and the extract step look at. */
export interface RangeErrorShape {
  name: string;
  message: string;
  code?: string;
  status?: number;
}

/** The thread's worker module: .ts in development and tests (Node 24 strips the types), .js in the image. */
const WORKER_URL = new URL(import.meta.url.endsWith(".ts") ? "./range-thread-worker.ts" : "./range-thread-worker.js", import.meta.url);

export function rangeThread(env: Record<string, string | undefined>, uri: string, etag: string | undefined): RangeReading {
  const worker = new Worker(WORKER_URL, { name: "S3Reader", workerData: { env, uri, etag }, execArgv: [] });
  const pending = new Map<number, { resolve: (b: Uint8Array) => void; reject: (e: unknown) => void; into: Uint8Array }>();
  let nextId = 0;
  let failed: unknown;
  worker.on("message", (m: { id: number; error?: RangeErrorShape }) => {
    const p = pending.get(m.id)!;
    pending.delete(m.id);
    if (m.error) p.reject(Object.assign(new Error(m.error.message), { name: m.error.name, code: m.error.code, $metadata: { httpStatusCode: m.error.status } }));
    else p.resolve(p.into);
  });
  worker.on("error", (err) => {
    failed = err;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  });
  return {
    read: (start, end, into) => {
      if (failed) return Promise.reject(failed);
      if (!(into.buffer instanceof SharedArrayBuffer) || into.length !== end - start) throw new Error("rangeThread: `into` must be a shared buffer of end - start bytes");
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject, into });
        worker.postMessage({ id, start, end, into });
      });
    },
    close: async () => {
      await worker.terminate();
    },
  };
}

/** The same reads on this thread through a given client (the tests that mock S3 in-process use it). */
export function rangeInThread(s3: S3Client, uri: string, etag: string | undefined): RangeReading {
  return { read: (start, end, into) => getObjectRange(s3, uri, start, end, etag, into), close: async () => {} };
}
