/*
 * The compiled core of the PBF extractor (pbf_core.c): inflate (libdeflate), PrimitiveBlock and string-table
 * scanning, and the filters of pass 1 (ways) and pass 2 (nodes) on one block, the work the worker threads do.
 * Plain C with no Node-API in it, so that the addon (pbf_addon.c) and the fuzz harness (fuzz.c) run the same
 * code. It is a port of the TypeScript reader (decode.ts, protobuf.ts, rules.ts, node-filter.ts, way-filter.ts),
 * which stays the reference: same checks in the same order, same error messages, and JavaScript's number
 * semantics (every varint, id and coordinate is a double computed as the TypeScript computes it), so that both
 * give the same result or the same error on any input, hostile ones included.
 */
#ifndef PBF_CORE_H
#define PBF_CORE_H

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>

/* The format's hard limit on a Blob's uncompressed size (blocks.ts MAX_BLOB_RAW). */
#define PBF_MAX_BLOB_RAW (32u * 1024u * 1024u)
/* More groups than this in one block are refused (decode.ts MAX_GROUPS_PER_BLOCK). */
#define PBF_MAX_GROUPS 65536u
/* A rule set holds at most 31 rules of one object type: one bit each in a 32-bit mask (rules.ts). */
#define PBF_MAX_RULES_PER_TYPE 31

enum { PBF_GROUP_NODES = 1, PBF_GROUP_DENSE = 2, PBF_GROUP_WAYS = 3, PBF_GROUP_RELATIONS = 4 };

typedef struct { uint8_t *v; size_t n, cap; } pbf_bytes;
typedef struct { double *v; size_t n, cap; } pbf_dvec;
typedef struct { uint32_t *v; size_t n, cap; } pbf_uvec;
typedef struct { int32_t *v; size_t n, cap; } pbf_ivec;

/* A string: bytes and length (not NUL-terminated). */
typedef struct { const uint8_t *s; size_t n; } pbf_str;

typedef struct pbf_rule {
  pbf_str key;
  /* values == NULL: any value. */
  pbf_str *values;
  size_t nvalues;
} pbf_rule;

/* The rules of one object type compiled to bit masks over a block's string table (rules.ts RuleSet). */
typedef struct pbf_ruleset {
  pbf_rule rules[PBF_MAX_RULES_PER_TYPE];
  size_t nrules;
  pbf_str keys[PBF_MAX_RULES_PER_TYPE];
  uint32_t key_bits[PBF_MAX_RULES_PER_TYPE];
  size_t nkeys;
  pbf_str *vals;
  uint32_t *val_bits;
  size_t nvals;
  uint32_t any_mask;
  /* Per block: the masks of each string, and whether the block can match at all. */
  uint32_t *key_mask, *val_mask;
  size_t mask_cap;
  int relevant;
} pbf_ruleset;

typedef struct pbf_group { int kind; size_t start, end; } pbf_group;

/* A parsed PrimitiveBlock (decode.ts PrimitiveBlock): string table and group spans, nothing decoded. */
typedef struct pbf_block {
  const uint8_t *data;
  size_t len;
  pbf_uvec str_start, str_end;
  pbf_group *groups;
  size_t ngroups, groups_cap;
  double granularity, lat_offset, lon_offset;
} pbf_block;

/*
 * Tags of the kept entities of one block as columns: entity i's (key, value) pairs are strs[ends[i-1], ends[i])
 * as indices into the distinct strings pool[off[j], off[j+1]) (valid UTF-8, as JavaScript would decode them),
 * numbered in order of first use; the pairs are in the order a JavaScript object built from them enumerates its
 * keys (way-store.ts, write.ts rely on that order for byte-identical output).
 */
typedef struct pbf_tagcols {
  pbf_uvec ends;
  pbf_uvec strs;
  pbf_bytes pool;
  pbf_uvec off;
} pbf_tagcols;

/* What pass 2 keeps of one block (node-filter.ts NodeBatch). */
typedef struct pbf_node_batch {
  size_t count;
  pbf_dvec ids;
  pbf_ivec lat7, lon7;
  pbf_tagcols tags;
  double first_id, last_id;
  uint32_t skipped;
} pbf_node_batch;

/* What pass 1 keeps of one way block (way-filter.ts WayBatch with way-store.ts WayColumns). */
typedef struct pbf_way_batch {
  size_t count;
  pbf_dvec ids;
  pbf_uvec ref_ends;
  pbf_bytes ref_bytes;
  double ref_count;
  pbf_tagcols tags;
  double first_id, last_id;
  int skipped;
  int has_ways;
  /* The block holds nodes or relations: the caller takes it whole (inflated) instead. */
  int raw;
} pbf_way_batch;

typedef struct pbf_ctx pbf_ctx;

pbf_ctx *pbf_ctx_new(void);
void pbf_ctx_free(pbf_ctx *ctx);
/* The message of the last failure (a PbfFormatError's message, or a usage error for the add_rule calls). */
const char *pbf_error(const pbf_ctx *ctx);
/* Whether the last failure is a format error of the input (else a misuse, e.g. too many rules). */
int pbf_error_is_format(const pbf_ctx *ctx);

/* Adds a tag rule (rules.ts TagRule): `types` holds any of n, w, r; nvalues < 0: any value. The strings are copied. */
int pbf_add_rule(pbf_ctx *ctx, const char *types, size_t ntypes, pbf_str key, const pbf_str *values, long nvalues);
/* The sorted, distinct ids of the nodes to keep (pass 2) and of the ways kept relations list (pass 1): borrowed. */
void pbf_set_needed(pbf_ctx *ctx, const double *ids, size_t n);
void pbf_set_way_refs(pbf_ctx *ctx, const double *ids, size_t n);

/*
 * The block to work on. raw_size >= -1: `in` is a Blob's zlib data and raw_size its declared size (-1: none),
 * already checked against the format's limit and charged to the file's budget by the caller; it is inflated here
 * (libdeflate), stopping at the declared size. raw_size == PBF_INFLATED: `in` is an uncompressed block.
 * Returns 0, -1 on a format error (pbf_error), or 1 when libdeflate refused the data (corrupt, or larger than
 * declared): the caller inflates it with zlib, whose verdict and message are the reference, and calls again with
 * the result. The block stays valid until the next call.
 */
#define PBF_INFLATED (-2.0)
int pbf_load_block(pbf_ctx *ctx, const uint8_t *in, size_t n, double raw_size);
/* Only the inflation of pbf_load_block (the bench's inflate floor): 0, 1 (refused) or -1; pbf_block_data has it. */
int pbf_inflate(pbf_ctx *ctx, const uint8_t *in, size_t n, double raw_size);
/* The loaded block's bytes (inflated). */
const uint8_t *pbf_block_data(const pbf_ctx *ctx, size_t *len);

/* Pass 2 on the loaded block (node-filter.ts NodeFilter.filter). 0 or -1. */
int pbf_filter_nodes(pbf_ctx *ctx, int may_hold_ways, pbf_node_batch **out);
/*
 * Pass 1 on the loaded block (way-filter.ts filterWays). whole_if_mixed: a block holding nodes or relations is
 * not filtered but marked `raw`, for the caller to take whole (block-worker.ts "ways" job). 0 or -1.
 */
int pbf_filter_ways(pbf_ctx *ctx, int whole_if_mixed, pbf_way_batch **out);

/* Sorts ids[0, n) ascending in place and drops repeats; returns how many are left (sorted-ids.ts). */
size_t pbf_sort_unique(double *ids, size_t n);

/* libdeflate's version, for the log line that says which core runs. */
const char *pbf_libdeflate_version(void);

#endif
