import { describe, expect, it } from "vitest";
import { elevationM, featureName, leadingInt, splitValues } from "./tag-values.ts";

describe("tag values", () => {
  it("split ';' lists into trimmed, lower-case, distinct values", () => {
    expect(splitValues(" Downhill ;nordic;downhill;; ")).toEqual(["downhill", "nordic"]);
    expect(splitValues(undefined)).toEqual([]);
  });

  it("read a leading integer and an elevation in metres, or null", () => {
    expect([leadingInt("2400 p/h"), leadingInt(" 1800"), leadingInt("about 900"), leadingInt(undefined)]).toEqual([2400, 1800, null, null]);
    expect([elevationM("2510"), elevationM("2510,5 m"), elevationM("-12.5"), elevationM("x"), elevationM("2510 ft")]).toEqual([2510, 2510.5, -12.5, null, null]);
  });

  it("name an object by name, else piste:name", () => {
    expect(featureName({ name: "A", "piste:name": "B" })).toBe("A");
    expect(featureName({ "piste:name": "B" })).toBe("B");
    expect(featureName({})).toBeNull();
  });
});
