import { spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FILTER_RULES } from "../extract.ts";
import { extractPbf } from "./extract.ts";

/**
 * Two ways a file can look out of order, told apart (issue 10): ids that are really out of order, and ids beyond
 * 2^53, which collapse onto each other as JavaScript numbers. Fixtures: OSM XML → osmium → PBF.
 */
let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "pbf-id-range-"));
});
afterAll(() => rm(tmp, { recursive: true, force: true }));

async function pbfOf(name: string, nodeIds: bigint[]): Promise<string> {
  const nodes = nodeIds.map((id, i) => `  <node id="${id}" version="1" lat="42.5${i}" lon="1.5${i}"/>`);
  const way = `  <way id="1" version="1">${nodeIds.map((id) => `<nd ref="${id}"/>`).join("")}<tag k="piste:type" v="downhill"/></way>`;
  const xml = join(tmp, `${name}.osm`);
  await writeFile(xml, `<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="test">\n${nodes.join("\n")}\n${way}\n</osm>\n`);
  const pbf = join(tmp, `${name}.osm.pbf`);
  const r = spawnSync("osmium", ["cat", xml, "-o", pbf, "--overwrite", "--no-progress"], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`osmium cat failed: ${r.stderr}`);
  return pbf;
}

describe("node ids the extractor cannot order", () => {
  it("GIVEN ids above 2^53 WHEN extracted THEN the error says so, not 'not sorted'", async () => {
    const base = 2n ** 53n;
    const pbf = await pbfOf("huge", [base + 1n, base + 2n, base + 3n, base + 4n, base + 5n]);
    await expect(extractPbf(pbf, FILTER_RULES, { parallel: 1 })).rejects.toThrow(/beyond ±?2\^53/);
  });

  it("GIVEN ids really out of order WHEN extracted THEN the error says to sort the file", async () => {
    const pbf = await pbfOf("unsorted", [30n, 10n, 20n]);
    await expect(extractPbf(pbf, FILTER_RULES, { parallel: 1 })).rejects.toThrow(/not sorted/);
  });
});
