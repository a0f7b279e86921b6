/**
 * A minimal protocol-buffers reader and writer for the OSM PBF format (no dependencies). Numbers are JS doubles:
 * OSM ids and coordinates fit in 53 bits. Reading past the end of a message throws PbfFormatError.
 */

export class PbfFormatError extends Error {
  override name = "PbfFormatError";
  /** Whether the message already names the block (see blocks.ts inBlock). */
  located = false;
}

export const WIRE_VARINT = 0;
export const WIRE_I64 = 1;
export const WIRE_LEN = 2;
export const WIRE_I32 = 5;

export class ProtoReader {
  buf: Uint8Array;
  pos: number;
  end: number;

  constructor(buf: Uint8Array, pos = 0, end = buf.length) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  more(): boolean {
    return this.pos < this.end;
  }

  varint(): number {
    const val = varintAt(this.buf, this.pos);
    return this.done(VARINT_END, val);
  }

  /** A field key: a varint whose field number is at least 1 and whose wire type exists in proto3/proto2. */
  key(): number {
    const key = this.varint();
    if (key < 8) throw new PbfFormatError(`malformed protobuf (field number 0 at byte ${this.pos})`);
    const wire = key & 7;
    if (wire !== WIRE_VARINT && wire !== WIRE_LEN && wire !== WIRE_I64 && wire !== WIRE_I32) {
      throw new PbfFormatError(`malformed protobuf (wire type ${wire} at byte ${this.pos})`);
    }
    return key;
  }

  private done(p: number, val: number): number {
    if (p > this.end) throw new PbfFormatError("truncated varint");
    this.pos = p;
    return val;
  }

  svarint(): number {
    return zigzag(this.varint());
  }

  /** Reuses this reader for buf[pos, end) (the hot loops read one message after another without allocating). */
  reset(buf: Uint8Array, pos: number, end: number): this {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
    return this;
  }

  /** A length-delimited field: returns [start, end) in `buf` and moves past it. */
  span(): [number, number] {
    return this.spanInto([0, 0]);
  }

  /** A length-delimited field: writes [start, end) in `buf` into `into`, returns it and moves past the field. */
  spanInto(into: [number, number]): [number, number] {
    const len = this.varint();
    const start = this.pos;
    const end = start + len;
    if (end > this.end) throw new PbfFormatError("truncated length-delimited field");
    this.pos = end;
    into[0] = start;
    into[1] = end;
    return into;
  }

  bytes(): Uint8Array {
    const [s, e] = this.span();
    return this.buf.subarray(s, e);
  }

  string(): string {
    return DECODER.decode(this.bytes());
  }

  skip(wire: number): void {
    switch (wire) {
      case WIRE_VARINT:
        this.varint();
        return;
      case WIRE_I64:
        this.pos += 8;
        break;
      case WIRE_LEN: {
        const end = this.varint() + this.pos;
        if (end > this.end) throw new PbfFormatError("truncated length-delimited field");
        this.pos = end;
        return;
      }
      case WIRE_I32:
        this.pos += 4;
        break;
      default:
        throw new PbfFormatError(`unsupported protobuf wire type ${wire}`);
    }
    if (this.pos > this.end) throw new PbfFormatError("truncated field");
  }
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/**
 * Bytes 5 to 10 of a varint whose first four bytes gave `low`. A varint holds at most 64 bits: more than 10
 * bytes, or a 10th byte above 1, is refused (a corrupt or hostile file) instead of producing NaN or Infinity.
 */
function slowVarint(b: Uint8Array, p: number, low: number): number {
  let val = low, mul = 268435456, byte = 0x80;
  for (let i = 4; byte >= 0x80; i++) {
    byte = b[p++];
    if (byte === undefined) break; // past the buffer: the caller reports the truncation
    if (i === 9 && byte >= 0x80) throw new PbfFormatError("malformed protobuf (a varint longer than 10 bytes)");
    if (i === 9 && byte > 1) throw new PbfFormatError("malformed protobuf (a varint overflows 64 bits)");
    val += (byte & 0x7f) * mul;
    mul *= 128;
  }
  VARINT_END = p;
  return val;
}

export function zigzag(n: number): number {
  return n < 4294967296 ? (n >>> 1) ^ -(n & 1) : n % 2 === 1 ? -(n + 1) / 2 : n / 2;
}

export function unzigzag(n: number): number {
  return n >= 0 ? n * 2 : -n * 2 - 1;
}

export const DECODER = new TextDecoder("utf-8");
export const ENCODER = new TextEncoder();

/**
 * The two packed encodings of the PBF format, each decoded by its own loop (a monomorphic hot loop per encoding:
 * the extract decodes tens of millions of these per 200 MB of input, most of them one byte long).
 */

/** Decodes a packed repeated uint32 field (string indexes, member types) in buf[start, end) into `out`; returns the count. */
export function readUints(buf: Uint8Array, start: number, end: number, out: NumberArray): number {
  if (out.data.length < end - start) out.grow(end - start);
  const o = out.data;
  let n = 0, p = start;
  while (p < end) {
    const byte = buf[p];
    if (byte < 0x80) {
      o[n++] = byte;
      p++;
      continue;
    }
    o[n++] = varintAt(buf, p);
    p = VARINT_END;
  }
  if (p > end) throw new PbfFormatError("truncated packed field");
  return n;
}

/**
 * Decodes a packed repeated sint64 field of deltas (ids, coordinates, node refs, member ids) in buf[start, end)
 * into `out` as the running sums; returns the count. A sum beyond ±2^53 (what a double holds exactly) is refused.
 */
export function readDeltaSints(buf: Uint8Array, start: number, end: number, out: NumberArray, what: string): number {
  if (out.data.length < end - start) out.grow(end - start);
  const o = out.data;
  let n = 0, acc = 0, p = start;
  while (p < end) {
    const byte = buf[p];
    if (byte < 0x80) {
      acc += (byte >>> 1) ^ -(byte & 1);
      p++;
    } else {
      const v = varintAt(buf, p);
      p = VARINT_END;
      acc += v < 4294967296 ? (v >>> 1) ^ -(v & 1) : v % 2 === 1 ? -(v + 1) / 2 : v / 2;
    }
    if (acc > MAX_SAFE || acc < -MAX_SAFE) throw new PbfFormatError(`${what} beyond ±2^53 (OSM ids and coordinates are far smaller)`);
    o[n++] = acc;
  }
  if (p > end) throw new PbfFormatError("truncated packed field");
  return n;
}

/** Where the last `varintAt` stopped (a module-level slot: the hot loops avoid allocating a result object). */
export let VARINT_END = 0;

/**
 * The varint at buf[p] (sets VARINT_END past it), for loops that scan a packed field in place. The caller bounds
 * p to the field and checks VARINT_END against the field's end.
 */
export function varintAt(buf: Uint8Array, p: number): number {
  let byte = buf[p++];
  if (byte < 0x80) {
    VARINT_END = p;
    return byte;
  }
  let v = byte & 0x7f;
  byte = buf[p++];
  v |= (byte & 0x7f) << 7;
  if (byte >= 0x80) {
    byte = buf[p++];
    v |= (byte & 0x7f) << 14;
    if (byte >= 0x80) {
      byte = buf[p++];
      v |= (byte & 0x7f) << 21;
      if (byte >= 0x80) return slowVarint(buf, p, v);
    }
  }
  VARINT_END = p;
  return v;
}

/** How many varints buf[start, end) holds (for error messages that give a packed field's length). */
export function countVarints(buf: Uint8Array, start: number, end: number): number {
  let n = 0;
  for (let p = start; p < end; p++) if (buf[p] < 0x80) n++;
  return n;
}

/** A reusable growable Float64Array. */
export class NumberArray {
  data: Float64Array;
  constructor(initial = 1024) {
    this.data = new Float64Array(initial);
  }
  grow(min = this.data.length * 2): void {
    const next = new Float64Array(Math.max(min, this.data.length * 2));
    next.set(this.data);
    this.data = next;
  }
}

/** An append-only protobuf encoder. */
export class ProtoWriter {
  buf: Uint8Array;
  pos = 0;

  constructor(capacity = 256) {
    this.buf = new Uint8Array(capacity);
  }

  /** Empties the writer for reuse (the buffer is kept). */
  reset(): this {
    this.pos = 0;
    return this;
  }

  private ensure(n: number) {
    if (this.pos + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n));
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  varint(n: number): this {
    this.ensure(10);
    const b = this.buf;
    if (n < 0) throw new Error(`negative varint ${n}`);
    while (n >= 0x80) {
      b[this.pos++] = (n % 128) | 0x80;
      n = Math.floor(n / 128);
    }
    b[this.pos++] = n;
    return this;
  }

  svarint(n: number): this {
    return this.varint(unzigzag(n));
  }

  tag(field: number, wire: number): this {
    return this.varint(field * 8 + wire);
  }

  raw(bytes: Uint8Array): this {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
    return this;
  }

  uintField(field: number, n: number): this {
    return this.tag(field, WIRE_VARINT).varint(n);
  }

  sintField(field: number, n: number): this {
    return this.tag(field, WIRE_VARINT).svarint(n);
  }

  bytesField(field: number, bytes: Uint8Array): this {
    return this.tag(field, WIRE_LEN).varint(bytes.length).raw(bytes);
  }

  stringField(field: number, s: string): this {
    return this.bytesField(field, ENCODER.encode(s));
  }

  /** Packed repeated field; `delta` encodes differences, `signed` uses zigzag. */
  packedField(field: number, values: ArrayLike<number>, signed: boolean, delta: boolean): this {
    if (values.length === 0) return this;
    const w = SCRATCH;
    w.pos = 0;
    let prev = 0;
    for (let i = 0; i < values.length; i++) {
      const v = delta ? values[i] - prev : values[i];
      prev = values[i];
      if (signed) w.svarint(v);
      else w.varint(v);
    }
    return this.bytesField(field, w.finish());
  }

  finish(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
}

/** packedField's scratch (packedField never nests, so one is enough). */
const SCRATCH = new ProtoWriter(64 * 1024);
