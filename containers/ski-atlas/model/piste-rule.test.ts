import { describe, expect, it } from "vitest";
import { harder, isAreaPiste, normalizeDifficulty, pisteKind } from "./piste-rule.ts";

describe("piste rule (RunFormatter.ts)", () => {
  it("makes a way with piste:type (or a lifecycle form) a piste of each listed type", () => {
    expect(pisteKind({ "piste:type": "Downhill;nordic" })).toEqual({ status: "operating", types: ["downhill", "nordic"] });
    expect(pisteKind({ "proposed:piste:type": "downhill" })).toEqual({ status: "proposed", types: ["downhill"] });
    expect(pisteKind({ highway: "track" })).toBeNull();
    expect(pisteKind({ "piste:type": " ; " })).toBeNull();
  });

  it("normalizes piste:difficulty to the first known value of the scale, else null (unknown)", () => {
    expect(normalizeDifficulty("Intermediate;advanced")).toBe("intermediate");
    expect(normalizeDifficulty("red;easy")).toBe("easy");
    expect(normalizeDifficulty("black")).toBeNull();
    expect(normalizeDifficulty(undefined)).toBeNull();
  });

  it("reports a shared segment under the harder difficulty; unknown only when none is known", () => {
    expect(harder("easy", "expert")).toBe("expert");
    expect(harder("advanced", "novice")).toBe("advanced");
    expect(harder(null, "easy")).toBe("easy");
    expect(harder(null, null)).toBeNull();
  });

  it("treats a closed downhill way as an area unless area=no, any closed way with area=yes as one, a closed loop otherwise as a line", () => {
    expect(isAreaPiste(true, {}, ["downhill"])).toBe(true);
    expect(isAreaPiste(true, { area: "no" }, ["downhill"])).toBe(false);
    expect(isAreaPiste(true, {}, ["nordic"])).toBe(false);
    expect(isAreaPiste(true, { area: "yes" }, ["sled"])).toBe(true);
    expect(isAreaPiste(false, { area: "yes" }, ["downhill"])).toBe(false);
  });
});
