import { haversineKm } from "../geo.ts";
import { groupBy } from "./group-by.ts";
import { LIFT_TYPES, type LiftType } from "./lift-rule.ts";
import { DIFFICULTIES, harder, type Difficulty } from "./piste-rule.ts";
import { noFootprint } from "./footprint.ts";
import { SegmentLength, SegmentSet } from "./segments.ts";
import type { Status } from "./status.ts";
import type { Lift, Piste, RegionTotals, SkiArea, SkiAreaStats } from "./types.ts";

/**
 * The statistics per ski area (ski_areas_analyzed) and for the region. Only operating lifts and pistes count:
 * lifecycle-tagged ones are listed, never counted (model/status.ts). Each segment counts once
 * (openskidata-processor `MergeOverlappingRuns.ts`): a segment (two consecutive vertices, either direction) shared by
 * two ways counts once per resort and column, so a run mapped twice is not two runs.
 */

/** Piste types with a km column of their own in ski_areas_analyzed (`snow_park` → `snow_park_km`, …). */
const PISTE_KM_TYPES = ["downhill", "nordic", "skitour", "sled", "snow_park"] as const;

/** `x` rounded to `digits` decimals, for published figures (statistics: km to 3 digits, a metre; coordinates to 7, OSM's own precision). */
export const round = (x: number, digits: number) => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};

/** Statistics of every ski area (POIs counted by `poiCount`), and the region's totals. */
export function skiAreaStats(
  skiAreas: readonly SkiArea[],
  lifts: readonly Lift[],
  pistes: readonly Piste[],
  poiCount: ReadonlyMap<string, number>,
): { stats: SkiAreaStats[]; totals: RegionTotals } {
  const active = <T extends { status: Status }>(xs: readonly T[]) => xs.filter((x) => x.status === "operating");
  const liftsOf = groupBy(active(lifts), (l) => l.skiAreaId), pistesOf = groupBy(active(pistes), (p) => p.skiAreaId);
  const stats = skiAreas.map((area) => areaStats(area, liftsOf.get(area.id) ?? [], pistesOf.get(area.id) ?? [], poiCount.get(area.id) ?? 0));
  // The region as one resort holding every operating lift and piste: a segment two resorts share counts once.
  const region: SkiArea = {
    id: "", osmType: "relation", osmId: 0, name: null, sources: [], osmIds: [], footprint: noFootprint(),
    areaKm2: null, lon: null, lat: null, status: "operating", country: null, groupId: null, groupName: null,
  };
  const all = areaStats(region, active(lifts), active(pistes), 0);
  return { stats, totals: { liftKm: all.lift_length_km, downhillKm: all.downhill_km, nordicKm: all.nordic_km } };
}

/** Statistics of one resort from its operating lifts and pistes (lifecycle-tagged ones count nowhere). */
export function areaStats(area: SkiArea, myLifts: readonly Lift[], myPistes: readonly Piste[], poiCount: number): SkiAreaStats {
  // Downhill: each segment once, under the hardest difficulty among the pistes on it (unknown if none has one),
  // so the difficulty columns add up to downhill_km.
  const downhill = new SegmentSet();
  const downhillKmOf: number[] = [], downhillDifficulty: (Difficulty | null)[] = []; // by segment number
  const byType = new Map<string, SegmentLength>(PISTE_KM_TYPES.filter((t) => t !== "downhill").map((t) => [t, new SegmentLength()]));
  for (const p of myPistes) {
    if (p.isArea) continue;
    const c = p.coords;
    for (const t of p.types) byType.get(t)?.add(c);
    if (!p.types.includes("downhill")) continue;
    for (let i = 2; i + 1 < c.length; i += 2) {
      const seg = downhill.add(c[i - 2], c[i - 1], c[i], c[i + 1]);
      if (seg >= 0) downhillDifficulty[seg] = harder(downhillDifficulty[seg], p.difficulty);
      else {
        downhillKmOf.push(haversineKm(c[i - 2], c[i - 1], c[i], c[i + 1]));
        downhillDifficulty.push(p.difficulty);
      }
    }
  }
  const byDifficulty = Object.fromEntries([...DIFFICULTIES, "unknown"].map((d) => [d, 0])) as Record<Difficulty | "unknown", number>;
  let downhillKm = 0;
  for (let seg = 0; seg < downhillKmOf.length; seg++) {
    const km = downhillKmOf[seg];
    downhillKm += km;
    byDifficulty[downhillDifficulty[seg] ?? "unknown"] += km;
  }
  for (const d of Object.keys(byDifficulty) as (Difficulty | "unknown")[]) byDifficulty[d] = round(byDifficulty[d], 3);

  const liftKm = new SegmentLength();
  const count = Object.fromEntries(LIFT_TYPES.map((t) => [t, 0])) as Record<LiftType, number>;
  const typeKm = new Map(LIFT_TYPES.map((t) => [t, new SegmentLength()]));
  let capacity: number | null = null;
  const eles: number[] = [];
  for (const l of myLifts) {
    liftKm.add(l.coords);
    count[l.liftType]++;
    typeKm.get(l.liftType)!.add(l.coords);
    if (l.capacity !== null) capacity = (capacity ?? 0) + l.capacity;
    eles.push(...l.stationEles);
  }
  const kmOf = (t: string) => round(byType.get(t)!.km, 3);
  return {
    id: area.id,
    name: area.name,
    lat: area.lat === null ? null : round(area.lat, 7),
    lon: area.lon === null ? null : round(area.lon, 7),
    area_km2: area.areaKm2 === null ? null : round(area.areaKm2, 4),
    lift_count: myLifts.length,
    lift_length_km: round(liftKm.km, 3),
    piste_count: myPistes.length,
    downhill_km: round(downhillKm, 3),
    nordic_km: kmOf("nordic"),
    downhill_km_by_difficulty: byDifficulty,
    skitour_km: kmOf("skitour"),
    sled_km: kmOf("sled"),
    snow_park_km: kmOf("snow_park"),
    lift_count_by_type: count,
    lift_km_by_type: Object.fromEntries(LIFT_TYPES.map((t) => [t, round(typeKm.get(t)!.km, 3)])) as Record<LiftType, number>,
    lift_capacity_pph: capacity,
    lift_station_ele_max_m: eles.length ? Math.max(...eles) : null,
    lift_station_ele_min_m: eles.length ? Math.min(...eles) : null,
    poi_count: poiCount,
    status: area.status,
    country: area.country,
    group_id: area.groupId,
    group_name: area.groupName,
    sources: area.sources.join(","),
    osm_ids: area.osmIds.join(","),
  };
}
