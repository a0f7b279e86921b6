import { describe, expect, it } from "vitest";
import type { Tags } from "../osm-data.ts";
import { liftKind, stationElevations } from "./lift-rule.ts";

describe("lift rule (LiftFormatter.ts)", () => {
  it("takes the lift type from aerialway, lower-cased; an unknown passenger value is `other`", () => {
    expect(liftKind({ aerialway: "T-bar" }, false)).toEqual({ status: "operating", value: "t-bar", liftType: "t-bar" });
    expect(liftKind({ aerialway: "chair_lift;gondola" }, false)).toMatchObject({ liftType: "chair_lift" });
    expect(liftKind({ aerialway: "sled_lift" }, false)).toEqual({ status: "operating", value: "sled_lift", liftType: "other" });
    expect(liftKind({ aerialway: "railway" }, false)).toMatchObject({ liftType: "other" }); // `railway` is the type of trains only
  });

  it("drops aerialway values that are no lift: nodes, freight, rides", () => {
    for (const v of ["pylon", "station", "goods", "zip_line", "zipline", "canopy", "no"]) expect(liftKind({ aerialway: v }, true), v).toBeNull();
  });

  it("keeps a lifecycle-tagged lift with its status", () => {
    expect(liftKind({ "disused:aerialway": "chair_lift" }, false)).toEqual({ status: "disused", value: "chair_lift", liftType: "chair_lift" });
    expect(liftKind({ aerialway: "construction", construction: "gondola" }, false)).toMatchObject({ status: "construction", liftType: "gondola" });
  });

  it("makes railway=funicular a lift anywhere, other railways only in a site relation", () => {
    expect(liftKind({ railway: "funicular" }, false)).toMatchObject({ liftType: "funicular" });
    expect(liftKind({ railway: "narrow_gauge" }, true)).toMatchObject({ value: "narrow_gauge", liftType: "railway" });
    expect(liftKind({ railway: "narrow_gauge" }, false)).toBeNull();
    expect(liftKind({ railway: "subway" }, true)).toMatchObject({ liftType: "railway" });
    expect(liftKind({ railway: "narrow_gauge", rack: "riggenbach" }, true)).toMatchObject({ liftType: "railway" });
    for (const v of ["platform", "rack", "miniature"]) expect(liftKind({ railway: v }, true), v).toBeNull();
  });

  it("drops ways not for passengers: no passengers, no access, no one on foot, freight", () => {
    const closed = <Tags[]>[
      { passenger: "no" }, { access: "no" }, { access: "forestry" }, { foot: "no" }, { foot: "private" }, { usage: "freight" }, { usage: "industrial" },
    ];
    for (const tags of closed) expect(liftKind({ aerialway: "cable_car", ...tags }, true), JSON.stringify(tags)).toBeNull();
    expect(liftKind({ railway: "narrow_gauge", "railway:traffic_mode": "freight" }, true)).toBeNull();
    expect(liftKind({ railway: "narrow_gauge", "railway:traffic_mode": "passenger" }, true)).toMatchObject({ liftType: "railway" });
  });

  it("keeps a private lift (access=private): it still carries skiers", () => {
    expect(liftKind({ aerialway: "chair_lift", access: "private" }, false)).toEqual({ status: "operating", value: "chair_lift", liftType: "chair_lift" });
    expect(liftKind({ aerialway: "t-bar", foot: "yes", access: "private" }, false)).toMatchObject({ liftType: "t-bar" });
  });

  it("reads station elevations from the way's aerialway=station nodes only, in the way's order", () => {
    const nodes = new Map<number, Tags>([
      [1, { aerialway: "station", ele: "1500" }], [2, { aerialway: "pylon", ele: "1700" }], [3, { aerialway: "station", ele: "2100 m" }],
      [4, { aerialway: "station" }],
    ]);
    expect(stationElevations([3, 2, 1, 4, 5], nodes)).toEqual([2100, 1500]);
  });
});
