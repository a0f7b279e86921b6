import { spawnSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { deflateSync, inflateSync } from "node:zlib";
import { GROUP_DENSE, GROUP_RELATIONS, GROUP_WAYS } from "../pbf/decode.ts";
import { ProtoReader, ProtoWriter, WIRE_LEN } from "../pbf/protobuf.ts";
import { encodeHeader } from "../pbf/write.ts";
import { andorraPbf } from "./helpers.ts";

/**
 * Hostile and mutated OSM PBF files for the reader's tests (not part of the image). Every crafted case breaks
 * exactly one rule of the format (https://wiki.openstreetmap.org/wiki/PBF_Format) and is otherwise well formed,
 * so the test shows which check catches it; the fuzzer mutates the blocks of a real file.
 */

// ---- framing

/** A Blob message: zlib data with a raw_size (by default the true one). */
export function zlibBlob(raw: Uint8Array, rawSize = raw.length): Uint8Array {
  return new ProtoWriter().uintField(2, rawSize).bytesField(3, deflateSync(raw, { level: 9 })).finish();
}

/** A fileblock: 4-byte length, BlobHeader (type, datasize), Blob. */
export function fileBlock(type: string, blob: Uint8Array, datasize = blob.length): Buffer {
  const header = new ProtoWriter().stringField(1, type).uintField(3, datasize).finish();
  const len = Buffer.alloc(4);
  len.writeUInt32BE(header.length);
  return Buffer.concat([len, header, blob]);
}

export const headerBlock = (): Buffer => fileBlock("OSMHeader", zlibBlob(encodeHeader()));
export const dataBlock = (raw: Uint8Array, rawSize?: number): Buffer => fileBlock("OSMData", zlibBlob(raw, rawSize));

/** A whole file: the OSMHeader block, then OSMData blocks of the given contents. */
export function pbfOf(...blocks: Uint8Array[]): Buffer {
  return Buffer.concat([headerBlock(), ...blocks.map((b) => dataBlock(b))]);
}

// ---- PrimitiveBlock content

/** A PrimitiveBlock: string table (strings as UTF-8, or raw bytes), groups, then `extra` fields verbatim. */
export function primitiveBlock(strings: readonly (string | Uint8Array)[], groups: readonly Uint8Array[], extra?: (w: ProtoWriter) => void): Uint8Array {
  const st = new ProtoWriter();
  for (const s of strings) {
    if (typeof s === "string") st.stringField(1, s);
    else st.bytesField(1, s);
  }
  const w = new ProtoWriter().bytesField(1, st.finish());
  for (const g of groups) w.bytesField(2, g);
  extra?.(w);
  return w.finish();
}

/** A group of dense nodes; ids and coordinates are plain numbers (raw units of the block's granularity). */
export function denseGroup(ids: readonly number[], lats: readonly number[], lons: readonly number[], keysVals: readonly number[] = []): Uint8Array {
  const dense = new ProtoWriter().packedField(1, ids, true, true).packedField(8, lats, true, true).packedField(9, lons, true, true);
  dense.packedField(10, keysVals, false, false);
  return new ProtoWriter().bytesField(GROUP_DENSE, dense.finish()).finish();
}

export interface CraftedWay {
  id: number;
  keys?: number[];
  vals?: number[];
  refs?: number[];
}

export function wayGroup(ways: readonly CraftedWay[]): Uint8Array {
  const g = new ProtoWriter();
  for (const w of ways) {
    const m = new ProtoWriter().uintField(1, w.id).packedField(2, w.keys ?? [], false, false).packedField(3, w.vals ?? [], false, false);
    m.packedField(8, w.refs ?? [], true, true);
    g.bytesField(GROUP_WAYS, m.finish());
  }
  return g.finish();
}

export interface CraftedRelation {
  id: number;
  keys?: number[];
  vals?: number[];
  /** [type (0 node, 1 way, 2 relation), ref, role string index]. */
  members?: [number, number, number][];
}

export function relationGroup(relations: readonly CraftedRelation[]): Uint8Array {
  const g = new ProtoWriter();
  for (const r of relations) {
    const mem = r.members ?? [];
    const m = new ProtoWriter().uintField(1, r.id).packedField(2, r.keys ?? [], false, false).packedField(3, r.vals ?? [], false, false);
    m.packedField(8, mem.map((x) => x[2]), false, false).packedField(9, mem.map((x) => x[1]), true, true);
    m.packedField(10, mem.map((x) => x[0]), false, false);
    g.bytesField(GROUP_RELATIONS, m.finish());
  }
  return g.finish();
}

// ---- the crafted cases

export interface CraftedCase {
  name: string;
  bytes: Buffer;
  /** What the one error line must say (after "is not a valid OSM PBF"). */
  expect: RegExp;
  /** Whether the message names a block (every case past the file's first bytes does). */
  namesBlock: boolean;
}

const CAFE = ["", "amenity", "cafe"];
const deg = (d: number) => Math.round(d * 1e7); // raw units at the default granularity (100 nanodegrees)
const cafeAt = (lat: number, lon: number, id = 1) => primitiveBlock(CAFE, [denseGroup([id], [deg(lat)], [deg(lon)], [1, 2, 0])]);

/** One varint of `bytes` bytes (all continuation bits set but the last). */
function longVarint(bytes: number, last: number): Uint8Array {
  return Uint8Array.from({ length: bytes }, (_, i) => (i === bytes - 1 ? last : 0xff));
}

/** A block whose granularity field (17) is the given raw varint bytes. */
function withGranularityBytes(varint: Uint8Array): Uint8Array {
  return primitiveBlock(CAFE, [], (w) => w.tag(17, 0).raw(varint));
}

export function craftedCases(seed = 1): CraftedCase[] {
  const random = mulberry32(seed);
  const junk = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(random() * 256));
  const big = 33 * 1024 * 1024;
  const blobHeaderTooLarge = Buffer.alloc(8);
  blobHeaderTooLarge.writeUInt32BE(64 * 1024, 0);
  // A valid-format decompression bomb: a string table and one unknown 8 MiB field (readers skip unknown fields).
  const bombBlock = primitiveBlock(CAFE, [], (w) => w.bytesField(99, new Uint8Array(8 * 1024 * 1024)));
  // 2 million two-byte groups of one way each (all the same way: unsorted, if it were ever reached).
  const oneWay = new ProtoWriter().bytesField(2, wayGroup([{ id: 1 }])).finish();
  const repeated = new Uint8Array(oneWay.length * 2_000_000);
  for (let i = 0; i < 2_000_000; i++) repeated.set(oneWay, i * oneWay.length);
  const manyGroups = Buffer.concat([primitiveBlock(CAFE, []), repeated]);
  // One group of 3 million two-byte ways, all with id 1: not sorted, found without an object per way.
  const sameWays = new ProtoWriter(1 << 24);
  for (let i = 0; i < 3_000_000; i++) sameWays.bytesField(GROUP_WAYS, Uint8Array.of(0x08, 0x01));
  return [
    { name: "not a PBF at all", bytes: Buffer.from(junk(4096)), expect: /does not start with an OSMHeader block/, namesBlock: false },
    {
      name: "garbage after a valid header block",
      bytes: Buffer.concat([headerBlock(), dataBlock(junk(20000))]),
      expect: /block 1 at byte \d+: (malformed protobuf|not an OSM PrimitiveBlock|truncated)/,
      namesBlock: true,
    },
    {
      name: "a BlobHeader of 64 KiB",
      bytes: Buffer.concat([headerBlock(), blobHeaderTooLarge]),
      expect: /block 1 at byte \d+: the BlobHeader claims 65536 bytes; the format allows less than 65536/,
      namesBlock: true,
    },
    {
      name: "a Blob of 33 MiB",
      bytes: Buffer.concat([headerBlock(), fileBlock("OSMData", new Uint8Array(16), big)]),
      expect: /block 1 at byte \d+: the Blob claims 34603008 bytes; the format allows at most 33554432/,
      namesBlock: true,
    },
    {
      name: "raw_size 4 GiB (156 bytes)",
      bytes: Buffer.concat([headerBlock(), dataBlock(cafeAt(42.5, 1.5), 2 ** 32)]),
      expect: /block 1 at byte \d+: the Blob's raw_size is 4294967296 bytes; the format allows at most 33554432/,
      namesBlock: true,
    },
    {
      name: "a Blob inflating past its raw_size",
      bytes: Buffer.concat([headerBlock(), dataBlock(primitiveBlock(CAFE, [], (w) => w.bytesField(99, new Uint8Array(100_000))), 1000)]),
      expect: /block 1 at byte \d+: the Blob inflates to more than its raw_size of 1000 bytes/,
      namesBlock: true,
    },
    {
      name: "a zlib bomb of honest 8 MiB blocks",
      bytes: Buffer.concat([headerBlock(), ...Array.from({ length: 6 }, () => dataBlock(bombBlock))]),
      expect: /block \d+ at byte \d+: the blocks inflate to more than 16777216 bytes, the most a file of \d+ bytes may .*: a decompression bomb/,
      namesBlock: true,
    },
    {
      name: "an overlong varint (11 bytes)",
      bytes: pbfOf(withGranularityBytes(longVarint(11, 0x01))),
      expect: /block 1 at byte \d+: malformed protobuf \(a varint longer than 10 bytes\)/,
      namesBlock: true,
    },
    {
      name: "a varint overflowing 64 bits",
      bytes: pbfOf(withGranularityBytes(longVarint(10, 0x7f))),
      expect: /block 1 at byte \d+: malformed protobuf \(a varint overflows 64 bits\)/,
      namesBlock: true,
    },
    {
      name: "a way tag's string index out of range",
      bytes: pbfOf(primitiveBlock(["", "aerialway", "yes"], [wayGroup([{ id: 1, keys: [1], vals: [99], refs: [1, 2] }])])),
      expect: /block 1 at byte \d+: string index 99 is out of range \(the block's string table has 3 entries\)/,
      namesBlock: true,
    },
    {
      name: "a node tag's string index out of range",
      bytes: pbfOf(primitiveBlock(CAFE, [denseGroup([1, 2], [deg(42.5), deg(42.5)], [deg(1.5), deg(1.6)], [1, 2, 0, 7, 2, 0])])),
      expect: /block 1 at byte \d+: string index 7 is out of range/,
      namesBlock: true,
    },
    {
      name: "a relation role's string index out of range",
      bytes: pbfOf(primitiveBlock(["", "site", "piste"], [relationGroup([{ id: 1, keys: [1], vals: [2], members: [[1, 5, 40]] }])])),
      expect: /block 1 at byte \d+: string index 40 is out of range/,
      namesBlock: true,
    },
    {
      name: "dense arrays of unequal lengths",
      bytes: pbfOf(primitiveBlock(CAFE, [denseGroup([1, 2, 3], [deg(42.5), deg(42.6)], [deg(1.5), deg(1.5), deg(1.5)], [1, 2, 0, 0, 0])])),
      expect: /block 1 at byte \d+: dense nodes: the lat array's length differs from the 3 ids/,
      namesBlock: true,
    },
    {
      name: "dense keys_vals not one list per node",
      bytes: pbfOf(primitiveBlock(CAFE, [denseGroup([1, 2, 3], [1, 2, 3], [1, 2, 3], [1, 2, 0])])),
      expect: /block 1 at byte \d+: dense nodes: keys_vals \(3 entries\) does not hold one 0-terminated tag list per node \(3 nodes\)/,
      namesBlock: true,
    },
    {
      name: "latitude 91°",
      bytes: pbfOf(cafeAt(91, 1.5)),
      expect: /block 1 at byte \d+: node 1 has latitude 91, outside ±90°/,
      namesBlock: true,
    },
    {
      name: "longitude 400°",
      bytes: pbfOf(cafeAt(42.5, 400)),
      expect: /block 1 at byte \d+: node 1 has longitude 400, outside ±180°/,
      namesBlock: true,
    },
    {
      name: "a node id above 2^53",
      bytes: pbfOf(cafeAt(42.5, 1.5, 2 ** 53 + 2)),
      expect: /block 1 at byte \d+: a node id beyond ±2\^53/,
      namesBlock: true,
    },
    {
      name: "a way id above 2^53",
      bytes: pbfOf(primitiveBlock(["", "aerialway", "yes"], [wayGroup([{ id: 2 ** 60, keys: [1], vals: [2], refs: [1] }])])),
      expect: /block 1 at byte \d+: a way id is beyond 2\^53/,
      namesBlock: true,
    },
    {
      name: "ways out of order (not sorted, a distinct message)",
      bytes: pbfOf(primitiveBlock(["", "aerialway", "yes"], [wayGroup([{ id: 5 }, { id: 4 }])])),
      expect: /block 1 at byte \d+: the file is not sorted by type then id/,
      namesBlock: true,
    },
    {
      name: "2 million repeated groups (a 2 KB file)",
      bytes: pbfOf(manyGroups),
      expect: /block 1 at byte \d+: more than 65536 PrimitiveGroups in one block/,
      namesBlock: true,
    },
    {
      name: "3 million identical ways in one group (a 12 KB file)",
      bytes: pbfOf(primitiveBlock(["", "aerialway"], [sameWays.finish()])),
      expect: /block 1 at byte \d+: the file is not sorted by type then id/,
      namesBlock: true,
    },
  ];
}

// ---- seeded mutations of a real file

/** A real slice of Andorra (Grandvalira, cut by `osmium extract` into `dir`): nodes, ways and relations in five blocks. */
export async function grandvaliraSlice(dir: string): Promise<Buffer> {
  const slice = join(dir, "grandvalira.osm.pbf");
  const r = spawnSync("osmium", ["extract", "-b", "1.70,42.52,1.76,42.57", await andorraPbf(), "-o", slice, "--overwrite"], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`osmium extract failed: ${r.stderr}`);
  return readFile(slice);
}

/** A small, fast, seedable PRNG (mulberry32): the same seed gives the same cases on every machine. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Frame {
  type: string;
  /** The inflated block (OSMHeader or OSMData content). */
  raw: Uint8Array;
}

/** Splits a PBF (zlib blocks) into its blocks, inflated. */
export function framesOf(pbf: Uint8Array): Frame[] {
  const frames: Frame[] = [];
  let pos = 0;
  const view = Buffer.from(pbf.buffer, pbf.byteOffset, pbf.byteLength);
  while (pos < pbf.length) {
    const len = view.readUInt32BE(pos);
    const h = new ProtoReader(pbf, pos + 4, pos + 4 + len);
    let type = "", size = 0;
    while (h.more()) {
      const k = h.varint();
      if (k === ((1 << 3) | WIRE_LEN)) type = h.string();
      else if (k === 3 << 3) size = h.varint();
      else h.skip(k & 7);
    }
    const b = new ProtoReader(pbf, pos + 4 + len, pos + 4 + len + size);
    let raw = new Uint8Array(0);
    while (b.more()) {
      const k = b.varint();
      if (k === ((3 << 3) | WIRE_LEN)) raw = inflateSync(b.bytes());
      else b.skip(k & 7);
    }
    frames.push({ type, raw });
    pos += 4 + len + size;
  }
  return frames;
}

export interface Mutant {
  name: string;
  bytes: Buffer;
}

/**
 * `count` mutants of `pbf`, deterministic for a seed. Most mutate the inflated content of one data block and
 * re-frame it with a true raw_size (so the mutation reaches the decoder rather than failing zlib's checksum);
 * some mutate the framing bytes of the file as stored.
 */
export function mutants(pbf: Uint8Array, seed: number, count: number): Mutant[] {
  const random = mulberry32(seed);
  const int = (n: number) => Math.floor(random() * n);
  const frames = framesOf(pbf);
  const out: Mutant[] = [];
  for (let c = 0; c < count; c++) {
    const kind = int(10);
    if (kind >= 8) {
      // Framing: a few bytes of the stored file (lengths, BlobHeaders, zlib streams) changed.
      const bytes = Buffer.from(pbf);
      const n = 1 + int(4);
      for (let i = 0; i < n; i++) bytes[int(bytes.length)] = int(256);
      out.push({ name: `#${c} framing: ${n} stored bytes changed`, bytes });
      continue;
    }
    const target = 1 + int(frames.length - 1);
    const raw = Buffer.from(frames[target].raw);
    let what: string;
    let mutated: Uint8Array;
    if (kind <= 2) {
      const n = 1 + int(8);
      for (let i = 0; i < n; i++) raw[int(raw.length)] ^= 1 << int(8);
      mutated = raw;
      what = `${n} bits flipped`;
    } else if (kind <= 4) {
      const n = 1 + int(4);
      for (let i = 0; i < n; i++) raw[int(raw.length)] = [0x00, 0x7f, 0x80, 0xff][int(4)];
      mutated = raw;
      what = `${n} bytes set to a varint edge value`;
    } else if (kind === 5) {
      const at = int(raw.length), len = 1 + int(64);
      mutated = Buffer.concat([raw.subarray(0, at), raw.subarray(Math.min(raw.length, at + len))]);
      what = `${len} bytes deleted`;
    } else if (kind === 6) {
      const at = int(raw.length), len = 1 + int(256);
      mutated = Buffer.concat([raw.subarray(0, at), raw.subarray(at, at + len), raw.subarray(at)]);
      what = `${len} bytes duplicated`;
    } else {
      mutated = raw.subarray(0, int(raw.length));
      what = "truncated inside";
    }
    const blocks = frames.map((f, i) => fileBlock(f.type, zlibBlob(i === target ? mutated : f.raw)));
    out.push({ name: `#${c} block ${target}: ${what}`, bytes: Buffer.concat(blocks) });
  }
  return out;
}
