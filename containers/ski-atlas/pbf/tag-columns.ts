import type { Tags } from "./decode.ts";

/**
 * Tags of many objects as columns rather than an object per object: object i's (key, value) pairs are
 * `tagStrings[tagEnds[i - 1], tagEnds[i])` (from 0 for the first), indices into `strings`, the distinct strings in
 * order of first use. What the block filters return (from a worker: typed arrays transferred, a few strings
 * cloned) and what the kept ways and nodes are held as until the writer encodes them. The pairs are in the order
 * `for (k in tags)` gives on the object the reader built (integer-like keys first, a repeated key's last value),
 * so that the output is the same bytes whichever way the tags travelled.
 */
export interface TagColumns {
  tagEnds: ArrayLike<number>;
  tagStrings: Uint32Array;
  strings: string[];
}

/** Interned strings: each distinct string once, numbered in order of first use (after `initial`). */
export class StringTable {
  readonly list: string[] = [];
  private readonly index = new Map<string, number>();
  constructor(initial: readonly string[] = []) {
    for (const s of initial) this.id(s);
  }
  id(s: string): number {
    let i = this.index.get(s);
    if (i === undefined) {
      i = this.list.length;
      this.list.push(s);
      this.index.set(s, i);
    }
    return i;
  }
}

/** A growable Uint32Array (string indices: 4 bytes each, not a NumberArray's 8). */
export class U32Column {
  data: Uint32Array;
  length = 0;
  constructor(initial = 256) {
    this.data = new Uint32Array(initial);
  }
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Uint32Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
  /** The values so far, in an array of their own. */
  slice(): Uint32Array {
    return this.data.slice(0, this.length);
  }
}

/** Builds the TagColumns of one batch from tag objects (the TypeScript filters; the compiled core builds the same). */
export class TagColumnsBuilder {
  private ends = new U32Column();
  private readonly pairs = new U32Column();
  private strings = new StringTable();

  /** Appends one object's tags (none: `undefined` or `{}`). */
  add(tags: Tags | undefined): void {
    for (const k in tags) {
      this.pairs.push(this.strings.id(k));
      this.pairs.push(this.strings.id(tags[k]));
    }
    this.ends.push(this.pairs.length);
  }

  /** The columns so far, in arrays of their own (transferable); the builder starts empty again. */
  finish(): TagColumns & { tagEnds: Uint32Array } {
    const out = { tagEnds: this.ends.slice(), tagStrings: this.pairs.slice(), strings: this.strings.list };
    this.reset();
    return out;
  }

  /** Drops what was added (what a block that failed midway left). */
  reset(): this {
    this.ends.length = 0;
    this.pairs.length = 0;
    this.strings = new StringTable();
    return this;
  }
}

/**
 * Appends `from`'s pairs to `into` with its strings re-interned in `table` (string ids are per batch); returns
 * where the appended pairs start in `into`.
 */
export function appendPairs(into: U32Column, table: StringTable, from: TagColumns): number {
  const base = into.length;
  const remap = from.strings.map((s) => table.id(s));
  const t = from.tagStrings;
  for (let i = 0; i < t.length; i++) into.push(remap[t[i]]);
  return base;
}
