import { bboxOf, wkbLineString, wkbMultiPolygon, wkbPoint, wkbPolygon, type BBox } from "./geo.ts";
import { DIFFICULTIES, LIFT_TYPES, round, type SkiAreaStats, type SkiModel } from "./ski-model.ts";
import type { Column, GeoColumnInfo, Table } from "./tables.ts";

/** The output files of analyze (names fixed by the product brief) and their schemas. */
export const OUTPUT_FILES = {
  skiAreas: "ski_areas.parquet",
  lifts: "lifts.parquet",
  pistes: "pistes.parquet",
  pois: "osm_near_winter_sports.parquet",
  analyzedParquet: "ski_areas_analyzed.parquet",
  analyzedCsv: "ski_areas_analyzed.csv",
} as const;

export const SUMMARY_FILE = "_summary.json";

export const ANALYZED_COLUMNS: Column[] = [
  { name: "id", type: "VARCHAR" },
  { name: "name", type: "VARCHAR" },
  { name: "lat", type: "DOUBLE" },
  { name: "lon", type: "DOUBLE" },
  { name: "area_km2", type: "DOUBLE" },
  { name: "lift_count", type: "INTEGER" },
  { name: "lift_length_km", type: "DOUBLE" },
  { name: "piste_count", type: "INTEGER" },
  { name: "downhill_km", type: "DOUBLE" },
  { name: "nordic_km", type: "DOUBLE" },
  ...DIFFICULTIES.map((d): Column => ({ name: `downhill_km_${d}`, type: "DOUBLE" })),
  { name: "downhill_km_unknown", type: "DOUBLE" },
  { name: "poi_count", type: "INTEGER" },
  { name: "sources", type: "VARCHAR" },
  { name: "osm_ids", type: "VARCHAR" },
  { name: "status", type: "VARCHAR" },
  { name: "country", type: "VARCHAR" },
  { name: "group_id", type: "VARCHAR" },
  { name: "group_name", type: "VARCHAR" },
  { name: "skitour_km", type: "DOUBLE" },
  { name: "sled_km", type: "DOUBLE" },
  { name: "snow_park_km", type: "DOUBLE" },
  { name: "lift_capacity_pph", type: "INTEGER" },
  { name: "lift_station_ele_max_m", type: "DOUBLE" },
  { name: "lift_station_ele_min_m", type: "DOUBLE" },
  ...LIFT_TYPES.flatMap((t): Column[] => [
    { name: `lift_count_${liftColumn(t)}`, type: "INTEGER" },
    { name: `lift_km_${liftColumn(t)}`, type: "DOUBLE" },
  ]),
];

/** A lift type as a column-name suffix (`t-bar` → `t_bar`). */
export function liftColumn(type: string): string {
  return type.replaceAll("-", "_");
}

/** One ski_areas_analyzed row, in ANALYZED_COLUMNS' order. */
function analyzedRow(s: SkiAreaStats): (string | number | null)[] {
  return [
    s.id, s.name, s.lat, s.lon, s.area_km2, s.lift_count, s.lift_length_km, s.piste_count, s.downhill_km, s.nordic_km,
    ...DIFFICULTIES.map((d) => s.downhill_km_by_difficulty[d]), s.downhill_km_by_difficulty.unknown,
    s.poi_count, s.sources, s.osm_ids, s.status, s.country, s.group_id, s.group_name,
    s.skitour_km, s.sled_km, s.snow_park_km, s.lift_capacity_pph, s.lift_station_ele_max_m, s.lift_station_ele_min_m,
    ...LIFT_TYPES.flatMap((t) => [s.lift_count_by_type[t], s.lift_km_by_type[t]]),
  ];
}

export interface Summary {
  counts: { ski_areas: number; lifts: number; pistes: number; osm_near_winter_sports: number };
  lift_length_km: number;
  downhill_km: number;
  nordic_km: number;
  assigned: { lifts: number; pistes: number };
  /** Lifts and pistes with a lifecycle status (disused, proposed, …): in the tables, in no statistic. */
  inactive: { lifts: number; pistes: number };
  warnings: number;
}

export interface GeoTable {
  table: Table;
  geo: GeoColumnInfo;
}

/**
 * The output tables, each built when asked (so that a caller writing them one by one holds one table's rows and
 * WKB at a time, not all of them), and the summary.
 */
export interface OutputTables {
  skiAreas(): GeoTable;
  lifts(): GeoTable;
  pistes(): GeoTable;
  pois(): GeoTable;
  analyzed(): Table;
  summary: Summary;
}

function geoInfo(types: Set<string>, box: BBox | undefined): GeoColumnInfo {
  return {
    column: "geometry",
    geometryTypes: [...types].sort(),
    bbox: box && Number.isFinite(box.minLon) ? [box.minLon, box.minLat, box.maxLon, box.maxLat] : null,
  };
}

const km = (x: number | null) => (x === null ? null : round(x, 6));

export function buildTables(model: SkiModel): OutputTables {
  // ski_areas.parquet
  const skiAreas = (): GeoTable => {
    let box: BBox | undefined;
    const types = new Set<string>();
    const areaRows = model.skiAreas.map((a) => {
      let geometry: Uint8Array | null = null;
      if (a.footprint.kind === "polygon" || a.footprint.kind === "member_hull") {
        geometry = wkbMultiPolygon(a.footprint.polygons);
        types.add("MultiPolygon");
        for (const p of a.footprint.polygons) box = bboxOf(p.outer, box);
      } else if (a.lon !== null && a.lat !== null) {
        geometry = wkbPoint(a.lon, a.lat);
        types.add("Point");
        box = bboxOf([a.lon, a.lat], box);
      }
      return [
        a.id, a.osmType, a.osmId, a.name, a.sources.join(","), a.osmIds.join(","), a.footprint.kind,
        a.areaKm2 === null ? null : round(a.areaKm2, 6),
        a.lat === null ? null : round(a.lat, 7), a.lon === null ? null : round(a.lon, 7), geometry,
      ];
    });
    return {
      table: {
        columns: [
          { name: "id", type: "VARCHAR" }, { name: "osm_type", type: "VARCHAR" }, { name: "osm_id", type: "BIGINT" },
          { name: "name", type: "VARCHAR" }, { name: "sources", type: "VARCHAR" }, { name: "osm_ids", type: "VARCHAR" },
          { name: "footprint", type: "VARCHAR" }, { name: "area_km2", type: "DOUBLE" },
          { name: "lat", type: "DOUBLE" }, { name: "lon", type: "DOUBLE" }, { name: "geometry", type: "BLOB" },
        ] satisfies Column[],
        rows: areaRows,
      },
      geo: geoInfo(types, box),
    };
  };

  // lifts.parquet
  const lifts = (): GeoTable => {
    let box: BBox | undefined;
    return {
      table: {
        columns: [
          { name: "id", type: "VARCHAR" }, { name: "osm_id", type: "BIGINT" }, { name: "name", type: "VARCHAR" },
          { name: "aerialway", type: "VARCHAR" }, { name: "lift_type", type: "VARCHAR" }, { name: "status", type: "VARCHAR" },
          { name: "length_km", type: "DOUBLE" },
          { name: "capacity", type: "INTEGER" }, { name: "occupancy", type: "INTEGER" },
          { name: "ski_area_id", type: "VARCHAR" }, { name: "assigned_by", type: "VARCHAR" }, { name: "geometry", type: "BLOB" },
        ] satisfies Column[],
        rows: model.lifts.map((l) => {
          box = bboxOf(l.coords, box);
          return [l.id, l.osmId, l.name, l.aerialway, l.liftType, l.status, km(l.lengthKm), l.capacity, l.occupancy, l.skiAreaId, l.assignedBy, wkbLineString(l.coords)];
        }),
      },
      geo: geoInfo(new Set(model.lifts.length ? ["LineString"] : []), box),
    };
  };

  // pistes.parquet
  const pistes = (): GeoTable => {
    let box: BBox | undefined;
    const types = new Set<string>();
    return {
      table: {
        columns: [
          { name: "id", type: "VARCHAR" }, { name: "osm_id", type: "BIGINT" }, { name: "name", type: "VARCHAR" },
          { name: "piste_type", type: "VARCHAR" }, { name: "difficulty", type: "VARCHAR" }, { name: "grooming", type: "VARCHAR" },
          { name: "status", type: "VARCHAR" }, { name: "route_id", type: "BIGINT" },
          { name: "is_area", type: "BOOLEAN" }, { name: "length_km", type: "DOUBLE" }, { name: "area_km2", type: "DOUBLE" },
          { name: "ski_area_id", type: "VARCHAR" }, { name: "assigned_by", type: "VARCHAR" }, { name: "geometry", type: "BLOB" },
        ] satisfies Column[],
        rows: model.pistes.map((p) => {
          box = bboxOf(p.coords, box);
          types.add(p.isArea ? "Polygon" : "LineString");
          const geometry = p.isArea ? wkbPolygon({ outer: p.coords, inners: [] }) : wkbLineString(p.coords);
          return [p.id, p.osmId, p.name, p.pisteType, p.difficulty, p.grooming, p.status, p.routeId, p.isArea, km(p.lengthKm), km(p.areaKm2), p.skiAreaId, p.assignedBy, geometry];
        }),
      },
      geo: geoInfo(types, box),
    };
  };

  // osm_near_winter_sports.parquet
  const pois = (): GeoTable => {
    let box: BBox | undefined;
    return {
      table: {
        columns: [
          { name: "id", type: "VARCHAR" }, { name: "osm_type", type: "VARCHAR" }, { name: "osm_id", type: "BIGINT" },
          { name: "category", type: "VARCHAR" }, { name: "name", type: "VARCHAR" },
          { name: "ski_area_id", type: "VARCHAR" }, { name: "distance_km", type: "DOUBLE" },
          { name: "lat", type: "DOUBLE" }, { name: "lon", type: "DOUBLE" }, { name: "tags", type: "VARCHAR" },
          { name: "geometry", type: "BLOB" },
        ] satisfies Column[],
        rows: model.pois.map((p) => {
          box = bboxOf([p.lon, p.lat], box);
          const tags = JSON.stringify(Object.fromEntries(Object.entries(p.tags).sort(([a], [b]) => (a < b ? -1 : 1))));
          return [p.id, p.osmType, p.osmId, p.category, p.name, p.skiAreaId, km(p.distanceKm), round(p.lat, 7), round(p.lon, 7), tags, wkbPoint(p.lon, p.lat)];
        }),
      },
      geo: geoInfo(new Set(model.pois.length ? ["Point"] : []), box),
    };
  };

  const analyzed = (): Table => ({
    columns: ANALYZED_COLUMNS,
    rows: model.stats.map(analyzedRow),
  });

  const summary: Summary = {
    counts: {
      ski_areas: model.skiAreas.length,
      lifts: model.lifts.length,
      pistes: model.pistes.length,
      osm_near_winter_sports: model.pois.length,
    },
    lift_length_km: model.totals.liftKm,
    downhill_km: model.totals.downhillKm,
    nordic_km: model.totals.nordicKm,
    assigned: {
      lifts: model.lifts.filter((l) => l.skiAreaId !== null).length,
      pistes: model.pistes.filter((p) => p.skiAreaId !== null).length,
    },
    inactive: {
      lifts: model.lifts.filter((l) => l.status !== "operating").length,
      pistes: model.pistes.filter((p) => p.status !== "operating").length,
    },
    warnings: model.warnings.length,
  };
  return { skiAreas, lifts, pistes, pois, analyzed, summary };
}
