/**
 * `npm run bench:data [-- --input <file.osm.pbf>] [--sizes 50,200,1000] [--large]`
 *
 * Builds scaled inputs by tiling a real extract: `osmium renumber` first (dense ids from 1), then tile t gets
 * ids offset by t × the object count of each type and coordinates shifted on a grid, so tiles never collide
 * and ids stay dense. Output: sorted PBFs (nodes, ways, relations; each by id) with zlib blocks of the source's
 * size, in bench/data/ (git-ignored), plus bench/data/inputs.json.
 *
 * Two densities per size: "ski-dense" copies every tile as is (the source is a ski country: about 7% of it is
 * kept by extract, the worst case for analyze), and "realistic" keeps the ski tags of only 1 tile in 100; the
 * other tiles keep everything else (roads, buildings, shops, hotels: every POI candidate), so the extract is a
 * continent-like share of the input. Ski tags are hidden by renaming their strings in the block's string table
 * to strings of the same length (`aerialway` → `xerialway`), so every block keeps its size and layout.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, openSync, closeSync, writeSync, statSync, writeFileSync, existsSync } from "node:fs";
import { basename, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { frameBlock, inflateBlob, readBlob, scanBlocks } from "../containers/ski-atlas/pbf/blocks.ts";
import { FileSource } from "../containers/ski-atlas/pbf/source.ts";
import { decodeAll, PrimitiveBlock, GROUP_DENSE, GROUP_WAYS, GROUP_RELATIONS, GROUP_NODES } from "../containers/ski-atlas/pbf/decode.ts";
import { NumberArray, ProtoReader, ProtoWriter, readDeltaSints, readUints, WIRE_LEN } from "../containers/ski-atlas/pbf/protobuf.ts";
import { ANDORRA_PBF } from "../lib/data-catalog.ts";
import { dataFile } from "../lib/data-files.ts";

export const REPO = fileURLToPath(new URL("../", import.meta.url));
export const DATA_DIR = join(REPO, "bench/data");

export interface Offsets {
  n: number;
  w: number;
  r: number;
  /** In 1e-7 degrees (granularity 100). */
  lat7: number;
  lon7: number;
}

/** Copies fields verbatim except those `edit` handles (returns true when it wrote the field itself). */
function rewrite(buf: Uint8Array, start: number, end: number, edit: (field: number, wire: number, r: ProtoReader, w: ProtoWriter) => boolean): Uint8Array {
  const r = new ProtoReader(buf, start, end);
  const w = new ProtoWriter();
  while (r.more()) {
    const at = r.pos;
    const key = r.varint();
    const body = r.pos;
    if (edit(key >>> 3, key & 7, r, w)) continue;
    r.pos = body;
    r.skip(key & 7);
    w.raw(buf.subarray(at, r.pos));
  }
  return w.finish();
}

/** A packed delta-coded sint64 field with its first value shifted (the rest of the deltas stay). */
function shiftFirst(buf: Uint8Array, [s, e]: [number, number], delta: number): Uint8Array {
  if (s === e || delta === 0) return buf.subarray(s, e);
  const r = new ProtoReader(buf, s, e);
  const first = r.svarint();
  return new ProtoWriter().svarint(first + delta).raw(buf.subarray(r.pos, e)).finish();
}

const memids = new NumberArray(4096), types = new NumberArray(4096);

export function shiftBlock(raw: Uint8Array, o: Offsets): Uint8Array {
  return rewrite(raw, 0, raw.length, (field, wire, r, w) => {
    if (field === 17 && r.varint() !== 100) throw new Error("granularity other than 100 is not supported by the tiler");
    if (field !== 2 || wire !== WIRE_LEN) return false;
    const [gs, ge] = r.span();
    const group = rewrite(raw, gs, ge, (f, wt, g, gw) => {
      if (wt !== WIRE_LEN) return false;
      const [s, e] = g.span();
      let msg: Uint8Array;
      if (f === GROUP_DENSE) {
        msg = rewrite(raw, s, e, (df, dw, d, dw2) => {
          if (dw !== WIRE_LEN || (df !== 1 && df !== 8 && df !== 9)) return false;
          const span = d.span();
          dw2.bytesField(df, shiftFirst(raw, span, df === 1 ? o.n : df === 8 ? o.lat7 : o.lon7));
          return true;
        });
      } else if (f === GROUP_WAYS) {
        msg = rewrite(raw, s, e, (wf, ww, m, mw) => {
          if (wf === 1 && ww === 0) mw.uintField(1, m.varint() + o.w);
          else if (wf === 8 && ww === WIRE_LEN) mw.bytesField(8, shiftFirst(raw, m.span(), o.n));
          else return false;
          return true;
        });
      } else if (f === GROUP_RELATIONS) {
        // memids are delta-coded across member types: decode, offset by type, re-encode.
        let typeSpan: [number, number] = [0, 0];
        const scan = new ProtoReader(raw, s, e);
        while (scan.more()) {
          const k = scan.varint();
          if (k === ((10 << 3) | WIRE_LEN)) typeSpan = scan.span();
          else scan.skip(k & 7);
        }
        const nt = readUints(raw, typeSpan[0], typeSpan[1], types);
        msg = rewrite(raw, s, e, (rf, rw, m, mw) => {
          if (rf === 1 && rw === 0) mw.uintField(1, m.varint() + o.r);
          else if (rf === 9 && rw === WIRE_LEN) {
            const [a, b] = m.span();
            const n = readDeltaSints(raw, a, b, memids, "a relation member id");
            if (n !== nt) throw new Error("relation: memids and types differ in length");
            const ids: number[] = [];
            for (let i = 0; i < n; i++) ids.push(memids.data[i] + [o.n, o.w, o.r][types.data[i]]);
            mw.packedField(9, ids, true, true);
          } else return false;
          return true;
        });
      } else if (f === GROUP_NODES) throw new Error("non-dense nodes are not supported by the tiler");
      else return false;
      gw.bytesField(f, msg);
      return true;
    });
    w.bytesField(2, group);
    return true;
  });
}

/** The strings that make an object a ski feature for FILTER_RULES (keys and the values of landuse/site/route). */
const SKI_STRINGS = ["aerialway", "piste:type", "winter_sports", "piste"].map((x) => new TextEncoder().encode(x));

/** A copy of a PrimitiveBlock whose ski strings are renamed (first byte → "x"): same size, no ski features. */
export function hideSkiTags(raw: Uint8Array): Uint8Array {
  const out = Uint8Array.from(raw);
  const r = new ProtoReader(raw);
  while (r.more()) {
    const key = r.varint();
    if (key !== ((1 << 3) | WIRE_LEN)) {
      r.skip(key & 7);
      continue;
    }
    const [s, e] = r.span();
    const st = new ProtoReader(raw, s, e);
    while (st.more()) {
      const k = st.varint();
      if (k !== ((1 << 3) | WIRE_LEN)) {
        st.skip(k & 7);
        continue;
      }
      const [a, b] = st.span();
      if (SKI_STRINGS.some((x) => x.length === b - a && x.every((c, i) => raw[a + i] === c))) out[a] = 0x78;
    }
  }
  return out;
}

export type Density = "ski-dense" | "realistic";
/** Realistic density: tile t keeps its ski tags when t % SKI_TILE_EVERY === 0. */
export const SKI_TILE_EVERY = 100;

interface Source {
  header: Uint8Array;
  nodes: Uint8Array[];
  ways: Uint8Array[];
  relations: Uint8Array[];
  counts: { n: number; w: number; r: number };
  bbox: { minLat7: number; maxLat7: number; minLon7: number; maxLon7: number };
  bytes: number;
}

async function loadSource(path: string): Promise<Source> {
  const fh = await FileSource.open(path);
  try {
    const refs = await scanBlocks(fh);
    const src: Source = {
      header: new Uint8Array(0), nodes: [], ways: [], relations: [], counts: { n: 0, w: 0, r: 0 },
      bbox: { minLat7: Infinity, maxLat7: -Infinity, minLon7: Infinity, maxLon7: -Infinity }, bytes: statSync(path).size,
    };
    for (const ref of refs) {
      const raw = await inflateBlob(await readBlob(fh, ref));
      if (ref.type === "OSMHeader") {
        // Drop the bbox (field 1): the tiled file covers more.
        src.header = rewrite(raw, 0, raw.length, (f, _w, r) => (f === 1 ? (r.span(), true) : false));
        continue;
      }
      if (ref.type !== "OSMData") continue;
      const block = new PrimitiveBlock(raw);
      const kinds = new Set(block.groups.map((g) => g.kind));
      if (kinds.size !== 1) throw new Error("mixed blocks are not supported by the tiler");
      const kind = [...kinds][0];
      (kind === GROUP_DENSE ? src.nodes : kind === GROUP_WAYS ? src.ways : src.relations).push(raw);
      const b = src.bbox, c = src.counts;
      decodeAll(block, {
        node(n) {
          c.n = Math.max(c.n, n.id);
          b.minLat7 = Math.min(b.minLat7, n.lat7); b.maxLat7 = Math.max(b.maxLat7, n.lat7);
          b.minLon7 = Math.min(b.minLon7, n.lon7); b.maxLon7 = Math.max(b.maxLon7, n.lon7);
        },
        // Offsets must exceed every referenced id too (renumber numbers dangling references past the objects).
        way(w) {
          c.w = Math.max(c.w, w.id);
          for (const ref of w.refs) c.n = Math.max(c.n, ref);
        },
        relation(r) {
          c.r = Math.max(c.r, r.id);
          for (const m of r.members) c[m.type] = Math.max(c[m.type], m.ref);
        },
      });
    }
    return src;
  } finally {
    await fh.close();
  }
}

/** Writes `tiles` tiles of `src` to `out`, `parallel` blocks compressing at a time (in order). */
async function writeTiled(src: Source, tiles: number, out: string, density: Density): Promise<void> {
  const cols = Math.ceil(Math.sqrt(tiles));
  const rows = Math.ceil(tiles / cols);
  const b = src.bbox;
  const dLat = b.maxLat7 - b.minLat7 + 1e6, dLon = b.maxLon7 - b.minLon7 + 1e6;
  const latOf = (row: number) => (row - Math.floor(rows / 2)) * dLat;
  const lonOf = (col: number) => (col - Math.floor(cols / 2)) * dLon;
  if (Math.abs(b.maxLat7 + latOf(rows)) > 85e7 || Math.abs(b.minLat7 + latOf(0)) > 85e7 || Math.abs(b.maxLon7 + lonOf(cols)) > 180e7 || Math.abs(b.minLon7 + lonOf(0)) > 180e7) {
    throw new Error(`${tiles} tiles of this extract do not fit on the globe: use a smaller size or a smaller source`);
  }
  const fd = openSync(out, "w");
  try {
    const pending: Promise<Buffer>[] = [frameBlock("OSMHeader", src.header)];
    const flush = async (limit: number) => {
      while (pending.length > limit) writeSync(fd, await pending.shift()!);
    };
    for (const kind of ["nodes", "ways", "relations"] as const) {
      for (let t = 0; t < tiles; t++) {
        const o: Offsets = {
          n: t * src.counts.n, w: t * src.counts.w, r: t * src.counts.r,
          lat7: latOf(Math.floor(t / cols)), lon7: lonOf(t % cols),
        };
        const hide = density === "realistic" && t % SKI_TILE_EVERY !== 0;
        for (const raw of src[kind]) {
          const shifted = shiftBlock(raw, o);
          pending.push(frameBlock("OSMData", hide ? hideSkiTags(shifted) : shifted));
          await flush(8);
        }
      }
    }
    await flush(0);
  } finally {
    closeSync(fd);
  }
}

export interface BenchInput {
  file: string;
  source: string;
  tiles: number;
  bytes: number;
  density: Density;
}

async function main() {
  const args = process.argv.slice(2);
  const opt = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  // Default: the real Andorra extract, wherever lib/data-files.ts finds (or fetches) it.
  const input = resolve(opt("--input") ?? (await dataFile(ANDORRA_PBF)));
  const sizes = (opt("--sizes") ?? "50,200,1000").split(",").map(Number);
  if (args.includes("--large")) sizes.push(4000);
  if (!existsSync(input)) throw new Error(`${input} does not exist`);
  mkdirSync(DATA_DIR, { recursive: true });
  const base = basename(input).replace(/\.osm\.pbf$/, "");
  const renumbered = join(DATA_DIR, `${base}.renumbered.osm.pbf`);
  const t0 = Date.now();
  const r = spawnSync("osmium", ["renumber", input, "-o", renumbered, "--overwrite", "--no-progress"], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`osmium renumber failed: ${r.stderr}`);
  const src = await loadSource(renumbered);
  const list: BenchInput[] = [];
  const densities: Density[] = opt("--density") ? [opt("--density") as Density] : ["ski-dense", "realistic"];
  for (const mb of sizes) {
    const tiles = Math.max(1, Math.round((mb * 1e6) / src.bytes));
    for (const density of densities) {
      const file = join(DATA_DIR, `${base}-x${tiles}${density === "realistic" ? "-realistic" : ""}.osm.pbf`);
      if (!existsSync(file)) {
        const t = Date.now();
        await writeTiled(src, tiles, file + ".tmp", density);
        spawnSync("mv", [file + ".tmp", file]);
        console.log(`${relative(REPO, file)}: ${tiles} tiles (${density}), ${(statSync(file).size / 1e6).toFixed(1)} MB (${((Date.now() - t) / 1000).toFixed(1)} s)`);
      } else console.log(`${relative(REPO, file)}: already there`);
      list.push({ file: relative(REPO, file), source: basename(input), tiles, bytes: statSync(file).size, density });
    }
  }
  writeFileSync(join(DATA_DIR, "inputs.json"), JSON.stringify(list, null, 2) + "\n");
  console.log(`wrote bench/data/inputs.json (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error(`error: ${(err as Error).message}`);
    process.exit(1);
  });
}
