import { spawn } from "node:child_process";
import type { Readable } from "node:stream";
import { EXIT, StepError } from "../../lib/exit-codes.ts";
import { osmiumFailure, osmiumSpawnError } from "./osmium.ts";
import { readPbf } from "./pbf/read.ts";
import { PbfFormatError } from "./pbf/protobuf.ts";

/**
 * The in-memory model of an OSM file (the extract), read with `readPbfFile` (or, in tests, through
 * `osmium cat -f opl`). Only an extract is read this way, so memory is bounded by the extract, not the region: node locations are kept in typed arrays
 * (24 bytes/node), tags only for tagged nodes.
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

const ESCAPE = /%([0-9a-fA-F]+)%/g;
function unescape(s: string): string {
  return s.includes("%") ? s.replace(ESCAPE, (_, hex: string) => String.fromCodePoint(parseInt(hex, 16))) : s;
}

function parseTags(s: string): Tags {
  const tags: Tags = {};
  if (!s) return tags;
  for (const kv of s.split(",")) {
    const eq = kv.indexOf("=");
    if (eq < 0) continue;
    tags[unescape(kv.slice(0, eq))] = unescape(kv.slice(eq + 1));
  }
  return tags;
}

/** Parses one OPL line (written with add_metadata=false, or with metadata, which is skipped). */
export function parseOplLine(line: string, data: OsmData): void {
  if (line.length === 0) return;
  const kind = line.charCodeAt(0);
  const fields = line.split(" ");
  const id = Number(fields[0].slice(1));
  let tags = "", x = "", y = "", nodes = "", members = "";
  for (let i = 1; i < fields.length; i++) {
    const f = fields[i];
    switch (f.charCodeAt(0)) {
      case 84 /* T */: tags = f.slice(1); break;
      case 120 /* x */: x = f.slice(1); break;
      case 121 /* y */: y = f.slice(1); break;
      case 78 /* N */: nodes = f.slice(1); break;
      case 77 /* M */: members = f.slice(1); break;
    }
  }
  if (kind === 110 /* n */) {
    if (x === "" || y === "") return; // node without location
    const lon = Number(x), lat = Number(y);
    data.addNode(id, lon, lat);
    if (tags) data.taggedNodes.push({ id, tags: parseTags(tags), lon, lat });
  } else if (kind === 119 /* w */) {
    const refs = nodes ? nodes.split(",").map((r) => Number(r.slice(1))) : [];
    data.ways.set(id, { id, tags: parseTags(tags), refs, coords: new Float64Array(0) });
  } else if (kind === 114 /* r */) {
    const list: OsmMember[] = [];
    if (members) {
      for (const m of members.split(",")) {
        const at = m.indexOf("@");
        list.push({ type: m[0] as MemberType, ref: Number(m.slice(1, at)), role: unescape(m.slice(at + 1)) });
      }
    }
    data.relations.set(id, { id, tags: parseTags(tags), members: list });
  }
}

/** Parses an OPL text stream (already decoded as UTF-8). */
export async function readOplStream(stream: Readable | AsyncIterable<string>, data = new OsmData()): Promise<OsmData> {
  let rest = "";
  for await (const chunk of stream as AsyncIterable<string>) {
    const text = rest + chunk;
    let start = 0;
    for (let nl = text.indexOf("\n"); nl >= 0; nl = text.indexOf("\n", start)) {
      parseOplLine(text.slice(start, nl), data);
      start = nl + 1;
    }
    rest = text.slice(start);
  }
  if (rest) parseOplLine(rest, data);
  data.finish();
  return data;
}

/**
 * Reads a PBF (the extract) with the PBF reader of pbf/ into OsmData: what `osmium cat -f opl` + parseOplLine
 * give, without osmium. Bad input → StepError 65.
 */
export async function readPbfFile(path: string, what: string, fix: string): Promise<OsmData> {
  const data = new OsmData();
  try {
    await readPbf(path, {
      node(n) {
        const lon = n.lon7 / 1e7, lat = n.lat7 / 1e7;
        data.addNode(n.id, lon, lat);
        if (Object.keys(n.tags).length > 0) data.taggedNodes.push({ id: n.id, tags: n.tags, lon, lat });
      },
      way(w) {
        data.ways.set(w.id, { id: w.id, tags: w.tags, refs: w.refs, coords: new Float64Array(0) });
      },
      relation(r) {
        data.relations.set(r.id, r);
      },
    });
  } catch (err) {
    if (err instanceof PbfFormatError) throw new StepError(`${what} is not a valid OSM PBF (${err.message}): ${fix}`, EXIT.DATA_ERROR);
    throw err;
  }
  data.finish();
  return data;
}

/** Runs `osmium cat <pbf> -f opl` and parses its output (tests: the oracle's view of a file). Bad input → StepError 65 (see osmium.ts). */
export async function readOsmFile(path: string, what: string, fix: string): Promise<OsmData> {
  const child = spawn("osmium", ["cat", path, "-f", "opl,add_metadata=false", "-o", "-", "--no-progress"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (d: string) => {
    if (stderr.length < 64 * 1024) stderr += d;
  });
  child.stdout.setEncoding("utf8");
  const spawnError = new Promise<never>((_, reject) => child.on("error", (err) => reject(osmiumSpawnError(err))));
  spawnError.catch(() => {});
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal })),
  );
  const data = await Promise.race([readOplStream(child.stdout), spawnError]);
  const { code, signal } = await Promise.race([exit, spawnError]);
  if (code !== 0) throw osmiumFailure({ code, signal, stderr }, what, fix);
  return data;
}
