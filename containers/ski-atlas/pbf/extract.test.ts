import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FILTER_RULES, filterExpressions } from "../extract.ts";
import { readPbfFile } from "../extract-reader.ts";
import { readOsmFile } from "../testing/osmium-opl.ts";
import { writeSyntheticRegion } from "../synthetic-osm.ts";
import { andorraPbf } from "../testing/helpers.ts";
import { denseGroup, pbfOf, primitiveBlock, wayGroup } from "../testing/hostile-pbf.ts";
import { extractPbf } from "./extract.ts";
import { PbfFormatError } from "./protobuf.ts";
import { writePbf } from "./write.ts";

// osmium is the oracle: the extractor must keep exactly what `osmium tags-filter` keeps (same objects, tags,
// member lists and coordinates), compared as OPL without metadata.
let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "pbf-extract-test-"));
  await writeFile(join(tmp, "filter.txt"), filterExpressions().join("\n") + "\n");
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function osmium(...args: string[]): void {
  const r = spawnSync("osmium", args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`osmium ${args[0]} failed: ${r.stderr}`);
}

async function opl(pbf: string): Promise<string> {
  const out = pbf + ".opl";
  osmium("cat", pbf, "-f", "opl,add_metadata=false", "-o", out, "--overwrite", "--no-progress");
  return readFile(out, "utf8");
}

async function compareWithOsmium(input: string, name: string) {
  const ours = join(tmp, `${name}.ours.osm.pbf`);
  const theirs = join(tmp, `${name}.osmium.osm.pbf`);
  const result = await extractPbf(input, FILTER_RULES, { parallel: 3 });
  await writePbf(ours, result.nodes, result.ways, result.relations);
  osmium("tags-filter", input, "-e", join(tmp, "filter.txt"), "-f", "pbf", "-o", theirs, "--overwrite", "--no-progress");
  const [a, b] = [await opl(ours), await opl(theirs)];
  expect(a.split("\n").length).toBe(b.split("\n").length);
  expect(a === b, `${name}: extract differs from osmium tags-filter`).toBe(true);
  return { result, ours, theirs };
}

describe("the PBF extractor against osmium tags-filter", () => {
  it("gives the same objects on the real Andorra extract, inflating each block once", async () => {
    const ANDORRA_PBF = await andorraPbf();
    const { result, ours } = await compareWithOsmium(ANDORRA_PBF, "andorra");
    expect(result.ways.length).toBeGreaterThan(1000);
    expect(result.stats.inflated).toBe(result.stats.blocks);
    expect(result.stats.reinflated).toBe(0);
    // Pass 2 on worker threads (the default: one per core) and on this thread give the same bytes.
    const single = await extractPbf(ANDORRA_PBF, FILTER_RULES, { parallel: 3, workers: 0 });
    await writePbf(join(tmp, "andorra.single.osm.pbf"), single.nodes, single.ways, single.relations);
    expect((await readFile(join(tmp, "andorra.single.osm.pbf"))).equals(await readFile(ours))).toBe(true);
    // The reader (analyze's path) sees what osmium sees in our extract.
    const mine = await readPbfFile(ours, "x", "y");
    const oracle = await readOsmFile(ours, "x", "y");
    expect(mine.nodeCount).toBe(oracle.nodeCount);
    expect(mine.taggedNodes).toEqual(oracle.taggedNodes);
    expect([...mine.ways.values()]).toEqual([...oracle.ways.values()]);
    expect([...mine.relations.values()]).toEqual([...oracle.relations.values()]);
  });

  it.each(["ski", "no-ski"] as const)("gives the same objects on the synthetic %s fixture", async (variant) => {
    const input = join(tmp, `synthetic-${variant}.osm.pbf`);
    await writeSyntheticRegion(input, variant);
    const { result } = await compareWithOsmium(input, `synthetic-${variant}`);
    if (variant === "ski") expect(result.relations.length).toBeGreaterThan(3);
  });

  it("keeps member relations of kept relations that come before their parent (read again)", async () => {
    // r10 (site=piste) lists r20 (no ski tags, higher id: already passed) and r5 (lower id); r20 lists w1.
    const osm = `<?xml version='1.0' encoding='UTF-8'?>
<osm version="0.6">
 <node id="1" lat="46.0" lon="10.0"/><node id="2" lat="46.1" lon="10.0"/><node id="3" lat="46.2" lon="10.0"><tag k="amenity" v="cafe"/></node>
 <node id="4" lat="46.3" lon="10.0"/>
 <way id="1"><nd ref="1"/><nd ref="2"/></way>
 <way id="2"><nd ref="2"/><nd ref="4"/></way>
 <relation id="5"><member type="way" ref="2" role=""/></relation>
 <relation id="10"><member type="relation" ref="20" role="a"/><member type="relation" ref="5" role="b"/><tag k="site" v="piste"/></relation>
 <relation id="20"><member type="way" ref="1" role=""/><member type="relation" ref="30" role=""/></relation>
 <relation id="30"><member type="node" ref="4" role="x"/></relation>
</osm>`;
    await writeFile(join(tmp, "nested.osm"), osm);
    const input = join(tmp, "nested.osm.pbf");
    osmium("cat", join(tmp, "nested.osm"), "-o", input, "--overwrite");
    const { result } = await compareWithOsmium(input, "nested");
    expect(result.relations.map((r) => r.id)).toEqual([5, 10, 20, 30]);
    expect(result.ways.toArray().map((w) => w.id)).toEqual([1, 2]);
  });
});

describe("relation membership", () => {
  /** r1 (site=piste) lists r2, r2 lists r3, … rN: each member comes after its parent, so every one is passed
   * before its parent is kept (the worst case for a backward reader). */
  async function chain(n: number): Promise<string> {
    const rels = Array.from({ length: n }, (_, i) => {
      const id = i + 1;
      const member = id < n ? `<member type="relation" ref="${id + 1}" role=""/>` : `<member type="node" ref="1" role=""/>`;
      return ` <relation id="${id}">${member}${id === 1 ? '<tag k="site" v="piste"/>' : ""}</relation>`;
    });
    const xml = join(tmp, `chain-${n}.osm`);
    await writeFile(xml, `<?xml version='1.0' encoding='UTF-8'?>\n<osm version="0.6">\n <node id="1" lat="42.5" lon="1.5"/>\n${rels.join("\n")}\n</osm>\n`);
    const pbf = join(tmp, `chain-${n}.osm.pbf`);
    osmium("cat", xml, "-o", pbf, "--overwrite");
    return pbf;
  }

  it("keeps a chain of 8,000 nested relations like osmium, in linear work (64,000: 8× the work)", async () => {
    const { result: small } = await compareWithOsmium(await chain(8000), "chain-8000");
    expect(small.relations).toHaveLength(8000);
    const large = await extractPbf(await chain(64000), FILTER_RULES, { parallel: 3 });
    expect(large.relations).toHaveLength(64000);
    expect(large.nodes.length).toBe(1);
    // Work counted, not timed: every relation is looked at once forwards and at most once again; a quadratic
    // resolution would look at 64,000²/2 of them.
    expect(small.stats.relationsScanned).toBeLessThanOrEqual(2 * 8000);
    expect(large.stats.relationsScanned).toBeLessThanOrEqual(2 * 64000);
    expect(large.stats.relationsScanned / small.stats.relationsScanned).toBeLessThan(8 * 1.25);
    expect(large.stats.reinflated).toBeLessThanOrEqual(large.stats.blocks);
  });
});

describe("bad input", () => {
  it("a truncated PBF → PbfFormatError naming the truncation", async () => {
    const whole = await readFile(await andorraPbf());
    const cut = join(tmp, "cut.osm.pbf");
    await writeFile(cut, whole.subarray(0, Math.floor(whole.length * 0.6)));
    await expect(extractPbf(cut, FILTER_RULES)).rejects.toThrow(PbfFormatError);
    await expect(extractPbf(cut, FILTER_RULES)).rejects.toThrow(/truncated/);
  });

  it("a fault found on a worker thread names its block", async () => {
    // Eight node blocks, then ways. Pass 1 reads the 2 × 2 blocks before the way block ahead on the workers (they
    // come back inflated and are filtered on this thread); blocks 1 to 3 are inflated and filtered on workers.
    const strings = ["", "amenity", "cafe"];
    const nodes = (id: number, lat: number) => primitiveBlock(strings, [denseGroup([id], [Math.round(lat * 1e7)], [15_000_000], [1, 2, 0])]);
    const ways = primitiveBlock(["", "aerialway", "yes"], [wayGroup([{ id: 1, keys: [1], vals: [2], refs: [2, 3] }])]);
    const file = (firstLat: number) => pbfOf(nodes(1, firstLat), ...[2, 3, 4, 5, 6, 7, 8].map((id) => nodes(id, 42.5)), ways);
    const path = join(tmp, "worker-fault.osm.pbf");
    await writeFile(path, file(91));
    await expect(extractPbf(path, FILTER_RULES, { parallel: 1, workers: 2 })).rejects.toThrow(/^block 1 at byte \d+: node 1 has latitude 91, outside ±90°$/);
    await writeFile(path, file(42));
    const ok = await extractPbf(path, FILTER_RULES, { parallel: 1, workers: 2 });
    expect(Array.from(ok.nodes.ids.subarray(0, ok.nodes.length))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(ok.stats.inflated).toBe(ok.stats.blocks);
  });

  it("way blocks are filtered on worker threads: kept ways, their nodes, and a fault naming its block", async () => {
    // One node block, then four way blocks: the last is read on this thread, the three before it on workers.
    const nodes = primitiveBlock(["", "amenity", "cafe"], [denseGroup([1, 2, 3, 4, 5, 6], [425e6, 426e6, 427e6, 428e6, 429e6, 430e6], [15e6, 15e6, 15e6, 15e6, 15e6, 15e6])]);
    const ways = (id: number, key: number) => primitiveBlock(["", "aerialway", "yes", "highway"], [wayGroup([{ id, keys: [key], vals: [2], refs: [id, id + 1] }])]);
    const path = join(tmp, "way-workers.osm.pbf");
    await writeFile(path, pbfOf(nodes, ways(1, 1), ways(2, 3), ways(3, 1), ways(4, 3)));
    const ok = await extractPbf(path, FILTER_RULES, { parallel: 1, workers: 2 });
    expect(ok.ways.toArray().map((w) => [w.id, w.refs])).toEqual([[1, [1, 2]], [3, [3, 4]]]);
    expect(Array.from(ok.nodes.ids.subarray(0, ok.nodes.length))).toEqual([1, 2, 3, 4]);
    expect(ok.stats.inflated).toBe(ok.stats.blocks);
    await writeFile(path, pbfOf(nodes, ways(1, 1), ways(2, 9), ways(3, 1), ways(4, 3)));
    await expect(extractPbf(path, FILTER_RULES, { parallel: 1, workers: 2 })).rejects.toThrow(/^block 3 at byte \d+: string index 9 is out of range/);
    await writeFile(path, pbfOf(nodes, ways(3, 1), ways(2, 1), ways(4, 3)));
    await expect(extractPbf(path, FILTER_RULES, { parallel: 1, workers: 2 })).rejects.toThrow(/^block 2 at byte \d+: the file is not sorted/);
  });

  it("a corrupt block → PbfFormatError", async () => {
    const bad = Buffer.from(await readFile(await andorraPbf()));
    for (let i = bad.length - 4000; i < bad.length - 3000; i++) bad[i] ^= 0x5a; // inside the last blocks' zlib data
    const path = join(tmp, "corrupt.osm.pbf");
    await writeFile(path, bad);
    await expect(extractPbf(path, FILTER_RULES)).rejects.toThrow(PbfFormatError);
    await expect(readPbfFile(path, "the extract", "fix it")).rejects.toMatchObject({ exitCode: 65 });
  });
});
