import { forEachMessage, GROUP_WAYS, readEntity, newEntitySpans, stringIndexError, type PrimitiveBlock } from "./decode.ts";
import { unsorted } from "./node-filter.ts";
import { NumberArray, PbfFormatError, readUints } from "./protobuf.ts";
import type { RuleSet } from "./rules.ts";
import { WayColumnsBuilder, type WayColumns } from "./way-store.ts";

/**
 * Pass 1 of the extractor on the way groups of one block, once the relations are decided: keeps the ways whose
 * tags match and the ways a kept relation lists (`wayRefs`, sorted and distinct). A block is independent of the
 * others given `wayRefs`, so this runs on worker threads (block-worker.ts) as well as on the extractor's own
 * thread; the caller checks the order between blocks with `firstId` / `lastId`. The reference of the compiled
 * core's pass 1 (native/pbf_core.c).
 */

export interface WayBatch {
  /** Kept ways, ascending by id, as columns (way-store.ts): typed arrays a worker transfers, not objects it clones. */
  ways: WayColumns;
  /** First and last way id of the block's way groups (NaN when none was looked at): the order between blocks. */
  firstId: number;
  lastId: number;
  /** Whether the block was skipped unread: no rule's key/value in its string table and no way to keep by id. */
  skipped: boolean;
  /** Size of the block inflated (what a Blob without a declared raw_size is charged to the file's budget). */
  inflatedBytes: number;
}

const keysScratch = new NumberArray(256), valsScratch = new NumberArray(256);
const kept = new WayColumnsBuilder();

/** Whether the tags of entity `e` match `rules`; every key and value index is checked against the string table. */
export function tagsMatch(block: PrimitiveBlock, e: { id: number; keys: [number, number]; vals: [number, number] }, rules: RuleSet): boolean {
  const nk = readUints(block.data, e.keys[0], e.keys[1], keysScratch);
  if (nk === 0) return false;
  const nv = readUints(block.data, e.vals[0], e.vals[1], valsScratch);
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

/**
 * Filters the way groups of `block`. `wayRefs[0, nWayRefs)`: ids of the ways kept relations list. The ways of a
 * block are in ascending id order (checked).
 */
export function filterWays(block: PrimitiveBlock, rules: RuleSet, wayRefs: Float64Array, nWayRefs: number): WayBatch {
  const out: WayBatch = { ways: kept.reset().finish(), firstId: NaN, lastId: NaN, skipped: false, inflatedBytes: block.data.length };
  const groups = block.groups.filter((g) => g.kind === GROUP_WAYS);
  if (groups.length === 0) return out;
  rules.prepare(block);
  if (!rules.relevant && nWayRefs === 0) {
    out.skipped = true;
    return out;
  }
  const e = newEntitySpans();
  let cursor = 0;
  let last = -Infinity;
  for (const g of groups) {
    forEachMessage(block, g, (s, end) => {
      readEntity(block, GROUP_WAYS, s, end, e);
      if (e.id <= last) throw unsorted();
      last = e.id;
      if (Number.isNaN(out.firstId)) out.firstId = e.id;
      while (cursor < nWayRefs && wayRefs[cursor] < e.id) cursor++;
      const listed = cursor < nWayRefs && wayRefs[cursor] === e.id;
      if (listed || (rules.relevant && tagsMatch(block, e, rules))) kept.add(block, e);
    });
  }
  out.ways = kept.finish();
  out.lastId = last;
  return out;
}
