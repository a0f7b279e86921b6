import { open, type FileHandle } from "node:fs/promises";
import { frameBlock } from "./blocks.ts";
import type { PbfNode, PbfRelation, Tags } from "./decode.ts";
import { ProtoWriter } from "./protobuf.ts";
import { appendPairs, StringTable, TagColumnsBuilder, U32Column, type TagColumns } from "./tag-columns.ts";
import type { WayStore } from "./way-store.ts";

/**
 * Writes a small, sorted OSM PBF (dense nodes, zlib blocks of up to 8000 entities, no metadata), the format of
 * the extract. Entities must be given sorted by id. zlib level 1: the extract is a transient file read once by
 * analyze, so compression speed matters more than a few percent of size.
 */
const LEVEL = 1;

const PER_BLOCK = 8000;

/** A block's string table: index 0 is the empty string (the format reserves it). */
class BlockStrings extends StringTable {
  constructor() {
    super([""]);
  }
  encode(): Uint8Array {
    const w = new ProtoWriter();
    for (const s of this.list) w.stringField(1, s);
    return w.finish();
  }
}

function block(st: BlockStrings, group: Uint8Array): Uint8Array {
  return new ProtoWriter().bytesField(1, st.encode()).bytesField(2, group).finish();
}

function tagArrays(st: BlockStrings, tags: Tags): [number[], number[]] {
  const keys: number[] = [], vals: number[] = [];
  for (const [k, v] of Object.entries(tags)) {
    keys.push(st.id(k));
    vals.push(st.id(v));
  }
  return [keys, vals];
}

/** Where the extractor puts the nodes it keeps, block by block in file order (pass 2). */
export interface NodeSink {
  /** Nodes taken so far. */
  readonly length: number;
  /** May return a promise (a writer's back-pressure): the extractor waits for it before the next batch. */
  append(batch: NodeBatchLike): void | Promise<void>;
}

/** Kept nodes of one block (or any run of nodes): ids, 1e-7° coordinates, and their tags as columns. */
export interface NodeBatchLike extends TagColumns {
  count: number;
  ids: ArrayLike<number>;
  lat7: ArrayLike<number>;
  lon7: ArrayLike<number>;
}

/** Nodes kept compactly: ids and 1e-7° coordinates in typed arrays, tags as columns (tag-columns.ts). */
export class NodeList implements NodeSink {
  ids = new Float64Array(1024);
  lat7 = new Int32Array(1024);
  lon7 = new Int32Array(1024);
  /** End of node i's entries in `tagStrings`. */
  tagEnds = new Float64Array(1024);
  readonly tagStrings = new U32Column();
  readonly strings = new StringTable();
  length = 0;

  private room(): void {
    if (this.length < this.ids.length) return;
    const n = this.length * 2;
    const grown = <T extends Float64Array | Int32Array>(a: T, next: T): T => (next.set(a), next);
    this.ids = grown(this.ids, new Float64Array(n));
    this.lat7 = grown(this.lat7, new Int32Array(n));
    this.lon7 = grown(this.lon7, new Int32Array(n));
    this.tagEnds = grown(this.tagEnds, new Float64Array(n));
  }

  /** Appends a batch of kept nodes (pass 2 of the extractor). */
  append(batch: NodeBatchLike): void {
    const base = appendPairs(this.tagStrings, this.strings, batch);
    for (let i = 0; i < batch.count; i++) {
      this.room();
      this.ids[this.length] = batch.ids[i];
      this.lat7[this.length] = batch.lat7[i];
      this.lon7[this.length] = batch.lon7[i];
      this.tagEnds[this.length] = base + batch.tagEnds[i];
      this.length++;
    }
  }

  /** Where node i's tag pairs start in `tagStrings`. */
  tagStart(i: number): number {
    return i === 0 ? 0 : this.tagEnds[i - 1];
  }

  /** Calls `fn(key, value)` for each tag of node i, in order. */
  forEachTag(i: number, fn: (key: string, value: string) => void): void {
    const list = this.strings.list, t = this.tagStrings.data;
    for (let k = this.tagStart(i); k < this.tagEnds[i]; k += 2) fn(list[t[k]], list[t[k + 1]]);
  }

  static of(nodes: readonly PbfNode[]): NodeList {
    const tags = new TagColumnsBuilder();
    for (const n of nodes) tags.add(n.tags);
    const l = new NodeList();
    l.append({ count: nodes.length, ids: nodes.map((n) => n.id), lat7: nodes.map((n) => n.lat7), lon7: nodes.map((n) => n.lon7), ...tags.finish() });
    return l;
  }

  /** Nodes [start, length) as a batch (ids and coordinates are views of this list's; the tags are copied). */
  batchFrom(start: number): NodeBatchLike {
    const base = this.tagStart(start);
    const tagEnds = Float64Array.from(this.tagEnds.subarray(start, this.length), (e) => e - base);
    const tagStrings = this.tagStrings.data.slice(base, this.tagStart(this.length));
    const end = this.length;
    return { count: end - start, ids: this.ids.subarray(start, end), lat7: this.lat7.subarray(start, end), lon7: this.lon7.subarray(start, end), tagEnds, tagStrings, strings: this.strings.list };
  }
}

export function encodeNodes(nodes: NodeList, start: number, end: number): Uint8Array {
  const st = new BlockStrings();
  const kv: number[] = [];
  let anyTags = false;
  for (let i = start; i < end; i++) {
    if (nodes.tagEnds[i] > nodes.tagStart(i)) {
      nodes.forEachTag(i, (k, v) => kv.push(st.id(k), st.id(v)));
      anyTags = true;
    }
    kv.push(0);
  }
  const dense = new ProtoWriter(1 << 20)
    .packedField(1, nodes.ids.subarray(start, end), true, true)
    .packedField(8, nodes.lat7.subarray(start, end), true, true)
    .packedField(9, nodes.lon7.subarray(start, end), true, true);
  if (anyTags) dense.packedField(10, kv, false, false);
  return block(st, new ProtoWriter().bytesField(2, dense.finish()).finish());
}

const MESSAGE = new ProtoWriter(64 * 1024);

/** Ways [start, end) of `ways` (positions in id order) as one block. */
export function encodeWays(ways: WayStore, start: number, end: number): Uint8Array {
  const st = new BlockStrings();
  const group = new ProtoWriter(1 << 20);
  const keys: number[] = [], vals: number[] = [];
  for (let pos = start; pos < end; pos++) {
    keys.length = 0;
    vals.length = 0;
    ways.forEachTag(pos, (k, v) => {
      keys.push(st.id(k));
      vals.push(st.id(v));
    });
    const m = MESSAGE.reset().uintField(1, ways.id(pos)).packedField(2, keys, false, false).packedField(3, vals, false, false);
    // The store holds the refs as this field's payload already (packed sint64 deltas), so they are copied.
    const refs = ways.refField(pos);
    if (refs.length > 0) m.bytesField(8, refs);
    group.bytesField(3, m.finish());
  }
  return block(st, group.finish());
}

const TYPE_CODE = { n: 0, w: 1, r: 2 } as const;

export function encodeRelations(relations: readonly PbfRelation[]): Uint8Array {
  const st = new BlockStrings();
  const group = new ProtoWriter(1 << 20);
  for (const r of relations) {
    const [keys, vals] = tagArrays(st, r.tags);
    const m = MESSAGE.reset().uintField(1, r.id).packedField(2, keys, false, false).packedField(3, vals, false, false);
    m.packedField(8, r.members.map((x) => st.id(x.role)), false, false);
    m.packedField(9, r.members.map((x) => x.ref), true, true);
    m.packedField(10, r.members.map((x) => TYPE_CODE[x.type]), false, false);
    group.bytesField(4, m.finish());
  }
  return block(st, group.finish());
}

export function encodeHeader(): Uint8Array {
  return new ProtoWriter()
    .stringField(4, "OsmSchema-V0.6")
    .stringField(4, "DenseNodes")
    .stringField(5, "Sort.Type_then_ID")
    .stringField(16, "atlas-pipelines ski-atlas")
    .finish();
}

/** Blocks being compressed (zlib on libuv's pool) ahead of the one being written: enough to keep the pool busy. */
const FRAMES_AHEAD = 4;

/**
 * Writes an extract as it is produced: the header, then the nodes as they come (a block each time 8000 are
 * pending: the extractor never holds them all), then the ways and relations. Blocks are compressed a few at a
 * time and written in order, so the file is the same bytes as one encoded at once.
 */
export class PbfFileWriter implements NodeSink {
  private readonly fh: FileHandle;
  private pending = new NodeList();
  private readonly frames: Promise<Buffer>[] = [];
  private written: Promise<void> = Promise.resolve();
  /** Nodes taken so far. */
  length = 0;
  /** Bytes written so far. */
  bytes = 0;

  private constructor(fh: FileHandle) {
    this.fh = fh;
  }

  static async create(path: string): Promise<PbfFileWriter> {
    const w = new PbfFileWriter(await open(path, "w"));
    await w.frame(frameBlock("OSMHeader", encodeHeader()));
    return w;
  }

  /** Queues a framed block; waits while FRAMES_AHEAD are already queued (back-pressure on the producer). */
  private async frame(framed: Promise<Buffer>): Promise<void> {
    framed.catch(() => {}); // observed when written
    this.frames.push(framed);
    const previous = this.written;
    this.written = (async () => {
      await previous;
      const buf = await this.frames.shift()!;
      await this.fh.write(buf);
      this.bytes += buf.length;
    })();
    if (this.frames.length > FRAMES_AHEAD) await this.written;
  }

  async append(batch: NodeBatchLike): Promise<void> {
    this.pending.append(batch);
    this.length += batch.count;
    if (this.pending.length < PER_BLOCK) return;
    let start = 0;
    for (; start + PER_BLOCK <= this.pending.length; start += PER_BLOCK) {
      await this.frame(frameBlock("OSMData", encodeNodes(this.pending, start, start + PER_BLOCK), LEVEL));
    }
    const rest = this.pending.batchFrom(start);
    this.pending = new NodeList();
    this.pending.append(rest);
  }

  /** Writes the last nodes, the ways and the relations, and closes the file. Returns its size in bytes. */
  async finish(ways: WayStore, relations: readonly PbfRelation[]): Promise<number> {
    for (let i = 0; i < this.pending.length; i += PER_BLOCK) {
      await this.frame(frameBlock("OSMData", encodeNodes(this.pending, i, Math.min(this.pending.length, i + PER_BLOCK)), LEVEL));
    }
    this.pending = new NodeList();
    for (let i = 0; i < ways.length; i += PER_BLOCK) await this.frame(frameBlock("OSMData", encodeWays(ways, i, Math.min(ways.length, i + PER_BLOCK)), LEVEL));
    for (let i = 0; i < relations.length; i += PER_BLOCK) await this.frame(frameBlock("OSMData", encodeRelations(relations.slice(i, i + PER_BLOCK)), LEVEL));
    await this.written;
    await this.fh.close();
    return this.bytes;
  }

  /** Closes the file after a failure (what was written is left for the caller to delete). */
  async abort(): Promise<void> {
    await this.written.catch(() => {});
    await this.fh.close().catch(() => {});
  }
}

/** Writes a whole extract held in memory (tests; the extract step streams with PbfFileWriter). Returns its size. */
export async function writePbf(path: string, nodes: NodeList, ways: WayStore, relations: readonly PbfRelation[]): Promise<number> {
  const w = await PbfFileWriter.create(path);
  try {
    await w.append(nodes.batchFrom(0));
    return await w.finish(ways, relations);
  } catch (err) {
    await w.abort();
    throw err;
  }
}
