import { describe, expect, it } from "vitest";
import { IngestTally, parseLine, stationOf } from "./records.ts";

describe("parseLine", () => {
  it("GIVEN a valid line with padding WHEN parsed THEN the values are kept in tenths and -9999 is missing", () => {
    expect(parseLine("19850101\t  -22\t -128\t   94")).toEqual({ ok: true, record: { day: 19850101, maxTenths: -22, minTenths: -128, precipTenths: 94 } });
    expect(parseLine("19850102\t-9999\t-9999\t-9999")).toEqual({ ok: true, record: { day: 19850102, maxTenths: null, minTenths: null, precipTenths: null } });
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
    ["19850101\t700\t0\t0", "out_of_range"],
    ["19850101\t10\t-1000\t0", "out_of_range"],
    ["19850101\t10\t0\t-5", "out_of_range"],
    ["19850101\t10\t0\t99999", "out_of_range"],
    ["19850101\t10\t20\t0", "max_below_min"],
  ])("GIVEN %j WHEN parsed THEN it is rejected as %s", (line, reason) => {
    expect(parseLine(line)).toEqual({ ok: false, reason });
  });

  it("GIVEN a leap day WHEN parsed THEN it is valid only in a leap year", () => {
    expect(parseLine("19880229\t1\t0\t0").ok).toBe(true);
    expect(parseLine("19850229\t1\t0\t0")).toEqual({ ok: false, reason: "bad_date" });
  });

  it("GIVEN max missing and min present WHEN parsed THEN max < min is not checked", () => {
    expect(parseLine("19850101\t-9999\t50\t0").ok).toBe(true);
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

  it("GIVEN file names WHEN read as stations THEN only <station>.txt counts", () => {
    expect(stationOf("USC00110072.txt")).toBe("USC00110072");
    expect(stationOf("README.md")).toBeUndefined();
  });
});
