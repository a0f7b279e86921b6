import { describe, expect, it } from "vitest";
import type { OsmMember, OsmRelation } from "../osm-data.ts";
import { isAgglomeration, resolveMembers, siteRelations } from "./site-relations.ts";

const m = (s: string): OsmMember => ({ type: s[0] as OsmMember["type"], ref: Number(s.slice(1)), role: "" });
const rel = (id: number, tags: Record<string, string>, ...members: string[]): OsmRelation => ({ id, tags, members: members.map(m) });
const index = (...rels: OsmRelation[]) => ({ relations: new Map(rels.map((r) => [r.id, r])) });

describe("site=piste relations", () => {
  it("resolve members recursively through other relations and survive cycles", () => {
    const data = index(rel(1, { site: "piste" }, "w1", "r2"), rel(2, { route: "piste" }, "w2", "r1", "r3"), rel(3, {}, "n5", "r2"));
    const members = resolveMembers(1, data);
    expect([...members.ways].sort()).toEqual([1, 2]);
    expect([...members.nodes]).toEqual([5]);
    expect([...members.relations].sort()).toEqual([2, 3]);
    expect(members.childSites.size).toBe(0);
  });

  it("never descend into another site relation: it is a resort of its own (a child site)", () => {
    const data = index(rel(1, { site: "piste" }, "w1", "r2"), rel(2, { site: "piste" }, "w2"));
    const members = resolveMembers(1, data);
    expect([...members.ways]).toEqual([1]);
    expect([...members.childSites]).toEqual([2]);
  });

  it("make a site listing sites an agglomeration: its children record the lowest-id group; its own ways are no resort's", () => {
    const rels = [
      rel(1, { site: "piste", name: "One" }, "w1"), rel(2, { site: "piste", name: "Two" }, "w2"),
      rel(3, { site: "piste", name: "Group" }, "r1", "r2", "w3"), rel(4, { site: "piste", name: "Other group" }, "r2"),
      rel(5, { route: "piste" }, "w5"),
    ];
    const sites = siteRelations(rels, index(...rels));
    expect([...sites.members.keys()]).toEqual([1, 2, 3, 4]);
    expect([isAgglomeration(sites, 1), isAgglomeration(sites, 3), isAgglomeration(sites, 4)]).toEqual([false, true, true]);
    expect([sites.groupOf.get(1)?.id, sites.groupOf.get(2)?.id, sites.groupOf.get(3)]).toEqual([3, 3, undefined]);
    expect([...sites.resortWays].sort()).toEqual([1, 2]);
  });
});
