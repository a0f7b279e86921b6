import { expandBBox, inBBox, meanPoint, ringCentroid, type BBox } from "../geo.ts";
import type { PoiWay, Tags } from "../osm-data.ts";
import { poiCategory } from "../poi-tags.ts";
import { BoxIndex } from "./box-index.ts";
import { footprintDistanceKm } from "./footprint.ts";
import { compareOsmIds } from "./osm-ids.ts";
import { isClosed } from "./rings.ts";
import { featureName } from "./tag-values.ts";
import { POI_KM } from "./thresholds.ts";
import type { Poi, SkiArea } from "./types.ts";

/**
 * Nearby features: tagged nodes, and ways (by centroid), with a POI tag (poi-tags.ts) within POI_KM of a ski area's
 * footprint (0 inside). One row per POI with its nearest area; `poiCount` counts every POI within POI_KM of each
 * area (a POI between two resorts counts for both). Fed one candidate at a time (in any order: the result is
 * sorted, the counts are sums), so a caller can stream a continent's candidates and hold only those near a ski area.
 */
export class PoiCollector {
  private readonly poiBoxes: Map<string, BBox>;
  private readonly poiAreas: SkiArea[];
  private readonly poiIndex: BoxIndex;
  readonly poiCount = new Map<string, number>();
  private readonly pois: Poi[] = [];

  constructor(skiAreas: readonly SkiArea[]) {
    this.poiBoxes = new Map(skiAreas.filter((a) => a.footprint.bbox).map((a) => [a.id, expandBBox(a.footprint.bbox!, POI_KM)]));
    this.poiAreas = skiAreas.filter((a) => this.poiBoxes.has(a.id));
    this.poiIndex = new BoxIndex(this.poiAreas.map((a) => this.poiBoxes.get(a.id)!));
  }

  /** A node: kept when it has a POI tag and lies within POI_KM of a footprint. */
  node(id: number, tags: Tags, lon: number, lat: number): void {
    this.consider("node", id, tags, lon, lat);
  }

  /** A way (its coords resolved): kept when it has a POI tag and its centroid lies within POI_KM of a footprint. */
  way(way: PoiWay): void {
    if (way.coords.length < 2 || !poiCategory(way.tags)) return;
    const [lon, lat] = isClosed(way) ? ringCentroid(way.coords) : meanPoint(way.coords);
    this.consider("way", way.id, way.tags, lon, lat);
  }

  private consider(osmType: "node" | "way", osmId: number, tags: Tags, lon: number, lat: number): void {
    const category = poiCategory(tags);
    if (!category) return;
    let best: SkiArea | undefined;
    let bestDist = Infinity;
    for (const k of this.poiIndex.queryPoint(lon, lat)) {
      const area = this.poiAreas[k];
      const box = this.poiBoxes.get(area.id);
      if (!box || !inBBox(lon, lat, box)) continue;
      const d = footprintDistanceKm(lon, lat, area.footprint);
      if (d > POI_KM) continue;
      this.poiCount.set(area.id, (this.poiCount.get(area.id) ?? 0) + 1);
      if (d < bestDist) {
        bestDist = d;
        best = area;
      }
    }
    if (best) {
      this.pois.push({
        id: `${osmType}/${osmId}`, osmType, osmId, category, name: featureName(tags), lon, lat,
        skiAreaId: best.id, distanceKm: bestDist, tags,
      });
    }
  }

  /** The kept POIs, sorted by id (nodes, then ways). */
  sorted(): Poi[] {
    return this.pois.sort((a, b) => compareOsmIds(a.id, b.id));
  }
}
