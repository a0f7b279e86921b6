import type { OsmData } from "../osm-data.ts";
import { inPolygons } from "./polygon-sets.ts";
import type { Candidate } from "./ski-area-candidates.ts";
import { MERGE_SHARE } from "./thresholds.ts";

/**
 * A resort mapped both ways is one row: a landuse polygon joins the site relation that lists it as a member (lowest
 * site id wins), else the site whose member lifts/pistes (by their representative point) and nodes lie inside it for
 * the largest share ≥ MERGE_SHARE (ties: lowest id): mappers often leave the polygon out of the relation. Returns
 * the polygons that joined no site; a site's `merged` and `areaKm2` grow with the polygons it takes.
 */
export function mergeIntoSites(
  sites: readonly Candidate[],
  polygons: readonly Candidate[],
  pointOfWay: ReadonlyMap<number, [number, number]>,
  data: Pick<OsmData, "nodeLocation">,
): Candidate[] {
  const standalone: Candidate[] = [];
  for (const poly of polygons) {
    const target = siteListing(sites, poly) ?? siteMostlyInside(sites, poly, pointOfWay, data);
    if (target) {
      target.merged.push(poly);
      target.areaKm2 += poly.areaKm2;
    } else standalone.push(poly);
  }
  return standalone;
}

/** The first (lowest-id) site relation listing the polygon's way or relation among its members. */
function siteListing(sites: readonly Candidate[], poly: Candidate): Candidate | undefined {
  return sites.find((s) => (poly.osmType === "way" ? s.members!.ways.has(poly.osmId) : s.members!.relations.has(poly.osmId)));
}

/** The site with the largest share (≥ MERGE_SHARE) of its located members inside the polygon; ties: the first. */
function siteMostlyInside(
  sites: readonly Candidate[],
  poly: Candidate,
  pointOfWay: ReadonlyMap<number, [number, number]>,
  data: Pick<OsmData, "nodeLocation">,
): Candidate | undefined {
  let target: Candidate | undefined;
  let bestShare = 0;
  for (const s of sites) {
    const pts: [number, number][] = [];
    for (const w of s.members!.ways) {
      const p = pointOfWay.get(w);
      if (p) pts.push(p);
    }
    for (const n of s.members!.nodes) {
      const p = data.nodeLocation(n);
      if (p) pts.push(p);
    }
    if (pts.length === 0) continue;
    const share = pts.filter(([lon, lat]) => inPolygons(lon, lat, poly.polygons)).length / pts.length;
    if (share >= MERGE_SHARE && share > bestShare) {
      bestShare = share;
      target = s;
    }
  }
  return target;
}
