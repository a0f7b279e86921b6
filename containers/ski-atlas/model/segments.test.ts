import { describe, expect, it } from "vitest";
import { haversineKm } from "../geo.ts";
import { mulberry32 } from "../testing/hostile-pbf.ts"; // seeded: tests must not depend on Math.random
import { SegmentLength, SegmentSet } from "./segments.ts";

describe("SegmentSet", () => {
  it("numbers each segment once, whichever way it is walked, as the coordinates' strings would", () => {
    const rnd = mulberry32(11);
    const set = new SegmentSet();
    const byString = new Map<string, number>();
    const point = () => [Math.round(rnd() * 50) / 1e7 + 10.4, Math.round(rnd() * 50) / 1e7 + 46.9] as const;
    for (let i = 0; i < 20000; i++) {
      const [x1, y1] = point(), [x2, y2] = point();
      const key = x1 < x2 || (x1 === x2 && y1 <= y2) ? `${x1},${y1},${x2},${y2}` : `${x2},${y2},${x1},${y1}`;
      const got = rnd() < 0.5 ? set.add(x1, y1, x2, y2) : set.add(x2, y2, x1, y1);
      const want = byString.get(key);
      expect(got).toBe(want ?? -1);
      if (want === undefined) byString.set(key, byString.size);
    }
    expect(set.size).toBe(byString.size);
  });

  it("takes -0 and 0 for the same coordinate", () => {
    const set = new SegmentSet();
    expect(set.add(0, 1, 2, 3)).toBe(-1);
    expect(set.add(-0, 1, 2, 3)).toBe(0);
    expect(set.add(2, 3, -0, 1)).toBe(0);
  });

  it("measure the union of lines: a segment walked twice, either way, counts once", () => {
    const length = new SegmentLength();
    length.add([10, 46, 10, 46.01, 10, 46.02]);
    length.add([10, 46.02, 10, 46.01]);
    length.add([10, 46.02, 10, 46.03]);
    expect(length.km).toBeCloseTo(haversineKm(10, 46, 10, 46.03), 9);
  });
});
