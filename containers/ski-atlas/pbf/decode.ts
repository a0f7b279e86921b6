import { DECODER, NumberArray, PbfFormatError, ProtoReader, readUints, readDeltaSints, WIRE_LEN, WIRE_VARINT } from "./protobuf.ts";

/**
 * Decoding of OSMHeader and OSMData (PrimitiveBlock) messages. The block is parsed lazily: `parseBlock` only
 * finds the string table and the group spans; entities are decoded by the caller, field by field, so a caller
 * that does not need a block's entities pays nothing for them.
 */

export const GROUP_NODES = 1;
export const GROUP_DENSE = 2;
export const GROUP_WAYS = 3;
export const GROUP_RELATIONS = 4;

export interface Group {
  kind: number;
  start: number;
  end: number;
}

export class PrimitiveBlock {
  readonly data: Uint8Array;
  readonly strStart: number[] = [];
  readonly strEnd: number[] = [];
  readonly groups: Group[] = [];
  granularity = 100;
  latOffset = 0;
  lonOffset = 0;
  private cache: (string | undefined)[] = [];

  constructor(data: Uint8Array) {
    this.data = data;
    const r = new ProtoReader(data);
    let hasStringTable = false;
    while (r.more()) {
      const key = r.key();
      const field = key >>> 3;
      const wire = key & 7;
      if ((field === 1 || field === 2) && wire !== WIRE_LEN) throw new PbfFormatError(`not an OSM PrimitiveBlock (field ${field} has wire type ${wire})`);
      if ((field === 17 || field === 19 || field === 20) && wire !== WIRE_VARINT) {
        throw new PbfFormatError(`not an OSM PrimitiveBlock (field ${field} has wire type ${wire})`);
      }
      if (field === 1) {
        hasStringTable = true;
        const [s, e] = r.span();
        const st = new ProtoReader(data, s, e);
        while (st.more()) {
          const k = st.key();
          if (k === ((1 << 3) | WIRE_LEN)) {
            const [a, b] = st.span();
            this.strStart.push(a);
            this.strEnd.push(b);
          } else st.skip(k & 7);
        }
      } else if (field === 2) {
        const [s, e] = r.span();
        const g = new ProtoReader(data, s, e);
        // A group holds one kind of entity; record each repeated field's span range.
        let kind = 0, gs = -1;
        while (g.more()) {
          const at = g.pos;
          const k = g.key();
          const f = k >>> 3;
          if (f >= 1 && f <= 5 && (k & 7) !== WIRE_LEN) throw new PbfFormatError(`not an OSM PrimitiveGroup (field ${f} has wire type ${k & 7})`);
          g.skip(k & 7);
          if (f >= 1 && f <= 4) {
            if (kind === 0) {
              kind = f;
              gs = at;
            } else if (kind !== f) throw new PbfFormatError("a PrimitiveGroup mixes entity kinds");
          }
        }
        if (kind !== 0) {
          if (this.groups.length === MAX_GROUPS_PER_BLOCK) {
            throw new PbfFormatError(`more than ${MAX_GROUPS_PER_BLOCK} PrimitiveGroups in one block (writers use one per entity type)`);
          }
          this.groups.push({ kind, start: gs, end: e });
        }
      } else if (field === 17) this.granularity = r.varint();
      else if (field === 19) this.latOffset = int64(r.varint());
      else if (field === 20) this.lonOffset = int64(r.varint());
      else r.skip(wire);
    }
    if (!hasStringTable) throw new PbfFormatError("not an OSM PrimitiveBlock (no string table)");
    if (this.granularity <= 0) throw new PbfFormatError("bad granularity");
  }

  get stringCount(): number {
    return this.strStart.length;
  }

  str(i: number): string {
    let s = this.cache[i];
    if (s === undefined) {
      if (!(i < this.strStart.length)) throw stringIndexError(i, this.strStart.length);
      s = this.cache[i] = DECODER.decode(this.data.subarray(this.strStart[i], this.strEnd[i]));
    }
    return s;
  }

  /** Raw coordinate (in granularity units) → 1e-7 degrees, as osmium stores locations. */
  lat7(v: number): number {
    return Math.round((this.latOffset + this.granularity * v) / 100);
  }
  lon7(v: number): number {
    return Math.round((this.lonOffset + this.granularity * v) / 100);
  }
}

/**
 * Bounds the work a block can cause: a PrimitiveGroup costs an object, and a 32 MiB block of two-byte empty
 * groups would otherwise cost gigabytes. Writers put one group per entity type in a block (osmium: one per block).
 */
export const MAX_GROUPS_PER_BLOCK = 65536;

export function stringIndexError(i: number, count: number): PbfFormatError {
  return new PbfFormatError(`string index ${i} is out of range (the block's string table has ${count} entries)`);
}

const MAX_LAT7 = 900_000_000;
const MAX_LON7 = 1_800_000_000;

/** Refuses a location outside ±90° / ±180° (1e-7 degrees), which no OSM node has. */
export function checkLocation(id: number, lat7: number, lon7: number): void {
  if (!(lat7 >= -MAX_LAT7 && lat7 <= MAX_LAT7)) throw new PbfFormatError(`node ${id} has latitude ${lat7 / 1e7}, outside ±90°`);
  if (!(lon7 >= -MAX_LON7 && lon7 <= MAX_LON7)) throw new PbfFormatError(`node ${id} has longitude ${lon7 / 1e7}, outside ±180°`);
}

/** Refuses an object id a double cannot hold exactly (negative int64 ids read as varints land here too). */
export function checkId(kind: string, id: number): void {
  if (!(id <= Number.MAX_SAFE_INTEGER)) throw new PbfFormatError(`a ${kind} id is beyond 2^53 (${id}): not an OSM id`);
}

/** A protobuf int64 read as an unsigned varint → signed (two's complement). */
function int64(v: number): number {
  return v >= 2 ** 63 ? v - 2 ** 64 : v;
}

/** Matches string-table entries against a fixed set of strings by bytes, without decoding the table. */
export class StringMatcher {
  private byLength = new Map<number, { bytes: Uint8Array; index: number }[]>();
  readonly strings: readonly string[];

  constructor(strings: readonly string[]) {
    this.strings = strings;
    strings.forEach((s, index) => {
      const bytes = new TextEncoder().encode(s);
      const list = this.byLength.get(bytes.length) ?? [];
      list.push({ bytes, index });
      this.byLength.set(bytes.length, list);
    });
  }

  /** Index (in `strings`) of the block's string `i`, or -1. */
  match(block: PrimitiveBlock, i: number): number {
    const s = block.strStart[i];
    const list = this.byLength.get(block.strEnd[i] - s);
    if (!list) return -1;
    const d = block.data;
    outer: for (const c of list) {
      const b = c.bytes;
      for (let j = 0; j < b.length; j++) if (d[s + j] !== b[j]) continue outer;
      return c.index;
    }
    return -1;
  }
}

/** Spans of a DenseNodes message's packed fields. */
export interface DenseSpans {
  ids: [number, number];
  lats: [number, number];
  lons: [number, number];
  keysVals: [number, number];
}

export function denseSpans(block: PrimitiveBlock, group: Group): DenseSpans[] {
  const out: DenseSpans[] = [];
  const r = new ProtoReader(block.data, group.start, group.end);
  while (r.more()) {
    const key = r.key();
    if (key !== ((GROUP_DENSE << 3) | WIRE_LEN)) {
      r.skip(key & 7);
      continue;
    }
    const [s, e] = r.span();
    const d = new ProtoReader(block.data, s, e);
    const spans: DenseSpans = { ids: [0, 0], lats: [0, 0], lons: [0, 0], keysVals: [0, 0] };
    while (d.more()) {
      const k = d.key();
      const f = k >>> 3;
      if ((k & 7) !== WIRE_LEN) d.skip(k & 7);
      else if (f === 1) spans.ids = d.span();
      else if (f === 8) spans.lats = d.span();
      else if (f === 9) spans.lons = d.span();
      else if (f === 10) spans.keysVals = d.span();
      else d.skip(k & 7);
    }
    out.push(spans);
  }
  return out;
}

/** A way or relation message, located but not decoded. */
export interface EntitySpans {
  id: number;
  keys: [number, number];
  vals: [number, number];
  /** Ways: refs (field 8). Relations: memids (9). */
  refs: [number, number];
  /** Relations only: roles_sid (8) and types (10). */
  roles: [number, number];
  types: [number, number];
}

/** Calls `fn` for each way (GROUP_WAYS) or relation (GROUP_RELATIONS) of a group; `spans` is reused. */
export function forEachEntity(block: PrimitiveBlock, group: Group, fn: (e: EntitySpans) => void): void {
  const e = newEntitySpans();
  forEachMessage(block, group, (s, end) => fn(readEntity(block, group.kind, s, end, e)));
}

/** Calls `fn` with the span of each entity message of a group. */
export function forEachMessage(block: PrimitiveBlock, group: Group, fn: (start: number, end: number) => void): void {
  const r = new ProtoReader(block.data, group.start, group.end);
  const wanted = (group.kind << 3) | WIRE_LEN;
  while (r.more()) {
    const key = r.key();
    if (key !== wanted) {
      r.skip(key & 7);
      continue;
    }
    const span = r.spanInto(MESSAGE_SPAN);
    fn(span[0], span[1]);
  }
}
/** forEachMessage's scratch span (read before `fn` runs, so nesting cannot clobber it). */
const MESSAGE_SPAN: [number, number] = [0, 0];

/** Spans for readEntity to fill; each has its own arrays (reused from one entity to the next, never shared). */
export function newEntitySpans(): EntitySpans {
  return { id: 0, keys: [0, 0], vals: [0, 0], refs: [0, 0], roles: [0, 0], types: [0, 0] };
}

/** readEntity's reader (reset for each message: the extract reads millions). */
const ENTITY_READER = new ProtoReader(new Uint8Array(0));

function clear(span: [number, number]): void {
  span[0] = span[1] = 0;
}

/** Locates the fields of the way or relation message at block.data[s, end) into `e` (reused), and returns it. */
export function readEntity(block: PrimitiveBlock, kind: number, s: number, end: number, e: EntitySpans): EntitySpans {
  const relation = kind === GROUP_RELATIONS;
  const m = ENTITY_READER.reset(block.data, s, end);
  e.id = 0;
  clear(e.keys);
  clear(e.vals);
  clear(e.refs);
  clear(e.roles);
  clear(e.types);
  while (m.more()) {
    const k = m.key();
    const f = k >>> 3;
    if (f === 1 && (k & 7) === 0) e.id = m.varint();
    else if ((k & 7) !== WIRE_LEN) m.skip(k & 7);
    else if (f === 2) m.spanInto(e.keys);
    else if (f === 3) m.spanInto(e.vals);
    else if (f === 8) m.spanInto(relation ? e.roles : e.refs);
    else if (f === 9 && relation) m.spanInto(e.refs);
    else if (f === 10 && relation) m.spanInto(e.types);
    else m.skip(k & 7);
  }
  checkId(relation ? "relation" : "way", e.id);
  return e;
}
const EMPTY: [number, number] = [0, 0];

// ---- Full decoding (the extract, tests) ----

export type Tags = Record<string, string>;
export interface PbfNode {
  id: number;
  /** 1e-7 degrees. */
  lon7: number;
  lat7: number;
  tags: Tags;
}
export interface PbfWay {
  id: number;
  tags: Tags;
  refs: number[];
}
export type MemberType = "n" | "w" | "r";
export interface PbfMember {
  type: MemberType;
  ref: number;
  role: string;
}
export interface PbfRelation {
  id: number;
  tags: Tags;
  members: PbfMember[];
}

/** Shared (frozen) empty tags of untagged dense nodes. */
export const NO_TAGS: Tags = Object.freeze({}) as Tags;

export interface EntityVisitor {
  /** `n` is reused for the next dense node: copy what you keep (its `tags` object may be kept). */
  node?(n: PbfNode): void;
  way?(w: PbfWay): void;
  relation?(r: PbfRelation): void;
}

const scratchA = new NumberArray(8192);
const scratchB = new NumberArray(8192);
const scratchC = new NumberArray(8192);
const scratchKv = new NumberArray(8192);

export function tagsOf(block: PrimitiveBlock, keys: [number, number], vals: [number, number]): Tags {
  const tags: Tags = {};
  if (keys[1] === keys[0] && vals[1] === vals[0]) return tags;
  const nk = readUints(block.data, keys[0], keys[1], scratchA);
  const nv = readUints(block.data, vals[0], vals[1], scratchB);
  if (nk !== nv) throw new PbfFormatError("keys and vals differ in length");
  for (let i = 0; i < nk; i++) tags[block.str(scratchA.data[i])] = block.str(scratchB.data[i]);
  return tags;
}

const TYPES: MemberType[] = ["n", "w", "r"];

export function decodeRelation(block: PrimitiveBlock, e: EntitySpans): PbfRelation {
  const tags = tagsOf(block, e.keys, e.vals);
  const n = readDeltaSints(block.data, e.refs[0], e.refs[1], scratchA, "a relation member id");
  const nr = readUints(block.data, e.roles[0], e.roles[1], scratchB);
  const nt = readUints(block.data, e.types[0], e.types[1], scratchC);
  if (n !== nr || n !== nt) throw new PbfFormatError(`relation ${e.id}: member fields differ in length`);
  const members: PbfMember[] = [];
  for (let i = 0; i < n; i++) {
    const type = TYPES[scratchC.data[i]];
    if (!type) throw new PbfFormatError(`relation ${e.id}: bad member type`);
    members.push({ type, ref: scratchA.data[i], role: block.str(scratchB.data[i]) });
  }
  return { id: e.id, tags, members };
}

export function decodeWay(block: PrimitiveBlock, e: EntitySpans): PbfWay {
  const tags = tagsOf(block, e.keys, e.vals);
  const n = readDeltaSints(block.data, e.refs[0], e.refs[1], scratchA, "a way's node ref");
  return { id: e.id, tags, refs: Array.from(scratchA.data.subarray(0, n)) };
}

/** Decodes every entity of a block (used on small files: the extract). */
export function decodeAll(block: PrimitiveBlock, v: EntityVisitor): void {
  for (const g of block.groups) {
    if (g.kind === GROUP_DENSE && v.node) {
      for (const d of denseSpans(block, g)) {
        const n = readDeltaSints(block.data, d.ids[0], d.ids[1], scratchA, "a node id");
        if (readDeltaSints(block.data, d.lats[0], d.lats[1], scratchB, "a latitude") !== n) throw denseLengthError("lat", n);
        if (readDeltaSints(block.data, d.lons[0], d.lons[1], scratchC, "a longitude") !== n) throw denseLengthError("lon", n);
        const nkv = readUints(block.data, d.keysVals[0], d.keysVals[1], scratchKv);
        let kv = 0;
        const node: PbfNode = { id: 0, lat7: 0, lon7: 0, tags: NO_TAGS };
        for (let i = 0; i < n; i++) {
          let tags = NO_TAGS;
          if (kv < nkv && scratchKv.data[kv] !== 0) {
            tags = {};
            while (kv < nkv && scratchKv.data[kv] !== 0) {
              if (kv + 1 >= nkv) throw denseKeysValsError(nkv, n);
              tags[block.str(scratchKv.data[kv])] = block.str(scratchKv.data[kv + 1]);
              kv += 2;
            }
          }
          kv++;
          node.id = scratchA.data[i];
          node.lat7 = block.lat7(scratchB.data[i]);
          node.lon7 = block.lon7(scratchC.data[i]);
          checkLocation(node.id, node.lat7, node.lon7);
          node.tags = tags;
          v.node(node);
        }
        if (nkv > 0 && kv !== nkv) throw denseKeysValsError(nkv, n);
      }
    } else if (g.kind === GROUP_NODES && v.node) {
      forEachPlainNode(block, g, v.node);
    } else if (g.kind === GROUP_WAYS && v.way) {
      forEachEntity(block, g, (e) => v.way!(decodeWay(block, e)));
    } else if (g.kind === GROUP_RELATIONS && v.relation) {
      forEachEntity(block, g, (e) => v.relation!(decodeRelation(block, e)));
    }
  }
}

export function denseLengthError(field: string, n: number): PbfFormatError {
  return new PbfFormatError(`dense nodes: the ${field} array's length differs from the ${n} ids`);
}

export function denseKeysValsError(nkv: number, n: number): PbfFormatError {
  return new PbfFormatError(`dense nodes: keys_vals (${nkv} entries) does not hold one 0-terminated tag list per node (${n} nodes)`);
}

/** Non-dense nodes (rare: some writers use them). */
export function forEachPlainNode(block: PrimitiveBlock, g: Group, fn: (n: PbfNode) => void): void {
  const r = new ProtoReader(block.data, g.start, g.end);
  while (r.more()) {
    const key = r.key();
    if (key !== ((GROUP_NODES << 3) | WIRE_LEN)) {
      r.skip(key & 7);
      continue;
    }
    const [s, e] = r.span();
    const m = new ProtoReader(block.data, s, e);
    let id = 0, lat = 0, lon = 0;
    let keys: [number, number] = EMPTY, vals: [number, number] = EMPTY;
    while (m.more()) {
      const k = m.key();
      const f = k >>> 3;
      if (f === 1 && (k & 7) === 0) id = m.svarint();
      else if (f === 8 && (k & 7) === 0) lat = m.svarint();
      else if (f === 9 && (k & 7) === 0) lon = m.svarint();
      else if (f === 2 && (k & 7) === WIRE_LEN) keys = m.span();
      else if (f === 3 && (k & 7) === WIRE_LEN) vals = m.span();
      else m.skip(k & 7);
    }
    checkId("node", Math.abs(id));
    const lat7 = block.lat7(lat), lon7 = block.lon7(lon);
    checkLocation(id, lat7, lon7);
    fn({ id, lat7, lon7, tags: tagsOf(block, keys, vals) });
  }
}

/** The OSMHeader block: required features must be ones we can read. */
export function checkHeader(data: Uint8Array): { optionalFeatures: string[] } {
  const r = new ProtoReader(data);
  const optionalFeatures: string[] = [];
  while (r.more()) {
    const key = r.key();
    const field = key >>> 3;
    if (field === 4 && (key & 7) === WIRE_LEN) {
      const f = r.string();
      if (f !== "OsmSchema-V0.6" && f !== "DenseNodes") throw new PbfFormatError(`unsupported required feature '${f}'`);
    } else if (field === 5 && (key & 7) === WIRE_LEN) optionalFeatures.push(r.string());
    else r.skip(key & 7);
  }
  return { optionalFeatures };
}
