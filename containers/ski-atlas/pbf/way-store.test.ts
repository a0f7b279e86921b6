import { describe, expect, it } from "vitest";
import { primitiveBlock, wayGroup, type CraftedWay } from "../testing/hostile-pbf.ts";
import { decodeAll, PrimitiveBlock, type PbfWay } from "./decode.ts";
import { ProtoWriter } from "./protobuf.ts";
import { RuleSet } from "./rules.ts";
import { sharedSortedIds, sortInPlace } from "./sorted-ids.ts";
import { filterWays } from "./way-filter.ts";
import { WayStore } from "./way-store.ts";
import { encodeWays } from "./write.ts";

// The kept ways are held as columns between pass 1 and the write; what comes out must be what the ways were, and
// the written way blocks the bytes an encoder of the ways as objects gives (the extract's sha256 is pinned).

const STRINGS = ["", "aerialway", "yes", "2", "1", "name", "Télécabine", "piste:type", "downhill"];

/** Ways with what can go wrong in a re-encoding: integer-like keys (which objects order first), a key given twice,
 * no tags, no refs, negative deltas, ids and refs near 2^53. */
const WAYS: CraftedWay[] = [
  { id: 3, keys: [1, 5], vals: [2, 6], refs: [10, 11, 12, 10] },
  { id: 7, keys: [5, 3, 4], vals: [6, 2, 2], refs: [900_000_000_000, 5, 2 ** 52] },
  { id: 8, keys: [7, 7], vals: [8, 2], refs: [] },
  { id: 9, refs: [4] },
  { id: 2 ** 50, keys: [1], vals: [2], refs: [1, 2, 3, 4, 5, 6, 7, 8, 9, 1] },
];

/** The way blocks as objects (what the extractor held before the store). */
function asObjects(block: PrimitiveBlock): PbfWay[] {
  const ways: PbfWay[] = [];
  decodeAll(block, { way: (w) => ways.push(w) });
  return ways;
}

/** The way block encoding of objects, field by field as write.ts did before the store. */
function encodeObjects(ways: readonly PbfWay[]): Uint8Array {
  const table = new Map<string, number>([["", 0]]);
  const id = (s: string) => table.get(s) ?? (table.set(s, table.size), table.size - 1);
  const group = new ProtoWriter();
  for (const w of ways) {
    const keys: number[] = [], vals: number[] = [];
    for (const [k, v] of Object.entries(w.tags)) {
      keys.push(id(k));
      vals.push(id(v));
    }
    const m = new ProtoWriter().uintField(1, w.id).packedField(2, keys, false, false).packedField(3, vals, false, false);
    m.packedField(8, w.refs, true, true);
    group.bytesField(3, m.finish());
  }
  const st = new ProtoWriter();
  for (const s of table.keys()) st.stringField(1, s);
  return new ProtoWriter().bytesField(1, st.finish()).bytesField(2, group.finish()).finish();
}

describe("the kept ways' store", () => {
  it("gives back the ways and writes the bytes the ways as objects give, over blocks read backwards", () => {
    // Two blocks, filtered (every way listed by a relation) and appended last block first, as pass 1 does.
    const blocks = [WAYS.slice(0, 3), WAYS.slice(3)].map((ways) => new PrimitiveBlock(primitiveBlock(STRINGS, [wayGroup(ways)])));
    const rules = new RuleSet([{ types: "w", key: "no-such-key" }], "w");
    const listed = Float64Array.from(WAYS.map((w) => w.id));
    const store = new WayStore();
    for (const block of [...blocks].reverse()) store.append(filterWays(block, rules, listed, listed.length).ways);
    store.seal();
    const objects = blocks.flatMap(asObjects);
    expect(objects.map((w) => w.id)).toEqual(WAYS.map((w) => w.id));
    expect(Object.entries(objects[1].tags)).toEqual([["1", "yes"], ["2", "yes"], ["name", "Télécabine"]]);
    expect(objects[2].tags).toEqual({ "piste:type": "yes" });
    expect(store.toArray()).toEqual(objects);
    expect(store.refCount).toBe(WAYS.reduce((n, w) => n + (w.refs?.length ?? 0), 0));
    expect(Buffer.from(encodeWays(store, 0, store.length)).equals(encodeObjects(objects))).toBe(true);
    expect(Buffer.from(encodeWays(store, 1, 4)).equals(encodeObjects(objects.slice(1, 4)))).toBe(true);
    const refs = new Float64Array(store.refCount);
    expect(store.refsTo(refs, 0)).toBe(store.refCount);
    expect(Array.from(refs).sort((a, b) => a - b)).toEqual(objects.flatMap((w) => w.refs).sort((a, b) => a - b));
  });

  it("keeps only the matching ways, and a batch owns its arrays (a worker transfers them)", () => {
    const block = new PrimitiveBlock(primitiveBlock(STRINGS, [wayGroup(WAYS)]));
    const rules = new RuleSet([{ types: "w", key: "aerialway" }], "w");
    const first = filterWays(block, rules, new Float64Array(0), 0).ways;
    const again = filterWays(block, rules, new Float64Array(0), 0).ways;
    expect(Array.from(first.ids)).toEqual([3, 2 ** 50]);
    expect(first.strings).toEqual(["aerialway", "yes", "name", "Télécabine"]);
    const buffers = [first, again].flatMap((c) => [c.ids, c.refEnds, c.refBytes, c.tagEnds, c.tagStrings].map((a) => a.buffer));
    expect(new Set(buffers).size).toBe(buffers.length);
    expect(Array.from(first.ids)).toEqual(Array.from(again.ids));
  });
});

describe("the needed ids, sorted in one shared buffer", () => {
  const random = (n: number, range: number) => Float64Array.from({ length: n }, () => Math.floor(Math.random() * range) - range / 4);
  const cases: [string, Float64Array][] = [
    ["random", random(20_000, 1e12)],
    ["many duplicates", random(20_000, 50)],
    ["ascending", Float64Array.from({ length: 5000 }, (_, i) => i)],
    ["descending runs of ascending ids (pass 1's order)", Float64Array.from({ length: 6000 }, (_, i) => (10 - Math.floor(i / 600)) * 1e6 + (i % 600) * 7)],
    ["all equal", new Float64Array(3000).fill(42)],
  ];
  it.each(cases)("sorts %s like the built-in sort, with and without the heapsort fallback", (_, ids) => {
    const expected = ids.slice().sort();
    for (const depthLimit of [undefined, 0, 3]) {
      const a = ids.slice();
      sortInPlace(a, 0, a.length, depthLimit);
      expect(a.findIndex((v, i) => v !== expected[i])).toBe(-1);
    }
  });

  it("dedupes in place in a SharedArrayBuffer of the capacity given", () => {
    const ids = [5, 3, 5, 1, 3, 2 ** 53 - 1, -4];
    const r = sharedSortedIds(ids.length + 2, (out) => (out.set(ids), ids.length));
    expect(r.shared).toBeInstanceOf(SharedArrayBuffer);
    expect(r.shared.byteLength).toBe((ids.length + 2) * 8);
    expect(Array.from(r.array.subarray(0, r.count))).toEqual([-4, 1, 3, 5, 2 ** 53 - 1]);
    expect(sharedSortedIds(0, () => 0).count).toBe(0);
  });
});
