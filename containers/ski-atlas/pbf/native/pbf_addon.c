/*
 * The Node-API face of pbf_core.c (loaded by pbf/native-core.ts): one context per extract and thread, the results
 * as typed arrays (copied out of the context's reused buffers: a few small copies per block) and the few strings
 * of the kept tags. Node-API, not V8's C++ API, so that one build runs on every Node release with this ABI.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <stdlib.h>
#include <string.h>

#include "pbf_core.h"

#define CALL(env, call) \
  do { if ((call) != napi_ok) return throw_last(env); } while (0)

static napi_value throw_last(napi_env env) {
  const napi_extended_error_info *info = NULL;
  napi_get_last_error_info(env, &info);
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_error(env, NULL, info && info->error_message ? info->error_message : "Node-API call failed");
  return NULL;
}

/* A format error of the input: the caller turns it into a PbfFormatError with the same message. */
static napi_value throw_core(napi_env env, const pbf_ctx *ctx) {
  napi_throw_error(env, pbf_error_is_format(ctx) ? "PBF_FORMAT" : NULL, pbf_error(ctx));
  return NULL;
}

typedef struct core {
  pbf_ctx *ctx;
  napi_ref needed, way_refs; /* keep the borrowed id arrays alive */
} core;

static void core_finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  core *c = data;
  if (c->needed) napi_delete_reference(env, c->needed);
  if (c->way_refs) napi_delete_reference(env, c->way_refs);
  pbf_ctx_free(c->ctx);
  free(c);
}

static napi_value args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) {
    napi_throw_type_error(env, NULL, "pbf core: missing arguments");
    return NULL;
  }
  return argv[0];
}

static core *core_of(napi_env env, napi_value v) {
  void *data = NULL;
  if (napi_get_value_external(env, v, &data) != napi_ok) {
    napi_throw_type_error(env, NULL, "pbf core: not a core");
    return NULL;
  }
  return data;
}

static char *utf8_of(napi_env env, napi_value v, size_t *len) {
  size_t n = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &n) != napi_ok) return NULL;
  char *s = malloc(n + 1);
  if (s && napi_get_value_string_utf8(env, v, s, n + 1, &n) != napi_ok) {
    free(s);
    return NULL;
  }
  *len = n;
  return s;
}

/* createCore(rules: {types, key, values?}[]): a context for one extract on this thread. */
static napi_value create_core(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!args(env, info, 1, argv)) return NULL;
  core *c = calloc(1, sizeof *c);
  if (!c || !(c->ctx = pbf_ctx_new())) {
    free(c);
    napi_throw_error(env, NULL, "pbf core: out of memory");
    return NULL;
  }
  napi_value result;
  if (napi_create_external(env, c, core_finalize, NULL, &result) != napi_ok) {
    pbf_ctx_free(c->ctx);
    free(c);
    return throw_last(env);
  }
  uint32_t nrules = 0;
  CALL(env, napi_get_array_length(env, argv[0], &nrules));
  for (uint32_t i = 0; i < nrules; i++) {
    napi_value rule, types, key, values;
    bool has_values = false;
    CALL(env, napi_get_element(env, argv[0], i, &rule));
    CALL(env, napi_get_named_property(env, rule, "types", &types));
    CALL(env, napi_get_named_property(env, rule, "key", &key));
    CALL(env, napi_has_named_property(env, rule, "values", &has_values));
    napi_valuetype vt = napi_undefined;
    if (has_values) {
      CALL(env, napi_get_named_property(env, rule, "values", &values));
      CALL(env, napi_typeof(env, values, &vt));
    }
    size_t tn = 0, kn = 0;
    char *ts = utf8_of(env, types, &tn), *ks = utf8_of(env, key, &kn);
    uint32_t nv = 0;
    if (vt == napi_object) napi_get_array_length(env, values, &nv);
    pbf_str *vs = calloc(nv + 1, sizeof *vs);
    int ok = ts && ks && vs;
    for (uint32_t j = 0; ok && j < nv; j++) {
      napi_value v;
      size_t vn = 0;
      ok = napi_get_element(env, values, j, &v) == napi_ok && (vs[j].s = (uint8_t *)utf8_of(env, v, &vn)) != NULL;
      vs[j].n = vn;
    }
    int r = ok ? pbf_add_rule(c->ctx, ts, tn, (pbf_str){(uint8_t *)ks, kn}, vs, vt == napi_object ? (long)nv : -1) : -1;
    for (uint32_t j = 0; j < nv; j++) free((void *)vs[j].s);
    free(vs), free(ts), free(ks);
    if (!ok) return throw_last(env);
    if (r != 0) return throw_core(env, c->ctx);
  }
  return result;
}

/* (ids: Float64Array, count): the ids' memory and how many of them count; 0, or -1 with an exception pending. */
static int ids_arg(napi_env env, napi_value array, napi_value count_value, double **data, uint32_t *count) {
  napi_typedarray_type type;
  size_t length = 0;
  if (napi_get_typedarray_info(env, array, &type, &length, (void **)data, NULL, NULL) != napi_ok ||
      napi_get_value_uint32(env, count_value, count) != napi_ok || type != napi_float64_array || *count > length) {
    napi_throw_type_error(env, NULL, "pbf core: ids must be a Float64Array holding count ids");
    return -1;
  }
  return 0;
}

/* setNeeded(core, ids: Float64Array, count) / setWayRefs(core, ids, count): sorted, distinct, borrowed (shared). */
static napi_value set_ids(napi_env env, napi_callback_info info, int needed) {
  napi_value argv[3];
  if (!args(env, info, 3, argv)) return NULL;
  core *c = core_of(env, argv[0]);
  double *data = NULL;
  uint32_t count = 0;
  if (!c || ids_arg(env, argv[1], argv[2], &data, &count) != 0) return NULL;
  napi_ref *ref = needed ? &c->needed : &c->way_refs;
  if (*ref) napi_delete_reference(env, *ref);
  CALL(env, napi_create_reference(env, argv[1], 1, ref));
  if (needed) pbf_set_needed(c->ctx, data, count);
  else pbf_set_way_refs(c->ctx, data, count);
  return NULL;
}
static napi_value set_needed(napi_env env, napi_callback_info info) { return set_ids(env, info, 1); }
static napi_value set_way_refs(napi_env env, napi_callback_info info) { return set_ids(env, info, 0); }

static size_t pbf_block_size(const pbf_ctx *ctx) {
  size_t len = 0;
  pbf_block_data(ctx, &len);
  return len;
}

/* A typed array holding a copy of `n` elements of `size` bytes at `src`. */
static napi_value copy_array(napi_env env, napi_typedarray_type type, const void *src, size_t n, size_t size) {
  void *data = NULL;
  napi_value buffer, array;
  if (napi_create_arraybuffer(env, n * size, &data, &buffer) != napi_ok) return NULL;
  if (n) memcpy(data, src, n * size);
  if (napi_create_typedarray(env, type, n, buffer, 0, &array) != napi_ok) return NULL;
  return array;
}

static int set(napi_env env, napi_value obj, const char *name, napi_value v) {
  return v != NULL && napi_set_named_property(env, obj, name, v) == napi_ok;
}

static napi_value num(napi_env env, double x) {
  napi_value v = NULL;
  napi_create_double(env, x, &v);
  return v;
}

static napi_value strings_of(napi_env env, const pbf_tagcols *t) {
  napi_value list;
  size_t n = t->off.n - 1;
  if (napi_create_array_with_length(env, n, &list) != napi_ok) return NULL;
  for (size_t i = 0; i < n; i++) {
    napi_value s;
    if (napi_create_string_utf8(env, (const char *)t->pool.v + t->off.v[i], t->off.v[i + 1] - t->off.v[i], &s) != napi_ok) return NULL;
    if (napi_set_element(env, list, (uint32_t)i, s) != napi_ok) return NULL;
  }
  return list;
}

/*
 * Loads the block of (data, rawSize) (see pbf_load_block): true, false when libdeflate refused the data (the
 * caller inflates it with zlib and calls again with PBF_INFLATED), or NULL with an exception pending.
 */
static napi_value load(napi_env env, core *c, napi_value data, napi_value raw_size, int *refused) {
  napi_typedarray_type type;
  size_t length = 0;
  void *bytes = NULL;
  double rs = 0;
  if (napi_get_typedarray_info(env, data, &type, &length, &bytes, NULL, NULL) != napi_ok || type != napi_uint8_array) {
    napi_throw_type_error(env, NULL, "pbf core: the block must be a Uint8Array");
    return NULL;
  }
  CALL(env, napi_get_value_double(env, raw_size, &rs));
  int r = pbf_load_block(c->ctx, bytes, length, rs);
  if (r < 0) return throw_core(env, c->ctx);
  *refused = r == 1;
  return data;
}

/*
 * The arguments (core, data, rawSize, flag) of nodes() and ways(), and the block loaded: 1, 0 when libdeflate
 * refused the data (*result is null: the caller inflates it with zlib and calls again), or -1 (an exception is
 * pending).
 */
static int block_call(napi_env env, napi_callback_info info, core **c, bool *flag, napi_value *result) {
  napi_value argv[4];
  int refused = 0;
  if (!args(env, info, 4, argv) || !(*c = core_of(env, argv[0])) || !load(env, *c, argv[1], argv[2], &refused)) return -1;
  if (refused) {
    napi_get_null(env, result);
    return 0;
  }
  if (napi_get_value_bool(env, argv[3], flag) != napi_ok) {
    throw_last(env);
    return -1;
  }
  return 1;
}

/* nodes(core, data, rawSize, mayHoldWays): pass 2 on one block → NodeBatch, or null (inflate with zlib, retry). */
static napi_value nodes(napi_env env, napi_callback_info info) {
  napi_value result = NULL;
  core *c;
  bool may_hold_ways = false;
  int r = block_call(env, info, &c, &may_hold_ways, &result);
  if (r <= 0) return result;
  pbf_node_batch *b;
  if (pbf_filter_nodes(c->ctx, may_hold_ways, &b) != 0) return throw_core(env, c->ctx);
  CALL(env, napi_create_object(env, &result));
  const pbf_tagcols *t = &b->tags;
  if (!set(env, result, "count", num(env, (double)b->count)) ||
      !set(env, result, "ids", copy_array(env, napi_float64_array, b->ids.v, b->ids.n, sizeof(double))) ||
      !set(env, result, "lat7", copy_array(env, napi_int32_array, b->lat7.v, b->lat7.n, sizeof(int32_t))) ||
      !set(env, result, "lon7", copy_array(env, napi_int32_array, b->lon7.v, b->lon7.n, sizeof(int32_t))) ||
      !set(env, result, "tagEnds", copy_array(env, napi_uint32_array, t->ends.v, t->ends.n, sizeof(uint32_t))) ||
      !set(env, result, "tagStrings", copy_array(env, napi_uint32_array, t->strs.v, t->strs.n, sizeof(uint32_t))) ||
      !set(env, result, "strings", strings_of(env, t)) || !set(env, result, "firstId", num(env, b->first_id)) ||
      !set(env, result, "lastId", num(env, b->last_id)) || !set(env, result, "skipped", num(env, b->skipped)) ||
      !set(env, result, "inflatedBytes", num(env, (double)pbf_block_size(c->ctx))))
    return throw_last(env);
  return result;
}

/*
 * ways(core, data, rawSize, wholeIfMixed): pass 1 on one block → { ways: WayColumns, firstId, lastId, skipped,
 * hasWays }, { raw: Uint8Array } (wholeIfMixed and the block holds nodes or relations: it inflated, copied), or
 * null (inflate with zlib, retry).
 */
static napi_value ways(napi_env env, napi_callback_info info) {
  napi_value result = NULL, cols;
  core *c;
  bool whole_if_mixed = false;
  int r = block_call(env, info, &c, &whole_if_mixed, &result);
  if (r <= 0) return result;
  pbf_way_batch *b;
  if (pbf_filter_ways(c->ctx, whole_if_mixed, &b) != 0) return throw_core(env, c->ctx);
  CALL(env, napi_create_object(env, &result));
  if (b->raw) {
    size_t len = 0;
    const uint8_t *data = pbf_block_data(c->ctx, &len);
    if (!set(env, result, "raw", copy_array(env, napi_uint8_array, data, len, 1))) return throw_last(env);
    return result;
  }
  const pbf_tagcols *t = &b->tags;
  napi_value skipped, has_ways;
  CALL(env, napi_create_object(env, &cols));
  CALL(env, napi_get_boolean(env, b->skipped, &skipped));
  CALL(env, napi_get_boolean(env, b->has_ways, &has_ways));
  if (!set(env, cols, "count", num(env, (double)b->count)) ||
      !set(env, cols, "ids", copy_array(env, napi_float64_array, b->ids.v, b->ids.n, sizeof(double))) ||
      !set(env, cols, "refEnds", copy_array(env, napi_uint32_array, b->ref_ends.v, b->ref_ends.n, sizeof(uint32_t))) ||
      !set(env, cols, "refBytes", copy_array(env, napi_uint8_array, b->ref_bytes.v, b->ref_bytes.n, 1)) ||
      !set(env, cols, "refCount", num(env, b->ref_count)) || !set(env, cols, "tagEnds", copy_array(env, napi_uint32_array, t->ends.v, t->ends.n, sizeof(uint32_t))) ||
      !set(env, cols, "tagStrings", copy_array(env, napi_uint32_array, t->strs.v, t->strs.n, sizeof(uint32_t))) ||
      !set(env, cols, "strings", strings_of(env, t)) || !set(env, result, "ways", cols) ||
      !set(env, result, "firstId", num(env, b->first_id)) || !set(env, result, "lastId", num(env, b->last_id)) ||
      !set(env, result, "skipped", skipped) || !set(env, result, "hasWays", has_ways) ||
      !set(env, result, "inflatedBytes", num(env, (double)pbf_block_size(c->ctx))))
    return throw_last(env);
  return result;
}

/* inflate(core, data, rawSize): inflates a zlib Blob's data only → its size, or null when libdeflate refuses it
 * (what the bench measures as the inflate floor). */
static napi_value inflate(napi_env env, napi_callback_info info) {
  napi_value argv[3], result;
  if (!args(env, info, 3, argv)) return NULL;
  core *c = core_of(env, argv[0]);
  napi_typedarray_type type;
  size_t length = 0, len = 0;
  void *bytes = NULL;
  double rs = 0;
  if (!c) return NULL;
  CALL(env, napi_get_typedarray_info(env, argv[1], &type, &length, &bytes, NULL, NULL));
  CALL(env, napi_get_value_double(env, argv[2], &rs));
  int r = pbf_inflate(c->ctx, bytes, length, rs);
  if (r < 0) return throw_core(env, c->ctx);
  if (r == 1) {
    napi_get_null(env, &result);
    return result;
  }
  pbf_block_data(c->ctx, &len);
  return num(env, (double)len);
}

/* sortUnique(ids: Float64Array, count) → the count left: sorted ascending in place, repeats dropped. */
static napi_value sort_unique(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  double *data = NULL;
  uint32_t count = 0;
  if (!args(env, info, 2, argv) || ids_arg(env, argv[0], argv[1], &data, &count) != 0) return NULL;
  return num(env, (double)pbf_sort_unique(data, count));
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"createCore", NULL, create_core, NULL, NULL, NULL, napi_default, NULL},
      {"setNeeded", NULL, set_needed, NULL, NULL, NULL, napi_default, NULL},
      {"setWayRefs", NULL, set_way_refs, NULL, NULL, NULL, napi_default, NULL},
      {"nodes", NULL, nodes, NULL, NULL, NULL, napi_default, NULL},
      {"ways", NULL, ways, NULL, NULL, NULL, napi_default, NULL},
      {"sortUnique", NULL, sort_unique, NULL, NULL, NULL, napi_default, NULL},
      {"inflate", NULL, inflate, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_value version;
  if (napi_define_properties(env, exports, sizeof props / sizeof *props, props) != napi_ok) return NULL;
  if (napi_create_string_utf8(env, pbf_libdeflate_version(), NAPI_AUTO_LENGTH, &version) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "libdeflateVersion", version) != napi_ok) return NULL;
  return exports;
}
