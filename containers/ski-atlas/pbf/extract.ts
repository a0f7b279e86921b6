import { open, type FileHandle } from "node:fs/promises";
import { inflateBlob, readBlob, scanBlocks, type BlockRef } from "./blocks.ts";
import {
  checkHeader, decodeRelation, decodeWay, denseSpans, forEachEntity, forEachPlainNode, GROUP_DENSE, GROUP_NODES,
  GROUP_RELATIONS, GROUP_WAYS, PrimitiveBlock, StringMatcher, type EntitySpans, type PbfRelation, type PbfWay, type Tags,
} from "./decode.ts";
import { NumberArray, PbfFormatError, readPacked } from "./protobuf.ts";
import { NodeList } from "./write.ts";

/**
 * `osmium tags-filter` (referenced objects kept) in TypeScript, reading a sorted PBF with each block inflated
 * exactly once:
 *
 * 1. Pass 1 walks the blocks backwards from the end: relation blocks, then way blocks, and stops at the first
 *    block holding nodes (kept inflated for pass 2). Relations are decided first, highest id first, so a parent
 *    relation is seen before its member relations (which usually have lower ids); the few member relations
 *    already passed are re-read afterwards (the only blocks ever inflated twice, relation blocks only). Then
 *    the ways: kept when their tags match or a kept relation lists them; their node refs are collected.
 * 2. Pass 2 walks the node blocks forwards: a node is kept when a kept way or relation references it (a merge
 *    walk over the sorted needed ids) or its tags match. Lat/lon and tags of a block are decoded only when the
 *    block keeps a node; a block whose string table has no relevant key/value is only checked by id.
 *
 * Blocks are read and inflated `parallel` at a time ahead of the decoder (zlib runs on libuv's thread pool).
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
  constructor(fh: FileHandle, refs: readonly BlockRef[]) {
    this.fh = fh;
    this.refs = refs;
  }
  prefetch(i: number): void {
    if (i < 1 || i >= this.refs.length || this.started.has(i)) return;
    this.inflated++;
    const p = readBlob(this.fh, this.refs[i]).then(inflateBlob);
    p.catch(() => {});
    this.started.set(i, p);
  }
  async get(i: number): Promise<PrimitiveBlock> {
    this.prefetch(i);
    const p = this.started.get(i)!;
    this.started.delete(i);
    const data = await p;
    if (this.refs[i].type !== "OSMData") return new PrimitiveBlock(new Uint8Array(0));
    return new PrimitiveBlock(data);
  }
}

/**
 * Ids out of order. Ids above 2^53 lose precision as JavaScript numbers and then look out of order too: those get
 * their own message (issue 10: garbage files and huge ids were both "not sorted"). `ids` are the pair compared.
 */
const unsorted = (...ids: number[]) => {
  const huge = ids.find((id) => Number.isFinite(id) && Math.abs(id) > Number.MAX_SAFE_INTEGER);
  if (huge !== undefined) {
    return new PbfFormatError(`an object id (about ${huge}) is beyond 2^53, more than this reader can hold exactly (real OSM ids are far smaller): the file is corrupt, or renumber it with osmium renumber`);
  }
  return new PbfFormatError("the file is not sorted by type then id (nodes, ways, relations): sort it with osmium sort");
};

export async function extractPbf(path: string, rules: readonly TagRule[], parallel = 8): Promise<ExtractResult> {
  const fh = await open(path, "r");
  try {
    const { size } = await fh.stat();
    const refs = await scanBlocks(fh, size);
    checkHeader(await inflateBlob(await readBlob(fh, refs[0])));
    const f = new Fetcher(fh, refs);
    const stats: ExtractStats = { blocks: refs.length, inflated: 1, reinflated: 0, nodeBlocksSkipped: 0, wayBlocksSkipped: 0 };
    const nodeRules = new RuleSet(rules, "n");
    const wayRules = new RuleSet(rules, "w");
    const relRules = new RuleSet(rules, "r");

    // ---- pass 1: relations, then ways, backwards from the end
    const keptRel = new Map<number, PbfRelation>();
    const inR = new Set<number>();
    const missed: number[] = [];
    const relBlockRanges: { index: number; min: number; max: number }[] = [];
    const wayRefs = new Set<number>();
    const nodeRefs = new NumberArray(1 << 16);
    let nodeRefCount = 0;
    const addNodeRef = (id: number) => {
      if (nodeRefCount === nodeRefs.data.length) nodeRefs.grow();
      nodeRefs.data[nodeRefCount++] = id;
    };
    const keepRelation = (block: PrimitiveBlock, e: EntitySpans, lastId: number) => {
      const rel = decodeRelation(block, e);
      keptRel.set(rel.id, rel);
      inR.add(rel.id);
      for (const m of rel.members) {
        if (m.type === "w") wayRefs.add(m.ref);
        else if (m.type === "n") addNodeRef(m.ref);
        else if (!inR.has(m.ref)) {
          inR.add(m.ref);
          if (m.ref >= lastId) missed.push(m.ref); // already passed (or this one): read again below
        }
      }
    };

    const ways: PbfWay[] = [];
    let phase: "rel" | "way" = "rel";
    let lastRelId = Infinity, lastWayId = Infinity;
    let boundary = -1; // index of the last block holding nodes
    let boundaryBlock: PrimitiveBlock | undefined;

    // Member relations whose block was already passed when a kept parent listed them: read those blocks again
    // (after the last relation block; member relations of these are then always "passed", hence -Infinity).
    const resolveMissed = async () => {
      while (missed.length > 0) {
        const want = new Set(missed.splice(0));
        for (const b of relBlockRanges.filter((r) => [...want].some((id) => id >= r.min && id <= r.max))) {
          stats.reinflated++;
          const block = await f.get(b.index);
          for (const g of block.groups) {
            if (g.kind !== GROUP_RELATIONS) continue;
            forEachEntity(block, g, (e) => {
              if (want.has(e.id) && !keptRel.has(e.id)) keepRelation(block, e, -Infinity);
            });
          }
        }
      }
    };

    const P = parallel;
    for (let i = refs.length - 1; i >= 1; i--) {
      for (let j = 1; j <= P; j++) f.prefetch(i - j);
      const block = await f.get(i);
      const kinds = new Set(block.groups.map((g) => g.kind));
      const hasNodes = kinds.has(GROUP_DENSE) || kinds.has(GROUP_NODES);
      // Relations (descending) come first, from the end of the file.
      const relGroups = block.groups.filter((g) => g.kind === GROUP_RELATIONS);
      if (relGroups.length > 0) {
        if (phase !== "rel") throw unsorted();
        relRules.prepare(block);
        const list: EntitySpans[] = [];
        for (const g of relGroups) forEachEntity(block, g, (e) => list.push({ ...e }));
        let min = Infinity, max = -Infinity;
        for (let k = list.length - 1; k >= 0; k--) {
          const e = list[k];
          if (e.id >= lastRelId) throw unsorted(e.id, lastRelId);
          lastRelId = e.id;
          min = Math.min(min, e.id);
          max = Math.max(max, e.id);
          let keep = inR.has(e.id);
          if (!keep && relRules.relevant) keep = tagsMatch(block, e, relRules);
          if (keep) keepRelation(block, e, e.id);
        }
        relBlockRanges.push({ index: i, min, max });
      }
      const wayGroups = block.groups.filter((g) => g.kind === GROUP_WAYS);
      if (wayGroups.length > 0) {
        if (phase === "rel") {
          await resolveMissed();
          phase = "way";
        }
        wayRules.prepare(block);
        if (!wayRules.relevant && wayRefs.size === 0) stats.wayBlocksSkipped++;
        else {
          const list: EntitySpans[] = [];
          for (const g of wayGroups) forEachEntity(block, g, (e) => list.push({ ...e }));
          for (let k = list.length - 1; k >= 0; k--) {
            const e = list[k];
            if (e.id >= lastWayId) throw unsorted(e.id, lastWayId);
            lastWayId = e.id;
            if (wayRefs.has(e.id) || (wayRules.relevant && tagsMatch(block, e, wayRules))) {
              const w = decodeWay(block, e);
              ways.push(w);
              for (const r of w.refs) addNodeRef(r);
            }
          }
        }
      }
      if (hasNodes) {
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
    for (let i = 1; i <= boundary; i++) {
      for (let j = 1; j <= P; j++) if (i + j < boundary) f.prefetch(i + j);
      const block = i === boundary ? boundaryBlock! : await f.get(i);
      if (block.groups.some((g) => g.kind === GROUP_WAYS || g.kind === GROUP_RELATIONS) && i !== boundary) throw unsorted();
      nodeRules.prepare(block);
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
          const n = readPacked(block.data, d.ids[0], d.ids[1], true, true, ids);
          if (n === 0) continue;
          if (ids.data[0] <= lastNodeId) throw unsorted(ids.data[0], lastNodeId);
          keepIdx.length = 0;
          cursor = seek(ids.data[0]);
          for (let k = 0; k < n && cursor < nNeeded; k++) {
            const id = ids.data[k];
            if (k > 0 && id <= ids.data[k - 1]) throw unsorted(id, ids.data[k - 1]);
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
          const take: number[] = [];
          const tagStart: number[] = [];
          for (let k = 0; k < n; k++) {
            const start = p;
            let match = false;
            while (p < nkv && kv.data[p] !== 0) {
              if (poi && !match && nodeRules.match(kv.data[p], kv.data[p + 1])) match = true;
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
          if (take.length === 0) continue;
          readPacked(block.data, d.lats[0], d.lats[1], true, true, lats);
          readPacked(block.data, d.lons[0], d.lons[1], true, true, lons);
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
            nodes.push(ids.data[k], block.lat7(lats.data[k]), block.lon7(lons.data[k]), tags);
          }
        }
      }
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
  for (let i = 0; i < nk; i++) if (rules.match(keysScratch.data[i], valsScratch.data[i])) return true;
  return false;
}

function plainMatch(rules: readonly TagRule[], type: string, key: string, value: string): boolean {
  return rules.some((r) => r.types.includes(type) && r.key === key && (!r.values || r.values.includes(value)));
}
