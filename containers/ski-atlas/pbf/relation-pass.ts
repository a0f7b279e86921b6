import {
  decodeRelation, forEachEntity, forEachMessage, GROUP_RELATIONS, newEntitySpans, readEntity, type EntitySpans, type Group,
  type PbfRelation, type PrimitiveBlock,
} from "./decode.ts";
import { hasNodes, hasWays, located, type Extraction } from "./extraction.ts";
import { unsorted } from "./node-filter.ts";
import { NumberArray, PbfFormatError, readDeltaSints, readUints } from "./protobuf.ts";
import { RuleSet } from "./rules.ts";
import { tagsMatch } from "./way-filter.ts";

/**
 * Pass 1a of the extractor: the relation blocks, backwards from the end of the file, on this thread (each
 * decision depends on the ones before: a relation is kept by its tags or because a kept relation lists it, and
 * parents usually have higher ids than their members, so reading backwards sees a parent first). Every relation's
 * relation members are recorded as (parent, child) edges on the way; after the last relation block, the member
 * relations already passed when a kept parent listed them are closed over those edges in one breadth-first walk,
 * and the relation blocks holding them are read again, each at most once (the only blocks ever inflated twice):
 * linear in the relations, however deep the nesting. The relation blocks are few (about 1% of a file), so this
 * stays in TypeScript; their blocks are inflated on libuv's pool a few ahead (extraction.ts Fetcher).
 */

export interface RelationPass {
  /** The kept relations, ascending by id. */
  relations: PbfRelation[];
  /** Ids of the ways the kept relations list. */
  wayRefs: Set<number>;
  /** Node members of the kept relations: nodeRefs.data[0, nodeRefCount). */
  nodeRefs: NumberArray;
  nodeRefCount: number;
  /** Index of the first block (from the end) holding ways or nodes, and that block (read here): where pass 1b starts. */
  next: number;
  firstWayBlock?: PrimitiveBlock;
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
export class RelationEdges {
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

/** The relations kept so far and what they list. */
class KeptRelations {
  readonly byId = new Map<number, PbfRelation>();
  /** Relations kept or to keep (listed by a kept relation). */
  readonly inR = new Set<number>();
  readonly wayRefs = new Set<number>();
  /** Node members of the kept relations (the kept ways' nodes are collected from the way store after pass 1). */
  readonly nodeRefs = new NumberArray(1024);
  nodeRefCount = 0;

  keep(block: PrimitiveBlock, e: EntitySpans): void {
    const rel = decodeRelation(block, e);
    this.byId.set(rel.id, rel);
    this.inR.add(rel.id);
    for (const m of rel.members) {
      if (m.type === "w") this.wayRefs.add(m.ref);
      else if (m.type === "n") this.addNodeRef(m.ref);
      else this.inR.add(m.ref);
    }
  }

  private addNodeRef(id: number): void {
    if (this.nodeRefCount === this.nodeRefs.data.length) this.nodeRefs.grow();
    this.nodeRefs.data[this.nodeRefCount++] = id;
  }
}

/** Relation blocks read in pass 1a, with the range of ids each holds. */
type BlockRange = { index: number; min: number; max: number };

export async function readRelations(x: Extraction): Promise<RelationPass> {
  const { refs, fetcher: f, stats } = x;
  const relRules = new RuleSet(x.rules, "r");
  const kept = new KeptRelations();
  const edges = new RelationEdges();
  const ranges: BlockRange[] = [];
  const spans = new NumberArray(4096);
  const e = newEntitySpans();
  let lastRelId = Infinity;
  let i = refs.length - 1;
  let firstWayBlock: PrimitiveBlock | undefined;
  for (; i >= 1; i--) {
    for (let j = 1; j <= x.parallel; j++) f.prefetch(i - j);
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
        let keep = kept.inR.has(e.id);
        if (!keep && relRules.relevant) keep = tagsMatch(block, e, relRules);
        if (keep) kept.keep(block, e);
      }
      ranges.push({ index: i, min, max });
    });
    if (hasWays(block) || hasNodes(block)) {
      firstWayBlock = block;
      break;
    }
  }
  await keepMissed(x, kept, edges, ranges);
  return {
    relations: [...kept.byId.values()].sort((a, b) => a.id - b.id),
    wayRefs: kept.wayRefs,
    nodeRefs: kept.nodeRefs,
    nodeRefCount: kept.nodeRefCount,
    next: i,
    firstWayBlock,
  };
}

/**
 * Member relations listed by a kept relation after their own block was passed (and, through the recorded edges,
 * their member relations, transitively): found in one walk, then their blocks are read once more.
 */
async function keepMissed(x: Extraction, kept: KeptRelations, edges: RelationEdges, ranges: readonly BlockRange[]): Promise<void> {
  const queue = [...kept.inR].filter((id) => !kept.byId.has(id));
  for (let q = 0; q < queue.length; q++) {
    edges.forChildren(queue[q], (child) => {
      if (!kept.inR.has(child)) {
        kept.inR.add(child);
        queue.push(child);
      }
    });
  }
  if (queue.length === 0) return;
  const byMin = [...ranges].sort((a, b) => a.min - b.min);
  const blocks = new Set<number>();
  for (const id of queue) {
    let lo = 0, hi = byMin.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (byMin[mid].max < id) lo = mid + 1;
      else hi = mid;
    }
    if (lo < byMin.length && byMin[lo].min <= id) blocks.add(byMin[lo].index);
  }
  const want = new Set(queue);
  for (const index of [...blocks].sort((a, b) => a - b)) {
    x.stats.reinflated++;
    const block = await x.fetcher.get(index);
    located(x.refs[index], () => {
      for (const g of block.groups) {
        if (g.kind !== GROUP_RELATIONS) continue;
        forEachEntity(block, g, (e) => {
          x.stats.relationsScanned++;
          if (want.has(e.id) && !kept.byId.has(e.id)) kept.keep(block, e);
        });
      }
    });
  }
}
