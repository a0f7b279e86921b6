import { parentPort } from "node:worker_threads";
import type { ParsedBlob } from "./blocks.ts";
import { createBlockCore, type BlockCore, type CoreKind } from "./block-core.ts";
import { PbfFormatError } from "./protobuf.ts";
import type { TagRule } from "./rules.ts";
import { transferList } from "./way-store.ts";

/**
 * A worker thread of the extractor (see block-pool.ts): inflates one block and filters it (block-core.ts: the
 * compiled core or the TypeScript), its ways in pass 1, its nodes in pass 2. The Blob was parsed and charged to the
 * file's inflate budget by the main thread, so a worker never inflates more than the block declared. Only small
 * results go back, their typed arrays transferred (not cloned): the kept ways or nodes as columns, or a block
 * pass 1 cannot finish alone (it holds nodes or relations), inflated, its buffer transferred.
 */

export type WorkerRequest =
  | { type: "init"; core: CoreKind; rules: TagRule[] }
  | { type: "way-refs"; ids: SharedArrayBuffer; count: number }
  | { type: "needed"; ids: SharedArrayBuffer; count: number }
  | { type: "ways" | "nodes"; id: number; blob: ParsedBlob };

let core: BlockCore | undefined;
const port = parentPort!;

function handle(m: WorkerRequest & { type: "ways" | "nodes" }): void {
  if (m.type === "nodes") {
    const batch = core!.nodes(m.blob, false);
    port.postMessage({ id: m.id, result: batch }, [batch.ids, batch.lat7, batch.lon7, batch.tagEnds, batch.tagStrings].map((a) => a.buffer as ArrayBuffer));
    return;
  }
  const result = core!.ways(m.blob, true);
  port.postMessage({ id: m.id, result }, result.raw ? [result.raw.buffer as ArrayBuffer] : transferList(result.ways));
}

port.on("message", (m: WorkerRequest) => {
  if (m.type === "init") core = createBlockCore(m.core, m.rules);
  else if (m.type === "way-refs") core!.setWayRefs(new Float64Array(m.ids), m.count);
  else if (m.type === "needed") core!.setNeeded(new Float64Array(m.ids), m.count);
  else {
    try {
      handle(m);
    } catch (err) {
      port.postMessage({ id: m.id, error: (err as Error).message, format: err instanceof PbfFormatError });
    }
  }
});
