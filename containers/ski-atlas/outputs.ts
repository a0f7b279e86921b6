import { bboxOf, wkbLineString, wkbMultiPolygon, wkbPoint, wkbPolygon, type BBox } from "./geo.ts";
import { DIFFICULTIES, round, type SkiModel } from "./ski-model.ts";
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
  { name: "poi_count", type: "INTEGER" },
  { name: "sources", type: "VARCHAR" },
  { name: "osm_ids", type: "VARCHAR" },
];

export interface Summary {
  counts: { ski_areas: number; lifts: number; pistes: number; osm_near_winter_sports: number };
  lift_length_km: number;
  downhill_km: number;
  nordic_km: number;
  assigned: { lifts: number; pistes: number };
  warnings: number;
}

export interface OutputTables {
  skiAreas: { table: Table; geo: GeoColumnInfo };
  lifts: { table: Table; geo: GeoColumnInfo };
  pistes: { table: Table; geo: GeoColumnInfo };
  pois: { table: Table; geo: GeoColumnInfo };
  analyzed: Table;
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
  let box: BBox | undefined;
  let types = new Set<string>();
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
  const skiAreas = {
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

  // lifts.parquet
  box = undefined;
  const lifts = {
    table: {
      columns: [
        { name: "id", type: "VARCHAR" }, { name: "osm_id", type: "BIGINT" }, { name: "name", type: "VARCHAR" },
        { name: "aerialway", type: "VARCHAR" }, { name: "length_km", type: "DOUBLE" },
        { name: "capacity", type: "INTEGER" }, { name: "occupancy", type: "INTEGER" },
        { name: "ski_area_id", type: "VARCHAR" }, { name: "assigned_by", type: "VARCHAR" }, { name: "geometry", type: "BLOB" },
      ] satisfies Column[],
      rows: model.lifts.map((l) => {
        box = bboxOf(l.coords, box);
        return [l.id, l.osmId, l.name, l.aerialway, km(l.lengthKm), l.capacity, l.occupancy, l.skiAreaId, l.assignedBy, wkbLineString(l.coords)];
      }),
    },
    geo: geoInfo(new Set(model.lifts.length ? ["LineString"] : []), box),
  };

  // pistes.parquet
  box = undefined;
  types = new Set();
  const pistes = {
    table: {
      columns: [
        { name: "id", type: "VARCHAR" }, { name: "osm_id", type: "BIGINT" }, { name: "name", type: "VARCHAR" },
        { name: "piste_type", type: "VARCHAR" }, { name: "difficulty", type: "VARCHAR" }, { name: "grooming", type: "VARCHAR" },
        { name: "is_area", type: "BOOLEAN" }, { name: "length_km", type: "DOUBLE" }, { name: "area_km2", type: "DOUBLE" },
        { name: "ski_area_id", type: "VARCHAR" }, { name: "assigned_by", type: "VARCHAR" }, { name: "geometry", type: "BLOB" },
      ] satisfies Column[],
      rows: model.pistes.map((p) => {
        box = bboxOf(p.coords, box);
        types.add(p.isArea ? "Polygon" : "LineString");
        const geometry = p.isArea ? wkbPolygon({ outer: p.coords, inners: [] }) : wkbLineString(p.coords);
        return [p.id, p.osmId, p.name, p.pisteType, p.difficulty, p.grooming, p.isArea, km(p.lengthKm), km(p.areaKm2), p.skiAreaId, p.assignedBy, geometry];
      }),
    },
    geo: geoInfo(types, box),
  };

  // osm_near_winter_sports.parquet
  box = undefined;
  const pois = {
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

  const analyzed: Table = {
    columns: ANALYZED_COLUMNS,
    rows: model.stats.map((s) => [
      s.id, s.name, s.lat, s.lon, s.area_km2, s.lift_count, s.lift_length_km, s.piste_count, s.downhill_km, s.nordic_km,
      ...DIFFICULTIES.map((d) => s.downhill_km_by_difficulty[d]), s.poi_count, s.sources, s.osm_ids,
    ]),
  };

  const total = (xs: (number | null)[]) => round(xs.reduce<number>((s, x) => s + (x ?? 0), 0), 3);
  const summary: Summary = {
    counts: {
      ski_areas: model.skiAreas.length,
      lifts: model.lifts.length,
      pistes: model.pistes.length,
      osm_near_winter_sports: model.pois.length,
    },
    lift_length_km: total(model.lifts.map((l) => l.lengthKm)),
    downhill_km: total(model.pistes.filter((p) => p.pisteType === "downhill").map((p) => p.lengthKm)),
    nordic_km: total(model.pistes.filter((p) => p.pisteType === "nordic").map((p) => p.lengthKm)),
    assigned: {
      lifts: model.lifts.filter((l) => l.skiAreaId !== null).length,
      pistes: model.pistes.filter((p) => p.skiAreaId !== null).length,
    },
    warnings: model.warnings.length,
  };
  return { skiAreas, lifts, pistes, pois, analyzed, summary };
}
