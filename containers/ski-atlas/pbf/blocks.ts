import { promisify } from "node:util";
import * as zlib from "node:zlib";
import { PbfFormatError, ProtoReader, ProtoWriter, WIRE_LEN } from "./protobuf.ts";
import type { ByteSource } from "./source.ts";

/**
 * The block layer of an OSM PBF file: a sequence of (4-byte big-endian length, BlobHeader, Blob). Only the
 * headers are read to list the blocks; a Blob is read and inflated when its block is needed (zlib's async API
 * runs on libuv's thread pool, so several blocks inflate in parallel while the main thread decodes).
 */

export interface BlockRef {
  index: number;
  /** "OSMHeader" or "OSMData". */
  type: string;
  /** Offset of the block (its 4-byte header length) in the file: what error messages cite. */
  at: number;
  /** Offset of the Blob message in the file, and its size. */
  offset: number;
  size: number;
}

/**
 * The format's hard limits (https://wiki.openstreetmap.org/wiki/PBF_Format, "File format"): a BlobHeader must be
 * less than 64 KiB and the uncompressed content of a Blob less than 32 MiB. A reader that checks them before
 * allocating or inflating cannot be made to spend more than 32 MiB on one block, whatever the file claims.
 */
export const MAX_BLOB_HEADER = 64 * 1024;
export const MAX_BLOB_RAW = 32 * 1024 * 1024;
/** A Blob (compressed) is never larger than its uncompressed content by more than zlib's framing; same cap. */
export const MAX_BLOB = MAX_BLOB_RAW;

/**
 * Total inflated bytes allowed per byte of the file. Real OSM extracts inflate about 2.4× (Andorra: 1.8 MB →
 * 4.2 MB); zlib can reach about 1000×, so a zlib bomb shows as a ratio far above any real file's. Files under
 * INFLATE_FLOOR / ratio may inflate to INFLATE_FLOOR (a few unusual but valid small fixtures compress well).
 */
export const MAX_INFLATE_RATIO = 32;
export const INFLATE_FLOOR = 16 * 1024 * 1024;

/** How many bytes the blocks of one file may inflate to in total (see MAX_INFLATE_RATIO). */
export class InflateBudget {
  private left: number;
  readonly limit: number;
  readonly fileSize: number;
  constructor(fileSize: number) {
    this.fileSize = fileSize;
    this.limit = Math.max(INFLATE_FLOOR, MAX_INFLATE_RATIO * fileSize);
    this.left = this.limit;
  }
  take(bytes: number): void {
    this.left -= bytes;
    if (this.left < 0) {
      throw new PbfFormatError(
        `the blocks inflate to more than ${this.limit} bytes, the most a file of ${this.fileSize} bytes may (${MAX_INFLATE_RATIO}× its size, ` +
          `at least ${INFLATE_FLOOR}): a decompression bomb, not OSM data`,
      );
    }
  }
}

/** Where a block starts, for messages. */
export function blockName(ref: Pick<BlockRef, "index" | "at">): string {
  return `block ${ref.index} at byte ${ref.at}`;
}

/** Prefixes a format error with the block it was found in (once). Other errors pass unchanged. */
export function inBlock(ref: Pick<BlockRef, "index" | "at">, err: unknown): unknown {
  if (!(err instanceof PbfFormatError) || err.located) return err;
  const located = new PbfFormatError(`${blockName(ref)}: ${err.message}`);
  located.located = true;
  return located;
}

/** Lists the blocks of a PBF file by reading only the block headers. Throws PbfFormatError on a bad layout. */
export async function scanBlocks(src: ByteSource): Promise<BlockRef[]> {
  const refs: BlockRef[] = [];
  const fileSize = src.size;
  let pos = 0;
  while (pos < fileSize) {
    const where = { index: refs.length, at: pos };
    try {
      if (pos + 4 > fileSize) throw new PbfFormatError(`truncated file (${fileSize - pos} bytes where a block's 4-byte header length should be)`);
      const head = await src.read(pos, 4 + 256);
      const bytesRead = head.length;
      const len = ((head[0] << 24) >>> 0) + (head[1] << 16) + (head[2] << 8) + head[3];
      if (len === 0) throw new PbfFormatError("the BlobHeader length is 0");
      if (len >= MAX_BLOB_HEADER) throw new PbfFormatError(`the BlobHeader claims ${len} bytes; the format allows less than ${MAX_BLOB_HEADER}`);
      if (pos + 4 + len > fileSize) throw new PbfFormatError(`truncated file (the BlobHeader needs ${len} bytes, the file ends before)`);
      let hdr: Uint8Array;
      if (4 + len <= bytesRead) hdr = head.subarray(4, 4 + len);
      else hdr = await src.read(pos + 4, len);
      const { type, datasize } = parseBlobHeader(hdr);
      const offset = pos + 4 + len;
      if (datasize > MAX_BLOB) throw new PbfFormatError(`the Blob claims ${datasize} bytes; the format allows at most ${MAX_BLOB}`);
      if (offset + datasize > fileSize) {
        throw new PbfFormatError(`truncated file (the Blob needs ${datasize} bytes at byte ${offset}, the file has ${fileSize})`);
      }
      refs.push({ index: refs.length, type, at: pos, offset, size: datasize });
      pos = offset + datasize;
    } catch (err) {
      throw inBlock(where, err);
    }
  }
  if (refs.length === 0 || refs[0].type !== "OSMHeader") throw new PbfFormatError("the file does not start with an OSMHeader block");
  return refs;
}

export function parseBlobHeader(buf: Uint8Array): { type: string; datasize: number } {
  const r = new ProtoReader(buf);
  let type = "", datasize = -1;
  while (r.more()) {
    const key = r.key();
    const field = key >>> 3;
    if (field === 1 && (key & 7) === WIRE_LEN) type = r.string();
    else if (field === 3 && (key & 7) === 0) datasize = r.varint();
    else if (field === 1 || field === 3) throw new PbfFormatError(`not a BlobHeader (field ${field} has wire type ${key & 7})`);
    else r.skip(key & 7);
  }
  if (!type || datasize < 0) throw new PbfFormatError("not a BlobHeader (no type or datasize)");
  return { type, datasize };
}

const inflateAsync = promisify(zlib.inflate);
const zstdAsync = (zlib as unknown as { zstdDecompress?: typeof zlib.inflate }).zstdDecompress;
const zstdDecompress = zstdAsync ? promisify(zstdAsync) : undefined;
const zstdDecompressSync = (zlib as unknown as { zstdDecompressSync?: typeof zlib.inflateSync }).zstdDecompressSync;

/**
 * Decodes a Blob message: raw, zlib (what Geofabrik uses) or zstd. Returns the uncompressed block. The declared
 * raw_size is checked against the format's limit and the file's `budget` before anything is inflated, and
 * inflation stops at the declared size (zlib's maxOutputLength), so a block can never cost more than it claims.
 * (The check also guards a Node 24 zlib fault: a chunkSize of 2^32, which a raw_size of 4 GiB used to become,
 * makes zlib.inflate spin forever at 100% CPU.)
 */
export async function inflateBlob(blob: Uint8Array, budget?: InflateBudget): Promise<Uint8Array> {
  const parsed = parseBlob(blob);
  budget?.take(parsed.declaredBytes);
  const out = await inflateParsed(parsed);
  if (parsed.rawSize < 0 && parsed.kind !== "raw") budget?.take(out.length);
  return out;
}

export interface ParsedBlob {
  kind: string;
  /** The declared raw_size, or -1. */
  rawSize: number;
  data: Uint8Array;
  /** What the budget is charged before inflating: the declared size (0 when undeclared: charged after). */
  declaredBytes: number;
}

/** Reads a Blob's fields and checks the declared size against the format's limit; inflates nothing. */
export function parseBlob(blob: Uint8Array): ParsedBlob {
  const r = new ProtoReader(blob);
  let rawSize = -1;
  let data: Uint8Array | undefined;
  let kind = "";
  while (r.more()) {
    const key = r.key();
    const field = key >>> 3;
    if (field === 2 && (key & 7) === 0) rawSize = r.varint();
    else if ((key & 7) === WIRE_LEN && field >= 1 && field <= 7 && field !== 2) {
      if (data) throw new PbfFormatError("not a Blob (more than one data field)");
      data = r.bytes();
      kind = ["", "raw", "", "zlib", "lzma", "bzip2", "lz4", "zstd"][field];
    } else if (field >= 1 && field <= 7) throw new PbfFormatError(`not a Blob (field ${field} has wire type ${key & 7})`);
    else r.skip(key & 7);
  }
  if (!data) throw new PbfFormatError("not a Blob (no data)");
  if (rawSize > MAX_BLOB_RAW) throw new PbfFormatError(`the Blob's raw_size is ${rawSize} bytes; the format allows at most ${MAX_BLOB_RAW}`);
  return { kind, rawSize, data, declaredBytes: kind === "raw" ? data.length : Math.max(0, rawSize) };
}

/** Inflates a parsed Blob, stopping at its declared raw_size (or the format's limit). */
export async function inflateParsed(blob: ParsedBlob): Promise<Uint8Array> {
  if (blob.kind === "raw") return blob.data;
  const decompress = blob.kind === "zlib" ? inflateAsync : blob.kind === "zstd" ? zstdDecompress : undefined;
  if (!decompress) throw new PbfFormatError(`unsupported block compression '${blob.kind}'`);
  let out: Uint8Array;
  try {
    out = await decompress(blob.data, inflateOptions(blob));
  } catch (err) {
    throw inflateError(blob, err);
  }
  return checkInflated(blob, out);
}

/** inflateParsed on the calling thread (worker threads: each is a core of its own, no hop to libuv's pool). */
export function inflateParsedSync(blob: ParsedBlob): Uint8Array {
  if (blob.kind === "raw") return blob.data;
  const decompress = blob.kind === "zlib" ? zlib.inflateSync : blob.kind === "zstd" ? zstdDecompressSync : undefined;
  if (!decompress) throw new PbfFormatError(`unsupported block compression '${blob.kind}'`);
  let out: Uint8Array;
  try {
    out = decompress(blob.data, inflateOptions(blob));
  } catch (err) {
    throw inflateError(blob, err);
  }
  return checkInflated(blob, out);
}

function inflateOptions({ rawSize }: ParsedBlob): zlib.ZlibOptions {
  const limit = rawSize >= 0 ? rawSize : MAX_BLOB_RAW;
  return { chunkSize: Math.max(1024, limit), maxOutputLength: Math.max(1, limit) };
}

function inflateError({ kind, rawSize }: ParsedBlob, err: unknown): PbfFormatError {
  if ((err as { code?: string }).code === "ERR_BUFFER_TOO_LARGE") {
    return new PbfFormatError(rawSize >= 0 ? `the Blob inflates to more than its raw_size of ${rawSize} bytes` : `the Blob inflates to more than ${MAX_BLOB_RAW} bytes`);
  }
  return new PbfFormatError(`corrupt ${kind} data (${(err as Error).message})`);
}

function checkInflated({ rawSize }: ParsedBlob, out: Uint8Array): Uint8Array {
  if (rawSize >= 0 && out.length !== rawSize) throw new PbfFormatError(`the Blob inflates to ${out.length} bytes, its raw_size says ${rawSize}`);
  return out;
}

/** Reads a block's Blob into a buffer of its own (never Node's shared pool: it may be transferred to a worker). */
export async function readBlob(src: ByteSource, ref: BlockRef): Promise<Uint8Array> {
  const buf = await src.read(ref.offset, ref.size);
  if (buf.length !== ref.size) throw inBlock(ref, new PbfFormatError("truncated file"));
  return buf;
}

/** Reads and inflates one block; format errors name the block. */
export async function loadBlock(src: ByteSource, ref: BlockRef, budget: InflateBudget): Promise<Uint8Array> {
  try {
    return await inflateBlob(await readBlob(src, ref), budget);
  } catch (err) {
    throw inBlock(ref, err);
  }
}

/**
 * Reads and inflates `refs` with up to `parallel` blocks in flight, yielding them in the given order. Each block
 * is inflated exactly once.
 */
export async function* inflateInOrder(
  src: ByteSource,
  refs: readonly BlockRef[],
  budget: InflateBudget,
  parallel = 8,
): AsyncGenerator<{ ref: BlockRef; data: Uint8Array }> {
  const pending: Promise<Uint8Array>[] = [];
  let next = 0;
  const start = () => {
    const p = loadBlock(src, refs[next++], budget);
    p.catch(() => {}); // observed when awaited below
    pending.push(p);
  };
  while (next < refs.length && pending.length < parallel) start();
  for (let i = 0; i < refs.length; i++) {
    const data = await pending.shift()!;
    if (next < refs.length) start();
    yield { ref: refs[i], data };
  }
}

const deflateAsync = promisify(zlib.deflate);

/** Frames an uncompressed block as (length, BlobHeader, zlib Blob), the way Geofabrik's files are written. */
export async function frameBlock(type: string, raw: Uint8Array, level = 6): Promise<Buffer> {
  const z = await deflateAsync(raw, { level });
  const blob = new ProtoWriter().uintField(2, raw.length).bytesField(3, z).finish();
  const header = new ProtoWriter().stringField(1, type).uintField(3, blob.length).finish();
  const len = Buffer.alloc(4);
  len.writeUInt32BE(header.length);
  return Buffer.concat([len, header, blob]);
}
