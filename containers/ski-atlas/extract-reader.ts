import { EXIT, StepError } from "../../lib/exit-codes.ts";
import { OsmData, type PoiWay, type Tags } from "./osm-data.ts";
import { FileSource } from "./pbf/source.ts";
import { inBlock, inflateInOrder, InflateBudget, loadBlock, scanBlocks, type BlockRef } from "./pbf/blocks.ts";
import {
  checkHeader, decodeAll, decodeRelation, forEachEntity, GROUP_DENSE, GROUP_NODES, GROUP_RELATIONS, GROUP_WAYS, NO_TAGS,
  PrimitiveBlock, tagsOf,
} from "./pbf/decode.ts";
import { NumberArray, PbfFormatError, readDeltaSints } from "./pbf/protobuf.ts";
import { poiCategory } from "./poi-tags.ts";

/**
 * Reads an extract (a sorted OSM PBF) for analyze, with the PBF reader of pbf/: the ski features and the nodes they
 * use first (`readSkiFeatures`, into OsmData), then every POI candidate streamed past the built ski areas
 * (`streamPoiCandidates`), each block inflated when its pass reaches it and dropped after. `readPbfFile` reads a
 * whole small file into OsmData (tests: the model of the whole file, to compare the streamed one with).
 */

/**
 * Reads a PBF (the extract) with the PBF reader of pbf/ into OsmData: what osmium's OPL output gives
 * (testing/osmium-opl.ts), without osmium. Bad input → StepError 65.
 */
export async function readPbfFile(path: string, what: string, fix: string): Promise<OsmData> {
  const data = new OsmData();
  let pbf: PbfPasses | undefined;
  try {
    pbf = await PbfPasses.open(path);
    await pbf.pass(pbf.blocks.map((_, i) => i), (block) =>
      decodeAll(block, {
        node(n) {
          const lon = n.lon7 / 1e7, lat = n.lat7 / 1e7;
          data.addNode(n.id, lon, lat);
          if (hasTags(n.tags)) data.taggedNodes.push({ id: n.id, tags: n.tags, lon, lat });
        },
        way(w) {
          data.ways.set(w.id, { id: w.id, tags: w.tags, refs: w.refs, coords: new Float64Array(0) });
        },
        relation(r) {
          data.relations.set(r.id, r);
        },
      }),
    );
  } catch (err) {
    throw asStepError(err, what, fix);
  } finally {
    await pbf?.close();
  }
  data.finish();
  return data;
}

/** A format error of the file `what` as the step's one-line error (exit 65) saying what to do; others unchanged. */
export function asStepError(err: unknown, what: string, fix: string): unknown {
  return err instanceof PbfFormatError ? new StepError(`${what} is not a valid OSM PBF (${err.message}): ${fix}`, EXIT.DATA_ERROR) : err;
}

/** A PBF file opened for several passes over its blocks, each inflated on demand (never held after its pass). */
export class PbfPasses {
  private constructor(
    private readonly src: FileSource,
    private readonly size: number,
    /** The OSMData blocks, in file order. */
    readonly blocks: readonly BlockRef[],
  ) {}

  static async open(path: string): Promise<PbfPasses> {
    const src = await FileSource.open(path);
    const size = src.size;
    try {
      const refs = await scanBlocks(src);
      const header = await loadBlock(src, refs[0], new InflateBudget(size));
      try {
        checkHeader(header);
      } catch (err) {
        throw inBlock(refs[0], err);
      }
      return new PbfPasses(src, size, refs.slice(1).filter((r) => r.type === "OSMData"));
    } catch (err) {
      await src.close();
      throw err;
    }
  }

  /**
   * Calls `fn` for each block of `indexes` (positions in `blocks`), in that order, a few blocks inflating ahead. `fn`
   * returning false ends the pass. Each pass has the inflation budget of one full read (blocks.ts).
   */
  async pass(indexes: readonly number[], fn: (block: PrimitiveBlock, index: number) => boolean | void): Promise<void> {
    const refs = indexes.map((i) => this.blocks[i]);
    let k = 0;
    for await (const { ref, data } of inflateInOrder(this.src, refs, new InflateBudget(this.size), 4)) {
      const index = indexes[k++];
      try {
        if (fn(new PrimitiveBlock(data), index) === false) return;
      } catch (err) {
        throw inBlock(ref, err);
      }
    }
  }

  close(): Promise<void> {
    return this.src.close();
  }
}

/** Sorted distinct ids in a typed array, looked up with a cursor (O(1) per lookup when ids come in order). */
export class SortedIds {
  readonly ids: Float64Array;
  private cursor = 0;
  constructor(ids: Float64Array) {
    this.ids = ids;
  }

  /** Sorts and deduplicates the first `n` of `ids` (in place). */
  static from(ids: Float64Array, n: number): SortedIds {
    const sorted = ids.subarray(0, n).sort();
    let m = 0;
    for (let i = 0; i < sorted.length; i++) if (m === 0 || sorted[i] !== sorted[m - 1]) sorted[m++] = sorted[i];
    return new SortedIds(sorted.slice(0, m));
  }

  get size(): number {
    return this.ids.length;
  }

  /** Index of `id`, or -1. */
  indexOf(id: number): number {
    const a = this.ids;
    let lo = this.cursor, hi = a.length - 1;
    if (lo > 0 && a[lo - 1] >= id) lo = 0; // went backwards: search everything
    else if (lo <= hi && a[lo] >= id) return a[lo] === id ? lo : -1; // between the previous hit and the next id
    else {
      // Forward (ids in file order): gallop from the cursor, so a walk through the file costs O(ids) in all.
      let step = 1;
      while (lo + step <= hi && a[lo + step] < id) step *= 2;
      hi = Math.min(hi, lo + step);
      lo += step >> 1;
    }
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (a[mid] === id) return (this.cursor = mid);
      if (a[mid] < id) lo = mid + 1;
      else hi = mid - 1;
    }
    this.cursor = lo;
    return -1;
  }
}

/** A growable list of ids in a Float64Array (exact up to 2^53), sorted once at the end. */
class IdList {
  private readonly ids = new NumberArray(1024);
  private length = 0;
  push(id: number): void {
    if (this.length === this.ids.data.length) this.ids.grow();
    this.ids.data[this.length++] = id;
  }
  /** The ids sorted and deduplicated in place; the list lets go of its buffer. */
  toSortedIds(): SortedIds {
    const sorted = SortedIds.from(this.ids.data, this.length);
    this.ids.data = new Float64Array(0);
    return sorted;
  }
}

/**
 * Whether a way can be a lift, a piste or a ski area polygon by its own tags (a superset: the keys the rules of
 * model/ read, lifecycle forms such as `disused:aerialway` included). Ways that are none of these and no
 * relation's member are used by the analysis only as POI candidates.
 */
function hasSkiKey(tags: Tags): boolean {
  for (const k in tags) {
    if (k === "landuse" || k.endsWith("aerialway") || k.endsWith("railway") || k.endsWith("piste:type")) return true;
  }
  return false;
}

/** What `readSkiFeatures` gives: the ski features, and what `streamPoiCandidates` needs to find the POIs. */
export interface SkiFeatures {
  /** Relations, ski ways (and every relation's member ways) with their coords, the nodes they use. */
  data: OsmData;
  pois: PoiCandidates;
}

/** Where the POI candidates are (kept apart from `data`, which can be dropped once the ski areas are built). */
export interface PoiCandidates {
  /** Node ids used by ways with a POI tag (their centroids are computed while streaming). */
  poiWayNodes: SortedIds;
  /** Positions (in `PbfPasses.blocks`) of the blocks holding nodes, and of those holding ways. */
  nodeBlocks: number[];
  wayBlocks: number[];
}

function notSorted(): PbfFormatError {
  return new PbfFormatError("the objects are not sorted (nodes, then ways, then relations, as osmium and the extract step write them)");
}

const kindsOf = (block: PrimitiveBlock) => new Set(block.groups.map((g) => g.kind));

const wayRefs = new NumberArray(8192);
/**
 * Each way of a block: id, tags and node ids. `refs` is a view of a scratch array, valid during the call only (copy
 * what you keep): most ways of an extract are POI candidates whose node ids need not become JS arrays.
 */
function forEachWay(block: PrimitiveBlock, fn: (id: number, tags: Tags, refs: Float64Array) => void): void {
  for (const g of block.groups) {
    if (g.kind !== GROUP_WAYS) continue;
    forEachEntity(block, g, (e) => {
      const tags = tagsOf(block, e.keys, e.vals);
      const n = readDeltaSints(block.data, e.refs[0], e.refs[1], wayRefs, "a way's node ref");
      fn(e.id, tags, wayRefs.data.subarray(0, n));
    });
  }
}

function hasTags(tags: Tags): boolean {
  if (tags === NO_TAGS) return false;
  for (const _ in tags) return true;
  return false;
}

/**
 * Reads the ski features of a sorted extract in two passes, holding no POI: (1) the blocks from the end backwards,
 * relations then ways, up to the first block holding nodes; a way is kept when a relation lists it or its tags can
 * make it a lift, piste or ski area; the ids of the nodes of ways with a POI tag are noted; (2) the node blocks,
 * keeping the locations (and tags) of the nodes the kept ways and relations use.
 */
export async function readSkiFeatures(pbf: PbfPasses): Promise<SkiFeatures> {
  const data = new OsmData();
  const blocks = pbf.blocks.map((_, i) => i);
  const nodeBlocks: number[] = [], wayBlocks: number[] = [];
  let memberWays: Set<number> | undefined;
  const needed = new IdList(), poiWayNodes = new IdList();
  await pbf.pass([...blocks].reverse(), (block, index) => {
    const kinds = kindsOf(block);
    for (const g of block.groups) {
      if (g.kind !== GROUP_RELATIONS) continue;
      if (memberWays) throw notSorted(); // a relation before a way
      forEachEntity(block, g, (e) => {
        const r = decodeRelation(block, e);
        data.relations.set(r.id, r);
      });
    }
    if (kinds.has(GROUP_WAYS)) {
      wayBlocks.unshift(index);
      if (!memberWays) {
        memberWays = new Set();
        for (const r of data.relations.values()) {
          for (const m of r.members) {
            if (m.type === "w") memberWays.add(m.ref);
            else if (m.type === "n") needed.push(m.ref);
          }
        }
      }
      forEachWay(block, (id, tags, refs) => {
        if (memberWays!.has(id) || hasSkiKey(tags)) {
          data.ways.set(id, { id, tags, refs: Array.from(refs), coords: new Float64Array(0) });
          for (let i = 0; i < refs.length; i++) needed.push(refs[i]);
        }
        if (poiCategory(tags)) for (let i = 0; i < refs.length; i++) poiWayNodes.push(refs[i]);
      });
    }
    if (kinds.has(GROUP_DENSE) || kinds.has(GROUP_NODES)) {
      nodeBlocks.push(...blocks.slice(0, index + 1));
      return false; // the node blocks: pass 2
    }
  });
  if (!memberWays) {
    for (const r of data.relations.values()) for (const m of r.members) if (m.type === "n") needed.push(m.ref);
  }
  const neededIds = needed.toSortedIds();
  const lastNodeBlock = nodeBlocks.length - 1;
  await pbf.pass(nodeBlocks, (block, index) => {
    const kinds = kindsOf(block);
    if (index < lastNodeBlock && (kinds.has(GROUP_WAYS) || kinds.has(GROUP_RELATIONS))) throw notSorted();
    decodeAll(block, {
      node(n) {
        if (neededIds.indexOf(n.id) < 0) return;
        const lon = n.lon7 / 1e7, lat = n.lat7 / 1e7;
        data.addNode(n.id, lon, lat);
        if (hasTags(n.tags)) data.taggedNodes.push({ id: n.id, tags: n.tags, lon, lat });
      },
    });
  });
  // Ways and relations in id order (pass 1 read them backwards), as a forward read of the file lists them.
  for (const map of [data.ways, data.relations] as Map<number, { id: number }>[]) {
    const sorted = [...map.values()].sort((x, y) => x.id - y.id);
    map.clear();
    for (const v of sorted) map.set(v.id, v);
  }
  data.finish();
  return { data, pois: { poiWayNodes: poiWayNodes.toSortedIds(), nodeBlocks, wayBlocks } };
}

/** Where POI candidates go (model/pois.ts PoiCollector): it keeps those near a ski area. */
export interface PoiSink {
  node(id: number, tags: Tags, lon: number, lat: number): void;
  way(way: PoiWay): void;
}

/** No location noted (no OSM latitude is this far out: ±90° is ±900,000,000). */
const NO_LAT7 = 0x7fffffff;

/**
 * Pass 3: every tagged node, then every way with a POI tag (its coords from the nodes noted by readSkiFeatures), to
 * `sink`, one at a time: held are the locations of the POI ways' nodes (8 bytes each), not the candidates.
 */
export async function streamPoiCandidates(pbf: PbfPasses, candidates: PoiCandidates, sink: PoiSink): Promise<void> {
  const ids = candidates.poiWayNodes;
  const lon7 = new Int32Array(ids.size), lat7 = new Int32Array(ids.size).fill(NO_LAT7);
  const blocks = [...new Set([...candidates.nodeBlocks, ...candidates.wayBlocks])].sort((a, b) => a - b);
  await pbf.pass(blocks, (block) => {
    decodeAll(block, {
      node(n) {
        const i = ids.indexOf(n.id);
        if (i >= 0) {
          lon7[i] = n.lon7;
          lat7[i] = n.lat7;
        }
        if (hasTags(n.tags)) sink.node(n.id, n.tags, n.lon7 / 1e7, n.lat7 / 1e7);
      },
    });
    forEachWay(block, (id, tags, refs) => {
      if (!poiCategory(tags)) return;
      const coords = new Float64Array(refs.length * 2);
      let n = 0;
      for (let k = 0; k < refs.length; k++) {
        const i = ids.indexOf(refs[k]);
        if (i < 0 || lat7[i] === NO_LAT7) continue;
        coords[n++] = lon7[i] / 1e7;
        coords[n++] = lat7[i] / 1e7;
      }
      sink.way({ id, tags, refs, coords: n === coords.length ? coords : coords.slice(0, n) });
    });
  });
}
