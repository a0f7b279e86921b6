/**
 * The OSM objects the ski model is built from, held in memory: relations, ways (their node ids resolved to
 * coordinates by `finish()`), tagged nodes, and node locations in typed arrays (24 bytes a node). analyze fills it
 * with the ski features of an extract only (extract-reader.ts `readSkiFeatures`: memory follows the ski features,
 * not the region); tests fill it from a whole small file (`readPbfFile`), from osmium's OPL output
 * (testing/osmium-opl.ts) or straight from a fixture (synthetic-osm.ts `OsmBuilder.toOsmData`).
 */

export type Tags = Record<string, string>;
export type MemberType = "n" | "w" | "r";

export interface OsmTaggedNode {
  id: number;
  tags: Tags;
  lon: number;
  lat: number;
}

export interface OsmWay {
  id: number;
  tags: Tags;
  /** Node ids as listed (resolved to `coords` by `finish()`). */
  refs: number[];
  /** Flat [lon, lat, …] of the referenced nodes that have a location. */
  coords: Float64Array;
}

/** A way as a POI candidate: `refs` may be a view of a decoder's scratch array (valid during the call only). */
export interface PoiWay {
  id: number;
  tags: Tags;
  refs: ArrayLike<number>;
  /** Flat [lon, lat, …] of the referenced nodes that have a location. */
  coords: Float64Array;
}

export interface OsmMember {
  type: MemberType;
  ref: number;
  role: string;
}

export interface OsmRelation {
  id: number;
  tags: Tags;
  members: OsmMember[];
}

export class OsmData {
  private ids = new Float64Array(1024);
  private lons = new Float64Array(1024);
  private lats = new Float64Array(1024);
  private count = 0;
  private sorted = true;
  readonly taggedNodes: OsmTaggedNode[] = [];
  readonly ways = new Map<number, OsmWay>();
  readonly relations = new Map<number, OsmRelation>();

  get nodeCount() {
    return this.count;
  }

  addNode(id: number, lon: number, lat: number) {
    if (this.count === this.ids.length) {
      const grow = (a: Float64Array) => {
        const b = new Float64Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.ids = grow(this.ids);
      this.lons = grow(this.lons);
      this.lats = grow(this.lats);
    }
    if (this.count > 0 && id <= this.ids[this.count - 1]) this.sorted = false;
    this.ids[this.count] = id;
    this.lons[this.count] = lon;
    this.lats[this.count] = lat;
    this.count++;
  }

  private sortNodes() {
    if (this.sorted) return;
    const order = Array.from({ length: this.count }, (_, i) => i).sort((a, b) => this.ids[a] - this.ids[b]);
    const ids = new Float64Array(this.count), lons = new Float64Array(this.count), lats = new Float64Array(this.count);
    order.forEach((from, to) => {
      ids[to] = this.ids[from];
      lons[to] = this.lons[from];
      lats[to] = this.lats[from];
    });
    this.ids = ids;
    this.lons = lons;
    this.lats = lats;
    this.sorted = true;
  }

  /** Index of a node id, or -1. */
  nodeIndex(id: number): number {
    let lo = 0, hi = this.count - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = this.ids[mid];
      if (v === id) return mid;
      if (v < id) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  nodeLocation(id: number): [number, number] | undefined {
    const i = this.nodeIndex(id);
    return i < 0 ? undefined : [this.lons[i], this.lats[i]];
  }

  /** Resolves way node refs to coordinates. Call once after reading. */
  finish() {
    this.sortNodes();
    for (const way of this.ways.values()) {
      const out = new Float64Array(way.refs.length * 2);
      let n = 0;
      for (const ref of way.refs) {
        const i = this.nodeIndex(ref);
        if (i < 0) continue;
        out[n++] = this.lons[i];
        out[n++] = this.lats[i];
      }
      way.coords = n === out.length ? out : out.slice(0, n);
    }
  }
}
