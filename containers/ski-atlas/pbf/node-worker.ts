import { parentPort } from "node:worker_threads";
import { inflateParsedSync, type ParsedBlob } from "./blocks.ts";
import { PrimitiveBlock } from "./decode.ts";
import { NodeFilter } from "./node-filter.ts";
import { PbfFormatError } from "./protobuf.ts";
import type { TagRule } from "./rules.ts";

/**
 * A worker thread of the extractor's pass 2 (see node-pool.ts): inflates one node block and filters it. The
 * Blob was parsed and charged to the file's inflate budget by the main thread, so a worker never inflates
 * more than the block declared.
 */

export type WorkerRequest =
  | { type: "init"; needed: SharedArrayBuffer; nNeeded: number; rules: TagRule[] }
  | { type: "block"; id: number; blob: ParsedBlob; mayHoldWays: boolean };

let filter: NodeFilter | undefined;
const port = parentPort!;
port.on("message", (m: WorkerRequest) => {
  if (m.type === "init") {
    filter = new NodeFilter(new Float64Array(m.needed), m.nNeeded, m.rules);
    return;
  }
  try {
    const batch = filter!.filter(new PrimitiveBlock(inflateParsedSync(m.blob)), m.mayHoldWays);
    port.postMessage({ id: m.id, batch }, [batch.ids.buffer as ArrayBuffer, batch.lat7.buffer as ArrayBuffer, batch.lon7.buffer as ArrayBuffer]);
  } catch (err) {
    port.postMessage({ id: m.id, error: (err as Error).message, format: err instanceof PbfFormatError });
  }
});
