import { expandBBox, inBBox, pointInPolygon, pointInRing, pointRingDistanceKm, type BBox } from "../geo.ts";
import { BoxIndex } from "./box-index.ts";
import { footprintDistanceKm } from "./footprint.ts";
import { isArea } from "./lifts-and-pistes.ts";
import { inPolygons } from "./polygon-sets.ts";
import type { SiteMembers } from "./site-relations.ts";
import { NEAR_KM, POLYGON_NEAR_KM } from "./thresholds.ts";
import type { AssignedBy, Lift, Piste, SkiArea } from "./types.ts";

/**
 * Assignment of each lift and piste (every status) to a ski area, by the first rule that applies:
 * 1. membership (recursive) in a site relation; the lowest area id if several;
 * 2. polygon: more than half of its vertices inside the polygon (exactly half: its representative point decides);
 *    the smallest polygon wins;
 * 3. proximity, nearest wins (ties: lowest area id): its representative point within NEAR_KM of a polygon-less
 *    resort's member geometry, or one of its ends within POLYGON_NEAR_KM of a resort's polygon. Never into another
 *    resort: a feature with a vertex inside resort B's polygon can only be attached to B.
 * Otherwise it stays unassigned. *Why:* real data is incomplete: many lifts and pistes belong to no relation, and
 * most resorts worldwide are mapped only as polygons.
 */
export function assignToSkiAreas(
  skiAreas: readonly SkiArea[],
  membersOf: ReadonlyMap<string, SiteMembers>,
  features: readonly (Lift | Piste)[],
  pointOf: ReadonlyMap<number, [number, number]>,
): void {
  const rules = new AssignmentRules(skiAreas, membersOf);
  for (const f of features) {
    const [areaId, by] = rules.assign(f, pointOf.get(f.osmId)!);
    if (areaId !== undefined) {
      f.skiAreaId = areaId;
      f.assignedBy = by;
    }
  }
}

/** The three rules over one set of ski areas (their indexes built once). */
class AssignmentRules {
  private readonly memberOf = new Map<number, string>();
  private readonly polygonAreas: SkiArea[];
  private readonly otherAreas: SkiArea[];
  private readonly nearBoxes: Map<string, BBox>;
  private readonly polygonNearBoxes: BBox[];
  // Grid indexes over the areas' boxes: candidates come back in the lists' order, so ties resolve as a scan would.
  private readonly polygonIndex: BoxIndex;
  private readonly polygonNearIndex: BoxIndex;
  private readonly nearIndex: BoxIndex;

  /** `skiAreas` sorted by id (ties between rules' candidates go to the lowest id). */
  constructor(skiAreas: readonly SkiArea[], membersOf: ReadonlyMap<string, SiteMembers>) {
    for (const area of skiAreas) {
      for (const w of membersOf.get(area.id)?.ways ?? []) if (!this.memberOf.has(w)) this.memberOf.set(w, area.id);
    }
    this.polygonAreas = skiAreas.filter((a) => a.footprint.kind === "polygon");
    this.otherAreas = skiAreas.filter((a) => a.footprint.kind === "member_hull" || a.footprint.kind === "member_points");
    this.nearBoxes = new Map(this.otherAreas.map((a) => [a.id, expandBBox(a.footprint.bbox!, NEAR_KM)]));
    this.polygonNearBoxes = this.polygonAreas.map((a) => expandBBox(a.footprint.bbox!, POLYGON_NEAR_KM));
    this.polygonIndex = new BoxIndex(this.polygonAreas.map((a) => a.footprint.bbox!));
    this.polygonNearIndex = new BoxIndex(this.polygonNearBoxes);
    this.nearIndex = new BoxIndex(this.otherAreas.map((a) => this.nearBoxes.get(a.id)!));
  }

  /** The area a feature goes to and the rule that sent it, or [undefined] when none applies. `point`: its representative point. */
  assign(f: Lift | Piste, point: [number, number]): [string, AssignedBy] | [undefined] {
    const member = this.byMembership(f.osmId);
    if (member) return [member, "membership"];
    const { areaId, entered } = this.byPolygon(f, point);
    if (areaId) return [areaId, "polygon"];
    const near = this.byProximity(f.coords, point, entered);
    return near ? [near, "proximity"] : [undefined];
  }

  /** Rule 1: the first (lowest-id) ski area whose site relation lists the way. */
  byMembership(wayId: number): string | undefined {
    return this.memberOf.get(wayId);
  }

  /**
   * Rule 2: the smallest polygon holding more than half of the feature's vertices (an area piste's closing vertex
   * counts once; exactly half: the representative point decides). `entered`: every polygon resort the feature has a
   * vertex in (rule 3 may attach it to no other).
   */
  byPolygon(f: Lift | Piste, [mx, my]: [number, number]): { areaId?: string; entered: Set<string> } {
    const c = f.coords;
    const n = c.length / 2 - (isArea(f) ? 1 : 0);
    let best: SkiArea | undefined;
    const entered = new Set<string>();
    for (const k of this.polygonIndex.queryCoords(c, n)) {
      const area = this.polygonAreas[k];
      const b = area.footprint.bbox!;
      let inside = 0;
      for (let i = 0; i < n * 2; i += 2) if (inBBox(c[i], c[i + 1], b) && inPolygons(c[i], c[i + 1], area.footprint.polygons)) inside++;
      if (inside > 0) entered.add(area.id);
      const ok = inside * 2 > n || (inside * 2 === n && inside > 0 && inPolygons(mx, my, area.footprint.polygons));
      if (ok && (!best || area.areaKm2! < best.areaKm2!)) best = area;
    }
    return { areaId: best?.id, entered };
  }

  /**
   * Rule 3: the nearest of the polygon-less resorts whose member geometry lies within NEAR_KM of the representative
   * point, and the polygon resorts within POLYGON_NEAR_KM of an end (an end inside counts 0; an end in a hole does
   * not count: a hole is cut out of the resort on purpose); never a resort other than one the feature `entered`.
   */
  byProximity(c: Float64Array, [mx, my]: [number, number], entered: ReadonlySet<string>): string | undefined {
    const nearest: { area?: SkiArea; km: number } = { km: Infinity };
    const consider = (area: SkiArea, d: number) => {
      if (d >= nearest.km || [...entered].some((id) => id !== area.id)) return;
      nearest.km = d;
      nearest.area = area;
    };
    for (const k of this.nearIndex.queryPoint(mx, my)) {
      const area = this.otherAreas[k];
      if (!inBBox(mx, my, this.nearBoxes.get(area.id)!)) continue;
      const d = footprintDistanceKm(mx, my, area.footprint);
      if (d <= NEAR_KM) consider(area, d);
    }
    const ends = [c[0], c[1], c[c.length - 2], c[c.length - 1]];
    for (const k of this.polygonNearIndex.queryCoords(ends, 2)) {
      const area = this.polygonAreas[k];
      let d = Infinity;
      for (let i = 0; i < 4; i += 2) {
        if (!inBBox(ends[i], ends[i + 1], this.polygonNearBoxes[k])) continue;
        for (const p of area.footprint.polygons) {
          if (pointInPolygon(ends[i], ends[i + 1], p)) d = 0;
          else if (!pointInRing(ends[i], ends[i + 1], p.outer)) d = Math.min(d, pointRingDistanceKm(ends[i], ends[i + 1], p.outer));
        }
      }
      if (d <= POLYGON_NEAR_KM) consider(area, d);
    }
    return nearest.area?.id;
  }
}
