import { inBlock, InflateBudget, loadBlock, parseBlob, readBlob, scanBlocks, type BlockRef, type ParsedBlob } from "./blocks.ts";
import { BlockPool, workerCount } from "./block-pool.ts";
import {
  checkHeader, decodeRelation, forEachEntity, forEachMessage, GROUP_DENSE, GROUP_NODES, GROUP_RELATIONS, GROUP_WAYS,
  newEntitySpans, PrimitiveBlock, readEntity, type EntitySpans, type Group, type PbfRelation,
} from "./decode.ts";
import { NodeFilter, unsorted, type NodeBatch } from "./node-filter.ts";
import { NumberArray, PbfFormatError, readUints, readDeltaSints } from "./protobuf.ts";
import { RuleSet, type TagRule } from "./rules.ts";
import { sharedSortedIds } from "./sorted-ids.ts";
import { FileSource, type ByteSource } from "./source.ts";
import { filterWays, tagsMatch, type WayBatch } from "./way-filter.ts";
import { WayStore } from "./way-store.ts";
import { NodeList, type NodeSink } from "./write.ts";

export type { TagRule } from "./rules.ts";

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
 * Blocks are read and inflated `parallel` at a time ahead of the decoder (zlib runs on libuv's thread pool).
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
}

export interface ExtractStats {
  blocks: number;
  inflated: number;
  reinflated: number;
  /** Relation messages looked at, re-reads included: the work of resolving relation membership. */
  relationsScanned: number;
  nodeBlocksSkipped: number;
  wayBlocksSkipped: number;
}

/** Reads and inflates blocks ahead of use; each started block is inflated once and handed out once. */
class Fetcher {
  private started = new Map<number, Promise<Uint8Array>>();
  inflated = 0;
  private src: ByteSource;
  private refs: readonly BlockRef[];
  private budget: InflateBudget;
  constructor(src: ByteSource, refs: readonly BlockRef[], budget: InflateBudget) {
    this.src = src;
    this.refs = refs;
    this.budget = budget;
  }
  prefetch(i: number): void {
    if (i < 1 || i >= this.refs.length || this.started.has(i)) return;
    this.inflated++;
    const p = loadBlock(this.src, this.refs[i], this.budget);
    p.catch(() => {});
    this.started.set(i, p);
  }
  /** Whether block i was started (read ahead) and not handed out yet. */
  has(i: number): boolean {
    return this.started.has(i);
  }
  async get(i: number): Promise<PrimitiveBlock> {
    this.prefetch(i);
    const p = this.started.get(i)!;
    this.started.delete(i);
    const data = await p;
    if (this.refs[i].type !== "OSMData") return new PrimitiveBlock(EMPTY_BLOCK);
    return located(this.refs[i], () => new PrimitiveBlock(data));
  }
}

const EMPTY_BATCH: NodeBatch = {
  count: 0, ids: new Float64Array(0), lat7: new Int32Array(0), lon7: new Int32Array(0), tags: [], firstId: NaN, lastId: NaN, skipped: 0,
};

/** An empty PrimitiveBlock (an empty string table): what a block of an unknown type holds for us. */
const EMPTY_BLOCK = Uint8Array.of(0x0a, 0x00);

/** Runs `fn`, naming block `ref` in any format error. */
function located<T>(ref: BlockRef, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw inBlock(ref, err);
  }
}


/** Entity message spans of some groups of a block, in file order (two numbers per entity, not an object). */
function messageSpans(block: PrimitiveBlock, groups: readonly Group[], out: NumberArray): number {
  let n = 0;
  for (const g of groups) {
    forEachMessage(block, g, (s, e) => {
      if (n + 2 > out.data.length) out.grow();
      out.data[n++] = s;
      out.data[n++] = e;
    });
  }
  return n / 2;
}

/** (parent, child) pairs of relation membership, appended in descending parent id (the order pass 1 reads). */
class RelationEdges {
  parents = new NumberArray(1024);
  children = new NumberArray(1024);
  count = 0;
  private types = new NumberArray(256);
  private ids = new NumberArray(256);

  /** Records the relation members of relation `e`. */
  record(block: PrimitiveBlock, e: EntitySpans): void {
    if (e.types[0] === e.types[1]) return;
    const nt = readUints(block.data, e.types[0], e.types[1], this.types);
    let any = false;
    for (let i = 0; i < nt; i++) {
      const t = this.types.data[i];
      if (t > 2) throw new PbfFormatError(`relation ${e.id}: bad member type ${t}`);
      if (t === 2) any = true;
    }
    if (!any) return;
    const n = readDeltaSints(block.data, e.refs[0], e.refs[1], this.ids, "a relation member id");
    if (n !== nt) throw new PbfFormatError(`relation ${e.id}: member fields differ in length`);
    for (let i = 0; i < n; i++) {
      if (this.types.data[i] !== 2) continue;
      if (this.count === this.parents.data.length) {
        this.parents.grow();
        this.children.grow();
      }
      this.parents.data[this.count] = e.id;
      this.children.data[this.count++] = this.ids.data[i];
    }
  }

  /** Calls `fn` for each child of `parent` (binary search: parents are in descending order). */
  forChildren(parent: number, fn: (child: number) => void): void {
    const p = this.parents.data;
    let lo = 0, hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (p[mid] > parent) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.count && p[i] === parent; i++) fn(this.children.data[i]);
  }
}

/** A block of pass 1 settled early (read ahead on a worker past the last way block): what pass 2 finds there. */
type EarlyBlock = { block: PrimitiveBlock } | { error: unknown };

/**
 * Runs the extract on `input` (a local file's path, or a source the caller closes). `parallel`: blocks read and
 * inflated ahead on this thread (relations, and everything when there are no workers); `workers`: worker threads
 * for the way and node blocks (0: everything on this thread); `nodes`: where the kept nodes go, in file order
 * (the extract step streams them into the output file: pass 2 runs last, after the ways and relations are
 * known, so the nodes are never all held).
 */
export async function extractPbf<S extends NodeSink = NodeList>(
  input: string | ByteSource,
  rules: readonly TagRule[],
  parallel = 8,
  workers = workerCount(),
  nodes: S = new NodeList() as NodeSink as S,
): Promise<ExtractResult<S>> {
  const src = typeof input === "string" ? await FileSource.open(input) : input;
  let pool: BlockPool | undefined;
  try {
    const refs = await scanBlocks(src);
    const budget = new InflateBudget(src.size);
    const header = await loadBlock(src, refs[0], budget);
    located(refs[0], () => checkHeader(header));
    const f = new Fetcher(src, refs, budget);
    // Started now, so that the threads load their code while the relations are read.
    pool = workers > 0 && refs.length > 2 ? new BlockPool(workers) : undefined;
    const threads = pool?.size ?? 0;
    const stats: ExtractStats = { blocks: refs.length, inflated: 1, reinflated: 0, relationsScanned: 0, nodeBlocksSkipped: 0, wayBlocksSkipped: 0 };
    const wayRules = new RuleSet(rules, "w");
    const relRules = new RuleSet(rules, "r");
    const P = parallel;

    /** Reads block i's Blob and charges it to the budget; undefined for a block type we do not know (skipped). */
    const readParsed = async (i: number): Promise<ParsedBlob | undefined> => {
      const blob = await readBlob(src, refs[i]);
      if (refs[i].type !== "OSMData") return undefined;
      const parsed = located(refs[i], () => parseBlob(blob));
      located(refs[i], () => budget.take(parsed.declaredBytes));
      stats.inflated++;
      return parsed;
    };

    // ---- pass 1a: relations, backwards from the end, on this thread (each decision depends on the ones before)
    const keptRel = new Map<number, PbfRelation>();
    /** Relations kept or to keep (listed by a kept relation). */
    const inR = new Set<number>();
    const edges = new RelationEdges();
    const relBlockRanges: { index: number; min: number; max: number }[] = [];
    const wayRefSet = new Set<number>();
    /** Node members of the kept relations (the kept ways' nodes are collected from the way store after pass 1). */
    const relNodeRefs = new NumberArray(1024);
    let relNodeRefCount = 0;
    const addNodeRef = (id: number) => {
      if (relNodeRefCount === relNodeRefs.data.length) relNodeRefs.grow();
      relNodeRefs.data[relNodeRefCount++] = id;
    };
    const keepRelation = (block: PrimitiveBlock, e: EntitySpans) => {
      const rel = decodeRelation(block, e);
      keptRel.set(rel.id, rel);
      inR.add(rel.id);
      for (const m of rel.members) {
        if (m.type === "w") wayRefSet.add(m.ref);
        else if (m.type === "n") addNodeRef(m.ref);
        else inR.add(m.ref);
      }
    };

    // Member relations listed by a kept relation after their own block was passed (and, through the recorded
    // edges, their member relations, transitively): found in one walk, then their blocks are read once more.
    const resolveMissed = async () => {
      const queue = [...inR].filter((id) => !keptRel.has(id));
      for (let q = 0; q < queue.length; q++) {
        edges.forChildren(queue[q], (child) => {
          if (!inR.has(child)) {
            inR.add(child);
            queue.push(child);
          }
        });
      }
      if (queue.length === 0) return;
      const ranges = [...relBlockRanges].sort((a, b) => a.min - b.min);
      const blocks = new Set<number>();
      for (const id of queue) {
        let lo = 0, hi = ranges.length;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if (ranges[mid].max < id) lo = mid + 1;
          else hi = mid;
        }
        if (lo < ranges.length && ranges[lo].min <= id) blocks.add(ranges[lo].index);
      }
      const want = new Set(queue);
      for (const index of [...blocks].sort((a, b) => a - b)) {
        stats.reinflated++;
        const block = await f.get(index);
        located(refs[index], () => {
          for (const g of block.groups) {
            if (g.kind !== GROUP_RELATIONS) continue;
            forEachEntity(block, g, (e) => {
              stats.relationsScanned++;
              if (want.has(e.id) && !keptRel.has(e.id)) keepRelation(block, e);
            });
          }
        });
      }
    };

    const hasNodes = (block: PrimitiveBlock) => block.groups.some((g) => g.kind === GROUP_DENSE || g.kind === GROUP_NODES);
    const hasWays = (block: PrimitiveBlock) => block.groups.some((g) => g.kind === GROUP_WAYS);
    const spans = new NumberArray(4096);
    const e = newEntitySpans();
    let lastRelId = Infinity;
    let i = refs.length - 1;
    /** The first block (from the end) holding ways or nodes, inflated here: where pass 1b starts. */
    let firstWayBlock: PrimitiveBlock | undefined;
    for (; i >= 1; i--) {
      for (let j = 1; j <= P; j++) f.prefetch(i - j);
      const block = await f.get(i);
      located(refs[i], () => {
        const relGroups = block.groups.filter((g) => g.kind === GROUP_RELATIONS);
        if (relGroups.length === 0) return;
        relRules.prepare(block);
        const n = messageSpans(block, relGroups, spans);
        let min = Infinity, max = -Infinity;
        for (let k = n - 1; k >= 0; k--) {
          readEntity(block, GROUP_RELATIONS, spans.data[2 * k], spans.data[2 * k + 1], e);
          stats.relationsScanned++;
          if (e.id >= lastRelId) throw unsorted();
          lastRelId = e.id;
          min = Math.min(min, e.id);
          max = Math.max(max, e.id);
          edges.record(block, e);
          let keep = inR.has(e.id);
          if (!keep && relRules.relevant) keep = tagsMatch(block, e, relRules);
          if (keep) keepRelation(block, e);
        }
        relBlockRanges.push({ index: i, min, max });
      });
      if (hasWays(block) || hasNodes(block)) {
        firstWayBlock = block;
        break;
      }
    }
    await resolveMissed();
    const relations = [...keptRel.values()].sort((a, b) => a.id - b.id);

    // ---- pass 1b: ways, backwards, on the workers (a way is kept by its tags or when a kept relation lists it)
    const wayRefs = sharedSortedIds(wayRefSet.size, (out) => {
      let n = 0;
      for (const id of wayRefSet) out[n++] = id;
      return n;
    });
    wayRefSet.clear();
    /** Kept ways, appended in the order read (descending blocks). */
    const ways = new WayStore();
    let lastWayId = Infinity;
    const takeWays = (index: number, batch: WayBatch) => {
      if (batch.skipped) stats.wayBlocksSkipped++;
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
      takeWays(index, located(refs[index], () => filterWays(block, wayRules, wayRefs.array, wayRefs.count)));
      return hasNodes(block);
    };

    let boundary = -1; // index of the last block holding nodes (pass 1's last block, pass 2's last)
    let boundaryBlock: PrimitiveBlock | undefined;
    /** Blocks past the boundary that a worker already read (pass 2 takes them from here). */
    const early = new Map<number, EarlyBlock>();
    if (firstWayBlock && waysHere(i, firstWayBlock, true)) {
      boundary = i;
      boundaryBlock = firstWayBlock;
    } else if (firstWayBlock && threads === 0) {
      for (i--; i >= 1; i--) {
        for (let j = 1; j <= P; j++) f.prefetch(i - j);
        const block = await f.get(i);
        if (waysHere(i, block, false)) {
          boundary = i;
          boundaryBlock = block;
          break;
        }
      }
    } else if (firstWayBlock) {
      pool!.initWays(wayRefs.shared, wayRefs.count, rules);
      type Settled = { block: PrimitiveBlock } | { batch: WayBatch & { hasWays: boolean } };
      // Up to 2 blocks per worker in flight; blocks this thread already read ahead are filtered here.
      const inFlight: { index: number; result: Promise<Settled> }[] = [];
      let next = i - 1;
      const start = async (index: number): Promise<Settled> => {
        if (f.has(index)) return { block: await f.get(index) };
        const parsed = await readParsed(index);
        if (!parsed) return { block: new PrimitiveBlock(EMPTY_BLOCK) };
        const r = await pool!.ways(parsed).catch((err) => {
          throw inBlock(refs[index], err);
        });
        if (r.raw) return { block: located(refs[index], () => new PrimitiveBlock(r.raw)) };
        return { batch: r };
      };
      const launch = () => {
        const index = next--;
        const result = start(index);
        result.catch(() => {}); // observed when awaited in order
        inFlight.push({ index, result });
      };
      while (next >= 1 && inFlight.length < 2 * threads) launch();
      while (inFlight.length > 0) {
        const { index, result } = inFlight.shift()!;
        const settled = await result;
        if (next >= 1) launch();
        const done = "block" in settled ? waysHere(index, settled.block, false) : (takeWays(index, settled.batch), false);
        if (done) {
          boundary = index;
          boundaryBlock = (settled as { block: PrimitiveBlock }).block;
          break;
        }
      }
      // Read ahead past the boundary: node blocks (inflated: pass 2 filters them here), or faults pass 2 reports
      // when it reaches them, in file order (a way block there is an unsorted file).
      for (const { index, result } of inFlight) {
        try {
          const settled = await result;
          early.set(index, "block" in settled ? settled : { error: settled.batch.hasWays ? inBlock(refs[index], unsorted()) : undefined });
        } catch (err) {
          early.set(index, { error: err });
        }
      }
    }
    ways.seal();

    // ---- pass 2: nodes, forwards (on the workers when there are any: each inflates and filters whole blocks)
    // The needed node ids are written once into a shared buffer of their final size, then sorted and deduplicated
    // there (sorted-ids.ts): never grown by doubling nor copied.
    const needed = sharedSortedIds(relNodeRefCount + ways.refCount, (out) => {
      out.set(relNodeRefs.data.subarray(0, relNodeRefCount));
      return ways.refsTo(out, relNodeRefCount);
    });
    const filter = new NodeFilter(needed.array, needed.count, rules);
    let lastNodeId = -Infinity;
    const append = async (ref: BlockRef, batch: NodeBatch) => {
      if (batch.firstId <= lastNodeId) throw inBlock(ref, unsorted());
      if (!Number.isNaN(batch.lastId)) lastNodeId = batch.lastId;
      stats.nodeBlocksSkipped += batch.skipped;
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
        return located(refs[index], () => filter.filter(settled.block, false));
      }
      if (f.has(index)) {
        const block = await f.get(index);
        return located(refs[index], () => filter.filter(block, false));
      }
      return undefined;
    };
    if (threads === 0 || boundary <= 1) {
      for (let i = 1; i < boundary; i++) {
        for (let j = 1; j <= P; j++) if (i + j < boundary) f.prefetch(i + j);
        const here = await filterRead(i);
        if (here) await append(refs[i], here);
        else {
          const block = await f.get(i);
          await append(refs[i], located(refs[i], () => filter.filter(block, false)));
        }
      }
    } else {
      pool!.initNodes(needed.shared, needed.count, rules);
      // Blobs are read and charged to the budget here, inflated and filtered on the workers, and appended in
      // file order; up to 2 blocks per worker are in flight.
      const inFlight: Promise<NodeBatch>[] = [];
      let next = 1;
      const start = async (): Promise<NodeBatch> => {
        const index = next++;
        const here = await filterRead(index);
        if (here) return here;
        const parsed = await readParsed(index);
        if (!parsed) return EMPTY_BATCH;
        return pool!.nodes(parsed).catch((err) => {
          throw inBlock(refs[index], err);
        });
      };
      const launch = () => {
        const p = start();
        p.catch(() => {}); // observed when awaited in order
        inFlight.push(p);
      };
      while (next < boundary && inFlight.length < 2 * threads) launch();
      for (let i = 1; i < boundary; i++) {
        const batch = await inFlight.shift()!;
        if (next < boundary) launch();
        await append(refs[i], batch);
      }
    }
    if (boundaryBlock) await append(refs[boundary], located(refs[boundary], () => filter.filter(boundaryBlock, true)));
    stats.inflated += f.inflated;
    return { nodes, ways, relations, stats };
  } finally {
    await pool?.close();
    if (typeof input === "string") await src.close();
  }
}
