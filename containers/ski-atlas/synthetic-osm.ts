import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { OsmData, type MemberType, type Tags } from "./osm-data.ts";
import { runOsmium, lastLine } from "./osmium.ts";

/**
 * A small synthetic region ("sample", invented resorts in the Alps around 46.9°N 10.4°E) that exercises every
 * way ski areas are mapped in OSM. Used by the tests and by `npm start` (the default offline region).
 *
 * Lifts and pistes run due north, so their haversine length equals the declared km exactly (up to the 1e-7°
 * rounding of OSM coordinates); ski area polygons are lat/lon rectangles, whose area on the sphere is
 * R²·Δλ·(sin φ1 − sin φ0). The expected figures below are derived from those declared values and from which
 * resort each feature was built for, independently of the analysis code.
 */

const R_KM = 6371.0088;
const DEG = 180 / Math.PI;
export const kmToDegLat = (km: number) => (km / R_KM) * DEG;
const fix7 = (x: number) => Math.round(x * 1e7) / 1e7;

export interface ExpectedSkiArea {
  /** `relation/<id>` or `way/<id>`. */
  id: string;
  name: string | null;
  /** Every OSM id merged into the row, sorted like the output (relations first, then ways, by number). */
  osmIds: string[];
  sources: string;
  areaKm2: number | null;
  liftCount: number;
  liftKm: number;
  pisteCount: number;
  downhillKm: number;
  nordicKm: number;
  downhillKmByDifficulty: Record<string, number>;
  poiCount: number;
}

export interface SyntheticExpected {
  skiAreas: ExpectedSkiArea[];
  lifts: number;
  liftKm: number;
  pistes: number;
  downhillKm: number;
  /** Pistes that belong to no ski area (inside a polygon's hole, or far from every resort). */
  unassignedPistes: string[];
  /** Area pistes (area=yes): null length. */
  areaPistes: string[];
  /** Lift-like ways that must not be lifts (goods, zip_line). */
  excludedAerialways: string[];
  /** POI id → ski area id and distance (km) for those within 2 km; `excludedPois` lists the rest. */
  pois: Record<string, { skiAreaId: string; distanceKm: number }>;
  excludedPois: string[];
}

/** Builds OSM XML for fixtures (ids from fixed bases, so the same calls give the same file). */
export class OsmBuilder {
  private nextNode = 1_000_001;
  private nextWay = 2_000_001;
  private nextRel = 3_000_001;
  nodes: { id: number; lon: number; lat: number; tags: Tags }[] = [];
  ways: { id: number; refs: number[]; tags: Tags }[] = [];
  rels: { id: number; members: { type: "node" | "way" | "relation"; ref: number; role: string }[]; tags: Tags }[] = [];

  node(lon: number, lat: number, tags: Tags = {}): number {
    const id = this.nextNode++;
    this.nodes.push({ id, lon: fix7(lon), lat: fix7(lat), tags });
    return id;
  }
  way(refs: number[], tags: Tags): number {
    const id = this.nextWay++;
    this.ways.push({ id, refs, tags });
    return id;
  }
  relationId(): number {
    return this.nextRel++;
  }
  relation(id: number, members: { type: "node" | "way" | "relation"; ref: number; role?: string }[], tags: Tags): number {
    this.rels.push({ id, members: members.map((m) => ({ ...m, role: m.role ?? "" })), tags });
    return id;
  }

  /** A line due north from (lon, lat0), `km` long, with `vertices` evenly spaced nodes. */
  northLine(lon: number, lat0: number, km: number, vertices: number, vertexTags?: (i: number, n: number) => Tags): number[] {
    const refs: number[] = [];
    for (let i = 0; i < vertices; i++) refs.push(this.node(lon, lat0 + (kmToDegLat(km) * i) / (vertices - 1), vertexTags?.(i, vertices)));
    return refs;
  }

  /** A closed lat/lon rectangle, counter-clockwise. */
  rect(lon0: number, lat0: number, lon1: number, lat1: number): number[] {
    const a = this.node(lon0, lat0), b = this.node(lon1, lat0), c = this.node(lon1, lat1), d = this.node(lon0, lat1);
    return [a, b, c, d, a];
  }

  /**
   * The fixture held in memory as the model reads it: what `toXml` → `osmium sort` → readPbfFile gives (nodes, ways
   * and relations in id order), without osmium or a file. For unit tests of the model's rules.
   */
  toOsmData(): OsmData {
    const data = new OsmData();
    for (const n of this.nodes) {
      data.addNode(n.id, n.lon, n.lat);
      if (Object.keys(n.tags).length > 0) data.taggedNodes.push({ id: n.id, tags: { ...n.tags }, lon: n.lon, lat: n.lat });
    }
    for (const w of this.ways) data.ways.set(w.id, { id: w.id, tags: { ...w.tags }, refs: [...w.refs], coords: new Float64Array(0) });
    for (const r of [...this.rels].sort((a, b) => a.id - b.id)) {
      const members = r.members.map((m) => ({ type: m.type[0] as MemberType, ref: m.ref, role: m.role }));
      data.relations.set(r.id, { id: r.id, tags: { ...r.tags }, members });
    }
    data.finish();
    return data;
  }

  toXml(): string {
    const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
    const tags = (t: Tags) => Object.entries(t).map(([k, v]) => `    <tag k="${esc(k)}" v="${esc(v)}"/>\n`).join("");
    const attrs = `version="1" timestamp="2024-01-01T00:00:00Z"`;
    let xml = `<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="atlas-pipelines synthetic-osm">\n`;
    for (const n of this.nodes) {
      const t = tags(n.tags);
      xml += `  <node id="${n.id}" ${attrs} lat="${n.lat.toFixed(7)}" lon="${n.lon.toFixed(7)}"${t ? `>\n${t}  </node>\n` : "/>\n"}`;
    }
    for (const w of this.ways) {
      xml += `  <way id="${w.id}" ${attrs}>\n${w.refs.map((r) => `    <nd ref="${r}"/>\n`).join("")}${tags(w.tags)}  </way>\n`;
    }
    for (const r of this.rels) {
      const members = r.members.map((m) => `    <member type="${m.type}" ref="${m.ref}" role="${esc(m.role)}"/>\n`).join("");
      xml += `  <relation id="${r.id}" ${attrs}>\n${members}${tags(r.tags)}  </relation>\n`;
    }
    return xml + `</osm>\n`;
  }
}

/** Area of a lat/lon rectangle on the sphere, km². */
export function rectAreaKm2(lon0: number, lat0: number, lon1: number, lat1: number): number {
  return R_KM * R_KM * (Math.abs(lon1 - lon0) / DEG) * Math.abs(Math.sin(lat1 / DEG) - Math.sin(lat0 / DEG));
}

/** Distance (km) from a point due east of a meridian edge, at the same latitude: along the parallel. Used for
 * POIs placed straight east/west of a polygon edge (the analysis measures the same in a local projection). */
function eastKm(dLonDeg: number, lat: number): number {
  return (R_KM * Math.abs(dLonDeg) * Math.cos(lat / DEG)) / DEG;
}

export interface SyntheticRegion {
  osm: OsmBuilder;
  expected: SyntheticExpected;
}

/** Builds the region's OSM objects and the expected figures. `variant: "no-ski"` keeps only roads, buildings and a cafe. */
export function buildSyntheticRegion(variant: "ski" | "no-ski" = "ski"): SyntheticRegion {
  const b = new OsmBuilder();
  // Unrelated data, present in both variants.
  b.way(b.northLine(10.2, 46.85, 3, 4), { highway: "secondary", name: "Strada del Passo" });
  b.way(b.rect(10.201, 46.86, 10.2015, 46.8603), { building: "yes" });
  b.node(10.2012, 46.865, { amenity: "school", name: "Scuola" });
  b.node(10.205, 46.87, { amenity: "cafe", name: "Caffè del Passo" }); // a POI, but far from any resort
  b.node(10.21, 46.871, { natural: "tree" });
  const empty: SyntheticExpected = {
    skiAreas: [], lifts: 0, liftKm: 0, pistes: 0, downhillKm: 0, unassignedPistes: [], areaPistes: [],
    excludedAerialways: [], pois: {}, excludedPois: [],
  };
  if (variant === "no-ski") return { osm: b, expected: empty };

  const exp = empty;
  const areas = new Map<string, ExpectedSkiArea>();
  const area = (key: string, a: Omit<ExpectedSkiArea, "liftCount" | "liftKm" | "pisteCount" | "downhillKm" | "nordicKm" | "downhillKmByDifficulty" | "poiCount">) => {
    areas.set(key, { ...a, liftCount: 0, liftKm: 0, pisteCount: 0, downhillKm: 0, nordicKm: 0, downhillKmByDifficulty: {}, poiCount: 0 });
  };
  const liftTags = (i: number, n: number): Tags => (i === 0 || i === n - 1 ? { aerialway: "station" } : { aerialway: "pylon" });
  /** A lift for resort `key` (or none). Returns the way id. */
  const lift = (key: string | null, type: string, lon: number, lat0: number, km: number, vertices: number, tags: Tags = {}) => {
    const id = b.way(b.northLine(lon, lat0, km, vertices, liftTags), { aerialway: type, ...tags });
    if (type === "goods" || type === "zip_line") {
      exp.excludedAerialways.push(`way/${id}`);
      return id;
    }
    exp.lifts++;
    exp.liftKm += km;
    if (key) {
      const a = areas.get(key)!;
      a.liftCount++;
      a.liftKm += km;
    }
    return id;
  };
  const piste = (key: string | null, type: string, difficulty: string | null, lon: number, lat0: number, km: number, vertices: number, tags: Tags = {}) => {
    const id = b.way(b.northLine(lon, lat0, km, vertices), { "piste:type": type, ...(difficulty ? { "piste:difficulty": difficulty } : {}), ...tags });
    exp.pistes++;
    if (type === "downhill") exp.downhillKm += km;
    if (!key) exp.unassignedPistes.push(`way/${id}`);
    else {
      const a = areas.get(key)!;
      a.pisteCount++;
      if (type === "downhill") {
        a.downhillKm += km;
        if (difficulty) a.downhillKmByDifficulty[difficulty] = (a.downhillKmByDifficulty[difficulty] ?? 0) + km;
      } else if (type === "nordic") a.nordicKm += km;
    }
    return id;
  };
  const areaPiste = (key: string, lon0: number, lat0: number, lon1: number, lat1: number, tags: Tags) => {
    const id = b.way(b.rect(lon0, lat0, lon1, lat1), { "piste:type": "downhill", area: "yes", ...tags });
    exp.pistes++;
    exp.areaPistes.push(`way/${id}`);
    areas.get(key)!.pisteCount++;
    return id;
  };
  const poi = (key: string | null, distanceKm: number, id: string) => {
    if (!key) exp.excludedPois.push(id);
    else {
      exp.pois[id] = { skiAreaId: areas.get(key)!.id, distanceKm };
      areas.get(key)!.poiCount++;
    }
  };

  // Alpha: a landuse=winter_sports closed way; nothing is a member of anything: all assigned by polygon.
  const alphaPoly = b.way(b.rect(10.3, 46.9, 10.34, 46.93), { landuse: "winter_sports", name: "Alpha Ski" });
  area("alpha", { id: `way/${alphaPoly}`, name: "Alpha Ski", osmIds: [`way/${alphaPoly}`], sources: "landuse=winter_sports", areaKm2: rectAreaKm2(10.3, 46.9, 10.34, 46.93) });
  lift("alpha", "chair_lift", 10.31, 46.905, 1.2, 5, { name: "Alpha Express", "aerialway:capacity": "2400", "aerialway:occupancy": "4" });
  lift("alpha", "drag_lift", 10.32, 46.905, 0.6, 2, { name: "Alpha Baby" });
  lift(null, "goods", 10.325, 46.905, 0.5, 3, { name: "Hut supply" });
  lift(null, "zip_line", 10.335, 46.905, 0.7, 2, { name: "Alpha Flyer" });
  piste("alpha", "downhill", "easy", 10.315, 46.903, 1.5, 4, { name: "Blue Meadow" });
  piste("alpha", "downhill", "intermediate", 10.33, 46.902, 2.0, 3, { name: "Red Ridge" });
  areaPiste("alpha", 10.305, 46.925, 10.308, 46.927, { "piste:difficulty": "novice", name: "Kids Park" });
  const alphaHotel = b.node(10.32, 46.915, { tourism: "hotel", name: "Hotel Alpha" });
  poi("alpha", 0, `node/${alphaHotel}`);
  b.way(b.northLine(10.302, 46.89, 4, 5), { highway: "residential", name: "Via Alpha" });

  // Beta: a multipolygon relation (outer ring split into two ways, one drawn backwards; one inner ring).
  const betaId = b.relationId();
  area("beta", {
    id: `relation/${betaId}`, name: "Beta Valley", osmIds: [`relation/${betaId}`], sources: "landuse=winter_sports",
    areaKm2: rectAreaKm2(10.45, 46.9, 10.5, 46.94) - rectAreaKm2(10.47, 46.91, 10.48, 46.92),
  });
  const sw = b.node(10.45, 46.9), se = b.node(10.5, 46.9), ne = b.node(10.5, 46.94), nw = b.node(10.45, 46.94);
  const outerA = b.way([sw, se, ne], {});
  const outerB = b.way([sw, nw, ne], {}); // same direction as A: the ring assembly must reverse it
  const hole = b.way(b.rect(10.47, 46.91, 10.48, 46.92), {});
  b.relation(betaId, [{ type: "way", ref: outerA, role: "outer" }, { type: "way", ref: outerB, role: "outer" }, { type: "way", ref: hole, role: "inner" }],
    { type: "multipolygon", landuse: "winter_sports", name: "Beta Valley" });
  lift("beta", "gondola", 10.46, 46.905, 2.5, 6, { name: "Beta Gondola" });
  piste("beta", "nordic", null, 10.49, 46.905, 3.0, 4, { name: "Loipe Nord" });
  piste("beta", "nordic", null, 10.495, 46.905, 2.0, 3, { name: "Loipe Süd" });
  piste("beta", "downhill", "advanced", 10.455, 46.91, 1.0, 3, { name: "Black Beta" });
  piste(null, "downhill", "expert", 10.475, 46.912, 0.5, 3, { name: "In the hole" });
  const betaRestaurant = b.node(10.5 + 1.5 / eastKm(1, 46.92), 46.92, { amenity: "restaurant", name: "Ristorante Beta" });
  poi("beta", 1.5, `node/${betaRestaurant}`);

  // Gamma: a site=piste relation only: way members, a route=piste relation member (which lists the site back:
  // a cycle), node members. Plus a non-member lift near it (proximity) and a far piste (unassigned).
  const gammaId = b.relationId();
  const routeId = b.relationId();
  area("gamma", { id: `relation/${gammaId}`, name: "Gamma", osmIds: [`relation/${gammaId}`], sources: "site=piste", areaKm2: null });
  const g1 = lift("gamma", "t-bar", 10.6, 46.9, 0.8, 3, { name: "Gamma T" });
  const g2 = piste("gamma", "downhill", "expert", 10.605, 46.9, 0.9, 3, { name: "Gamma Wall" });
  const g3 = piste("gamma", "downhill", "novice", 10.61, 46.9, 0.4, 2, { name: "Gamma Trail (1)" });
  const g4 = piste("gamma", "downhill", "novice", 10.61, 46.9 + kmToDegLat(0.4), 0.3, 2, { name: "Gamma Trail (2)" });
  const gTop = b.node(10.615, 46.907, { aerialway: "station", name: "Gamma Top" });
  const gInfo = b.node(10.612, 46.9005, { tourism: "information", information: "board" });
  b.relation(routeId, [{ type: "way", ref: g3 }, { type: "way", ref: g4 }, { type: "relation", ref: gammaId }],
    { type: "route", route: "piste", "piste:type": "downhill", name: "Gamma Trail" });
  b.relation(gammaId, [{ type: "way", ref: g1 }, { type: "way", ref: g2 }, { type: "relation", ref: routeId }, { type: "node", ref: gTop }, { type: "node", ref: gInfo }],
    { type: "site", site: "piste", name: "Gamma" });
  lift("gamma", "platter", 10.62, 46.9, 0.5, 2, { name: "Gamma Platter (not a member)" });
  piste(null, "downhill", "easy", 10.66, 46.9, 0.5, 2, { name: "Far away" });
  const chalet = b.way(b.rect(10.625, 46.902, 10.626, 46.9027), { tourism: "chalet", building: "yes", name: "Chalet Gamma" });
  // Its centroid is east of the hull's easternmost vertex (gTop, 10.615/46.907); the test checks it is < 2 km.
  poi("gamma", NaN, `way/${chalet}`);
  const farHotel = b.node(10.7, 46.9, { tourism: "hotel", name: "Hotel Lontano" });
  poi(null, NaN, `node/${farHotel}`);

  // Delta: dual-mapped; the landuse polygon is a member of the site relation. Some pistes are members,
  // others are only inside the polygon.
  const deltaId = b.relationId();
  const deltaPoly = b.way(b.rect(10.3, 47.0, 10.34, 47.03), { landuse: "winter_sports", name: "Delta Resort Area" });
  area("delta", {
    id: `relation/${deltaId}`, name: "Delta", osmIds: [`relation/${deltaId}`, `way/${deltaPoly}`],
    sources: "landuse=winter_sports,site=piste", areaKm2: rectAreaKm2(10.3, 47.0, 10.34, 47.03),
  });
  const d1 = lift("delta", "chair_lift", 10.31, 47.005, 1.0, 4, { name: "Delta Chair" });
  const d2 = piste("delta", "downhill", "intermediate", 10.315, 47.005, 1.2, 3, { name: "Delta Run" });
  piste("delta", "downhill", "easy", 10.325, 47.01, 0.8, 3, { name: "Delta Easy (not a member)" });
  piste("delta", "sled", null, 10.33, 47.01, 0.6, 2, { name: "Delta Sled (not a member)" });
  areaPiste("delta", 10.335, 47.02, 10.338, 47.022, { name: "Delta Park" });
  b.relation(deltaId, [{ type: "way", ref: deltaPoly }, { type: "way", ref: d1 }, { type: "way", ref: d2 }], { type: "site", site: "piste", name: "Delta" });

  // Epsilon: a site relation plus an unnamed landuse polygon that is not a member but contains the members.
  const epsId = b.relationId();
  const epsPoly = b.way(b.rect(10.45, 47.0, 10.49, 47.03), { landuse: "winter_sports" });
  area("epsilon", {
    id: `relation/${epsId}`, name: "Epsilon", osmIds: [`relation/${epsId}`, `way/${epsPoly}`],
    sources: "landuse=winter_sports,site=piste", areaKm2: rectAreaKm2(10.45, 47.0, 10.49, 47.03),
  });
  const e1 = lift("epsilon", "drag_lift", 10.46, 47.005, 0.7, 3, { name: "Epsilon Drag" });
  const e2 = piste("epsilon", "downhill", "advanced", 10.465, 47.005, 1.1, 3, { name: "Epsilon Black" });
  const e3 = piste("epsilon", "downhill", "freeride", 10.47, 47.01, 0.5, 2, { name: "Epsilon Off-piste" });
  b.relation(epsId, [{ type: "way", ref: e1 }, { type: "way", ref: e2 }, { type: "way", ref: e3 }], { type: "site", site: "piste", name: "Epsilon" });
  const parking = b.node(10.44, 47.015, { amenity: "parking", name: "Parcheggio Epsilon" });
  poi("epsilon", eastKm(0.01, 47.015), `node/${parking}`);

  exp.skiAreas = [...areas.values()].sort((x, y) => {
    const [tx, ix] = x.id.split("/"), [ty, iy] = y.id.split("/");
    return tx !== ty ? (tx < ty ? -1 : 1) : Number(ix) - Number(iy);
  });
  return { osm: b, expected: exp };
}

/** Writes the synthetic region as a sorted PBF (needs osmium). Deterministic: same bytes every time. */
export async function writeSyntheticRegion(outPbfPath: string, variant: "ski" | "no-ski" = "ski"): Promise<SyntheticExpected> {
  const { osm, expected } = buildSyntheticRegion(variant);
  await writeXmlAsPbf(osm.toXml(), outPbfPath);
  return expected;
}

/** OSM XML → a sorted PBF, with `osmium sort` (the XML need not be sorted). */
export async function writeXmlAsPbf(xml: string, outPbfPath: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "synthetic-osm-"));
  try {
    const osm = join(dir, "region.osm");
    await writeFile(osm, xml);
    const result = await runOsmium(["sort", osm, "-o", outPbfPath, "-f", "pbf", "--overwrite", "--no-progress"]);
    if (result.code !== 0) throw new Error(`osmium sort failed: ${lastLine(result.stderr)}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// `npx tsx containers/ski-atlas/synthetic-osm.ts out.osm.pbf [ski|no-ski]`
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const out = process.argv[2];
  if (!out) {
    process.stderr.write("usage: synthetic-osm.ts <out.osm.pbf> [ski|no-ski]\n");
    process.exit(64);
  }
  await writeSyntheticRegion(out, process.argv[3] === "no-ski" ? "no-ski" : "ski");
  process.stderr.write(`wrote ${out}\n`);
}
