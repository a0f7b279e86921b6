import {
  checkLocation, denseKeysValsError, denseLengthError, denseSpans, forEachPlainNode, GROUP_DENSE, GROUP_NODES, GROUP_RELATIONS,
  GROUP_WAYS, stringIndexError, type PrimitiveBlock, type Tags,
} from "./decode.ts";
import { countVarints, NumberArray, PbfFormatError, readDeltaSints, VARINT_END, varintAt } from "./protobuf.ts";
import { plainMatch, RuleSet, type TagRule } from "./rules.ts";
import { TagColumnsBuilder } from "./tag-columns.ts";
import type { NodeBatchLike } from "./write.ts";

/**
 * Pass 2 of the extractor on one node block: keeps the nodes a kept way or relation references (`needed`,
 * sorted, distinct) and the nodes whose tags match. A block is independent of the others given `needed`, so
 * this runs on worker threads (block-worker.ts) as well as in the extractor's own thread; the caller checks the
 * order between blocks with `firstId` / `lastId`. The reference of the compiled core's pass 2 (native/pbf_core.c).
 */

export interface NodeBatch extends NodeBatchLike {
  ids: Float64Array;
  lat7: Int32Array;
  lon7: Int32Array;
  tagEnds: Uint32Array;
  /** First and last node id of the block (NaN when it has none): the order between blocks. */
  firstId: number;
  lastId: number;
  /** Dense groups whose tags and coordinates were not decoded (nothing in them could be kept). */
  skipped: number;
  /** Size of the block inflated (what a Blob without a declared raw_size is charged to the file's budget). */
  inflatedBytes: number;
}

export const unsorted = () => new PbfFormatError("the file is not sorted by type then id (nodes, ways, relations): sort it with osmium sort");

export class NodeFilter {
  private readonly needed: Float64Array;
  private readonly nNeeded: number;
  private readonly rules: readonly TagRule[];
  private readonly nodeRules: RuleSet;
  private readonly ids = new NumberArray(8192);
  private readonly lats = new NumberArray(8192);
  private readonly lons = new NumberArray(8192);

  constructor(needed: Float64Array, nNeeded: number, rules: readonly TagRule[]) {
    this.needed = needed;
    this.nNeeded = nNeeded;
    this.rules = rules;
    this.nodeRules = new RuleSet(rules, "n");
  }

  private seek(id: number): number {
    const needed = this.needed;
    let lo = 0, hi = this.nNeeded;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (needed[mid] < id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** `mayHoldWays`: the last node block may also hold the first ways (and relations). */
  filter(block: PrimitiveBlock, mayHoldWays: boolean): NodeBatch {
    const { needed, nNeeded, nodeRules, ids, lats, lons } = this;
    const out = new BatchBuilder();
    if (block.groups.some((g) => g.kind === GROUP_WAYS || g.kind === GROUP_RELATIONS) && !mayHoldWays) throw unsorted();
    nodeRules.prepare(block);
    const strings = block.stringCount;
    let lastNodeId = -Infinity;
    const keepIdx: number[] = [];
    const take: number[] = [];
    const tagStart: number[] = [];
    for (const g of block.groups) {
      if (g.kind === GROUP_NODES) {
        forEachPlainNode(block, g, (n) => {
          const k = this.seek(n.id);
          const poi = nodeRules.relevant && Object.entries(n.tags).some(([key, v]) => plainMatch(this.rules, "n", key, v));
          if (poi || (k < nNeeded && needed[k] === n.id)) out.push(n.id, n.lat7, n.lon7, n.tags);
        });
        continue;
      }
      if (g.kind !== GROUP_DENSE) continue;
      for (const d of denseSpans(block, g)) {
        const n = readDeltaSints(block.data, d.ids[0], d.ids[1], ids, "a node id");
        if (n === 0) continue;
        if (ids.data[0] <= lastNodeId) throw unsorted();
        if (Number.isNaN(out.firstId)) out.firstId = ids.data[0];
        keepIdx.length = 0;
        let cursor = this.seek(ids.data[0]);
        for (let k = 0; k < n && cursor < nNeeded; k++) {
          const id = ids.data[k];
          if (k > 0 && id <= ids.data[k - 1]) throw unsorted();
          while (cursor < nNeeded && needed[cursor] < id) cursor++;
          if (cursor < nNeeded && needed[cursor] === id) keepIdx.push(k);
        }
        lastNodeId = out.lastId = ids.data[n - 1];
        const poi = nodeRules.relevant && d.keysVals[1] > d.keysVals[0];
        if (keepIdx.length === 0 && !poi) {
          out.skipped++;
          continue;
        }
        // Per node: where its tags start (a byte offset in keys_vals), and whether it matches. The tag lists are
        // scanned in place, not decoded into an array: most nodes have none (one 0 byte), and the string indexes
        // of the few that do are read once here, then again only for the nodes kept.
        const buf = block.data;
        const kvStart = d.keysVals[0], kvEnd = d.keysVals[1];
        const hasKv = kvEnd > kvStart;
        let p = kvStart, ki = 0;
        take.length = 0;
        tagStart.length = 0;
        for (let k = 0; k < n; k++) {
          const start = p;
          let match = false;
          if (hasKv) {
            for (;;) {
              if (p >= kvEnd) throw denseKeysValsError(countVarints(buf, kvStart, kvEnd), n);
              const key = varintAt(buf, p);
              p = VARINT_END;
              if (key === 0) break;
              if (p >= kvEnd) throw denseKeysValsError(countVarints(buf, kvStart, kvEnd), n);
              const val = varintAt(buf, p);
              p = VARINT_END;
              if (key >= strings) throw stringIndexError(key, strings);
              if (val >= strings) throw stringIndexError(val, strings);
              if (poi && !match && nodeRules.match(key, val)) match = true;
            }
          }
          const isRef = ki < keepIdx.length && keepIdx[ki] === k;
          if (isRef) ki++;
          if (isRef || match) {
            take.push(k);
            tagStart.push(hasKv ? start : -1);
          }
        }
        if (hasKv && p !== kvEnd) throw denseKeysValsError(countVarints(buf, kvStart, kvEnd), n);
        if (take.length === 0) continue;
        if (readDeltaSints(buf, d.lats[0], d.lats[1], lats, "a latitude") !== n) throw denseLengthError("lat", n);
        if (readDeltaSints(buf, d.lons[0], d.lons[1], lons, "a longitude") !== n) throw denseLengthError("lon", n);
        for (let t = 0; t < take.length; t++) {
          const k = take[t];
          let tags: Tags | undefined;
          let q = tagStart[t];
          if (q >= 0) {
            for (;;) {
              const key = varintAt(buf, q);
              q = VARINT_END;
              if (key === 0) break;
              const val = varintAt(buf, q);
              q = VARINT_END;
              (tags ??= {})[block.str(key)] = block.str(val);
            }
          }
          const lat7 = block.lat7(lats.data[k]), lon7 = block.lon7(lons.data[k]);
          checkLocation(ids.data[k], lat7, lon7);
          out.push(ids.data[k], lat7, lon7, tags);
        }
      }
    }
    return out.finish(block.data.length);
  }
}

class BatchBuilder {
  count = 0;
  ids: number[] = [];
  lat7: number[] = [];
  lon7: number[] = [];
  tags = new TagColumnsBuilder();
  firstId = NaN;
  lastId = NaN;
  skipped = 0;
  push(id: number, lat7: number, lon7: number, tags: Tags | undefined) {
    this.tags.add(tags);
    this.ids.push(id);
    this.lat7.push(lat7);
    this.lon7.push(lon7);
    this.count++;
  }
  finish(inflatedBytes: number): NodeBatch {
    return {
      count: this.count, ids: Float64Array.from(this.ids), lat7: Int32Array.from(this.lat7), lon7: Int32Array.from(this.lon7),
      ...this.tags.finish(), firstId: this.firstId, lastId: this.lastId, skipped: this.skipped, inflatedBytes,
    };
  }
}
