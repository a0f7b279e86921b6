import type { FileHandle } from "node:fs/promises";
import { promisify } from "node:util";
import * as zlib from "node:zlib";
import { PbfFormatError, ProtoReader, ProtoWriter, WIRE_LEN } from "./protobuf.ts";

/**
 * The block layer of an OSM PBF file: a sequence of (4-byte big-endian length, BlobHeader, Blob). Only the
 * headers are read to list the blocks; a Blob is read and inflated when its block is needed (zlib's async API
 * runs on libuv's thread pool, so several blocks inflate in parallel while the main thread decodes).
 */

export interface BlockRef {
  index: number;
  /** "OSMHeader" or "OSMData". */
  type: string;
  /** Offset of the Blob message in the file, and its size. */
  offset: number;
  size: number;
}

const MAX_HEADER = 64 * 1024;
const MAX_BLOB = 32 * 1024 * 1024;

/** Lists the blocks of a PBF file by reading only the block headers. Throws PbfFormatError on a bad layout. */
export async function scanBlocks(fh: FileHandle, fileSize: number): Promise<BlockRef[]> {
  const refs: BlockRef[] = [];
  const head = Buffer.alloc(4 + 256);
  let pos = 0;
  while (pos < fileSize) {
    if (pos + 4 > fileSize) throw new PbfFormatError(`truncated block header at byte ${pos}`);
    const { bytesRead } = await fh.read(head, 0, head.length, pos);
    const len = head.readUInt32BE(0);
    if (len === 0 || len > MAX_HEADER) throw new PbfFormatError(`bad block header length ${len} at byte ${pos}`);
    if (pos + 4 + len > fileSize) throw new PbfFormatError(`truncated block header at byte ${pos}`);
    let hdr: Uint8Array;
    if (4 + len <= bytesRead) hdr = head.subarray(4, 4 + len);
    else {
      hdr = Buffer.alloc(len);
      await fh.read(hdr, 0, len, pos + 4);
    }
    const { type, datasize } = parseBlobHeader(hdr);
    const offset = pos + 4 + len;
    if (datasize > MAX_BLOB) throw new PbfFormatError(`block ${refs.length} is too large (${datasize} bytes)`);
    if (offset + datasize > fileSize) {
      throw new PbfFormatError(`truncated file: block ${refs.length} needs ${datasize} bytes at byte ${offset}, the file has ${fileSize}`);
    }
    refs.push({ index: refs.length, type, offset, size: datasize });
    pos = offset + datasize;
  }
  if (refs.length === 0 || refs[0].type !== "OSMHeader") throw new PbfFormatError("the file does not start with an OSMHeader block");
  return refs;
}

export function parseBlobHeader(buf: Uint8Array): { type: string; datasize: number } {
  const r = new ProtoReader(buf);
  let type = "", datasize = -1;
  while (r.more()) {
    const key = r.varint();
    const field = key >>> 3;
    if (field === 1 && (key & 7) === WIRE_LEN) type = r.string();
    else if (field === 3 && (key & 7) === 0) datasize = r.varint();
    else r.skip(key & 7);
  }
  if (!type || datasize < 0) throw new PbfFormatError("bad BlobHeader (no type or datasize)");
  return { type, datasize };
}

const inflateAsync = promisify(zlib.inflate);
const zstdAsync = (zlib as unknown as { zstdDecompress?: typeof zlib.inflate }).zstdDecompress;
const zstdDecompress = zstdAsync ? promisify(zstdAsync) : undefined;

/** Decodes a Blob message: raw, zlib (what Geofabrik uses) or zstd. Returns the uncompressed block. */
export async function inflateBlob(blob: Uint8Array): Promise<Uint8Array> {
  const r = new ProtoReader(blob);
  let rawSize = -1;
  let data: Uint8Array | undefined;
  let kind = "";
  while (r.more()) {
    const key = r.varint();
    const field = key >>> 3;
    if (field === 2 && (key & 7) === 0) rawSize = r.varint();
    else if ((key & 7) === WIRE_LEN && field >= 1 && field <= 7) {
      data = r.bytes();
      kind = ["", "raw", "", "zlib", "lzma", "bzip2", "lz4", "zstd"][field];
    } else r.skip(key & 7);
  }
  if (!data) throw new PbfFormatError("a Blob has no data");
  let out: Uint8Array;
  if (kind === "raw") out = data;
  else if (kind === "zlib") {
    try {
      out = await inflateAsync(data, { chunkSize: chunkFor(rawSize) });
    } catch (err) {
      throw new PbfFormatError(`corrupt zlib data (${(err as Error).message})`);
    }
  } else if (kind === "zstd" && zstdDecompress) {
    try {
      out = await zstdDecompress(data, { chunkSize: chunkFor(rawSize) });
    } catch (err) {
      throw new PbfFormatError(`corrupt zstd data (${(err as Error).message})`);
    }
  } else throw new PbfFormatError(`unsupported block compression '${kind}'`);
  if (rawSize >= 0 && out.length !== rawSize) throw new PbfFormatError(`a block inflated to ${out.length} bytes, its header says ${rawSize}`);
  return out;
}

/** One output chunk for the whole block: zlib's default 16 KiB chunks cost main-thread callbacks and copies. */
function chunkFor(rawSize: number): number {
  return rawSize > 0 ? Math.max(1024, rawSize) : 1 << 20;
}

export async function readBlob(fh: FileHandle, ref: BlockRef): Promise<Uint8Array> {
  const buf = Buffer.allocUnsafe(ref.size);
  const { bytesRead } = await fh.read(buf, 0, ref.size, ref.offset);
  if (bytesRead !== ref.size) throw new PbfFormatError(`truncated block ${ref.index}`);
  return buf;
}

/**
 * Reads and inflates `refs` with up to `parallel` blocks in flight, yielding them in the given order. Each block
 * is inflated exactly once.
 */
export async function* inflateInOrder(
  fh: FileHandle,
  refs: readonly BlockRef[],
  parallel = 8,
): AsyncGenerator<{ ref: BlockRef; data: Uint8Array }> {
  const pending: Promise<Uint8Array>[] = [];
  let next = 0;
  const start = () => {
    const ref = refs[next++];
    const p = readBlob(fh, ref).then(inflateBlob);
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
