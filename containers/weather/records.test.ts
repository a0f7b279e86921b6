import { describe, expect, it } from "vitest";
import { Readable } from "node:stream";
import { boundedLines } from "./lines.ts";
import { IngestTally, MAX_LINE_BYTES, parseLine, stationOf } from "./records.ts";

describe("parseLine", () => {
  it("GIVEN a valid line with padding WHEN parsed THEN the values are kept in tenths and -9999 is missing", () => {
    expect(parseLine("19850101\t  -22\t -128\t   94")).toEqual({ ok: true, record: { day: 19850101, maxTenths: -22, minTenths: -128, precipTenths: 94, flags: [] } });
    expect(parseLine("19850102\t-9999\t-9999\t-9999")).toEqual({ ok: true, record: { day: 19850102, maxTenths: null, minTenths: null, precipTenths: null, flags: [] } });
  });

  it.each([
    ["19850101\t1\t2", "field_count"],
    ["19850101\t1\t2\t3\t4", "field_count"],
    ["19850101 1 0 3", "field_count"],
    ["19850230\t10\t0\t0", "bad_date"],
    ["1985011\t10\t0\t0", "bad_date"],
    ["19851301\t10\t0\t0", "bad_date"],
    ["19850101\t1.5\t0\t0", "not_numeric"],
    ["19850101\tabc\t0\t0", "not_numeric"],
    ["19850101\t10\t0\t", "not_numeric"],
  ])("GIVEN %j WHEN parsed THEN it is rejected as %s", (line, reason) => {
    expect(parseLine(line)).toEqual({ ok: false, reason });
  });

  it.each([
    ["19850101\t700\t0\t0", ["out_of_range"]],
    ["19850101\t10\t-1000\t0", ["out_of_range"]],
    ["19850101\t10\t0\t-5", ["out_of_range"]],
    ["19850101\t10\t0\t99999", ["out_of_range"]],
    ["19850101\t10\t20\t3", ["max_below_min"]],
    ["19850101\t-1000\t20\t3", ["max_below_min", "out_of_range"]],
  ])("GIVEN %j WHEN parsed THEN it is kept with its values and flagged %j", (line, flags) => {
    const parsed = parseLine(line);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.record.flags).toEqual(flags);
    const [, max, min, p] = line.split("\t").map(Number);
    expect(parsed.record).toMatchObject({ maxTenths: max, minTenths: min, precipTenths: p });
  });

  it("GIVEN a leap day WHEN parsed THEN it is valid only in a leap year", () => {
    expect(parseLine("19880229\t1\t0\t0").ok).toBe(true);
    expect(parseLine("19850229\t1\t0\t0")).toEqual({ ok: false, reason: "bad_date" });
  });

  it("GIVEN max missing and min present WHEN parsed THEN max < min is not checked", () => {
    expect(parseLine("19850101\t-9999\t50\t0")).toMatchObject({ ok: true, record: { flags: [] } });
  });
});

describe("IngestTally", () => {
  it("GIVEN the same station-day twice WHEN tallied THEN the first is kept and the second counted as a duplicate", () => {
    const t = new IngestTally();
    t.startFile();
    expect(t.accept("S1", "S1.txt", 1, "19850101\t10\t0\t0")).toBeDefined();
    expect(t.accept("S1", "S1.txt", 2, "19850101\t20\t0\t0")).toBeUndefined();
    expect(t.accept("S2", "S2.txt", 1, "19850101\t20\t0\t0")).toBeDefined();
    expect(t.accept("S2", "S2.txt", 2, "")).toBeUndefined();
    expect(t.accept("S2", "S2.txt", 3, "garbage")).toBeUndefined();
    const c = t.counts();
    expect(c).toMatchObject({ files: 1, stations: 2, lines: 4, records: 2, rejected: 2 });
    expect(c.rejectedByReason).toMatchObject({ duplicate: 1, field_count: 1, bad_date: 0 });
    expect(t.sample.map((s) => [s.line, s.reason])).toEqual([[2, "duplicate"], [3, "field_count"]]);
  });

  it("GIVEN flagged, unreadable and too long lines WHEN tallied THEN only the unreadable ones are errors and flagged records are kept", () => {
    const t = new IngestTally();
    t.startFile();
    expect(t.accept("S1", "S1.txt", 1, "19850101\t10\t20\t5")).toMatchObject({ flags: ["max_below_min"], precipTenths: 5 });
    expect(t.accept("S1", "S1.txt", 2, "19850102\t10\t0\t0\r")).toMatchObject({ flags: [] });
    expect(t.accept("S1", "S1.txt", 3, { tooLongBytes: MAX_LINE_BYTES + 1 })).toBeUndefined();
    expect(t.accept("S1", "S1.txt", 4, "19850102\t11\t0\t0")).toBeUndefined();
    expect(t.counts()).toMatchObject({ lines: 4, records: 2, flagged: 1, unreadable: 1, rejected: 2, flaggedByReason: { max_below_min: 1, out_of_range: 0 } });
    expect(t.sample.map((s) => [s.line, s.reason, s.text])).toEqual([[3, "line_too_long", `(${MAX_LINE_BYTES + 1} bytes; the limit is ${MAX_LINE_BYTES})`], [4, "duplicate", "19850102\t11\t0\t0"]]);
  });

  it("GIVEN file names WHEN read as stations THEN only <station>.txt counts", () => {
    expect(stationOf("USC00110072.txt")).toBe("USC00110072");
    expect(stationOf("README.md")).toBeUndefined();
  });
});

describe("boundedLines", () => {
  const collect = async (chunks: (string | Buffer)[], max: number) => {
    const out = [];
    for await (const l of boundedLines(Readable.from(chunks), max)) out.push(l);
    return out;
  };

  it("GIVEN lines split anywhere across chunks WHEN read THEN each line comes out whole, the last one without a newline too", async () => {
    expect(await collect(["ab", "c\nde\n\nf", "g\r\n", "h"], 10)).toEqual(["abc", "de", "", "fg\r", "h"]);
    expect(await collect(["é\n"], 10)).toEqual(["é"]);
  });

  it("GIVEN a line over the limit WHEN read THEN only its length is reported and the next line is read normally", async () => {
    expect(await collect(["12345", "678\nok\n", "x".repeat(11)], 7)).toEqual([{ tooLongBytes: 8 }, "ok", { tooLongBytes: 11 }]);
  });

  it("GIVEN one 512 MiB line WHEN read THEN it is reported as too long while memory stays bounded", async () => {
    // The same 1 MiB chunk 512 times: the stream allocates nothing, so any growth would be the reader holding the line.
    const chunk = Buffer.alloc(2 ** 20, 0x31);
    async function* endless() {
      for (let i = 0; i < 512; i++) yield chunk;
      yield Buffer.from("\n19850101\t1\t0\t0\n");
    }
    const before = process.memoryUsage().arrayBuffers;
    const lines = [];
    let peak = 0;
    for await (const l of boundedLines(endless(), MAX_LINE_BYTES)) {
      lines.push(l);
      peak = Math.max(peak, process.memoryUsage().arrayBuffers - before);
    }
    expect(lines).toEqual([{ tooLongBytes: 512 * 2 ** 20 }, "19850101\t1\t0\t0"]);
    expect(peak).toBeLessThan(64 * 2 ** 20);
  });
});
