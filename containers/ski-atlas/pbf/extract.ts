import { open, type FileHandle } from "node:fs/promises";
import { inBlock, InflateBudget, loadBlock, parseBlob, readBlob, scanBlocks, type BlockRef } from "./blocks.ts";
import {
  checkHeader, decodeRelation, decodeWay, forEachEntity, forEachMessage, GROUP_DENSE, GROUP_NODES, GROUP_RELATIONS,
  GROUP_WAYS, newEntitySpans, PrimitiveBlock, readEntity, stringIndexError, type EntitySpans, type Group, type PbfRelation,
  type PbfWay,
} from "./decode.ts";
import { NumberArray, PbfFormatError, readPacked } from "./protobuf.ts";
import { NodeFilter, unsorted, type NodeBatch } from "./node-filter.ts";
import { NodePool, workerCount } from "./node-pool.ts";
import { RuleSet, type TagRule } from "./rules.ts";
import { NodeList } from "./write.ts";

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
 * Blocks are read and inflated `parallel` at a time ahead of the decoder (zlib runs on libuv's thread pool).
 * Every field that is read is checked (blocks.ts, decode.ts): a format violation is a PbfFormatError naming the
 * block; a block skipped unread (nothing in it can match) is not decoded, so its content cannot matter.
 * Same semantics as osmium: the closure of matching relations under relation membership, their member ways and
 * nodes, matching ways and their nodes, matching nodes.
 */

export interface ExtractResult {
  nodes: NodeList;
  ways: PbfWay[];
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
  private fh: FileHandle;
  private refs: readonly BlockRef[];
  private budget: InflateBudget;
  constructor(fh: FileHandle, refs: readonly BlockRef[], budget: InflateBudget) {
    this.fh = fh;
    this.refs = refs;
    this.budget = budget;
  }
  prefetch(i: number): void {
    if (i < 1 || i >= this.refs.length || this.started.has(i)) return;
    this.inflated++;
    const p = loadBlock(this.fh, this.refs[i], this.budget);
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
    const nt = readPacked(block.data, e.types[0], e.types[1], false, false, this.types);
    let any = false;
    for (let i = 0; i < nt; i++) {
      const t = this.types.data[i];
      if (t > 2) throw new PbfFormatError(`relation ${e.id}: bad member type ${t}`);
      if (t === 2) any = true;
    }
    if (!any) return;
    const n = readPacked(block.data, e.refs[0], e.refs[1], true, true, this.ids, "a relation member id");
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

/**
 * Runs the extract on `path`. `parallel`: blocks read and inflated ahead in pass 1; `workers`: worker threads of
 * pass 2 (0: everything on this thread).
 */
export async function extractPbf(path: string, rules: readonly TagRule[], parallel = 8, workers = workerCount()): Promise<ExtractResult> {
  const fh = await open(path, "r");
  let pool: NodePool | undefined;
  try {
    const { size } = await fh.stat();
    const refs = await scanBlocks(fh, size);
    const budget = new InflateBudget(size);
    const header = await loadBlock(fh, refs[0], budget);
    located(refs[0], () => checkHeader(header));
    const f = new Fetcher(fh, refs, budget);
    // Started now, so that the threads load their code while pass 1 runs.
    pool = workers > 0 && refs.length > 2 ? new NodePool(workers) : undefined;
    const stats: ExtractStats = { blocks: refs.length, inflated: 1, reinflated: 0, relationsScanned: 0, nodeBlocksSkipped: 0, wayBlocksSkipped: 0 };
    const wayRules = new RuleSet(rules, "w");
    const relRules = new RuleSet(rules, "r");

    // ---- pass 1: relations, then ways, backwards from the end
    const keptRel = new Map<number, PbfRelation>();
    /** Relations kept or to keep (listed by a kept relation). */
    const inR = new Set<number>();
    const edges = new RelationEdges();
    const relBlockRanges: { index: number; min: number; max: number }[] = [];
    const wayRefs = new Set<number>();
    const nodeRefs = new NumberArray(1 << 16);
    let nodeRefCount = 0;
    const addNodeRef = (id: number) => {
      if (nodeRefCount === nodeRefs.data.length) nodeRefs.grow();
      nodeRefs.data[nodeRefCount++] = id;
    };
    const keepRelation = (block: PrimitiveBlock, e: EntitySpans) => {
      const rel = decodeRelation(block, e);
      keptRel.set(rel.id, rel);
      inR.add(rel.id);
      for (const m of rel.members) {
        if (m.type === "w") wayRefs.add(m.ref);
        else if (m.type === "n") addNodeRef(m.ref);
        else inR.add(m.ref);
      }
    };

    const ways: PbfWay[] = [];
    let phase: "rel" | "way" = "rel";
    let lastRelId = Infinity, lastWayId = Infinity;
    let boundary = -1; // index of the last block holding nodes
    let boundaryBlock: PrimitiveBlock | undefined;

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

    const spans = new NumberArray(4096);
    const e = newEntitySpans();
    const P = parallel;
    for (let i = refs.length - 1; i >= 1; i--) {
      for (let j = 1; j <= P; j++) f.prefetch(i - j);
      const block = await f.get(i);
      let isBoundary = false;
      let wayPhaseStarts = false;
      located(refs[i], () => {
        const kinds = new Set(block.groups.map((g) => g.kind));
        const hasNodes = kinds.has(GROUP_DENSE) || kinds.has(GROUP_NODES);
        // Relations (descending) come first, from the end of the file.
        const relGroups = block.groups.filter((g) => g.kind === GROUP_RELATIONS);
        if (relGroups.length > 0) {
          if (phase !== "rel") throw unsorted();
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
        }
        wayPhaseStarts = phase === "rel" && kinds.has(GROUP_WAYS);
        isBoundary = hasNodes;
      });
      if (wayPhaseStarts) {
        await resolveMissed();
        phase = "way";
      }
      located(refs[i], () => {
        const wayGroups = block.groups.filter((g) => g.kind === GROUP_WAYS);
        if (wayGroups.length === 0) return;
        wayRules.prepare(block);
        if (!wayRules.relevant && wayRefs.size === 0) {
          stats.wayBlocksSkipped++;
          return;
        }
        const n = messageSpans(block, wayGroups, spans);
        for (let k = n - 1; k >= 0; k--) {
          readEntity(block, GROUP_WAYS, spans.data[2 * k], spans.data[2 * k + 1], e);
          if (e.id >= lastWayId) throw unsorted();
          lastWayId = e.id;
          if (wayRefs.has(e.id) || (wayRules.relevant && tagsMatch(block, e, wayRules))) {
            const w = decodeWay(block, e);
            ways.push(w);
            for (const r of w.refs) addNodeRef(r);
          }
        }
      });
      if (isBoundary) {
        boundary = i;
        boundaryBlock = block;
        break;
      }
    }
    if (phase === "rel") await resolveMissed();
    ways.reverse();
    const relations = [...keptRel.values()].sort((a, b) => a.id - b.id);

    // ---- pass 2: nodes, forwards (on worker threads when there are any: each inflates and filters whole blocks)
    const sorted = nodeRefs.data.subarray(0, nodeRefCount).sort();
    let nNeeded = 0;
    for (let k = 0; k < sorted.length; k++) if (k === 0 || sorted[k] !== sorted[k - 1]) sorted[nNeeded++] = sorted[k];
    const shared = new SharedArrayBuffer(Math.max(8, nNeeded * 8));
    const needed = new Float64Array(shared);
    needed.set(sorted.subarray(0, nNeeded));
    const filter = new NodeFilter(needed, nNeeded, rules);
    const nodes = new NodeList();
    let lastNodeId = -Infinity;
    const append = (ref: BlockRef, batch: NodeBatch) => {
      if (batch.firstId <= lastNodeId) throw inBlock(ref, unsorted());
      if (!Number.isNaN(batch.lastId)) lastNodeId = batch.lastId;
      stats.nodeBlocksSkipped += batch.skipped;
      nodes.append(batch);
    };
    const threads = boundary > 1 && pool ? pool.size : 0;
    if (threads === 0) {
      for (let i = 1; i <= boundary; i++) {
        for (let j = 1; j <= P; j++) if (i + j < boundary) f.prefetch(i + j);
        const block = i === boundary ? boundaryBlock! : await f.get(i);
        append(refs[i], located(refs[i], () => filter.filter(block, i === boundary)));
      }
    } else {
      const workerPool = pool!;
      workerPool.init(shared, nNeeded, rules);
      {
        // Blobs are read and charged to the budget here, inflated and filtered on the workers, and appended
        // in file order; up to 2 blocks per worker are in flight.
        const inFlight: Promise<NodeBatch>[] = [];
        let next = 1;
        const start = async () => {
          const i = next++;
          // Blocks read ahead by pass 1 are already inflated: filtered here rather than inflated twice.
          if (f.has(i)) {
            const block = await f.get(i);
            return located(refs[i], () => filter.filter(block, false));
          }
          const blob = await readBlob(fh, refs[i]);
          if (refs[i].type !== "OSMData") return EMPTY_BATCH; // a block type we do not know: skipped, per the format
          const parsed = located(refs[i], () => parseBlob(blob));
          located(refs[i], () => budget.take(parsed.declaredBytes));
          stats.inflated++;
          return workerPool.run(parsed, false).catch((err) => {
            throw inBlock(refs[i], err);
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
          append(refs[i], batch);
        }
      }
      append(refs[boundary], located(refs[boundary], () => filter.filter(boundaryBlock!, true)));
    }
    stats.inflated += f.inflated;
    return { nodes, ways, relations, stats };
  } finally {
    await pool?.close();
    await fh.close();
  }
}

const keysScratch = new NumberArray(256), valsScratch = new NumberArray(256);
function tagsMatch(block: PrimitiveBlock, e: EntitySpans, rules: RuleSet): boolean {
  const nk = readPacked(block.data, e.keys[0], e.keys[1], false, false, keysScratch);
  if (nk === 0) return false;
  const nv = readPacked(block.data, e.vals[0], e.vals[1], false, false, valsScratch);
  if (nv !== nk) throw new PbfFormatError(`object ${e.id}: keys and vals differ in length`);
  const strings = block.stringCount;
  let match = false;
  for (let i = 0; i < nk; i++) {
    const k = keysScratch.data[i], v = valsScratch.data[i];
    if (k >= strings) throw stringIndexError(k, strings);
    if (v >= strings) throw stringIndexError(v, strings);
    if (!match && rules.match(k, v)) match = true;
  }
  return match;
}
