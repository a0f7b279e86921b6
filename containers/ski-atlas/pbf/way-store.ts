import { tagsOf, type EntitySpans, type PbfWay, type PrimitiveBlock, type Tags } from "./decode.ts";
import { NumberArray, ProtoWriter, readDeltaSints } from "./protobuf.ts";
import { appendPairs, StringTable, TagColumnsBuilder, U32Column, type TagColumns } from "./tag-columns.ts";

/**
 * The kept ways, held compactly from pass 1 of the extractor (which finds them block by block, backwards, on the
 * worker threads) until the writer puts them after the nodes: a way is its id, its node refs as the output's own
 * packed field (zigzag delta varints, the bytes the writer copies into the way message: 1–3 bytes a ref) and its
 * tags as indices into one table of distinct strings; columns of typed arrays, not an object with a number[] and
 * a tags object per way (about 400 bytes a way as JS objects, measured at 4 GB; here about 30, plus 8 a tag and
 * 1–3 a ref). The same columns carry a block's kept ways from a worker to the main thread, their buffers
 * transferred, not cloned.
 */

/**
 * The kept ways of one block, ascending by id: what filterWays (or the compiled core) returns and a worker sends
 * back. Their tags are TagColumns (tag-columns.ts).
 */
export interface WayColumns extends TagColumns {
  count: number;
  ids: Float64Array;
  /** End of way i's bytes in `refBytes`; it starts where way i - 1's end. */
  refEnds: Uint32Array;
  /** Each way's node refs as a packed sint64 delta field's payload. */
  refBytes: Uint8Array;
  /** Node refs in all, duplicates included. */
  refCount: number;
  tagEnds: Uint32Array;
}

/** The typed arrays of a batch: what a worker transfers. */
export function transferList(c: WayColumns): ArrayBuffer[] {
  return [c.ids, c.refEnds, c.refBytes, c.tagEnds, c.tagStrings].map((a) => a.buffer as ArrayBuffer);
}

/** Sets a[i], growing the array by doubling (the kept ways are a small share of the input). */
function setAt(a: NumberArray, i: number, v: number): void {
  if (i >= a.data.length) a.grow(i + 1);
  a.data[i] = v;
}

const refScratch = new NumberArray(8192);

/** Builds the WayColumns of one block (filterWays, on a worker or the main thread). */
export class WayColumnsBuilder {
  private count = 0;
  private refCount = 0;
  private readonly ids = new NumberArray(256);
  private readonly refEnds = new U32Column();
  private readonly refs = new ProtoWriter(1 << 16);
  private readonly tags = new TagColumnsBuilder();

  /** Adds way `e` of `block` (ids ascending); its refs are checked like every delta-coded field. */
  add(block: PrimitiveBlock, e: EntitySpans): void {
    // Through an object as before, so that the tag order (integer-like keys first) and a repeated key's value are
    // those of the extracts written so far: the same bytes.
    this.tags.add(tagsOf(block, e.keys, e.vals));
    const n = readDeltaSints(block.data, e.refs[0], e.refs[1], refScratch, "a way's node ref");
    let prev = 0;
    for (let i = 0; i < n; i++) {
      this.refs.svarint(refScratch.data[i] - prev);
      prev = refScratch.data[i];
    }
    setAt(this.ids, this.count, e.id);
    this.refEnds.push(this.refs.pos);
    this.refCount += n;
    this.count++;
  }

  /** The columns so far, in arrays of their own (transferable); the builder starts empty again. */
  finish(): WayColumns {
    const out: WayColumns = {
      count: this.count,
      ids: this.ids.data.slice(0, this.count),
      refEnds: this.refEnds.slice(),
      refBytes: this.refs.buf.slice(0, this.refs.pos),
      refCount: this.refCount,
      ...this.tags.finish(),
    };
    this.reset();
    return out;
  }

  /** Drops the ways added so far (what a block that failed midway left). */
  reset(): this {
    this.count = 0;
    this.refCount = 0;
    this.refEnds.length = 0;
    this.refs.reset();
    this.tags.reset();
    return this;
  }
}

/**
 * Every kept way, appended a block at a time in the order pass 1 reads (blocks descending, each block's ways
 * ascending) and read back ascending by id. Strings are interned across blocks (the same few keys and values
 * recur in every block).
 */
export class WayStore {
  length = 0;
  /** Node refs in all, duplicates included. */
  refCount = 0;
  private readonly ids = new NumberArray(256);
  private readonly refEnds = new NumberArray(256);
  private readonly tagEnds = new NumberArray(256);
  private refBytes = new Uint8Array(1 << 16);
  private refBytesLength = 0;
  private readonly tagStrings = new U32Column();
  private readonly strings = new StringTable();
  /** Index of the first way of each batch appended. */
  private readonly batchStarts: number[] = [];
  /** Position in id order → index, once `seal()` ran. */
  private order: Uint32Array | undefined;

  /** Appends a block's kept ways; blocks come in descending id order (the caller checks it). */
  append(c: WayColumns): void {
    if (this.order) throw new Error("WayStore: append after seal");
    if (c.count === 0) return;
    this.batchStarts.push(this.length);
    const tagBase = appendPairs(this.tagStrings, this.strings, c);
    if (this.refBytesLength + c.refBytes.length > this.refBytes.length) {
      const next = new Uint8Array(Math.max(this.refBytesLength + c.refBytes.length, this.refBytes.length * 2));
      next.set(this.refBytes.subarray(0, this.refBytesLength));
      this.refBytes = next;
    }
    this.refBytes.set(c.refBytes, this.refBytesLength);
    for (let i = 0; i < c.count; i++) {
      setAt(this.ids, this.length + i, c.ids[i]);
      setAt(this.refEnds, this.length + i, this.refBytesLength + c.refEnds[i]);
      setAt(this.tagEnds, this.length + i, tagBase + c.tagEnds[i]);
    }
    this.refBytesLength += c.refBytes.length;
    this.length += c.count;
    this.refCount += c.refCount;
  }

  /**
   * Ends the appends: from now on ways are read by position in ascending id order (the batches reversed). The
   * columns are cut to their length (doubling left up to half of each unused), before pass 2 allocates the needed
   * node ids: what pass 2 holds besides them is the store's exact size.
   */
  seal(): this {
    if (this.order) return this;
    for (const c of [this.ids, this.refEnds, this.tagEnds]) c.data = c.data.slice(0, this.length);
    this.refBytes = this.refBytes.slice(0, this.refBytesLength);
    this.tagStrings.data = this.tagStrings.data.slice(0, this.tagStrings.length);
    const order = new Uint32Array(this.length);
    let pos = 0;
    for (let b = this.batchStarts.length - 1; b >= 0; b--) {
      const end = b + 1 < this.batchStarts.length ? this.batchStarts[b + 1] : this.length;
      for (let i = this.batchStarts[b]; i < end; i++) order[pos++] = i;
    }
    this.order = order;
    return this;
  }

  private index(pos: number): number {
    return this.seal().order![pos];
  }

  id(pos: number): number {
    return this.ids.data[this.index(pos)];
  }

  /** The packed refs field's payload of the way at `pos`. */
  refField(pos: number): Uint8Array {
    const i = this.index(pos);
    return this.refBytes.subarray(i === 0 ? 0 : this.refEnds.data[i - 1], this.refEnds.data[i]);
  }

  /** Calls `fn(key, value)` for each tag of the way at `pos`, in order. */
  forEachTag(pos: number, fn: (key: string, value: string) => void): void {
    const i = this.index(pos);
    const list = this.strings.list, t = this.tagStrings.data;
    for (let k = i === 0 ? 0 : this.tagEnds.data[i - 1]; k < this.tagEnds.data[i]; k += 2) fn(list[t[k]], list[t[k + 1]]);
  }

  /** Decodes the refs of the way at `pos` into `out` (grown as needed); returns their count. */
  refsInto(pos: number, out: NumberArray): number {
    const field = this.refField(pos);
    return readDeltaSints(field, 0, field.length, out, "a way's node ref");
  }

  /** The way at `pos` as an object (tests, and small files). */
  way(pos: number): PbfWay {
    const tags: Tags = {};
    this.forEachTag(pos, (k, v) => (tags[k] = v));
    const n = this.refsInto(pos, refScratch);
    return { id: this.id(pos), tags, refs: Array.from(refScratch.data.subarray(0, n)) };
  }

  /** Writes every way's node refs (duplicates included: `refCount` of them) into `out` from `at`; returns the end. */
  refsTo(out: Float64Array, at: number): number {
    let start = 0;
    for (let i = 0; i < this.length; i++) {
      const end = this.refEnds.data[i];
      const n = readDeltaSints(this.refBytes, start, end, refScratch, "a way's node ref");
      out.set(refScratch.data.subarray(0, n), at);
      at += n;
      start = end;
    }
    return at;
  }

  /** Every way as an object, ascending by id. */
  toArray(): PbfWay[] {
    return Array.from({ length: this.length }, (_, pos) => this.way(pos));
  }
}
