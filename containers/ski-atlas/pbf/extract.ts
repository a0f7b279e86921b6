import { InflateBudget, loadBlock, scanBlocks } from "./blocks.ts";
import { chooseCore, createBlockCore, type CoreKind } from "./block-core.ts";
import { BlockPool, workerCount } from "./block-pool.ts";
import { checkHeader, type PbfRelation } from "./decode.ts";
import { Extraction, InlineRunner, located, type ExtractStats } from "./extraction.ts";
import { readNodes } from "./node-pass.ts";
import { readRelations } from "./relation-pass.ts";
import type { TagRule } from "./rules.ts";
import { FileSource, type ByteSource } from "./source.ts";
import { readWays } from "./way-pass.ts";
import type { WayStore } from "./way-store.ts";
import { NodeList, type NodeSink } from "./write.ts";

export type { TagRule } from "./rules.ts";
export type { ExtractStats } from "./extraction.ts";

/**
 * `osmium tags-filter` (referenced objects kept) in TypeScript, reading a sorted PBF with each block inflated
 * exactly once:
 *
 * 1. Pass 1 walks the blocks backwards from the end: relation blocks, then way blocks, and stops at the first
 *    block holding nodes (kept inflated for pass 2). Relations are decided first, highest id first, so a parent
 *    relation is seen before its member relations (which usually have lower ids). Every relation's relation
 *    members are recorded as (parent, child) edges on the way; after the last relation block, the member
 *    relations already passed when a kept parent listed them are closed over those edges in one breadth-first
 *    walk, and the relation blocks holding them are read again, each at most once (the only blocks ever
 *    inflated twice, relation blocks only): linear in the relations, however deep the nesting. Then the ways:
 *    kept when their tags match or a kept relation lists them; their node refs are collected.
 * 2. Pass 2 walks the node blocks forwards: a node is kept when a kept way or relation references it (a merge
 *    walk over the sorted needed ids) or its tags match. Lat/lon and tags of a block are decoded only when the
 *    block keeps a node; a block whose string table has no relevant key/value is only checked by id.
 *
 * What is held from pass 1 to the end grows with what is kept, not with the input: the kept relations (objects:
 * few), the kept ways as columns (way-store.ts: ids, refs as packed varints, interned tag strings; about 30 bytes a
 * way, 8 a tag and 1–3 a ref) and, from pass 2 on, the ids of the nodes to keep (8 bytes a reference, in one shared buffer
 * of its final size, sorted and deduplicated in place: sorted-ids.ts). The kept nodes go to the sink as found.
 *
 * The passes are functions of their own (relation-pass.ts, way-pass.ts, node-pass.ts) over what they share
 * (extraction.ts). The way and node blocks are inflated and filtered whole by the block core (block-core.ts: the
 * compiled core of native/, or the TypeScript reference) on worker threads (block-pool.ts); the relation blocks
 * are read and inflated `parallel` at a time ahead on this thread (zlib on libuv's thread pool).
 * Every field that is read is checked (blocks.ts, decode.ts): a format violation is a PbfFormatError naming the
 * block; a block skipped unread (nothing in it can match) is not decoded, so its content cannot matter.
 * Same semantics as osmium: the closure of matching relations under relation membership, their member ways and
 * nodes, matching ways and their nodes, matching nodes.
 */

export interface ExtractResult<S extends NodeSink = NodeList> {
  /** The kept nodes, in the sink given (by default: in memory). */
  nodes: S;
  /** The kept ways, ascending by id, held compactly (way-store.ts). */
  ways: WayStore;
  relations: PbfRelation[];
  stats: ExtractStats;
  /** The block core that ran (block-core.ts), for the log. */
  core: string;
}

export interface ExtractOptions<S extends NodeSink> {
  /** Blocks read and inflated ahead on this thread (relation blocks). Default 8. */
  parallel?: number;
  /** Worker threads for the way and node blocks (0: everything on this thread). Default: workerCount(). */
  workers?: number;
  /** Where the kept nodes go, in file order (the extract step streams them into the output file: pass 2 runs
   * last, after the ways and relations are known, so the nodes are never all held). Default: a NodeList. */
  nodes?: S;
  /** The block core (default: chooseCore(): the compiled one where it loads). */
  core?: CoreKind;
}

/** Runs the extract on `input` (a local file's path, or a source the caller closes). */
export async function extractPbf<S extends NodeSink = NodeList>(
  input: string | ByteSource,
  rules: readonly TagRule[],
  options: ExtractOptions<S> = {},
): Promise<ExtractResult<S>> {
  const { parallel = 8, workers = workerCount(), core: kind = chooseCore().kind } = options;
  const nodes = options.nodes ?? (new NodeList() as NodeSink as S);
  const src = typeof input === "string" ? await FileSource.open(input) : input;
  let pool: BlockPool | undefined;
  try {
    const refs = await scanBlocks(src);
    const budget = new InflateBudget(src.size);
    const header = await loadBlock(src, refs[0], budget);
    located(refs[0], () => checkHeader(header));
    const core = createBlockCore(kind, rules);
    // Started now, so that the threads load their code while the relations are read.
    pool = workers > 0 && refs.length > 2 ? new BlockPool(workers, kind, rules) : undefined;
    const x = new Extraction(src, refs, budget, core, pool ?? new InlineRunner(core), rules, parallel);
    const rel = await readRelations(x);
    const wp = await readWays(x, rel);
    await readNodes(x, rel, wp, nodes);
    x.stats.inflated += x.fetcher.inflated;
    return { nodes, ways: wp.ways, relations: rel.relations, stats: x.stats, core: core.description };
  } finally {
    await pool?.close();
    if (typeof input === "string") await src.close();
  }
}
