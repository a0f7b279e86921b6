import { open, type FileHandle } from "node:fs/promises";

/**
 * Where the PBF reader gets its bytes: a local file (tests, the benchmark, analyze's extract) or an S3 object read
 * with ranged GETs (the extract step: no local copy of the raw file, the reads overlap the decoding).
 */
export interface ByteSource {
  readonly size: number;
  /**
   * Bytes [offset, offset + length), or fewer when the source ends first, in a buffer of their own (it can go to a
   * worker thread by transfer, without a copy). Never a view of memory that is reused.
   */
  read(offset: number, length: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

export class FileSource implements ByteSource {
  private readonly fh: FileHandle;
  readonly size: number;
  private constructor(fh: FileHandle, size: number) {
    this.fh = fh;
    this.size = size;
  }
  static async open(path: string): Promise<FileSource> {
    const fh = await open(path, "r");
    try {
      return new FileSource(fh, (await fh.stat()).size);
    } catch (err) {
      await fh.close();
      throw err;
    }
  }
  async read(offset: number, length: number): Promise<Uint8Array> {
    const buf = Buffer.allocUnsafeSlow(Math.max(0, Math.min(length, this.size - offset)));
    const { bytesRead } = await this.fh.read(buf, 0, buf.length, offset);
    return bytesRead === buf.length ? buf : buf.subarray(0, bytesRead);
  }
  close(): Promise<void> {
    return this.fh.close();
  }
}

/**
 * Reads bytes [start, end) of the object into `into` (end - start bytes, on a SharedArrayBuffer: the reader may fill
 * it on another thread, range-thread.ts) and returns it; every call must fill it whole.
 */
export type RangeReader = (start: number, end: number, into: Uint8Array) => Promise<Uint8Array>;

/**
 * Chunk size and read-ahead of RangeSource: 4 MiB GETs (a continent of 14 GB read twice is about 7,000 requests,
 * well under a cent), 6 ahead in the direction of travel, at most 16 held: memory stays at 64 MiB whatever the
 * object's size, and a few GETs are always in flight while the blocks already read are decoded.
 */
export const RANGE_CHUNK = 4 * 1024 * 1024;
export const RANGE_READ_AHEAD = 6;
export const RANGE_CHUNKS_HELD = 16;

/** A chunk held (or being fetched) and the slot its bytes are in. */
interface Chunk {
  slot: Uint8Array;
  ready: Promise<void>;
  /** Reads copying out of it right now: its slot is not reused before they are done. */
  pins: number;
  settled: boolean;
  dropped: boolean;
}

/**
 * A ByteSource over ranged reads (S3 GetObject with Range): the object is read in fixed chunks, a bounded number
 * held (least recently used dropped first), the next chunks fetched ahead in the direction the reader moves
 * (forwards while listing the blocks and in pass 2, backwards in pass 1), so the reads overlap the decoding.
 *
 * The chunks live in a fixed set of slots (shared buffers, reused once a dropped chunk's fetch and the reads
 * copying out of it are done), and every read returns a copy in a buffer of its own: a Blob goes to a worker
 * thread by transfer (its memory then counts on that thread, whose garbage collector frees it). Handing out views
 * of shared chunks instead (no copy) left their release to the garbage collectors of every thread that saw one,
 * which do not count shared memory: with the compiled core and the GETs on a thread of their own (so that little
 * garbage is made anywhere), a 1 GB extract peaked at 1.2 GB. The copy costs about a memcpy of what is read.
 */
export class RangeSource implements ByteSource {
  readonly size: number;
  private readonly readRange: RangeReader;
  private readonly chunk: number;
  private readonly ahead: number;
  private readonly held: number;
  /** Chunk index → the chunk; Map order is the use order (oldest first). */
  private readonly chunks = new Map<number, Chunk>();
  /** Slots of dropped chunks, for the next fetches. */
  private readonly free: Uint8Array[] = [];
  private lastChunk = 0;
  /** GETs made (for the log and the tests). */
  gets = 0;
  /** Slots allocated (for the tests: bounded whatever the object's size). */
  slots = 0;
  /** GETs under way, and the ones waiting for a slot: at most `ahead + 2` at once, whatever the readers ask. */
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readRange: RangeReader, size: number, chunk = RANGE_CHUNK, ahead = RANGE_READ_AHEAD, held = RANGE_CHUNKS_HELD) {
    this.readRange = readRange;
    this.size = size;
    this.chunk = chunk;
    this.ahead = ahead;
    // A read spans up to MAX_BLOB / chunk + 1 chunks; with the read-ahead they must all fit at once.
    this.held = Math.max(held, ahead + 2);
  }

  private get(c: number): Chunk {
    let k = this.chunks.get(c);
    if (k) this.chunks.delete(c);
    else {
      const start = c * this.chunk, end = Math.min(this.size, (c + 1) * this.chunk);
      const slot = this.free.pop() ?? (this.slots++, new Uint8Array(new SharedArrayBuffer(this.chunk)));
      const chunk: Chunk = { slot: slot.subarray(0, end - start), ready: Promise.resolve(), pins: 0, settled: false, dropped: false };
      chunk.ready = this.fetch(start, end, chunk.slot).finally(() => {
        chunk.settled = true;
        this.release(chunk);
      });
      chunk.ready.catch(() => {}); // observed by the read that needs it
      k = chunk;
    }
    this.chunks.set(c, k);
    while (this.chunks.size > this.held) {
      const [oldest, dropped] = this.chunks.entries().next().value!;
      this.chunks.delete(oldest);
      dropped.dropped = true;
      this.release(dropped);
    }
    return k;
  }

  /** Gives a dropped chunk's slot back once its fetch and the reads copying out of it are done. */
  private release(k: Chunk): void {
    if (!k.dropped || !k.settled || k.pins > 0) return;
    this.free.push(new Uint8Array(k.slot.buffer));
    k.pins = -1; // given back once only
  }

  private async fetch(start: number, end: number, into: Uint8Array): Promise<void> {
    if (this.running >= this.ahead + 2) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running++;
    this.gets++;
    try {
      const got = await this.readRange(start, end, into);
      if (got !== into) into.set(got);
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    const end = Math.min(this.size, offset + length);
    if (end <= offset) return new Uint8Array(0);
    const first = Math.floor(offset / this.chunk), last = Math.floor((end - 1) / this.chunk);
    const parts: Chunk[] = [];
    for (let c = first; c <= last; c++) {
      const k = this.get(c);
      k.pins++;
      parts.push(k);
    }
    const forwards = first >= this.lastChunk;
    this.lastChunk = first;
    const chunks = Math.ceil(this.size / this.chunk);
    for (let k = 1; k <= this.ahead; k++) {
      const c = forwards ? last + k : first - k;
      if (c >= 0 && c < chunks && !this.chunks.has(c)) this.get(c);
    }
    try {
      await Promise.all(parts.map((k) => k.ready));
      const out = Buffer.allocUnsafeSlow(end - offset);
      for (let c = first; c <= last; c++) {
        const data = parts[c - first].slot;
        const base = c * this.chunk;
        const from = Math.max(offset, base), to = Math.min(end, base + data.length);
        out.set(data.subarray(from - base, to - base), from - offset);
      }
      return out;
    } finally {
      for (const k of parts) {
        k.pins--;
        this.release(k);
      }
    }
  }

  async close(): Promise<void> {
    this.chunks.clear();
    this.free.length = 0;
  }
}
