import { haversineKm, type Coords } from "../geo.ts";

/**
 * Distinct segments (two consecutive vertices, either direction: two ways over the same nodes share theirs), numbered
 * in the order first seen. An open-addressing hash table over the canonical coordinates in typed arrays: a resort
 * with a million segments costs tens of MB, where string keys cost ten times that and most of the CPU.
 */
export class SegmentSet {
  private coords = new Float64Array(4 * 64);
  private slots = new Int32Array(128).fill(-1);
  size = 0;

  /** The segment's number, or -1 when it is new (it then gets number `size - 1`). */
  add(x1: number, y1: number, x2: number, y2: number): number {
    // -0 and 0 are the same coordinate (adding 0 turns -0 into 0); the canonical order makes direction irrelevant.
    x1 += 0; y1 += 0; x2 += 0; y2 += 0;
    if (!(x1 < x2 || (x1 === x2 && y1 <= y2))) [x1, y1, x2, y2] = [x2, y2, x1, y1];
    const mask = this.slots.length - 1;
    for (let h = hashSegment(x1, y1, x2, y2) & mask; ; h = (h + 1) & mask) {
      const i = this.slots[h];
      if (i < 0) break;
      const c = this.coords;
      if (c[4 * i] === x1 && c[4 * i + 1] === y1 && c[4 * i + 2] === x2 && c[4 * i + 3] === y2) return i;
    }
    if (4 * (this.size + 1) > this.coords.length) {
      const grown = new Float64Array(this.coords.length * 2);
      grown.set(this.coords);
      this.coords = grown;
    }
    const i = this.size++;
    const c = this.coords;
    c[4 * i] = x1;
    c[4 * i + 1] = y1;
    c[4 * i + 2] = x2;
    c[4 * i + 3] = y2;
    if (2 * this.size > this.slots.length) this.rehash();
    else this.place(i);
    return -1;
  }

  private place(i: number): void {
    const c = this.coords, mask = this.slots.length - 1;
    let h = hashSegment(c[4 * i], c[4 * i + 1], c[4 * i + 2], c[4 * i + 3]) & mask;
    while (this.slots[h] >= 0) h = (h + 1) & mask;
    this.slots[h] = i;
  }

  private rehash(): void {
    this.slots = new Int32Array(this.slots.length * 2).fill(-1);
    for (let i = 0; i < this.size; i++) this.place(i);
  }
}

const hashView = new Float64Array(1);
const hashWords = new Int32Array(hashView.buffer);
/** A 32-bit hash of four doubles' bit patterns (MurmurHash3's mixing over their eight 32-bit words). */
function hashSegment(x1: number, y1: number, x2: number, y2: number): number {
  let h = mixDouble(mixDouble(mixDouble(mixDouble(0x9747b28c, x1), y1), x2), y2);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
function mixDouble(h: number, v: number): number {
  hashView[0] = v;
  return mixWord(mixWord(h, hashWords[0]), hashWords[1]);
}
function mixWord(h: number, w: number): number {
  let k = Math.imul(w, 0xcc9e2d51);
  k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** Length (km) of the union of lines: a segment shared by several lines counts once. */
export class SegmentLength {
  private seen = new SegmentSet();
  km = 0;
  add(c: Coords): void {
    for (let i = 2; i + 1 < c.length; i += 2) {
      if (this.seen.add(c[i - 2], c[i - 1], c[i], c[i + 1]) >= 0) continue;
      this.km += haversineKm(c[i - 2], c[i - 1], c[i], c[i + 1]);
    }
  }
}
