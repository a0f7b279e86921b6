import { open, type FileHandle } from "node:fs/promises";
import { inBlock, InflateBudget, loadBlock, scanBlocks, type BlockRef } from "./blocks.ts";
import {
  checkHeader, checkLocation, decodeRelation, decodeWay, denseKeysValsError, denseLengthError, denseSpans, forEachEntity,
  forEachMessage, forEachPlainNode, GROUP_DENSE, GROUP_NODES, GROUP_RELATIONS, GROUP_WAYS, newEntitySpans, PrimitiveBlock,
  readEntity, stringIndexError, StringMatcher, type EntitySpans, type Group, type PbfRelation, type PbfWay, type Tags,
} from "./decode.ts";
import { NumberArray, PbfFormatError, readPacked } from "./protobuf.ts";
import { NodeList } from "./write.ts";

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

export interface TagRule {
  /** Object types the rule applies to: any of "n", "w", "r". */
  types: string;
  key: string;
  /** Allowed values; absent = any value. */
  values?: readonly string[];
}

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

/** Rules of one object type, compiled to bit masks over a block's string table. */
class RuleSet {
  private keys: StringMatcher;
  private vals: StringMatcher;
  private keyBits: number[];
  private valBits: number[];
  private anyMask = 0;
  readonly empty: boolean;
  keyMask = new Int32Array(0);
  valMask = new Int32Array(0);
  /** Whether the current block can match at all. */
  relevant = false;

  constructor(rules: readonly TagRule[], type: string) {
    const mine = rules.filter((r) => r.types.includes(type));
    if (mine.length > 31) throw new Error("too many tag rules");
    this.empty = mine.length === 0;
    const keyList = [...new Set(mine.map((r) => r.key))];
    const valList = [...new Set(mine.flatMap((r) => r.values ?? []))];
    this.keys = new StringMatcher(keyList);
    this.vals = new StringMatcher(valList);
    this.keyBits = keyList.map(() => 0);
    this.valBits = valList.map(() => 0);
    mine.forEach((r, bit) => {
      this.keyBits[keyList.indexOf(r.key)] |= 1 << bit;
      if (!r.values) this.anyMask |= 1 << bit;
      for (const v of r.values ?? []) this.valBits[valList.indexOf(v)] |= 1 << bit;
    });
  }

  prepare(block: PrimitiveBlock): void {
    const n = block.stringCount;
    if (this.keyMask.length < n) {
      this.keyMask = new Int32Array(n * 2);
      this.valMask = new Int32Array(n * 2);
    }
    let keys = 0, vals = 0;
    for (let i = 0; i < n; i++) {
      const k = this.empty ? -1 : this.keys.match(block, i);
      const v = this.empty ? -1 : this.vals.match(block, i);
      this.keyMask[i] = k < 0 ? 0 : this.keyBits[k];
      this.valMask[i] = v < 0 ? 0 : this.valBits[v];
      keys |= this.keyMask[i];
      vals |= this.valMask[i];
    }
    this.relevant = (keys & (this.anyMask | vals)) !== 0;
  }

  /** Whether tag (k, v) (string-table indexes, already checked to be in range) matches. */
  match(k: number, v: number): boolean {
    return (this.keyMask[k] & (this.anyMask | this.valMask[v])) !== 0;
  }
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
  async get(i: number): Promise<PrimitiveBlock> {
    this.prefetch(i);
    const p = this.started.get(i)!;
    this.started.delete(i);
    const data = await p;
    if (this.refs[i].type !== "OSMData") return new PrimitiveBlock(EMPTY_BLOCK);
    return located(this.refs[i], () => new PrimitiveBlock(data));
  }
}

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

const unsorted = () => new PbfFormatError("the file is not sorted by type then id (nodes, ways, relations): sort it with osmium sort");

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

export async function extractPbf(path: string, rules: readonly TagRule[], parallel = 8): Promise<ExtractResult> {
  const fh = await open(path, "r");
  try {
    const { size } = await fh.stat();
    const refs = await scanBlocks(fh, size);
    const budget = new InflateBudget(size);
    const header = await loadBlock(fh, refs[0], budget);
    located(refs[0], () => checkHeader(header));
    const f = new Fetcher(fh, refs, budget);
    const stats: ExtractStats = { blocks: refs.length, inflated: 1, reinflated: 0, relationsScanned: 0, nodeBlocksSkipped: 0, wayBlocksSkipped: 0 };
    const nodeRules = new RuleSet(rules, "n");
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

    // ---- pass 2: nodes, forwards
    const needed = nodeRefs.data.subarray(0, nodeRefCount).sort();
    let nNeeded = 0;
    for (let k = 0; k < needed.length; k++) if (k === 0 || needed[k] !== needed[k - 1]) needed[nNeeded++] = needed[k];
    const nodes = new NodeList();
    const ids = new NumberArray(8192), lats = new NumberArray(8192), lons = new NumberArray(8192), kv = new NumberArray(16384);
    const keepIdx: number[] = [];
    let cursor = 0;
    const seek = (id: number) => {
      let lo = 0, hi = nNeeded;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (needed[mid] < id) lo = mid + 1;
        else hi = mid;
      }
      return lo;
    };
    let lastNodeId = -Infinity;
    const take: number[] = [];
    const tagStart: number[] = [];
    const nodeBlock = (block: PrimitiveBlock, isBoundary: boolean) => {
      if (block.groups.some((g) => g.kind === GROUP_WAYS || g.kind === GROUP_RELATIONS) && !isBoundary) throw unsorted();
      nodeRules.prepare(block);
      const strings = block.stringCount;
      for (const g of block.groups) {
        if (g.kind === GROUP_NODES) {
          forEachPlainNode(block, g, (n) => {
            const k = seek(n.id);
            const poi = nodeRules.relevant && Object.entries(n.tags).some(([key, v]) => plainMatch(rules, "n", key, v));
            if (poi || (k < nNeeded && needed[k] === n.id)) nodes.push(n.id, n.lat7, n.lon7, n.tags);
          });
          continue;
        }
        if (g.kind !== GROUP_DENSE) continue;
        for (const d of denseSpans(block, g)) {
          const n = readPacked(block.data, d.ids[0], d.ids[1], true, true, ids, "a node id");
          if (n === 0) continue;
          if (ids.data[0] <= lastNodeId) throw unsorted();
          keepIdx.length = 0;
          cursor = seek(ids.data[0]);
          for (let k = 0; k < n && cursor < nNeeded; k++) {
            const id = ids.data[k];
            if (k > 0 && id <= ids.data[k - 1]) throw unsorted();
            while (cursor < nNeeded && needed[cursor] < id) cursor++;
            if (cursor < nNeeded && needed[cursor] === id) keepIdx.push(k);
          }
          lastNodeId = ids.data[n - 1];
          const poi = nodeRules.relevant && d.keysVals[1] > d.keysVals[0];
          if (keepIdx.length === 0 && !poi) {
            stats.nodeBlocksSkipped++;
            continue;
          }
          const nkv = readPacked(block.data, d.keysVals[0], d.keysVals[1], false, false, kv);
          // Per node: where its tags start in kv, and whether it matches.
          let p = 0, ki = 0;
          take.length = 0;
          tagStart.length = 0;
          for (let k = 0; k < n; k++) {
            const start = p;
            let match = false;
            while (p < nkv && kv.data[p] !== 0) {
              if (p + 1 >= nkv) throw denseKeysValsError(nkv, n);
              const key = kv.data[p], val = kv.data[p + 1];
              if (key >= strings) throw stringIndexError(key, strings);
              if (val >= strings) throw stringIndexError(val, strings);
              if (poi && !match && nodeRules.match(key, val)) match = true;
              p += 2;
            }
            p++;
            const isRef = ki < keepIdx.length && keepIdx[ki] === k;
            if (isRef) ki++;
            if (isRef || match) {
              take.push(k);
              tagStart.push(nkv === 0 ? -1 : start);
            }
          }
          if (nkv > 0 && p !== nkv) throw denseKeysValsError(nkv, n);
          if (take.length === 0) continue;
          if (readPacked(block.data, d.lats[0], d.lats[1], true, true, lats, "a latitude") !== n) throw denseLengthError("lat", n);
          if (readPacked(block.data, d.lons[0], d.lons[1], true, true, lons, "a longitude") !== n) throw denseLengthError("lon", n);
          for (let t = 0; t < take.length; t++) {
            const k = take[t];
            let tags: Tags | undefined;
            let q = tagStart[t];
            if (q >= 0 && kv.data[q] !== 0) {
              tags = {};
              while (q < nkv && kv.data[q] !== 0) {
                tags[block.str(kv.data[q])] = block.str(kv.data[q + 1]);
                q += 2;
              }
            }
            const lat7 = block.lat7(lats.data[k]), lon7 = block.lon7(lons.data[k]);
            checkLocation(ids.data[k], lat7, lon7);
            nodes.push(ids.data[k], lat7, lon7, tags);
          }
        }
      }
    };
    for (let i = 1; i <= boundary; i++) {
      for (let j = 1; j <= P; j++) if (i + j < boundary) f.prefetch(i + j);
      const block = i === boundary ? boundaryBlock! : await f.get(i);
      located(refs[i], () => nodeBlock(block, i === boundary));
    }
    stats.inflated = f.inflated + 1;
    return { nodes, ways, relations, stats };
  } finally {
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

function plainMatch(rules: readonly TagRule[], type: string, key: string, value: string): boolean {
  return rules.some((r) => r.types.includes(type) && r.key === key && (!r.values || r.values.includes(value)));
}
