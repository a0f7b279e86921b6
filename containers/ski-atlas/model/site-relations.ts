import type { OsmRelation } from "../osm-data.ts";

/**
 * site=piste relations: a resort as the list of its lifts, pistes and nodes. Membership is resolved recursively
 * through other relations (a route=piste relation groups a trail's ways), never into another site relation (an
 * agglomeration's children keep their members); cycles are harmless.
 */

export const isSiteRelation = (rel: OsmRelation): boolean => rel.tags.site === "piste";

export interface SiteMembers {
  ways: Set<number>;
  nodes: Set<number>;
  relations: Set<number>;
  /** Other site=piste relations listed: resorts of their own (this one is then an agglomeration). */
  childSites: Set<number>;
}

/**
 * Ways, nodes and relations reachable from a relation through its members, recursively (cycle-safe). Another
 * site=piste relation among them is listed in `childSites` and not descended into.
 */
export function resolveMembers(relId: number, data: { relations: ReadonlyMap<number, OsmRelation> }): SiteMembers {
  const ways = new Set<number>(), nodes = new Set<number>(), relations = new Set<number>(), childSites = new Set<number>();
  const stack = [relId];
  const seen = new Set<number>([relId]);
  while (stack.length > 0) {
    const rel = data.relations.get(stack.pop()!);
    if (!rel) continue;
    for (const m of rel.members) {
      if (m.type === "n") nodes.add(m.ref);
      else if (m.type === "w") ways.add(m.ref);
      else if (!seen.has(m.ref)) {
        seen.add(m.ref);
        if (data.relations.get(m.ref)?.tags.site === "piste") {
          childSites.add(m.ref);
          continue;
        }
        relations.add(m.ref);
        stack.push(m.ref);
      }
    }
  }
  return { ways, nodes, relations, childSites };
}

export interface Sites {
  /** Members of every site relation, by relation id. */
  members: Map<number, SiteMembers>;
  /** Child site id → its agglomeration (the lowest-id site listing it). */
  groupOf: Map<number, OsmRelation>;
  /** Ways listed by a resort (not by an agglomeration): a railway among them is the resort's own train. */
  resortWays: Set<number>;
}

/**
 * An agglomeration: a site relation listing other site relations (Ski amadé holding its resorts). It is no resort
 * row; each child is its own resort with its own members and records the group (`groupOf`).
 */
export function isAgglomeration(sites: Pick<Sites, "members">, id: number): boolean {
  return (sites.members.get(id)?.childSites.size ?? 0) > 0;
}

/** The site relations of an extract, their members and agglomerations. `relations` in id order. */
export function siteRelations(relations: readonly OsmRelation[], data: { relations: ReadonlyMap<number, OsmRelation> }): Sites {
  const members = new Map<number, SiteMembers>();
  for (const rel of relations) if (isSiteRelation(rel)) members.set(rel.id, resolveMembers(rel.id, data));
  const groupOf = new Map<number, OsmRelation>();
  for (const rel of relations) {
    for (const child of members.get(rel.id)?.childSites ?? []) if (!groupOf.has(child) && members.has(child)) groupOf.set(child, rel);
  }
  const resortWays = new Set<number>();
  for (const [id, m] of members) if (!isAgglomeration({ members }, id)) for (const w of m.ways) resortWays.add(w);
  return { members, groupOf, resortWays };
}
