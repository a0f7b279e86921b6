import { inBlock, type BlockRef } from "./blocks.ts";
import { located, type Extraction } from "./extraction.ts";
import { unsorted, type NodeBatch } from "./node-filter.ts";
import type { RelationPass } from "./relation-pass.ts";
import { sharedSortedIds } from "./sorted-ids.ts";
import type { WayPass } from "./way-pass.ts";
import type { NodeSink } from "./write.ts";

/**
 * Pass 2 of the extractor: the node blocks, forwards, up to pass 1's boundary. A node is kept when a kept way or
 * relation references it or its tags match. Blobs are read and charged to the budget here, inflated and filtered
 * by the block runner (worker threads: up to 2 blocks per worker in flight), and appended to the sink in file
 * order; blocks pass 1 already read (here or on a worker) are filtered on this thread.
 */

const EMPTY_BATCH: NodeBatch = {
  count: 0, ids: new Float64Array(0), lat7: new Int32Array(0), lon7: new Int32Array(0), tagEnds: new Uint32Array(0), tagStrings: new Uint32Array(0),
  strings: [], firstId: NaN, lastId: NaN, skipped: 0, inflatedBytes: 0,
};

export async function readNodes(x: Extraction, rel: RelationPass, wp: WayPass, nodes: NodeSink): Promise<void> {
  const { refs } = x;
  const { ways, boundary, boundaryBlock, early } = wp;
  // The needed node ids are written once into a shared buffer of their final size, then sorted and deduplicated
  // there (sorted-ids.ts): never grown by doubling nor copied.
  const needed = sharedSortedIds(
    rel.nodeRefCount + ways.refCount,
    (out) => {
      out.set(rel.nodeRefs.data.subarray(0, rel.nodeRefCount));
      return ways.refsTo(out, rel.nodeRefCount);
    },
    (ids, n) => x.core.sortUnique(ids, n),
  );
  x.setNeeded(needed);
  let lastNodeId = -Infinity;
  const append = async (ref: BlockRef, batch: NodeBatch) => {
    if (batch.firstId <= lastNodeId) throw inBlock(ref, unsorted());
    if (!Number.isNaN(batch.lastId)) lastNodeId = batch.lastId;
    x.stats.nodeBlocksSkipped += batch.skipped;
    if (batch.count > 0) await nodes.append(batch);
  };
  /** Filters block `index` when pass 1 already read it (here or on a worker); undefined otherwise. */
  const filterRead = async (index: number): Promise<NodeBatch | undefined> => {
    const settled = early.get(index);
    if (settled) {
      early.delete(index);
      if ("error" in settled) {
        if (settled.error) throw settled.error;
        return EMPTY_BATCH;
      }
      return located(refs[index], () => x.core.nodes(settled.block.data, false));
    }
    if (x.fetcher.has(index)) {
      const block = await x.fetcher.get(index);
      return located(refs[index], () => x.core.nodes(block.data, false));
    }
    return undefined;
  };
  const inFlight: Promise<NodeBatch>[] = [];
  let next = 1;
  const start = async (): Promise<NodeBatch> => {
    const index = next++;
    const here = await filterRead(index);
    if (here) return here;
    const parsed = await x.readParsed(index);
    if (!parsed) return EMPTY_BATCH;
    const batch = await x.runner.nodes(parsed).catch((err) => {
      throw inBlock(refs[index], err);
    });
    x.chargeUndeclared(index, parsed, batch.inflatedBytes);
    return batch;
  };
  const launch = () => {
    const p = start();
    p.catch(() => {}); // observed when awaited in order
    inFlight.push(p);
  };
  while (next < boundary && inFlight.length < 2 * x.runner.size) launch();
  for (let i = 1; i < boundary; i++) {
    const batch = await inFlight.shift()!;
    if (next < boundary) launch();
    await append(refs[i], batch);
  }
  if (boundaryBlock) await append(refs[boundary], located(refs[boundary], () => x.core.nodes(boundaryBlock.data, true)));
}
