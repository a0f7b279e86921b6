import { open, type FileHandle } from "node:fs/promises";

/**
 * Where the PBF reader gets its bytes: a local file (tests, the benchmark, analyze's extract) or an S3 object read
 * with ranged GETs (the extract step: no local copy of the raw file, the reads overlap the decoding).
 */
export interface ByteSource {
  readonly size: number;
  /**
   * Bytes [offset, offset + length), or fewer when the source ends first: in a buffer of their own, or a view of
   * a SharedArrayBuffer that is never written again (both can go to a worker thread without a copy: the first is
   * transferred, the second shared). Never a view of a pool that is reused.
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
 * Reads bytes [start, end) of the object; every call must return exactly that many bytes. `into` (end - start
 * bytes, on a SharedArrayBuffer) is where RangeSource would like them: a reader may fill it and return it.
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

/**
 * A ByteSource over ranged reads (S3 GetObject with Range): the object is read in fixed chunks, a bounded number
 * held (least recently used dropped first), the next chunks fetched ahead in the direction the reader moves
 * (forwards while listing the blocks and in pass 2, backwards in pass 1), so the reads overlap the decoding.
 */
export class RangeSource implements ByteSource {
  readonly size: number;
  private readonly readRange: RangeReader;
  private readonly chunk: number;
  private readonly ahead: number;
  private readonly held: number;
  /** Chunk index → its bytes; Map order is the use order (oldest first). */
  private readonly chunks = new Map<number, Promise<Uint8Array>>();
  private lastChunk = 0;
  /** GETs made (for the log and the tests). */
  gets = 0;
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

  private get(c: number): Promise<Uint8Array> {
    let p = this.chunks.get(c);
    if (p) this.chunks.delete(c);
    else {
      p = this.fetch(c);
      p.catch(() => {}); // observed by the read that needs it
    }
    this.chunks.set(c, p);
    while (this.chunks.size > this.held) this.chunks.delete(this.chunks.keys().next().value!);
    return p;
  }

  private async fetch(c: number): Promise<Uint8Array> {
    if (this.running >= this.ahead + 2) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running++;
    this.gets++;
    try {
      const start = c * this.chunk, end = Math.min(this.size, (c + 1) * this.chunk);
      // Shared, so that the blocks read from it go to the worker threads as views, neither copied nor transferred.
      return await this.readRange(start, end, new Uint8Array(new SharedArrayBuffer(end - start)));
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    const end = Math.min(this.size, offset + length);
    if (end <= offset) return new Uint8Array(0);
    const first = Math.floor(offset / this.chunk), last = Math.floor((end - 1) / this.chunk);
    const parts: Promise<Uint8Array>[] = [];
    for (let c = first; c <= last; c++) parts.push(this.get(c));
    const forwards = first >= this.lastChunk;
    this.lastChunk = first;
    const chunks = Math.ceil(this.size / this.chunk);
    for (let k = 1; k <= this.ahead; k++) {
      const c = forwards ? last + k : first - k;
      if (c >= 0 && c < chunks && !this.chunks.has(c)) this.get(c);
    }
    const bytes = await Promise.all(parts);
    // Within one chunk (all but about one block in a hundred): a view of it. A chunk is never written after its
    // GET, so the view stays valid however long a worker holds it.
    if (first === last && bytes[0].buffer instanceof SharedArrayBuffer) return bytes[0].subarray(offset - first * this.chunk, end - first * this.chunk);
    const out = Buffer.allocUnsafeSlow(end - offset);
    for (let c = first; c <= last; c++) {
      const data = bytes[c - first];
      const base = c * this.chunk;
      const from = Math.max(offset, base), to = Math.min(end, base + data.length);
      out.set(data.subarray(from - base, to - base), from - offset);
    }
    return out;
  }

  async close(): Promise<void> {
    this.chunks.clear();
  }
}
