import type { BBox, Polygon } from "../geo.ts";
import type { Tags } from "../osm-data.ts";
import type { LiftType } from "./lift-rule.ts";
import type { Difficulty } from "./piste-rule.ts";
import type { Status } from "./status.ts";

/** The records the ski model builds: ski areas, lifts, pistes, nearby POIs, and the statistics per ski area. */

/** The rule that attached a lift or piste to its ski area (model/assign.ts). */
export type AssignedBy = "membership" | "polygon" | "proximity";

export interface Footprint {
  kind: "polygon" | "member_hull" | "member_points" | "none";
  polygons: Polygon[];
  /** For member_points: the distinct points (flat). */
  points: number[];
  bbox: BBox | null;
}

export interface SkiArea {
  id: string;
  osmType: "relation" | "way";
  osmId: number;
  name: string | null;
  /** How it was mapped: "landuse=winter_sports", "site=piste", or both. */
  sources: string[];
  /** Every OSM object merged into this row, sorted (the row's own id included). */
  osmIds: string[];
  footprint: Footprint;
  areaKm2: number | null;
  lon: number | null;
  lat: number | null;
  status: Status;
  /** ISO 3166-1 alpha-2 of the country holding the resort's centre (country-coder's boundaries), or null. */
  country: string | null;
  /** The agglomeration (a site=piste relation listing this one) and its name. */
  groupId: string | null;
  groupName: string | null;
}

export interface Lift {
  id: string;
  osmId: number;
  name: string | null;
  aerialway: string;
  liftType: LiftType;
  status: Status;
  lengthKm: number;
  capacity: number | null;
  occupancy: number | null;
  /** `ele` (m) of the way's nodes tagged aerialway=station. */
  stationEles: number[];
  skiAreaId: string | null;
  assignedBy: AssignedBy | null;
  coords: Float64Array;
}

export interface Piste {
  id: string;
  osmId: number;
  name: string | null;
  /** Normalized `piste:type` values joined with `;` (`downhill;nordic`). */
  pisteType: string;
  types: string[];
  difficulty: Difficulty | null;
  grooming: string | null;
  status: Status;
  /** The route=piste relation it inherited tags from (lowest id), or null. */
  routeId: number | null;
  isArea: boolean;
  lengthKm: number | null;
  areaKm2: number | null;
  skiAreaId: string | null;
  assignedBy: AssignedBy | null;
  coords: Float64Array;
}

export interface Poi {
  id: string;
  osmType: "node" | "way";
  osmId: number;
  category: string;
  name: string | null;
  lon: number;
  lat: number;
  skiAreaId: string;
  distanceKm: number;
  tags: Tags;
}

export interface SkiAreaStats {
  id: string;
  name: string | null;
  lat: number | null;
  lon: number | null;
  area_km2: number | null;
  lift_count: number;
  lift_length_km: number;
  piste_count: number;
  downhill_km: number;
  nordic_km: number;
  downhill_km_by_difficulty: Record<Difficulty | "unknown", number>;
  skitour_km: number;
  sled_km: number;
  snow_park_km: number;
  lift_count_by_type: Record<LiftType, number>;
  lift_km_by_type: Record<LiftType, number>;
  lift_capacity_pph: number | null;
  lift_station_ele_max_m: number | null;
  lift_station_ele_min_m: number | null;
  poi_count: number;
  status: Status;
  country: string | null;
  group_id: string | null;
  group_name: string | null;
  sources: string;
  osm_ids: string;
}

/** Region totals (a segment shared by two resorts' lines once), for the summary. */
export interface RegionTotals {
  liftKm: number;
  downhillKm: number;
  nordicKm: number;
}

export interface SkiModel {
  skiAreas: SkiArea[];
  lifts: Lift[];
  pistes: Piste[];
  pois: Poi[];
  stats: SkiAreaStats[];
  totals: RegionTotals;
  warnings: string[];
}

/** What buildSkiAreas gives: everything but the POIs and the statistics (which count the POIs). */
export interface SkiAreasModel {
  skiAreas: SkiArea[];
  lifts: Lift[];
  pistes: Piste[];
  warnings: string[];
}
