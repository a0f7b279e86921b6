import { describe, expect, it } from "vitest";
import {
  approxBytes,
  getRegion,
  PERIOD_PATTERN,
  periodOf,
  periodProblem,
  REGION_NAMES,
  REGION_NAME_PATTERN,
  regionProblem,
} from "./regions.ts";

describe("region registry", () => {
  it("GIVEN the regions the product needs WHEN looked up THEN each resolves to its Geofabrik extract", () => {
    const expected: Record<string, string> = {
      iceland: "https://download.geofabrik.de/europe/iceland-latest.osm.pbf",
      andorra: "https://download.geofabrik.de/europe/andorra-latest.osm.pbf",
      liechtenstein: "https://download.geofabrik.de/europe/liechtenstein-latest.osm.pbf",
      "new-zealand": "https://download.geofabrik.de/australia-oceania/new-zealand-latest.osm.pbf",
      alps: "https://download.geofabrik.de/europe/alps-latest.osm.pbf",
      "south-america": "https://download.geofabrik.de/south-america-latest.osm.pbf",
      africa: "https://download.geofabrik.de/africa-latest.osm.pbf",
      "australia-oceania": "https://download.geofabrik.de/australia-oceania-latest.osm.pbf",
      "north-america": "https://download.geofabrik.de/north-america-latest.osm.pbf",
      europe: "https://download.geofabrik.de/europe-latest.osm.pbf",
      asia: "https://download.geofabrik.de/asia-latest.osm.pbf",
    };
    for (const [name, url] of Object.entries(expected)) expect(getRegion(name)?.url, name).toBe(url);
  });

  it("GIVEN approximate sizes WHEN read THEN they are in the documented ballpark", () => {
    expect(getRegion("iceland")?.approxMB).toBe(60);
    expect(getRegion("new-zealand")?.approxMB).toBe(373);
    expect(approxBytes(getRegion("north-america")!)).toBe(16_000_000_000);
    expect(getRegion("europe")?.approxMB).toBe(31_000);
  });

  it("GIVEN the generated sample region WHEN looked up THEN it is local-only with no URL", () => {
    const sample = getRegion("sample");
    expect(sample?.localOnly).toBe(true);
    expect(sample?.url).toBeUndefined();
  });

  it("GIVEN every registered name WHEN checked THEN it matches the name rule and is not an Object builtin", () => {
    for (const name of REGION_NAMES) expect(REGION_NAME_PATTERN.test(name), name).toBe(true);
    expect(getRegion("constructor")).toBeUndefined();
    expect(getRegion("toString")).toBeUndefined();
  });
});

describe("regionProblem", () => {
  it("GIVEN a known region WHEN checked THEN there is no problem", () => {
    expect(regionProblem("iceland")).toBeUndefined();
    expect(regionProblem("new-zealand")).toBeUndefined();
  });

  it.each(["../x", "a/b", "Iceland", "", "1abc", "-abc", "a".repeat(64), "ice land"])(
    "GIVEN the malformed name %j WHEN checked THEN the message says what is allowed and lists known regions",
    (name) => {
      const problem = regionProblem(name);
      expect(problem).toMatch(/^invalid region .*lowercase letters, digits and dashes/);
      expect(problem).toContain("known regions: ");
      expect(problem).toContain("iceland");
      expect(problem).not.toContain("\n");
    },
  );

  it("GIVEN a well-formed but unregistered name WHEN checked THEN it is unknown and known regions are listed", () => {
    expect(regionProblem("atlantis")).toMatch(/^unknown region "atlantis"; known regions: .*andorra/);
  });

  it("GIVEN a non-string WHEN checked THEN it is rejected", () => {
    expect(regionProblem(42)).toMatch(/^invalid region 42/);
    expect(regionProblem(undefined)).toMatch(/^invalid region nothing/);
  });
});

describe("periodProblem", () => {
  const NOW = new Date("2026-11-30T23:59:59Z");
  it.each(["2026-01", "2026-11", "2005-01", "2021-06"])("GIVEN %s WHEN checked THEN it is a valid period", (p) => {
    expect(periodProblem(p, NOW)).toBeUndefined();
    expect(PERIOD_PATTERN.test(p)).toBe(true);
  });

  it.each([
    ["2026-12", /^period 2026-12 has not begun: use a month up to the current one, 2026-11 \(UTC\)$/],
    ["3000-01", /has not begun/],
    ["2004-12", /^period 2004-12 is before 2005-01, the earliest month/],
    ["1999-01", /is before 2005-01/],
  ])("GIVEN %s WHEN checked on 2026-11-30 THEN it is refused: %s", (p, message) => {
    expect(periodProblem(p, NOW)).toMatch(message);
  });

  it.each(["2026-13", "26-01", "2026-00", "2026-1", "2026/01", "", "2026-01-01"])(
    "GIVEN %j WHEN checked THEN it is rejected with the expected format",
    (p) => {
      expect(periodProblem(p)).toMatch(/^invalid period .*YYYY-MM/);
    },
  );

  it("GIVEN a date late on the last day of a month WHEN its period is taken THEN the UTC month is used", () => {
    expect(periodOf(new Date("2026-11-30T23:30:00-05:00"))).toBe("2026-12");
    expect(periodOf(new Date("2026-11-01T06:00:00Z"))).toBe("2026-11");
  });
});
