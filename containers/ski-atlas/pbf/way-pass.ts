import { inBlock } from "./blocks.ts";
import { GROUP_RELATIONS, PrimitiveBlock } from "./decode.ts";
import { EMPTY_BLOCK, hasNodes, located, type Extraction } from "./extraction.ts";
import { unsorted } from "./node-filter.ts";
import type { RelationPass } from "./relation-pass.ts";
import { sharedSortedIds } from "./sorted-ids.ts";
import type { WayBatch } from "./way-filter.ts";
import { WayStore } from "./way-store.ts";

/**
 * Pass 1b of the extractor: the way blocks, backwards, from where pass 1a stopped, on the block runner (worker
 * threads: each inflates and filters whole blocks; up to 2 blocks per worker in flight; blocks this thread already
 * read ahead are filtered here). A way is kept by its tags or when a kept relation lists it. The pass ends at
 * the first block holding nodes: the boundary, which pass 2 reads last.
 */

/** A block past the boundary that the runner already read: what pass 2 finds there. */
export type EarlyBlock = { block: PrimitiveBlock } | { error: unknown };

export interface WayPass {
  /** The kept ways (sealed: read back ascending by id). */
  ways: WayStore;
  /** Index of the last block holding nodes (pass 1's last block, pass 2's last), and that block; -1 when none. */
  boundary: number;
  boundaryBlock?: PrimitiveBlock;
  /** Blocks past the boundary that the runner already read (pass 2 takes them from here). */
  early: Map<number, EarlyBlock>;
}

type Settled = { block: PrimitiveBlock } | { batch: WayBatch & { hasWays: boolean } };

export async function readWays(x: Extraction, rel: RelationPass): Promise<WayPass> {
  const { refs } = x;
  const wayRefs = sharedSortedIds(
    rel.wayRefs.size,
    (out) => {
      let n = 0;
      for (const id of rel.wayRefs) out[n++] = id;
      return n;
    },
    (ids, n) => x.core.sortUnique(ids, n),
  );
  rel.wayRefs.clear();
  x.setWayRefs(wayRefs);
  /** Kept ways, appended in the order read (descending blocks). */
  const ways = new WayStore();
  let lastWayId = Infinity;
  const takeWays = (index: number, batch: WayBatch) => {
    if (batch.skipped) x.stats.wayBlocksSkipped++;
    if (!Number.isNaN(batch.lastId)) {
      if (batch.lastId >= lastWayId) throw inBlock(refs[index], unsorted());
      lastWayId = batch.firstId;
    }
    ways.append(batch.ways);
  };
  /** The ways of a block inflated on this thread; returns whether the block holds nodes (the last of pass 1). */
  const waysHere = (index: number, block: PrimitiveBlock, firstOfPass: boolean): boolean => {
    located(refs[index], () => {
      if (!firstOfPass && block.groups.some((g) => g.kind === GROUP_RELATIONS)) throw unsorted();
    });
    const result = located(refs[index], () => x.core.ways(block.data, false));
    if (!result.raw) takeWays(index, result);
    return hasNodes(block);
  };

  const out: WayPass = { ways, boundary: -1, early: new Map() };
  const first = rel.firstWayBlock;
  if (first && waysHere(rel.next, first, true)) {
    out.boundary = rel.next;
    out.boundaryBlock = first;
  } else if (first) {
    const inFlight: { index: number; result: Promise<Settled> }[] = [];
    let next = rel.next - 1;
    const start = async (index: number): Promise<Settled> => {
      if (x.fetcher.has(index)) return { block: await x.fetcher.get(index) };
      const parsed = await x.readParsed(index);
      if (!parsed) return { block: new PrimitiveBlock(EMPTY_BLOCK) };
      const r = await x.runner.ways(parsed).catch((err) => {
        throw inBlock(refs[index], err);
      });
      x.chargeUndeclared(index, parsed, r.raw ? r.raw.length : r.inflatedBytes);
      if (r.raw) return { block: located(refs[index], () => new PrimitiveBlock(r.raw)) };
      return { batch: r };
    };
    const launch = () => {
      const index = next--;
      const result = start(index);
      result.catch(() => {}); // observed when awaited in order
      inFlight.push({ index, result });
    };
    while (next >= 1 && inFlight.length < 2 * x.runner.size) launch();
    while (inFlight.length > 0) {
      const { index, result } = inFlight.shift()!;
      const settled = await result;
      if (next >= 1) launch();
      const done = "block" in settled ? waysHere(index, settled.block, false) : (takeWays(index, settled.batch), false);
      if (done) {
        out.boundary = index;
        out.boundaryBlock = (settled as { block: PrimitiveBlock }).block;
        break;
      }
    }
    // Read ahead past the boundary: node blocks (inflated: pass 2 filters them here), or faults pass 2 reports
    // when it reaches them, in file order (a way block there is an unsorted file).
    for (const { index, result } of inFlight) {
      try {
        const settled = await result;
        out.early.set(index, "block" in settled ? settled : { error: settled.batch.hasWays ? inBlock(refs[index], unsorted()) : undefined });
      } catch (err) {
        out.early.set(index, { error: err });
      }
    }
  }
  ways.seal();
  return out;
}
