import { polygonAreaKm2, type Polygon } from "../geo.ts";
import { memberFootprint, polygonFootprint } from "../model/footprint.ts";
import type { SiteMembers } from "../model/site-relations.ts";
import type { Lift, Piste, SkiArea } from "../model/types.ts";
import type { OsmData } from "../osm-data.ts";
import { kmToDegLat } from "../synthetic-osm.ts";

/**
 * Small in-memory inputs for the unit tests of model/: ski areas, lifts and pistes built straight from coordinates,
 * no OSM file. Lines run due north, so a line of `km` is `km` long (haversine along a meridian).
 */

/** Tyrol (Austria): far from any border. */
export const LON = 11.3, LAT = 47.1;

/** A line due north from (lon, lat), `km` long, with `vertices` evenly spaced points. */
export function northCoords(lon: number, lat: number, km: number, vertices = 2): Float64Array {
  const c = new Float64Array(vertices * 2);
  for (let i = 0; i < vertices; i++) {
    c[2 * i] = lon;
    c[2 * i + 1] = lat + (kmToDegLat(km) * i) / (vertices - 1);
  }
  return c;
}

/** A lat/lon rectangle as a polygon, counter-clockwise. */
export function rect(lon0: number, lat0: number, lon1: number, lat1: number): Polygon {
  return { outer: Float64Array.of(lon0, lat0, lon1, lat0, lon1, lat1, lon0, lat1, lon0, lat0), inners: [] };
}

function skiArea(id: string, located: { footprint: SkiArea["footprint"]; center: [number, number] | null }, areaKm2: number | null): SkiArea {
  const [osmType, osmId] = id.split("/");
  return {
    id, osmType: osmType as SkiArea["osmType"], osmId: Number(osmId), name: id, sources: [], osmIds: [id],
    footprint: located.footprint, areaKm2, lon: located.center?.[0] ?? null, lat: located.center?.[1] ?? null,
    status: "operating", country: null, groupId: null, groupName: null,
  };
}

/** A ski area drawn as polygons. */
export function polygonArea(id: string, ...polygons: Polygon[]): SkiArea {
  return skiArea(id, polygonFootprint(polygons), polygons.reduce((s, p) => s + polygonAreaKm2(p), 0));
}

/** A ski area mapped as a site relation whose member ways have these coordinates (its footprint: their hull). */
export function memberArea(id: string, ...lines: Float64Array[]): { area: SkiArea; members: SiteMembers; data: Pick<OsmData, "ways" | "nodeLocation"> } {
  const ways = new Map(lines.map((coords, i) => [i + 1, { id: i + 1, tags: {}, refs: [], coords }]));
  const members: SiteMembers = { ways: new Set(ways.keys()), nodes: new Set(), relations: new Set(), childSites: new Set() };
  const data = { ways, nodeLocation: () => undefined };
  return { area: skiArea(id, memberFootprint(members, data), null), members, data };
}

export function lift(osmId: number, coords: Float64Array, over: Partial<Lift> = {}): Lift {
  return {
    id: `way/${osmId}`, osmId, name: null, aerialway: "chair_lift", liftType: "chair_lift", status: "operating",
    lengthKm: 0, capacity: null, occupancy: null, stationEles: [], skiAreaId: null, assignedBy: null, coords, ...over,
  };
}

export function piste(osmId: number, coords: Float64Array, over: Partial<Piste> = {}): Piste {
  const types = over.types ?? ["downhill"];
  return {
    id: `way/${osmId}`, osmId, name: null, pisteType: types.join(";"), types, difficulty: null, grooming: null,
    status: "operating", routeId: null, isArea: false, lengthKm: null, areaKm2: null, skiAreaId: null, assignedBy: null,
    coords, ...over,
  };
}
