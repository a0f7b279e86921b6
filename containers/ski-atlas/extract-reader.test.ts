import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StepError } from "../../lib/exit-codes.ts";
import { analyzeExtract } from "./analyze.ts";
import { PbfPasses, readPbfFile, readSkiFeatures, SortedIds } from "./extract-reader.ts";
import { lastLine, runOsmium } from "./osmium.ts";
import { poiCategory } from "./poi-tags.ts";
import { buildSkiModel } from "./ski-model.ts";
import { buildSyntheticRegion, OsmBuilder, writeSyntheticRegion } from "./synthetic-osm.ts";
import { mulberry32 } from "./testing/hostile-pbf.ts"; // seeded: tests must not depend on Math.random

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "ski-atlas-extract-reader-test-"));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe("SortedIds", () => {
  it("finds ids asked in order, backwards and at random, like a Set", () => {
    const rnd = mulberry32(7);
    const raw = Float64Array.from({ length: 5000 }, () => Math.floor(rnd() * 20000) * 3 + 2 ** 40);
    const ids = SortedIds.from(raw, raw.length);
    const set = new Set(raw);
    expect(ids.size).toBe(set.size);
    expect([...ids.ids]).toEqual([...set].sort((a, b) => a - b));
    const asked: number[] = [];
    for (let id = 2 ** 40 - 5; id < 2 ** 40 + 60005; id += 1) asked.push(id); // a walk through the file
    for (let i = 0; i < 5000; i++) asked.push(Math.floor(rnd() * 60010) + 2 ** 40 - 5); // a way's refs
    for (const id of asked.slice(0, 3000).reverse()) asked.push(id);
    for (const id of asked) {
      const i = ids.indexOf(id);
      expect(i >= 0, String(id)).toBe(set.has(id));
      if (i >= 0) expect(ids.ids[i]).toBe(id);
    }
  });

  it("handles the empty list", () => {
    const ids = SortedIds.from(new Float64Array(4), 0);
    expect(ids.size).toBe(0);
    expect(ids.indexOf(1)).toBe(-1);
  });
});

describe("streaming the extract", () => {
  it("gives the model of the whole file, holding only the ski features (no POI-only way)", async () => {
    const pbf = join(tmp, "sample.osm.pbf");
    await writeSyntheticRegion(pbf);
    const whole = await readPbfFile(pbf, "x", "y");
    expect(await analyzeExtract(pbf, "x", "y")).toEqual(buildSkiModel(whole));

    const passes = await PbfPasses.open(pbf);
    try {
      const { data, pois: { poiWayNodes } } = await readSkiFeatures(passes);
      const poiOnly = [...whole.ways.values()].filter((w) => poiCategory(w.tags) && !w.tags.landuse && !w.tags.railway);
      expect(poiOnly.length).toBeGreaterThan(0);
      for (const w of poiOnly) {
        expect(data.ways.has(w.id), `way/${w.id}`).toBe(false);
        for (const ref of w.refs) expect(poiWayNodes.indexOf(ref)).toBeGreaterThanOrEqual(0);
      }
      expect(data.nodeCount).toBeLessThan(whole.nodeCount);
      expect(data.taggedNodes.length).toBeLessThan(whole.taggedNodes.length);
    } finally {
      await passes.close();
    }
  });

  it("reads a file as the fixture it was written from holds it in memory (OsmBuilder.toOsmData, for the model's unit tests)", async () => {
    const pbf = join(tmp, "sample-in-memory.osm.pbf");
    await writeSyntheticRegion(pbf);
    expect(buildSyntheticRegion().osm.toOsmData()).toEqual(await readPbfFile(pbf, "x", "y"));
  });

  it("refuses an extract whose objects are not sorted (a relation before the ways), exit 65", async () => {
    const b = new OsmBuilder();
    const lift = b.way(b.northLine(10.4, 46.9, 1, 3), { aerialway: "chair_lift" });
    b.relation(b.relationId(), [{ type: "way", ref: lift }], { site: "piste", name: "X" });
    const xml = b.toXml();
    // Move the relation before the ways; `osmium cat` keeps the order it is given.
    const rel = xml.slice(xml.indexOf("  <relation"), xml.indexOf("</osm>"));
    const unsorted = xml.replace(rel, "").replace("  <way", rel + "  <way");
    const osm = join(tmp, "unsorted.osm");
    const pbf = join(tmp, "unsorted.osm.pbf");
    await writeFile(osm, unsorted);
    const cat = await runOsmium(["cat", osm, "-o", pbf, "-f", "pbf", "--overwrite", "--no-progress"]);
    expect(cat.code, lastLine(cat.stderr)).toBe(0);
    const err = await analyzeExtract(pbf, "the extract", "run the extract step again").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepError);
    expect((err as StepError).exitCode).toBe(65);
    expect((err as Error).message).toMatch(/^the extract is not a valid OSM PBF \(.*not sorted.*\): run the extract step again$/);
  });
});
