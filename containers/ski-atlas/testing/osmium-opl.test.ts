import { describe, expect, it } from "vitest";
import { OsmData } from "../osm-data.ts";
import { parseOplLine } from "./osmium-opl.ts";

describe("osmium's OPL output as OsmData (the PBF reader's oracle)", () => {
  it("parses OPL with escapes, unsorted nodes and missing locations", () => {
    const d = new OsmData();
    for (const line of [
      "n2 Tname=Caf%e9%%20%Bar,amenity=cafe x1.5 y2.5",
      "n1 T x1 y2",
      "n3 T x y",
      "w10 Taerialway=chair_lift Nn1,n2,n3",
      "r20 Tsite=piste Mw10@,n1@station,r21@",
    ]) parseOplLine(line, d);
    d.finish();
    expect(d.taggedNodes[0].tags).toEqual({ name: "Café Bar", amenity: "cafe" });
    expect(Array.from(d.ways.get(10)!.coords)).toEqual([1, 2, 1.5, 2.5]);
    expect(d.relations.get(20)!.members[1]).toEqual({ type: "n", ref: 1, role: "station" });
  });
});
