import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FILTER_RULES } from "../extract.ts";
import { writeSyntheticRegion } from "../synthetic-osm.ts";
import { andorraPbf } from "../testing/helpers.ts";
import { craftedCases, denseGroup, grandvaliraSlice, mutants, pbfOf, primitiveBlock, relationGroup, wayGroup } from "../testing/hostile-pbf.ts";
import { JsCore, type BlockCore } from "./block-core.ts";
import { inflateParsedSync, parseBlob, readBlob, scanBlocks, type ParsedBlob } from "./blocks.ts";
import { decodeAll, PrimitiveBlock } from "./decode.ts";
import { extractPbf } from "./extract.ts";
import { loadNativeAddon, NativeCore, NATIVE_CORE_PATH } from "./native-core.ts";
import { PbfFormatError } from "./protobuf.ts";
import type { ByteSource } from "./source.ts";
import { writePbf } from "./write.ts";

// The compiled core (native/pbf_core.c) against the TypeScript reference (block-core.ts JsCore): block by block
// on real files, every crafted hostile file and seeded mutants, and whole extracts byte for byte. The compiled
// core must give the same batch, or the same error message, on every input.

const loaded = loadNativeAddon();
let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "pbf-core-test-"));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function cores(wayRefs: Float64Array, needed: Float64Array): [BlockCore, BlockCore] {
  if (!("addon" in loaded)) throw new Error(`the compiled core must be built here (${NATIVE_CORE_PATH}): ${loaded.error}; run bash scripts/ensure-native.sh`);
  const pair: [BlockCore, BlockCore] = [new JsCore(FILTER_RULES), new NativeCore(loaded.addon, FILTER_RULES)];
  for (const c of pair) {
    c.setWayRefs(wayRefs, wayRefs.length);
    c.setNeeded(needed, needed.length);
  }
  return pair;
}

/** What a core made of a block, as text: its result (typed arrays by their type and a digest of their bytes), or its error's message. */
function outcome(fn: () => unknown): string {
  try {
    return JSON.stringify(fn(), (_k, v) => {
      if (!ArrayBuffer.isView(v)) return Number.isNaN(v) ? "NaN" : v;
      const digest = createHash("sha1").update(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)).digest("hex");
      return `${v.constructor.name}(${v.byteLength}) ${digest}`;
    });
  } catch (err) {
    return err instanceof PbfFormatError ? `error: ${err.message}` : `unexpected: ${String(err)}`;
  }
}

/** The same outcome from both (compared as text: cheap on large batches; a difference is shown parsed). */
function expectSame(native: string, js: string, what: string): void {
  if (native === js) return;
  const parsed = (s: string) => (s.startsWith("{") ? JSON.parse(s) : s);
  expect(parsed(native), what).toEqual(parsed(js));
}

function memorySource(bytes: Uint8Array): ByteSource {
  return { size: bytes.length, read: async (o, n) => bytes.slice(o, o + n), close: async () => {} };
}

/** The OSMData Blobs of a file, parsed (undefined where the file's framing is broken: the block layer's business). */
async function blobsOf(bytes: Uint8Array): Promise<ParsedBlob[] | undefined> {
  const src = memorySource(bytes);
  try {
    const refs = await scanBlocks(src);
    const out: ParsedBlob[] = [];
    for (const ref of refs.slice(1)) if (ref.type === "OSMData") out.push(parseBlob(await readBlob(src, ref)));
    return out;
  } catch (err) {
    if (err instanceof PbfFormatError) return undefined;
    throw err;
  }
}

/** Sorted, distinct ids a real run would have: the ways relations list and the nodes ways and relations use. */
async function idsOf(bytes: Uint8Array): Promise<{ wayRefs: Float64Array; needed: Float64Array }> {
  const wayRefs = new Set<number>(), needed = new Set<number>();
  for (const blob of (await blobsOf(bytes)) ?? []) {
    decodeAll(new PrimitiveBlock(inflateParsedSync(blob)), {
      way: (w) => w.refs.forEach((r) => needed.add(r)),
      relation: (r) => r.members.forEach((m) => (m.type === "w" ? wayRefs : m.type === "n" ? needed : undefined)?.add(m.ref)),
    });
  }
  const sorted = (s: Set<number>) => Float64Array.from([...s].sort((a, b) => a - b));
  return { wayRefs: sorted(wayRefs), needed: sorted(needed) };
}

/**
 * Both cores on every block of `bytes`, in every mode; returns how many blocks were compared. `seen`: blocks
 * (by their Blob's digest) already compared with the same ids, skipped (a mutant changes one block of five).
 */
async function compareBlocks(bytes: Uint8Array, ids: { wayRefs: Float64Array; needed: Float64Array }, name: string, seen = new Set<string>()): Promise<number> {
  const blobs = await blobsOf(bytes);
  const [js, native] = cores(ids.wayRefs, ids.needed);
  let compared = 0;
  for (const [i, blob] of (blobs ?? []).entries()) {
    const digest = createHash("sha1").update(blob.kind).update(String(blob.rawSize)).update(blob.data).digest("hex");
    if (seen.has(digest)) continue;
    seen.add(digest);
    compared++;
    for (const flag of [false, true]) {
      expectSame(outcome(() => native.nodes(blob, flag)), outcome(() => js.nodes(blob, flag)), `${name}: block ${i + 1}, nodes (mayHoldWays ${flag})`);
      expectSame(outcome(() => native.ways(blob, flag)), outcome(() => js.ways(blob, flag)), `${name}: block ${i + 1}, ways (wholeIfMixed ${flag})`);
    }
  }
  return compared;
}

async function extractBytes(input: string, core: "native" | "javascript", workers?: number): Promise<Buffer> {
  const out = join(tmp, `extract-${core}-${workers}.osm.pbf`);
  const r = await extractPbf(input, FILTER_RULES, { core, workers });
  await writePbf(out, r.nodes, r.ways, r.relations);
  return readFile(out);
}

describe("the compiled PBF core against the TypeScript reference", () => {
  it("is built for this machine and loads", () => {
    expect("addon" in loaded ? "loaded" : loaded.error).toBe("loaded");
  });

  it("gives the same batches on every block of the real Andorra extract", async () => {
    // GIVEN the real Andorra extract and the ids a run over it would need
    const bytes = await readFile(await andorraPbf());
    // WHEN both cores filter each block as pass 1 and as pass 2, THEN they agree block by block
    expect(await compareBlocks(bytes, await idsOf(bytes), "andorra")).toBeGreaterThan(20);
  });

  it("writes the same extract of Andorra, on worker threads and on this thread", async () => {
    const input = await andorraPbf();
    const reference = await extractBytes(input, "javascript", 0);
    expect((await extractBytes(input, "native")).equals(reference)).toBe(true);
    expect((await extractBytes(input, "native", 0)).equals(reference)).toBe(true);
  });

  it.each(["ski", "no-ski"] as const)("writes the same extract of the synthetic %s region", async (variant) => {
    const input = join(tmp, `synthetic-${variant}.osm.pbf`);
    await writeSyntheticRegion(input, variant);
    expect((await extractBytes(input, "native")).equals(await extractBytes(input, "javascript"))).toBe(true);
  });

  it("fails every crafted hostile file with the reference's message, block by block and whole", async () => {
    for (const c of craftedCases()) {
      await compareBlocks(c.bytes, { wayRefs: Float64Array.of(1, 2, 5), needed: Float64Array.of(1, 2, 3) }, c.name);
      const path = join(tmp, "crafted.osm.pbf");
      await writeFile(path, c.bytes);
      const run = (core: "native" | "javascript") => extractPbf(path, FILTER_RULES, { core, workers: 1 }).then(() => "ok", (e: Error) => e.message);
      expect(await run("native"), c.name).toBe(await run("javascript"));
    }
  });

  it("agrees on 120 seeded mutants of a real slice (bits flipped, varint edges, cuts, repeats)", async () => {
    // (npm run fuzz:native runs thousands more through the compiled core under the sanitizers.)
    const slice = await grandvaliraSlice(tmp);
    const ids = await idsOf(slice);
    const seen = new Set<string>();
    let compared = await compareBlocks(slice, ids, "the slice", seen);
    for (const m of mutants(slice, 7, 120)) compared += await compareBlocks(m.bytes, ids, m.name, seen);
    expect(compared).toBeGreaterThan(100);
  });

  it("decodes strings and builds tags as JavaScript does: invalid UTF-8, byte order marks, numeric and repeated keys, __proto__", async () => {
    // GIVEN string tables with every oddity a tag object and TextDecoder react to
    const odd = [
      "", "aerialway", "yes", "10", "2", "name", "__proto__", "amenity", "cafe", "\uFEFFname", "x\uFEFF", "4294967295", "4294967294", "007",
    ].map((s) => Buffer.from(s, "utf8"));
    const invalid = [Buffer.from([0xc3]), Buffer.from([0xe2, 0x82]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xf4, 0x90, 0x80, 0x80]), Buffer.from([0xff, 0x61]), Buffer.from([0xef, 0xbb, 0xbf])];
    const strings = [...odd, ...invalid];
    const tagged = (i: number) => {
      const keys = [1, 3, 4, 5, 6, 9, 11, 12, 13, 14 + (i % 6), 5, 1, 15 + ((i + 1) % 5)];
      const vals = [2, 8, 14 + ((i + 2) % 6), 16, 2, 5, 8, 2, 3, 9, 19, 2, 8];
      return { keys, vals };
    };
    const block = primitiveBlock(strings, [
      wayGroup(Array.from({ length: 12 }, (_, i) => ({ id: i + 1, ...tagged(i), refs: [i + 1, i + 2] }))),
    ]);
    const nodes = primitiveBlock(strings, [
      denseGroup([1, 2, 3, 4, 5], [1, 2, 3, 4, 5], [1, 2, 3, 4, 5], [7, 8, 3, 2, 6, 2, 0, 9, 14, 15, 16, 0, 0, 7, 8, 7, 17, 0, 11, 18, 12, 19, 0]),
    ]);
    const relations = primitiveBlock(strings, [relationGroup([{ id: 1, keys: [1], vals: [2], members: [[1, 3, 14]] }])]);
    // WHEN both cores read them
    const file = pbfOf(nodes, block, relations);
    // THEN they agree
    expect(await compareBlocks(file, { wayRefs: Float64Array.of(2, 5, 7), needed: Float64Array.of(1, 2, 3, 4, 5) }, "odd strings")).toBe(3);
  });
});

