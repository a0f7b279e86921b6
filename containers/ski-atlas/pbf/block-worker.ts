import { parentPort } from "node:worker_threads";
import { inflateParsedSync, type ParsedBlob } from "./blocks.ts";
import { GROUP_DENSE, GROUP_NODES, GROUP_RELATIONS, GROUP_WAYS, PrimitiveBlock } from "./decode.ts";
import { NodeFilter } from "./node-filter.ts";
import { PbfFormatError } from "./protobuf.ts";
import { RuleSet, type TagRule } from "./rules.ts";
import { filterWays } from "./way-filter.ts";
import { transferList } from "./way-store.ts";

/**
 * A worker thread of the extractor (see block-pool.ts): inflates one block and filters it, its ways in pass 1,
 * its nodes in pass 2. The Blob was parsed and charged to the file's inflate budget by the main thread, so a
 * worker never inflates more than the block declared. Only small results go back, their typed arrays
 * transferred (not cloned): the kept ways (as columns, way-store.ts) or nodes; a block pass 1 cannot finish alone
 * (it holds nodes or relations) goes back inflated, its buffer transferred.
 */

export type WorkerRequest =
  | { type: "init-ways"; wayRefs: SharedArrayBuffer; nWayRefs: number; rules: TagRule[] }
  | { type: "init-nodes"; needed: SharedArrayBuffer; nNeeded: number; rules: TagRule[] }
  | { type: "ways" | "nodes"; id: number; blob: ParsedBlob };

let wayRefs: Float64Array<ArrayBufferLike> = new Float64Array(0);
let nWayRefs = 0;
let wayRules: RuleSet | undefined;
let filter: NodeFilter | undefined;
const port = parentPort!;

function handle(m: WorkerRequest & { type: "ways" | "nodes" }): void {
  const data = inflateParsedSync(m.blob);
  const block = new PrimitiveBlock(data);
  if (m.type === "nodes") {
    const batch = filter!.filter(block, false);
    port.postMessage({ id: m.id, result: batch }, [batch.ids.buffer as ArrayBuffer, batch.lat7.buffer as ArrayBuffer, batch.lon7.buffer as ArrayBuffer]);
    return;
  }
  const kinds = block.groups.map((g) => g.kind);
  if (kinds.some((k) => k === GROUP_DENSE || k === GROUP_NODES || k === GROUP_RELATIONS)) {
    // Back to the main thread whole: the boundary of pass 1, kept there for pass 2 (or an unsorted file). A copy:
    // zlib's output buffers cannot be transferred (nor a Buffer's slice, a view); a few blocks only.
    const raw = new Uint8Array(data);
    port.postMessage({ id: m.id, result: { raw } }, [raw.buffer as ArrayBuffer]);
    return;
  }
  const batch = filterWays(block, wayRules!, wayRefs, nWayRefs);
  port.postMessage({ id: m.id, result: { ...batch, hasWays: kinds.includes(GROUP_WAYS) } }, transferList(batch.ways));
}

port.on("message", (m: WorkerRequest) => {
  if (m.type === "init-ways") {
    wayRefs = new Float64Array(m.wayRefs);
    nWayRefs = m.nWayRefs;
    wayRules = new RuleSet(m.rules, "w");
    return;
  }
  if (m.type === "init-nodes") {
    filter = new NodeFilter(new Float64Array(m.needed), m.nNeeded, m.rules);
    return;
  }
  try {
    handle(m);
  } catch (err) {
    port.postMessage({ id: m.id, error: (err as Error).message, format: err instanceof PbfFormatError });
  }
});
