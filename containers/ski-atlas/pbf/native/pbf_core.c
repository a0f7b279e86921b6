/*
 * The compiled core of the PBF extractor: see pbf_core.h. Each function names the TypeScript it ports; the
 * TypeScript is the reference, and the tests compare the two on every fixture, every crafted hostile file and
 * seeded mutants (pbf/core.test.ts), and fuzz this file under AddressSanitizer and UndefinedBehaviorSanitizer
 * (native/fuzz.c).
 *
 * Why JavaScript's number semantics: the TypeScript reads every varint, id and coordinate into a double, with
 * its own rounding above 2^53, and its checks (ids beyond 2^53, locations outside ±90°/±180°) and messages are
 * defined on those doubles. Computing the same doubles the same way (compiled with -ffp-contract=off, so no
 * fused multiply-add changes a rounding) gives the same verdict and the same message on any input; on real data
 * every value is an exact integer far below 2^53 and the doubles cost nothing measurable.
 *
 * Errors unwind with longjmp to the entry point (every buffer is owned by the context, so nothing leaks), the
 * way the TypeScript throws.
 */
#include "pbf_core.h"

#include <libdeflate.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SAFE 9007199254740991.0 /* Number.MAX_SAFE_INTEGER */
#define MAX_LAT7 900000000.0
#define MAX_LON7 1800000000.0
#define WIRE_VARINT 0
#define WIRE_I64 1
#define WIRE_LEN 2
#define WIRE_I32 5

typedef struct dense_spans { size_t ids[2], lats[2], lons[2], kv[2]; } dense_spans;
typedef struct entity { double id; size_t keys[2], vals[2], refs[2], roles[2], types[2]; } entity;

struct pbf_ctx {
  jmp_buf jmp;
  char err[512];
  int err_format;
  struct libdeflate_decompressor *dec;
  uint8_t *inflated;
  size_t inflated_cap;
  pbf_block block;
  /* n, w (relations are decided on the main thread in TypeScript). */
  pbf_ruleset rs[2];
  const double *needed, *way_refs;
  size_t nneeded, nway_refs;
  /* Scratch of the decoding loops. */
  pbf_dvec ids, lats, lons, ka, kb;
  pbf_uvec keep_idx, take, tag_start;
  dense_spans *dense;
  size_t ndense, dense_cap;
  /* Strings of the current block as JavaScript decodes them: canon_of_index[i] is the identity (among the
   * distinct decoded strings met in this call) of table entry i, or -1 before it is first needed. */
  int32_t *canon_of_index;
  size_t canon_of_index_cap;
  pbf_bytes canon_pool;
  pbf_uvec canon_off;
  uint32_t *ht;
  size_t ht_cap, ht_used;
  /* Per identity: its index in the output's strings (-1: not emitted yet), and the object-building slots. */
  int32_t *emit_of_canon;
  uint32_t *slot_stamp, *slot_pos;
  size_t canon_cap;
  uint32_t stamp;
  int32_t proto_canon; /* identity of "__proto__" in this call, or -2 when not met */
  pbf_uvec pair_k, pair_v, obj_k, obj_v, order, tmp;
  pbf_node_batch nb;
  pbf_way_batch wb;
};

/* ---- errors and memory */

static void fail_at(pbf_ctx *ctx, int format, const char *fmt, ...) __attribute__((noreturn, format(printf, 3, 4)));
static void fail_at(pbf_ctx *ctx, int format, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(ctx->err, sizeof ctx->err, fmt, ap);
  va_end(ap);
  ctx->err_format = format;
  longjmp(ctx->jmp, 1);
}
#define FAIL(...) fail_at(ctx, 1, __VA_ARGS__)

static void grow(pbf_ctx *ctx, void **v, size_t *cap, size_t want, size_t size) {
  size_t next = *cap ? *cap : 64;
  while (next < want) next *= 2;
  void *p = realloc(*v, next * size);
  if (!p) fail_at(ctx, 0, "out of memory (%zu bytes)", next * size);
  *v = p;
  *cap = next;
}
#define RESERVE(vec, want) \
  do { if ((want) > (vec).cap) grow(ctx, (void **)&(vec).v, &(vec).cap, (want), sizeof *(vec).v); } while (0)
#define PUSH(vec, x) \
  do { RESERVE(vec, (vec).n + 1); (vec).v[(vec).n++] = (x); } while (0)

const char *pbf_error(const pbf_ctx *ctx) { return ctx->err; }
int pbf_error_is_format(const pbf_ctx *ctx) { return ctx->err_format; }
const char *pbf_libdeflate_version(void) { return LIBDEFLATE_VERSION_STRING; }

/* ---- JavaScript's numbers */

/* Number::toString (ECMA-262 6.1.6.1.20) of x into out (at least 32 bytes): the shortest digits that read back
 * as x, in JavaScript's layout, for the numbers the error messages print. */
static const char *js_num(double x, char *out) {
  if (x != x) return strcpy(out, "NaN");
  if (x == 0) return strcpy(out, "0");
  if (isinf(x)) return strcpy(out, x < 0 ? "-Infinity" : "Infinity");
  char tmp[40];
  int prec;
  for (prec = 1; prec <= 17; prec++) {
    snprintf(tmp, sizeof tmp, "%.*e", prec - 1, x);
    if (strtod(tmp, NULL) == x) break;
  }
  char digits[24];
  int k = 0, neg = 0;
  const char *p = tmp;
  if (*p == '-') neg = 1, p++;
  for (; *p && *p != 'e'; p++)
    if (*p >= '0' && *p <= '9') digits[k++] = *p;
  while (k > 1 && digits[k - 1] == '0') k--;
  int n = atoi(p + 1) + 1; /* the decimal point's position after the first n digits */
  char *o = out;
  if (neg) *o++ = '-';
  if (k <= n && n <= 21) {
    memcpy(o, digits, k), o += k;
    for (int i = k; i < n; i++) *o++ = '0';
  } else if (0 < n && n <= 21) {
    memcpy(o, digits, n), o += n;
    *o++ = '.';
    memcpy(o, digits + n, k - n), o += k - n;
  } else if (-6 < n && n <= 0) {
    *o++ = '0', *o++ = '.';
    for (int i = 0; i < -n; i++) *o++ = '0';
    memcpy(o, digits, k), o += k;
  } else {
    *o++ = digits[0];
    if (k > 1) *o++ = '.', memcpy(o, digits + 1, k - 1), o += k - 1;
    o += sprintf(o, "e%c%d", n - 1 < 0 ? '-' : '+', abs(n - 1));
  }
  *o = 0;
  return out;
}

/* Math.round: the nearest integer, halves towards +∞. */
static double js_round(double x) {
  if (!isfinite(x)) return x;
  double r = ceil(x);
  if (r - 0.5 > x) r -= 1.0;
  return r;
}

/* protobuf.ts zigzag, on the double a varint was read into. */
static double zigzag(double v) {
  if (v < 4294967296.0) {
    uint32_t u = (uint32_t)v;
    return (double)((int32_t)(u >> 1) ^ -(int32_t)(u & 1));
  }
  return fmod(v, 2.0) == 1.0 ? -(v + 1) / 2 : v / 2;
}

/* decode.ts int64: a protobuf int64 read as an unsigned varint → signed. */
static double int64_of(double v) { return v >= 9223372036854775808.0 ? v - 18446744073709551616.0 : v; }

/* ToUint32 of a field key (a double, possibly above 2^32), whose low bits give the field number and wire type. */
static uint32_t key32(double key) { return (uint32_t)fmod(key, 4294967296.0); }

/* ---- varints (protobuf.ts varintAt / slowVarint): bytes past the buffer read as JavaScript's `undefined` */

static double slow_varint(pbf_ctx *ctx, const uint8_t *b, size_t len, size_t p, uint32_t low, size_t *endp) {
  double val = low, mul = 268435456.0;
  int byte = 0x80;
  for (int i = 4; byte >= 0x80; i++) {
    byte = p < len ? b[p] : -1;
    p++;
    if (byte < 0) break;
    if (i == 9 && byte >= 0x80) FAIL("malformed protobuf (a varint longer than 10 bytes)");
    if (i == 9 && byte > 1) FAIL("malformed protobuf (a varint overflows 64 bits)");
    val += (byte & 0x7f) * mul;
    mul *= 128;
  }
  *endp = p;
  return val;
}

static inline double varint_at(pbf_ctx *ctx, const uint8_t *b, size_t len, size_t p, size_t *endp) {
  int byte = p < len ? b[p] : -1;
  p++;
  if (byte >= 0 && byte < 0x80) {
    *endp = p;
    return byte;
  }
  uint32_t v = byte < 0 ? 0 : (uint32_t)(byte & 0x7f);
  byte = p < len ? b[p] : -1;
  p++;
  v |= (uint32_t)(byte < 0 ? 0 : byte & 0x7f) << 7;
  if (byte >= 0x80) {
    byte = p < len ? b[p] : -1;
    p++;
    v |= (uint32_t)(byte & 0x7f) << 14;
    if (byte >= 0x80) {
      byte = p < len ? b[p] : -1;
      p++;
      v |= (uint32_t)(byte & 0x7f) << 21;
      if (byte >= 0x80) return slow_varint(ctx, b, len, p, v, endp);
    }
  }
  *endp = p;
  return v;
}

/* ---- a reader over buf[pos, end) of a buffer of len bytes (protobuf.ts ProtoReader) */

typedef struct rd { const uint8_t *buf; size_t len, pos, end; } rd;

static double rd_varint(pbf_ctx *ctx, rd *r) {
  size_t p;
  double v = varint_at(ctx, r->buf, r->len, r->pos, &p);
  if (p > r->end) FAIL("truncated varint");
  r->pos = p;
  return v;
}

static double rd_key(pbf_ctx *ctx, rd *r) {
  double key = rd_varint(ctx, r);
  if (key < 8) FAIL("malformed protobuf (field number 0 at byte %zu)", r->pos);
  uint32_t wire = key32(key) & 7;
  if (wire != WIRE_VARINT && wire != WIRE_LEN && wire != WIRE_I64 && wire != WIRE_I32) FAIL("malformed protobuf (wire type %u at byte %zu)", wire, r->pos);
  return key;
}

static void rd_span(pbf_ctx *ctx, rd *r, size_t span[2]) {
  double len = rd_varint(ctx, r);
  if ((double)r->pos + len > (double)r->end) FAIL("truncated length-delimited field");
  span[0] = r->pos;
  span[1] = r->pos + (size_t)len;
  r->pos = span[1];
}

static void rd_skip(pbf_ctx *ctx, rd *r, uint32_t wire) {
  switch (wire) {
    case WIRE_VARINT: rd_varint(ctx, r); return;
    case WIRE_I64: r->pos += 8; break;
    case WIRE_LEN: {
      double len = rd_varint(ctx, r);
      if (len + (double)r->pos > (double)r->end) FAIL("truncated length-delimited field");
      r->pos += (size_t)len;
      return;
    }
    case WIRE_I32: r->pos += 4; break;
    default: FAIL("unsupported protobuf wire type %u", wire);
  }
  if (r->pos > r->end) FAIL("truncated field");
}

/* ---- packed fields (protobuf.ts readUints / readDeltaSints / countVarints) */

static size_t read_uints(pbf_ctx *ctx, size_t start, size_t end, pbf_dvec *o) {
  const uint8_t *b = ctx->block.data;
  size_t len = ctx->block.len, n = 0, p = start;
  RESERVE(*o, end - start + 1);
  while (p < end) {
    if (b[p] < 0x80) {
      o->v[n++] = b[p++];
      continue;
    }
    o->v[n++] = varint_at(ctx, b, len, p, &p);
  }
  if (p > end) FAIL("truncated packed field");
  return n;
}

static size_t read_delta_sints(pbf_ctx *ctx, size_t start, size_t end, pbf_dvec *o, const char *what) {
  const uint8_t *b = ctx->block.data;
  size_t len = ctx->block.len, n = 0, p = start;
  double acc = 0;
  RESERVE(*o, end - start + 1);
  while (p < end) {
    uint32_t byte = b[p];
    if (byte < 0x80) {
      acc += (double)((int32_t)(byte >> 1) ^ -(int32_t)(byte & 1));
      p++;
    } else {
      acc += zigzag(varint_at(ctx, b, len, p, &p));
    }
    if (acc > MAX_SAFE || acc < -MAX_SAFE) FAIL("%s beyond ±2^53 (OSM ids and coordinates are far smaller)", what);
    o->v[n++] = acc;
  }
  if (p > end) FAIL("truncated packed field");
  return n;
}

static size_t count_varints(const uint8_t *b, size_t start, size_t end) {
  size_t n = 0;
  for (size_t p = start; p < end; p++) n += b[p] < 0x80;
  return n;
}

/* ---- checks with the TypeScript's messages (decode.ts, node-filter.ts) */

static void fail_unsorted(pbf_ctx *ctx) __attribute__((noreturn));
static void fail_unsorted(pbf_ctx *ctx) { FAIL("the file is not sorted by type then id (nodes, ways, relations): sort it with osmium sort"); }

static void fail_string_index(pbf_ctx *ctx, double i) __attribute__((noreturn));
static void fail_string_index(pbf_ctx *ctx, double i) {
  char a[40];
  FAIL("string index %s is out of range (the block's string table has %zu entries)", js_num(i, a), ctx->block.str_start.n);
}

static void check_id(pbf_ctx *ctx, const char *kind, double id) {
  char a[40];
  if (!(id <= MAX_SAFE)) FAIL("a %s id is beyond 2^53 (%s): not an OSM id", kind, js_num(id, a));
}

static void check_location(pbf_ctx *ctx, double id, double lat7, double lon7) {
  char a[40], b[40];
  if (!(lat7 >= -MAX_LAT7 && lat7 <= MAX_LAT7)) FAIL("node %s has latitude %s, outside ±90°", js_num(id, a), js_num(lat7 / 1e7, b));
  if (!(lon7 >= -MAX_LON7 && lon7 <= MAX_LON7)) FAIL("node %s has longitude %s, outside ±180°", js_num(id, a), js_num(lon7 / 1e7, b));
}

static void fail_dense_kv(pbf_ctx *ctx, size_t start, size_t end, size_t n) __attribute__((noreturn));
static void fail_dense_kv(pbf_ctx *ctx, size_t start, size_t end, size_t n) {
  FAIL("dense nodes: keys_vals (%zu entries) does not hold one 0-terminated tag list per node (%zu nodes)", count_varints(ctx->block.data, start, end), n);
}

static double lat7_of(const pbf_block *b, double v) { return js_round((b->lat_offset + b->granularity * v) / 100); }
static double lon7_of(const pbf_block *b, double v) { return js_round((b->lon_offset + b->granularity * v) / 100); }

/* ---- the PrimitiveBlock (decode.ts PrimitiveBlock's constructor) */

static void parse_block(pbf_ctx *ctx) {
  pbf_block *B = &ctx->block;
  B->str_start.n = B->str_end.n = 0;
  B->ngroups = 0;
  B->granularity = 100;
  B->lat_offset = B->lon_offset = 0;
  rd r = {B->data, B->len, 0, B->len};
  int has_string_table = 0;
  while (r.pos < r.end) {
    uint32_t k = key32(rd_key(ctx, &r)), field = k >> 3, wire = k & 7;
    if ((field == 1 || field == 2) && wire != WIRE_LEN) FAIL("not an OSM PrimitiveBlock (field %u has wire type %u)", field, wire);
    if ((field == 17 || field == 19 || field == 20) && wire != WIRE_VARINT) FAIL("not an OSM PrimitiveBlock (field %u has wire type %u)", field, wire);
    if (field == 1) {
      has_string_table = 1;
      size_t span[2];
      rd_span(ctx, &r, span);
      rd st = {B->data, B->len, span[0], span[1]};
      while (st.pos < st.end) {
        double key = rd_key(ctx, &st);
        if (key == ((1 << 3) | WIRE_LEN)) {
          size_t s[2];
          rd_span(ctx, &st, s);
          PUSH(B->str_start, (uint32_t)s[0]);
          PUSH(B->str_end, (uint32_t)s[1]);
        } else {
          rd_skip(ctx, &st, key32(key) & 7);
        }
      }
    } else if (field == 2) {
      size_t span[2];
      rd_span(ctx, &r, span);
      rd g = {B->data, B->len, span[0], span[1]};
      uint32_t kind = 0;
      size_t gs = 0;
      while (g.pos < g.end) {
        size_t at = g.pos;
        uint32_t gk = key32(rd_key(ctx, &g)), f = gk >> 3, w = gk & 7;
        if (f >= 1 && f <= 5 && w != WIRE_LEN) FAIL("not an OSM PrimitiveGroup (field %u has wire type %u)", f, w);
        rd_skip(ctx, &g, w);
        if (f >= 1 && f <= 4) {
          if (kind == 0) kind = f, gs = at;
          else if (kind != f) FAIL("a PrimitiveGroup mixes entity kinds");
        }
      }
      if (kind != 0) {
        if (B->ngroups == PBF_MAX_GROUPS) FAIL("more than %u PrimitiveGroups in one block (writers use one per entity type)", PBF_MAX_GROUPS);
        if (B->ngroups == B->groups_cap) grow(ctx, (void **)&B->groups, &B->groups_cap, B->ngroups + 1, sizeof *B->groups);
        B->groups[B->ngroups++] = (pbf_group){(int)kind, gs, span[1]};
      }
    } else if (field == 17) {
      B->granularity = rd_varint(ctx, &r);
    } else if (field == 19) {
      B->lat_offset = int64_of(rd_varint(ctx, &r));
    } else if (field == 20) {
      B->lon_offset = int64_of(rd_varint(ctx, &r));
    } else {
      rd_skip(ctx, &r, wire);
    }
  }
  if (!has_string_table) FAIL("not an OSM PrimitiveBlock (no string table)");
  if (B->granularity <= 0) FAIL("bad granularity");
}

/* ---- strings as JavaScript sees them */

static int is_ascii(const uint8_t *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (s[i] >= 0x80) return 0;
  return 1;
}

static void put_code_point(pbf_ctx *ctx, pbf_bytes *o, uint32_t cp) {
  RESERVE(*o, o->n + 4);
  uint8_t *w = o->v + o->n;
  if (cp < 0x80) w[0] = (uint8_t)cp, o->n += 1;
  else if (cp < 0x800) w[0] = 0xc0 | (cp >> 6), w[1] = 0x80 | (cp & 0x3f), o->n += 2;
  else if (cp < 0x10000) w[0] = 0xe0 | (cp >> 12), w[1] = 0x80 | ((cp >> 6) & 0x3f), w[2] = 0x80 | (cp & 0x3f), o->n += 3;
  else w[0] = 0xf0 | (cp >> 18), w[1] = 0x80 | ((cp >> 12) & 0x3f), w[2] = 0x80 | ((cp >> 6) & 0x3f), w[3] = 0x80 | (cp & 0x3f), o->n += 4;
}

/*
 * Appends what `new TextDecoder("utf-8").decode(s)` gives, as UTF-8: the WHATWG Encoding Standard's UTF-8
 * decoder (each maximal invalid subsequence becomes one U+FFFD) with a leading byte order mark dropped. Two
 * different byte strings can decode to the same JavaScript string; the TypeScript keys tags by that string.
 */
static void append_decoded(pbf_ctx *ctx, pbf_bytes *o, const uint8_t *s, size_t n) {
  uint32_t cp = 0, needed = 0, seen = 0, lower = 0x80, upper = 0xbf;
  int first = 1;
#define EMIT(c) \
  do { uint32_t c_ = (c); if (first) { first = 0; if (c_ == 0xfeff) break; } put_code_point(ctx, o, c_); } while (0)
  for (size_t i = 0; i < n;) {
    uint32_t byte = s[i];
    if (needed == 0) {
      i++;
      if (byte <= 0x7f) EMIT(byte);
      else if (byte >= 0xc2 && byte <= 0xdf) needed = 1, cp = byte & 0x1f;
      else if (byte >= 0xe0 && byte <= 0xef) {
        if (byte == 0xe0) lower = 0xa0;
        if (byte == 0xed) upper = 0x9f;
        needed = 2, cp = byte & 0xf;
      } else if (byte >= 0xf0 && byte <= 0xf4) {
        if (byte == 0xf0) lower = 0x90;
        if (byte == 0xf4) upper = 0x8f;
        needed = 3, cp = byte & 0x7;
      } else EMIT(0xfffd);
      continue;
    }
    if (byte < lower || byte > upper) {
      cp = needed = seen = 0, lower = 0x80, upper = 0xbf;
      EMIT(0xfffd);
      continue; /* the byte is read again */
    }
    i++;
    lower = 0x80, upper = 0xbf;
    cp = (cp << 6) | (byte & 0x3f);
    if (++seen == needed) {
      EMIT(cp);
      cp = needed = seen = 0;
    }
  }
  if (needed != 0) EMIT(0xfffd);
#undef EMIT
}

static uint32_t hash_bytes(const uint8_t *s, size_t n) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 16777619u;
  return h;
}

static void ht_insert(pbf_ctx *ctx, uint32_t id) {
  const uint8_t *s = ctx->canon_pool.v + ctx->canon_off.v[id];
  size_t n = ctx->canon_off.v[id + 1] - ctx->canon_off.v[id];
  size_t mask = ctx->ht_cap - 1, h = hash_bytes(s, n) & mask;
  while (ctx->ht[h]) h = (h + 1) & mask;
  ctx->ht[h] = id + 1;
  ctx->ht_used++;
}

/* Resets the per-call string state for a block of `nstr` strings. */
static void begin_strings(pbf_ctx *ctx) {
  size_t nstr = ctx->block.str_start.n;
  if (nstr > ctx->canon_of_index_cap) grow(ctx, (void **)&ctx->canon_of_index, &ctx->canon_of_index_cap, nstr, sizeof *ctx->canon_of_index);
  if (nstr) memset(ctx->canon_of_index, 0xff, nstr * sizeof *ctx->canon_of_index);
  ctx->canon_pool.n = 0;
  ctx->canon_off.n = 0;
  PUSH(ctx->canon_off, 0);
  if (ctx->ht_cap == 0) grow(ctx, (void **)&ctx->ht, &ctx->ht_cap, 256, sizeof *ctx->ht);
  memset(ctx->ht, 0, ctx->ht_cap * sizeof *ctx->ht);
  ctx->ht_used = 0;
  ctx->proto_canon = -2;
}

/* The identity of string-table entry i (already checked to be in range) among the decoded strings. */
static uint32_t canon(pbf_ctx *ctx, uint32_t i) {
  if (ctx->canon_of_index[i] >= 0) return (uint32_t)ctx->canon_of_index[i];
  const pbf_block *B = &ctx->block;
  const uint8_t *s = B->data + B->str_start.v[i];
  size_t n = B->str_end.v[i] - B->str_start.v[i], at = ctx->canon_pool.n;
  if (is_ascii(s, n)) {
    RESERVE(ctx->canon_pool, at + n);
    memcpy(ctx->canon_pool.v + at, s, n);
    ctx->canon_pool.n += n;
  } else {
    append_decoded(ctx, &ctx->canon_pool, s, n);
  }
  const uint8_t *c = ctx->canon_pool.v + at;
  size_t cn = ctx->canon_pool.n - at, mask = ctx->ht_cap - 1, h = hash_bytes(c, cn) & mask;
  for (; ctx->ht[h]; h = (h + 1) & mask) {
    uint32_t id = ctx->ht[h] - 1;
    size_t o = ctx->canon_off.v[id];
    if (ctx->canon_off.v[id + 1] - o == cn && memcmp(ctx->canon_pool.v + o, c, cn) == 0) {
      ctx->canon_pool.n = at;
      return (uint32_t)(ctx->canon_of_index[i] = (int32_t)id);
    }
  }
  uint32_t id = (uint32_t)ctx->canon_off.n - 1;
  PUSH(ctx->canon_off, (uint32_t)ctx->canon_pool.n);
  if (id + 1 > ctx->canon_cap) {
    size_t cap = ctx->canon_cap, cap2 = ctx->canon_cap, cap3 = ctx->canon_cap;
    grow(ctx, (void **)&ctx->emit_of_canon, &cap, id + 1, sizeof *ctx->emit_of_canon);
    grow(ctx, (void **)&ctx->slot_stamp, &cap2, id + 1, sizeof *ctx->slot_stamp);
    grow(ctx, (void **)&ctx->slot_pos, &cap3, id + 1, sizeof *ctx->slot_pos);
    ctx->canon_cap = cap;
  }
  ctx->emit_of_canon[id] = -1;
  ctx->slot_stamp[id] = 0;
  if ((ctx->ht_used + 1) * 2 > ctx->ht_cap) {
    size_t cap = ctx->ht_cap;
    grow(ctx, (void **)&ctx->ht, &cap, ctx->ht_cap * 2, sizeof *ctx->ht);
    ctx->ht_cap = cap;
    memset(ctx->ht, 0, cap * sizeof *ctx->ht);
    ctx->ht_used = 0;
    for (uint32_t j = 0; j < id; j++) ht_insert(ctx, j);
  }
  ht_insert(ctx, id);
  if (cn == 9 && memcmp(c, "__proto__", 9) == 0) ctx->proto_canon = (int32_t)id;
  return (uint32_t)(ctx->canon_of_index[i] = (int32_t)id);
}

static pbf_str canon_str(const pbf_ctx *ctx, uint32_t id) {
  return (pbf_str){ctx->canon_pool.v + ctx->canon_off.v[id], ctx->canon_off.v[id + 1] - ctx->canon_off.v[id]};
}

/* An array index (ECMA-262: a canonical numeric string of an integer below 2^32 - 1): enumerated first, ascending. */
static int array_index(pbf_str s, uint32_t *value) {
  if (s.n == 0 || s.n > 10 || (s.n > 1 && s.s[0] == '0')) return 0;
  uint64_t v = 0;
  for (size_t i = 0; i < s.n; i++) {
    if (s.s[i] < '0' || s.s[i] > '9') return 0;
    v = v * 10 + (s.s[i] - '0');
  }
  if (v > 4294967294u) return 0;
  *value = (uint32_t)v;
  return 1;
}

/*
 * The (key, value) pairs in pair_k / pair_v (identities), set one after the other on a fresh JavaScript object
 * (`tags[key] = value`): a repeated key keeps its first position and its last value; "__proto__" sets nothing (its
 * setter ignores a string); `for (k in tags)` then gives the array-index keys ascending, then the others in
 * insertion order. Leaves that order in obj_k / obj_v.
 */
static void object_order(pbf_ctx *ctx) {
  if (++ctx->stamp == 0) {
    memset(ctx->slot_stamp, 0, ctx->canon_cap * sizeof *ctx->slot_stamp);
    ctx->stamp = 1;
  }
  ctx->obj_k.n = ctx->obj_v.n = 0;
  size_t nindex = 0;
  for (size_t i = 0; i < ctx->pair_k.n; i++) {
    uint32_t k = ctx->pair_k.v[i], v = ctx->pair_v.v[i];
    if ((int32_t)k == ctx->proto_canon) continue;
    if (ctx->slot_stamp[k] == ctx->stamp) {
      ctx->obj_v.v[ctx->slot_pos[k]] = v;
      continue;
    }
    ctx->slot_stamp[k] = ctx->stamp;
    ctx->slot_pos[k] = (uint32_t)ctx->obj_k.n;
    PUSH(ctx->obj_k, k);
    PUSH(ctx->obj_v, v);
    uint32_t ignored;
    nindex += array_index(canon_str(ctx, k), &ignored);
  }
  if (nindex == 0) return;
  /* Stable partition: index keys (sorted by value) first. Few tags have numeric keys: insertion sort. */
  size_t n = ctx->obj_k.n;
  ctx->order.n = 0;
  RESERVE(ctx->order, 2 * n);
  uint32_t *idx = ctx->order.v, *val = ctx->order.v + n;
  size_t m = 0;
  for (size_t i = 0; i < n; i++) {
    uint32_t v;
    if (!array_index(canon_str(ctx, ctx->obj_k.v[i]), &v)) continue;
    size_t j = m++;
    while (j > 0 && val[j - 1] > v) idx[j] = idx[j - 1], val[j] = val[j - 1], j--;
    idx[j] = (uint32_t)i, val[j] = v;
  }
  for (size_t i = 0; i < n; i++) {
    uint32_t v;
    if (!array_index(canon_str(ctx, ctx->obj_k.v[i]), &v)) idx[m++] = (uint32_t)i;
  }
  RESERVE(ctx->tmp, 2 * n);
  uint32_t *k2 = ctx->tmp.v, *v2 = ctx->tmp.v + n;
  for (size_t i = 0; i < n; i++) k2[i] = ctx->obj_k.v[idx[i]], v2[i] = ctx->obj_v.v[idx[i]];
  memcpy(ctx->obj_k.v, k2, n * sizeof *k2);
  memcpy(ctx->obj_v.v, v2, n * sizeof *v2);
}

/* The index of identity c in the output's strings (way-store.ts StringTable.id: numbered in order of first use). */
static uint32_t emit(pbf_ctx *ctx, pbf_tagcols *t, uint32_t c) {
  if (ctx->emit_of_canon[c] >= 0) return (uint32_t)ctx->emit_of_canon[c];
  pbf_str s = canon_str(ctx, c);
  uint32_t j = (uint32_t)t->off.n - 1;
  RESERVE(t->pool, t->pool.n + s.n);
  memcpy(t->pool.v + t->pool.n, s.s, s.n);
  t->pool.n += s.n;
  PUSH(t->off, (uint32_t)t->pool.n);
  return (uint32_t)(ctx->emit_of_canon[c] = (int32_t)j);
}

static void tagcols_reset(pbf_ctx *ctx, pbf_tagcols *t) {
  t->ends.n = t->strs.n = t->pool.n = t->off.n = 0;
  PUSH(t->off, 0);
}

/* Appends the object built from pair_k / pair_v as one entity's tags. */
static void emit_object(pbf_ctx *ctx, pbf_tagcols *t) {
  object_order(ctx);
  for (size_t i = 0; i < ctx->obj_k.n; i++) {
    uint32_t k = emit(ctx, t, ctx->obj_k.v[i]);
    uint32_t v = emit(ctx, t, ctx->obj_v.v[i]);
    PUSH(t->strs, k);
    PUSH(t->strs, v);
  }
  PUSH(t->ends, (uint32_t)t->strs.n);
}

/* decode.ts tagsOf into pair_k / pair_v: every index checked against the string table, the key's first. */
static void tags_of(pbf_ctx *ctx, const size_t keys[2], const size_t vals[2]) {
  ctx->pair_k.n = ctx->pair_v.n = 0;
  if (keys[1] == keys[0] && vals[1] == vals[0]) return;
  size_t nk = read_uints(ctx, keys[0], keys[1], &ctx->ka);
  size_t nv = read_uints(ctx, vals[0], vals[1], &ctx->kb);
  if (nk != nv) FAIL("keys and vals differ in length");
  size_t strings = ctx->block.str_start.n;
  for (size_t i = 0; i < nk; i++) {
    double k = ctx->ka.v[i], v = ctx->kb.v[i];
    if (!(k < (double)strings)) fail_string_index(ctx, k);
    uint32_t ck = canon(ctx, (uint32_t)k);
    if (!(v < (double)strings)) fail_string_index(ctx, v);
    PUSH(ctx->pair_k, ck);
    PUSH(ctx->pair_v, canon(ctx, (uint32_t)v));
  }
}

/* ---- tag rules (rules.ts) */

static int str_eq(pbf_str a, const uint8_t *b, size_t n) { return a.n == n && memcmp(a.s, b, n) == 0; }

static void prepare(pbf_ctx *ctx, pbf_ruleset *rs) {
  const pbf_block *B = &ctx->block;
  size_t n = B->str_start.n;
  if (n > rs->mask_cap) {
    size_t cap = rs->mask_cap;
    grow(ctx, (void **)&rs->key_mask, &cap, n, sizeof *rs->key_mask);
    cap = rs->mask_cap;
    grow(ctx, (void **)&rs->val_mask, &cap, n, sizeof *rs->val_mask);
    rs->mask_cap = cap;
  }
  uint32_t keys = 0, vals = 0;
  for (size_t i = 0; i < n; i++) {
    const uint8_t *s = B->data + B->str_start.v[i];
    size_t len = B->str_end.v[i] - B->str_start.v[i];
    uint32_t km = 0, vm = 0;
    for (size_t j = 0; j < rs->nkeys; j++)
      if (str_eq(rs->keys[j], s, len)) { km = rs->key_bits[j]; break; }
    for (size_t j = 0; j < rs->nvals; j++)
      if (str_eq(rs->vals[j], s, len)) { vm = rs->val_bits[j]; break; }
    rs->key_mask[i] = km;
    rs->val_mask[i] = vm;
    keys |= km;
    vals |= vm;
  }
  rs->relevant = (keys & (rs->any_mask | vals)) != 0;
}

static int rule_match(const pbf_ruleset *rs, uint32_t k, uint32_t v) { return (rs->key_mask[k] & (rs->any_mask | rs->val_mask[v])) != 0; }

/* rules.ts plainMatch, on decoded strings. */
static int plain_match(const pbf_ruleset *rs, pbf_str key, pbf_str value) {
  for (size_t i = 0; i < rs->nrules; i++) {
    const pbf_rule *r = &rs->rules[i];
    if (!str_eq(r->key, key.s, key.n)) continue;
    if (!r->values) return 1;
    for (size_t j = 0; j < r->nvalues; j++)
      if (str_eq(r->values[j], value.s, value.n)) return 1;
  }
  return 0;
}

static pbf_str copy_str(pbf_ctx *ctx, pbf_str s) {
  uint8_t *p = malloc(s.n ? s.n : 1);
  if (!p) fail_at(ctx, 0, "out of memory");
  memcpy(p, s.s, s.n);
  return (pbf_str){p, s.n};
}

int pbf_add_rule(pbf_ctx *ctx, const char *types, size_t ntypes, pbf_str key, const pbf_str *values, long nvalues) {
  if (setjmp(ctx->jmp)) return -1;
  static const char TYPES[2] = {'n', 'w'};
  for (int t = 0; t < 2; t++) {
    if (!memchr(types, TYPES[t], ntypes)) continue;
    pbf_ruleset *rs = &ctx->rs[t];
    if (rs->nrules == PBF_MAX_RULES_PER_TYPE) fail_at(ctx, 0, "too many tag rules");
    uint32_t bit = 1u << rs->nrules;
    pbf_rule *r = &rs->rules[rs->nrules++];
    r->key = copy_str(ctx, key);
    r->values = NULL;
    r->nvalues = 0;
    size_t j;
    for (j = 0; j < rs->nkeys && !str_eq(rs->keys[j], key.s, key.n); j++) {}
    if (j == rs->nkeys) rs->keys[rs->nkeys] = r->key, rs->key_bits[rs->nkeys++] = 0;
    rs->key_bits[j] |= bit;
    if (nvalues < 0) {
      rs->any_mask |= bit;
      continue;
    }
    r->values = calloc((size_t)nvalues + 1, sizeof *r->values);
    if (!r->values) fail_at(ctx, 0, "out of memory");
    r->nvalues = (size_t)nvalues;
    for (long i = 0; i < nvalues; i++) {
      r->values[i] = copy_str(ctx, values[i]);
      for (j = 0; j < rs->nvals && !str_eq(rs->vals[j], values[i].s, values[i].n); j++) {}
      if (j == rs->nvals) {
        size_t cap = rs->nvals, cap2 = rs->nvals;
        grow(ctx, (void **)&rs->vals, &cap, rs->nvals + 1, sizeof *rs->vals);
        grow(ctx, (void **)&rs->val_bits, &cap2, rs->nvals + 1, sizeof *rs->val_bits);
        rs->vals[rs->nvals] = r->values[i];
        rs->val_bits[rs->nvals++] = 0;
      }
      rs->val_bits[j] |= bit;
    }
  }
  return 0;
}

void pbf_set_needed(pbf_ctx *ctx, const double *ids, size_t n) { ctx->needed = ids, ctx->nneeded = n; }
void pbf_set_way_refs(pbf_ctx *ctx, const double *ids, size_t n) { ctx->way_refs = ids, ctx->nway_refs = n; }

/* ---- the context */

pbf_ctx *pbf_ctx_new(void) {
  pbf_ctx *ctx = calloc(1, sizeof *ctx);
  if (!ctx) return NULL;
  ctx->dec = libdeflate_alloc_decompressor();
  if (!ctx->dec) {
    free(ctx);
    return NULL;
  }
  return ctx;
}

static void free_tagcols(pbf_tagcols *t) { free(t->ends.v), free(t->strs.v), free(t->pool.v), free(t->off.v); }

void pbf_ctx_free(pbf_ctx *ctx) {
  if (!ctx) return;
  libdeflate_free_decompressor(ctx->dec);
  free(ctx->inflated);
  free(ctx->block.str_start.v), free(ctx->block.str_end.v), free(ctx->block.groups);
  for (int t = 0; t < 2; t++) {
    pbf_ruleset *rs = &ctx->rs[t];
    for (size_t i = 0; i < rs->nrules; i++) {
      free((void *)rs->rules[i].key.s);
      for (size_t j = 0; j < rs->rules[i].nvalues; j++) free((void *)rs->rules[i].values[j].s);
      free(rs->rules[i].values);
    }
    free(rs->vals), free(rs->val_bits), free(rs->key_mask), free(rs->val_mask);
  }
  free(ctx->ids.v), free(ctx->lats.v), free(ctx->lons.v), free(ctx->ka.v), free(ctx->kb.v);
  free(ctx->keep_idx.v), free(ctx->take.v), free(ctx->tag_start.v), free(ctx->dense);
  free(ctx->canon_of_index), free(ctx->canon_pool.v), free(ctx->canon_off.v), free(ctx->ht);
  free(ctx->emit_of_canon), free(ctx->slot_stamp), free(ctx->slot_pos);
  free(ctx->pair_k.v), free(ctx->pair_v.v), free(ctx->obj_k.v), free(ctx->obj_v.v), free(ctx->order.v), free(ctx->tmp.v);
  free(ctx->nb.ids.v), free(ctx->nb.lat7.v), free(ctx->nb.lon7.v), free_tagcols(&ctx->nb.tags);
  free(ctx->wb.ids.v), free(ctx->wb.ref_ends.v), free(ctx->wb.ref_bytes.v), free_tagcols(&ctx->wb.tags);
  free(ctx);
}

/* ---- loading a block: inflate (blocks.ts inflateParsedSync, with libdeflate), then parse */

/* Inflates a zlib Blob into the context's buffer (blocks.ts inflateParsedSync's limits); 0, 1 (refused) or -1. */
static int inflate_blob(pbf_ctx *ctx, const uint8_t *in, size_t n, double raw_size) {
  /* As zlib's maxOutputLength in blocks.ts: the declared size, at least 1 byte, or the format's limit. */
  double limit = raw_size >= 0 ? raw_size : PBF_MAX_BLOB_RAW;
  size_t avail = limit < 1 ? 1 : (size_t)limit, actual = 0;
  if (avail > ctx->inflated_cap) {
    free(ctx->inflated);
    ctx->inflated = malloc(avail);
    ctx->inflated_cap = ctx->inflated ? avail : 0;
    if (!ctx->inflated) fail_at(ctx, 0, "out of memory (%zu bytes)", avail);
  }
  if (libdeflate_zlib_decompress(ctx->dec, in, n, ctx->inflated, avail, &actual) != LIBDEFLATE_SUCCESS) return 1;
  char a[40];
  if (raw_size >= 0 && (double)actual != raw_size) FAIL("the Blob inflates to %zu bytes, its raw_size says %s", actual, js_num(raw_size, a));
  ctx->block.data = ctx->inflated;
  ctx->block.len = actual;
  return 0;
}

int pbf_inflate(pbf_ctx *ctx, const uint8_t *in, size_t n, double raw_size) {
  if (setjmp(ctx->jmp)) return -1;
  return inflate_blob(ctx, in, n, raw_size);
}

int pbf_load_block(pbf_ctx *ctx, const uint8_t *in, size_t n, double raw_size) {
  if (setjmp(ctx->jmp)) return -1;
  pbf_block *B = &ctx->block;
  if (raw_size == PBF_INFLATED) {
    B->data = in;
    B->len = n;
  } else if (inflate_blob(ctx, in, n, raw_size) == 1) {
    return 1;
  }
  parse_block(ctx);
  return 0;
}

const uint8_t *pbf_block_data(const pbf_ctx *ctx, size_t *len) {
  *len = ctx->block.len;
  return ctx->block.data;
}

/* ---- group walking (decode.ts forEachMessage, readEntity, denseSpans) */

static int next_message(pbf_ctx *ctx, rd *r, int kind, size_t span[2]) {
  const double wanted = (double)((kind << 3) | WIRE_LEN);
  while (r->pos < r->end) {
    double key = rd_key(ctx, r);
    if (key != wanted) {
      rd_skip(ctx, r, key32(key) & 7);
      continue;
    }
    rd_span(ctx, r, span);
    return 1;
  }
  return 0;
}

static void read_entity(pbf_ctx *ctx, int relation, const size_t span[2], entity *e) {
  memset(e, 0, sizeof *e);
  rd m = {ctx->block.data, ctx->block.len, span[0], span[1]};
  while (m.pos < m.end) {
    uint32_t k = key32(rd_key(ctx, &m)), f = k >> 3, w = k & 7;
    if (f == 1 && w == WIRE_VARINT) e->id = rd_varint(ctx, &m);
    else if (w != WIRE_LEN) rd_skip(ctx, &m, w);
    else if (f == 2) rd_span(ctx, &m, e->keys);
    else if (f == 3) rd_span(ctx, &m, e->vals);
    else if (f == 8) rd_span(ctx, &m, relation ? e->roles : e->refs);
    else if (f == 9 && relation) rd_span(ctx, &m, e->refs);
    else if (f == 10 && relation) rd_span(ctx, &m, e->types);
    else rd_skip(ctx, &m, w);
  }
  check_id(ctx, relation ? "relation" : "way", e->id);
}

static void dense_spans_of(pbf_ctx *ctx, const pbf_group *g) {
  ctx->ndense = 0;
  rd r = {ctx->block.data, ctx->block.len, g->start, g->end};
  size_t span[2];
  while (next_message(ctx, &r, PBF_GROUP_DENSE, span)) {
    dense_spans d = {{0, 0}, {0, 0}, {0, 0}, {0, 0}};
    rd m = {ctx->block.data, ctx->block.len, span[0], span[1]};
    while (m.pos < m.end) {
      uint32_t k = key32(rd_key(ctx, &m)), f = k >> 3;
      if ((k & 7) != WIRE_LEN) rd_skip(ctx, &m, k & 7);
      else if (f == 1) rd_span(ctx, &m, d.ids);
      else if (f == 8) rd_span(ctx, &m, d.lats);
      else if (f == 9) rd_span(ctx, &m, d.lons);
      else if (f == 10) rd_span(ctx, &m, d.kv);
      else rd_skip(ctx, &m, k & 7);
    }
    if (ctx->ndense == ctx->dense_cap) grow(ctx, (void **)&ctx->dense, &ctx->dense_cap, ctx->ndense + 1, sizeof *ctx->dense);
    ctx->dense[ctx->ndense++] = d;
  }
}

/* ---- pass 2: node-filter.ts NodeFilter.filter */

static size_t seek(const double *needed, size_t n, double id) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = (lo + hi) >> 1;
    if (needed[mid] < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

static void node_push(pbf_ctx *ctx, double id, double lat7, double lon7) {
  pbf_node_batch *nb = &ctx->nb;
  PUSH(nb->ids, id);
  PUSH(nb->lat7, (int32_t)lat7);
  PUSH(nb->lon7, (int32_t)lon7);
  emit_object(ctx, &nb->tags);
  nb->count++;
}

static void plain_nodes(pbf_ctx *ctx, const pbf_group *g) {
  const pbf_block *B = &ctx->block;
  const pbf_ruleset *rs = &ctx->rs[0];
  rd r = {B->data, B->len, g->start, g->end};
  size_t span[2];
  while (next_message(ctx, &r, PBF_GROUP_NODES, span)) {
    rd m = {B->data, B->len, span[0], span[1]};
    double id = 0, lat = 0, lon = 0;
    size_t keys[2] = {0, 0}, vals[2] = {0, 0};
    while (m.pos < m.end) {
      uint32_t k = key32(rd_key(ctx, &m)), f = k >> 3, w = k & 7;
      if (f == 1 && w == WIRE_VARINT) id = zigzag(rd_varint(ctx, &m));
      else if (f == 8 && w == WIRE_VARINT) lat = zigzag(rd_varint(ctx, &m));
      else if (f == 9 && w == WIRE_VARINT) lon = zigzag(rd_varint(ctx, &m));
      else if (f == 2 && w == WIRE_LEN) rd_span(ctx, &m, keys);
      else if (f == 3 && w == WIRE_LEN) rd_span(ctx, &m, vals);
      else rd_skip(ctx, &m, w);
    }
    check_id(ctx, "node", fabs(id));
    double lat7 = lat7_of(B, lat), lon7 = lon7_of(B, lon);
    check_location(ctx, id, lat7, lon7);
    tags_of(ctx, keys, vals);
    size_t k = seek(ctx->needed, ctx->nneeded, id);
    int poi = 0;
    if (rs->relevant) {
      object_order(ctx);
      for (size_t i = 0; i < ctx->obj_k.n && !poi; i++) poi = plain_match(rs, canon_str(ctx, ctx->obj_k.v[i]), canon_str(ctx, ctx->obj_v.v[i]));
    }
    if (poi || (k < ctx->nneeded && ctx->needed[k] == id)) node_push(ctx, id, lat7, lon7);
  }
}

static void dense_nodes(pbf_ctx *ctx, const dense_spans *d, double *last_node_id) {
  const pbf_block *B = &ctx->block;
  const pbf_ruleset *rs = &ctx->rs[0];
  pbf_node_batch *nb = &ctx->nb;
  const double *needed = ctx->needed;
  const size_t nneeded = ctx->nneeded, strings = B->str_start.n;
  size_t n = read_delta_sints(ctx, d->ids[0], d->ids[1], &ctx->ids, "a node id");
  if (n == 0) return;
  const double *ids = ctx->ids.v;
  if (ids[0] <= *last_node_id) fail_unsorted(ctx);
  if (nb->first_id != nb->first_id) nb->first_id = ids[0];
  ctx->keep_idx.n = 0;
  size_t cursor = seek(needed, nneeded, ids[0]);
  for (size_t k = 0; k < n && cursor < nneeded; k++) {
    double id = ids[k];
    if (k > 0 && id <= ids[k - 1]) fail_unsorted(ctx);
    while (cursor < nneeded && needed[cursor] < id) cursor++;
    if (cursor < nneeded && needed[cursor] == id) PUSH(ctx->keep_idx, (uint32_t)k);
  }
  *last_node_id = nb->last_id = ids[n - 1];
  const size_t kv_start = d->kv[0], kv_end = d->kv[1];
  const int has_kv = kv_end > kv_start, poi = rs->relevant && has_kv;
  if (ctx->keep_idx.n == 0 && !poi) {
    nb->skipped++;
    return;
  }
  /* Per node: where its tags start, and whether it matches (the tag lists scanned in place). */
  const uint8_t *buf = B->data;
  const size_t blen = B->len;
  size_t p = kv_start, ki = 0;
  ctx->take.n = ctx->tag_start.n = 0;
  for (size_t k = 0; k < n; k++) {
    size_t start = p;
    int match = 0;
    if (has_kv) {
      for (;;) {
        if (p >= kv_end) fail_dense_kv(ctx, kv_start, kv_end, n);
        double key = varint_at(ctx, buf, blen, p, &p);
        if (key == 0) break;
        if (p >= kv_end) fail_dense_kv(ctx, kv_start, kv_end, n);
        double val = varint_at(ctx, buf, blen, p, &p);
        if (key >= (double)strings) fail_string_index(ctx, key);
        if (val >= (double)strings) fail_string_index(ctx, val);
        if (poi && !match && rule_match(rs, (uint32_t)key, (uint32_t)val)) match = 1;
      }
    }
    int is_ref = ki < ctx->keep_idx.n && ctx->keep_idx.v[ki] == k;
    if (is_ref) ki++;
    if (is_ref || match) {
      PUSH(ctx->take, (uint32_t)k);
      PUSH(ctx->tag_start, has_kv ? (uint32_t)start : UINT32_MAX);
    }
  }
  if (has_kv && p != kv_end) fail_dense_kv(ctx, kv_start, kv_end, n);
  if (ctx->take.n == 0) return;
  if (read_delta_sints(ctx, d->lats[0], d->lats[1], &ctx->lats, "a latitude") != n) FAIL("dense nodes: the lat array's length differs from the %zu ids", n);
  if (read_delta_sints(ctx, d->lons[0], d->lons[1], &ctx->lons, "a longitude") != n) FAIL("dense nodes: the lon array's length differs from the %zu ids", n);
  ids = ctx->ids.v;
  for (size_t t = 0; t < ctx->take.n; t++) {
    size_t k = ctx->take.v[t], q = ctx->tag_start.v[t];
    ctx->pair_k.n = ctx->pair_v.n = 0;
    if (q != UINT32_MAX) {
      for (;;) {
        double key = varint_at(ctx, buf, blen, q, &q);
        if (key == 0) break;
        double val = varint_at(ctx, buf, blen, q, &q);
        PUSH(ctx->pair_k, canon(ctx, (uint32_t)key));
        PUSH(ctx->pair_v, canon(ctx, (uint32_t)val));
      }
    }
    double lat7 = lat7_of(B, ctx->lats.v[k]), lon7 = lon7_of(B, ctx->lons.v[k]);
    check_location(ctx, ids[k], lat7, lon7);
    node_push(ctx, ids[k], lat7, lon7);
  }
}

int pbf_filter_nodes(pbf_ctx *ctx, int may_hold_ways, pbf_node_batch **out) {
  pbf_node_batch *nb = &ctx->nb;
  nb->count = nb->ids.n = nb->lat7.n = nb->lon7.n = 0;
  nb->first_id = nb->last_id = NAN;
  nb->skipped = 0;
  *out = nb;
  if (setjmp(ctx->jmp)) return -1;
  tagcols_reset(ctx, &nb->tags);
  begin_strings(ctx);
  const pbf_block *B = &ctx->block;
  for (size_t i = 0; i < B->ngroups; i++)
    if ((B->groups[i].kind == PBF_GROUP_WAYS || B->groups[i].kind == PBF_GROUP_RELATIONS) && !may_hold_ways) fail_unsorted(ctx);
  prepare(ctx, &ctx->rs[0]);
  double last_node_id = -INFINITY;
  for (size_t i = 0; i < B->ngroups; i++) {
    const pbf_group *g = &B->groups[i];
    if (g->kind == PBF_GROUP_NODES) {
      plain_nodes(ctx, g);
      continue;
    }
    if (g->kind != PBF_GROUP_DENSE) continue;
    dense_spans_of(ctx, g);
    for (size_t j = 0; j < ctx->ndense; j++) dense_nodes(ctx, &ctx->dense[j], &last_node_id);
  }
  return 0;
}

/* ---- pass 1: way-filter.ts filterWays, way-store.ts WayColumnsBuilder.add */

/* way-filter.ts tagsMatch: every key and value index checked, whether or not an earlier tag matched. */
static int tags_match(pbf_ctx *ctx, const entity *e, const pbf_ruleset *rs) {
  size_t nk = read_uints(ctx, e->keys[0], e->keys[1], &ctx->ka);
  if (nk == 0) return 0;
  size_t nv = read_uints(ctx, e->vals[0], e->vals[1], &ctx->kb);
  char a[40];
  if (nv != nk) FAIL("object %s: keys and vals differ in length", js_num(e->id, a));
  size_t strings = ctx->block.str_start.n;
  int match = 0;
  for (size_t i = 0; i < nk; i++) {
    double k = ctx->ka.v[i], v = ctx->kb.v[i];
    if (k >= (double)strings) fail_string_index(ctx, k);
    if (v >= (double)strings) fail_string_index(ctx, v);
    if (!match && rule_match(rs, (uint32_t)k, (uint32_t)v)) match = 1;
  }
  return match;
}

/* protobuf.ts ProtoWriter.varint of a double (non-negative: unzigzag's result). */
static void write_varint(pbf_ctx *ctx, pbf_bytes *o, double n) {
  RESERVE(*o, o->n + 11);
  while (n >= 0x80) {
    o->v[o->n++] = (uint8_t)((uint32_t)fmod(n, 128.0) | 0x80);
    n = floor(n / 128);
  }
  o->v[o->n++] = (uint8_t)n;
}

static void add_way(pbf_ctx *ctx, const entity *e) {
  pbf_way_batch *wb = &ctx->wb;
  tags_of(ctx, e->keys, e->vals);
  emit_object(ctx, &wb->tags);
  size_t n = read_delta_sints(ctx, e->refs[0], e->refs[1], &ctx->ids, "a way's node ref");
  double prev = 0;
  for (size_t i = 0; i < n; i++) {
    double d = ctx->ids.v[i] - prev;
    write_varint(ctx, &wb->ref_bytes, d >= 0 ? d * 2 : -d * 2 - 1);
    prev = ctx->ids.v[i];
  }
  PUSH(wb->ids, e->id);
  PUSH(wb->ref_ends, (uint32_t)wb->ref_bytes.n);
  wb->ref_count += (double)n;
  wb->count++;
}

int pbf_filter_ways(pbf_ctx *ctx, int whole_if_mixed, pbf_way_batch **out) {
  pbf_way_batch *wb = &ctx->wb;
  wb->count = wb->ids.n = wb->ref_ends.n = wb->ref_bytes.n = 0;
  wb->ref_count = 0;
  wb->first_id = wb->last_id = NAN;
  wb->skipped = wb->has_ways = wb->raw = 0;
  *out = wb;
  if (setjmp(ctx->jmp)) return -1;
  tagcols_reset(ctx, &wb->tags);
  const pbf_block *B = &ctx->block;
  for (size_t i = 0; i < B->ngroups; i++) {
    int kind = B->groups[i].kind;
    if (whole_if_mixed && (kind == PBF_GROUP_DENSE || kind == PBF_GROUP_NODES || kind == PBF_GROUP_RELATIONS)) wb->raw = 1;
    if (kind == PBF_GROUP_WAYS) wb->has_ways = 1;
  }
  if (wb->raw || !wb->has_ways) return 0;
  begin_strings(ctx);
  pbf_ruleset *rs = &ctx->rs[1];
  prepare(ctx, rs);
  if (!rs->relevant && ctx->nway_refs == 0) {
    wb->skipped = 1;
    return 0;
  }
  const double *refs = ctx->way_refs;
  const size_t nrefs = ctx->nway_refs;
  size_t cursor = 0, span[2];
  double last = -INFINITY;
  entity e;
  for (size_t i = 0; i < B->ngroups; i++) {
    const pbf_group *g = &B->groups[i];
    if (g->kind != PBF_GROUP_WAYS) continue;
    rd r = {B->data, B->len, g->start, g->end};
    while (next_message(ctx, &r, PBF_GROUP_WAYS, span)) {
      read_entity(ctx, 0, span, &e);
      if (e.id <= last) fail_unsorted(ctx);
      last = e.id;
      if (wb->first_id != wb->first_id) wb->first_id = e.id;
      while (cursor < nrefs && refs[cursor] < e.id) cursor++;
      int listed = cursor < nrefs && refs[cursor] == e.id;
      if (listed || (rs->relevant && tags_match(ctx, &e, rs))) add_way(ctx, &e);
    }
  }
  wb->last_id = last;
  return 0;
}

/* ---- sorted-ids.ts: sort and dedupe in place (an introsort, as there; the ids are integers, never NaN) */

#define INSERTION_SORT_BELOW 24

static void sift_down(double *a, size_t root, size_t size) {
  double v = a[root];
  for (;;) {
    size_t child = 2 * root + 1;
    if (child >= size) break;
    if (child + 1 < size && a[child + 1] > a[child]) child++;
    if (a[child] <= v) break;
    a[root] = a[child];
    root = child;
  }
  a[root] = v;
}

static void heapsort_d(double *a, size_t n) {
  for (size_t i = n / 2; i-- > 0;) sift_down(a, i, n);
  for (size_t end = n - 1; end > 0; end--) {
    double t = a[0];
    a[0] = a[end];
    a[end] = t;
    sift_down(a, 0, end);
  }
}

static void introsort(double *a, ptrdiff_t lo, ptrdiff_t hi, int depth) {
  while (hi - lo > INSERTION_SORT_BELOW) {
    if (depth-- == 0) {
      heapsort_d(a + lo, (size_t)(hi - lo));
      return;
    }
    double x = a[lo], y = a[(lo + hi) >> 1], z = a[hi - 1];
    double pivot = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y;
    ptrdiff_t i = lo, j = hi - 1;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        double t = a[i];
        a[i++] = a[j];
        a[j--] = t;
      }
    }
    /* Recurse into the smaller side, loop on the larger: the stack stays O(log n). */
    if (j + 1 - lo < hi - i) {
      introsort(a, lo, j + 1, depth);
      lo = i;
    } else {
      introsort(a, i, hi, depth);
      hi = j + 1;
    }
  }
  for (ptrdiff_t i = lo + 1; i < hi; i++) {
    double v = a[i];
    ptrdiff_t j = i;
    while (j > lo && a[j - 1] > v) a[j] = a[j - 1], j--;
    a[j] = v;
  }
}

size_t pbf_sort_unique(double *ids, size_t n) {
  if (n < 2) return n;
  int depth = 0;
  for (size_t m = n; m > 1; m >>= 1) depth += 2;
  introsort(ids, 0, n, depth + 2);
  size_t count = 1;
  for (size_t k = 1; k < n; k++)
    if (ids[k] != ids[count - 1]) ids[count++] = ids[k];
  return count;
}
