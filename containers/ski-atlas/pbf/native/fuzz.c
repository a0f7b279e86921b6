/*
 * The fuzz harness of the compiled core, built with AddressSanitizer and UndefinedBehaviorSanitizer
 * (`build.sh --fuzz`) and driven by `npm run fuzz:native` (containers/ski-atlas/testing/fuzz-native.ts), which
 * gives it the tag rules, the crafted hostile files of testing/hostile-pbf.ts, real files and their seeded
 * mutants:
 *
 *   fuzz-pbf-core --rules RULES --seconds S --seed N FILE...
 *
 * Each file is framed as the TypeScript block layer frames it (blocks.ts: the same size limits), then every
 * OSMData block goes through the core as the extractor uses it: inflated by libdeflate from its Blob, then both
 * passes (pass 2 with and without ways allowed, pass 1 whole or filtered), with the ids a real run would hold
 * (the ways kept by their tags, and their nodes). Then, until S seconds are spent, seeded mutants of the inflated
 * blocks (bits flipped, varint edge bytes, cuts, repeats, truncations) and of their compressed bytes go the same
 * way, each in a buffer of exactly its size so that a read one byte past it is reported. A sanitizer report, a
 * crash or a hang (the driver's timeout) fails the run; a format error is the expected outcome for most mutants.
 * RULES: one rule a line, tab-separated: types, key, then the values (none: any value).
 */
#include <sanitizer/common_interface_defs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pbf_core.h"

#define MAX_BLOB_HEADER (64 * 1024)
#define MAX_RULE_VALUES 64

typedef struct { uint8_t *data; size_t len; double raw_size; int zlib; } blob;

static const char *current_file = "";
static long current_block = -1, current_mutant = -1;
static unsigned long seed = 1;

static void on_death(void) {
  fprintf(stderr, "fuzz: the sanitizer stopped the run in %s, block %ld, mutant %ld (seed %lu): rerun with --seed %lu to reproduce\n",
          current_file, current_block, current_mutant, seed, seed);
}

/* xorshift64*: small and seedable; the same seed gives the same mutants on every machine. */
static uint64_t rng_state;
static uint64_t rnd(void) {
  rng_state ^= rng_state >> 12, rng_state ^= rng_state << 25, rng_state ^= rng_state >> 27;
  return rng_state * 2685821657736338717ull;
}
static size_t below(size_t n) { return n ? (size_t)(rnd() % n) : 0; }

static uint8_t *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
  if (buf && n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n) free(buf), buf = NULL;
  fclose(f);
  *len = (size_t)(n > 0 ? n : 0);
  return buf;
}

/* A plain varint (the framing here is test scaffolding, not the core: it only finds the blocks). */
static int varint(const uint8_t *b, size_t len, size_t *p, uint64_t *v) {
  *v = 0;
  for (int shift = 0; shift < 64 && *p < len; shift += 7) {
    uint8_t byte = b[(*p)++];
    *v |= (uint64_t)(byte & 0x7f) << shift;
    if (byte < 0x80) return 1;
  }
  return 0;
}

/* The fields of a BlobHeader (type, datasize) or a Blob (raw_size, zlib_data or raw): 1 when found. */
static int fields(const uint8_t *b, size_t len, int blob_header, const uint8_t **data, size_t *dlen, uint64_t *num, int *kind) {
  size_t p = 0;
  int got = 0;
  *kind = 0;
  while (p < len) {
    uint64_t key, v;
    if (!varint(b, len, &p, &key)) return 0;
    unsigned field = (unsigned)(key >> 3), wire = key & 7;
    if (wire == 0) {
      if (!varint(b, len, &p, &v)) return 0;
      if ((blob_header && field == 3) || (!blob_header && field == 2)) *num = v, got |= 2;
    } else if (wire == 2) {
      if (!varint(b, len, &p, &v) || v > len - p) return 0;
      if ((blob_header && field == 1) || (!blob_header && (field == 1 || field == 3))) *data = b + p, *dlen = (size_t)v, got |= 1, *kind = (int)field;
      p += (size_t)v;
    } else if (wire == 1) p += 8;
    else if (wire == 5) p += 4;
    else return 0;
  }
  return p == len && (got & 1);
}

/* The OSMData Blobs of a file, framed with the block layer's limits (blocks.ts); stops at the first fault. */
static size_t frame(const uint8_t *file, size_t len, blob **out) {
  size_t pos = 0, n = 0, cap = 0;
  *out = NULL;
  while (pos + 4 <= len) {
    uint32_t hlen = (uint32_t)file[pos] << 24 | (uint32_t)file[pos + 1] << 16 | (uint32_t)file[pos + 2] << 8 | file[pos + 3];
    if (hlen == 0 || hlen >= MAX_BLOB_HEADER || hlen > len - pos - 4) break;
    const uint8_t *type = NULL, *data = NULL;
    size_t tlen = 0, dlen = 0;
    uint64_t datasize = 0, raw_size = 0;
    int kind;
    datasize = UINT64_MAX;
    if (!fields(file + pos + 4, hlen, 1, &type, &tlen, &datasize, &kind) || datasize > PBF_MAX_BLOB_RAW) break;
    size_t at = pos + 4 + hlen;
    if (datasize > len - at) break;
    raw_size = UINT64_MAX;
    if (tlen == 7 && memcmp(type, "OSMData", 7) == 0 && fields(file + at, (size_t)datasize, 0, &data, &dlen, &raw_size, &kind) &&
        (raw_size == UINT64_MAX || raw_size <= PBF_MAX_BLOB_RAW)) {
      if (n == cap) *out = realloc(*out, (cap = cap ? cap * 2 : 64) * sizeof **out);
      blob *bl = &(*out)[n++];
      bl->len = dlen;
      bl->data = malloc(dlen ? dlen : 1);
      memcpy(bl->data, data, dlen);
      bl->zlib = kind == 3;
      bl->raw_size = raw_size == UINT64_MAX ? -1 : (double)raw_size;
    }
    pos = at + (size_t)datasize;
  }
  return n;
}

/* Both passes on the loaded block, every mode. Returns 1 when the block loaded. */
static long format_errors, runs;
static int passes(pbf_ctx *ctx, const uint8_t *data, size_t len, double raw_size) {
  runs++;
  int r = pbf_load_block(ctx, data, len, raw_size);
  if (r != 0) {
    format_errors += r < 0;
    return 0;
  }
  pbf_node_batch *nb;
  pbf_way_batch *wb;
  for (int flag = 0; flag < 2; flag++) {
    if (pbf_filter_nodes(ctx, flag, &nb) != 0) format_errors++;
    if (pbf_filter_ways(ctx, flag, &wb) != 0) format_errors++;
  }
  return 1;
}

/* A copy of `b` in a buffer of exactly its size, mutated one of the ways testing/hostile-pbf.ts mutates. */
static uint8_t *mutate(const uint8_t *b, size_t len, size_t *out_len) {
  size_t n = len;
  uint8_t *m;
  switch (below(7)) {
    case 0: /* bits flipped */
      m = malloc(n ? n : 1), memcpy(m, b, n);
      for (size_t i = 1 + below(8); i-- > 0 && n;) m[below(n)] ^= (uint8_t)(1u << below(8));
      break;
    case 1: { /* bytes set to a varint edge value */
      static const uint8_t edges[] = {0x00, 0x01, 0x7f, 0x80, 0xff};
      m = malloc(n ? n : 1), memcpy(m, b, n);
      for (size_t i = 1 + below(4); i-- > 0 && n;) m[below(n)] = edges[below(sizeof edges)];
      break;
    }
    case 2: { /* a run deleted */
      size_t at = below(n + 1), cut = 1 + below(64);
      if (cut > n - at) cut = n - at;
      n = len - cut;
      m = malloc(n ? n : 1);
      memcpy(m, b, at), memcpy(m + at, b + at + cut, len - at - cut);
      break;
    }
    case 3: { /* a run repeated */
      size_t at = below(n + 1), rep = 1 + below(256);
      if (rep > len - at) rep = len - at;
      n = len + rep;
      m = malloc(n ? n : 1);
      memcpy(m, b, at + rep), memcpy(m + at + rep, b + at, len - at);
      break;
    }
    case 4: /* truncated */
      n = below(len + 1);
      m = malloc(n ? n : 1), memcpy(m, b, n);
      break;
    case 5: { /* a run of 0xff (an endless varint) */
      m = malloc(n ? n : 1), memcpy(m, b, n);
      size_t at = below(n), run = 1 + below(16);
      for (size_t i = at; i < n && i < at + run; i++) m[i] = 0xff;
      break;
    }
    default: { /* a length prefix made huge: a varint of 1-10 bytes written over the data */
      m = malloc(n ? n : 1), memcpy(m, b, n);
      size_t at = below(n), k = 1 + below(10);
      for (size_t i = 0; i < k && at + i < n; i++) m[at + i] = (uint8_t)(i + 1 < k ? 0x80 | below(128) : below(128));
      break;
    }
  }
  *out_len = n;
  return m;
}

/* Decodes a way batch's packed refs (zigzag deltas) into ids. */
static void add_refs(const pbf_way_batch *wb, double **ids, size_t *n, size_t *cap) {
  size_t p = 0;
  double acc = 0;
  while (p < wb->ref_bytes.n) {
    uint64_t v;
    if (!varint(wb->ref_bytes.v, wb->ref_bytes.n, &p, &v)) break;
    acc += (double)((int64_t)(v >> 1) ^ -(int64_t)(v & 1));
    if (*n == *cap) *ids = realloc(*ids, (*cap = *cap ? *cap * 2 : 1024) * sizeof **ids);
    (*ids)[(*n)++] = acc;
  }
}

static int add_rules(pbf_ctx *ctx, const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  char line[8192];
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = 0;
    char *fieldv[2 + MAX_RULE_VALUES];
    int nf = 0;
    for (char *t = strtok(line, "\t"); t && nf < 2 + MAX_RULE_VALUES; t = strtok(NULL, "\t")) fieldv[nf++] = t;
    if (nf < 2) continue;
    pbf_str values[MAX_RULE_VALUES];
    for (int i = 2; i < nf; i++) values[i - 2] = (pbf_str){(const uint8_t *)fieldv[i], strlen(fieldv[i])};
    if (pbf_add_rule(ctx, fieldv[0], strlen(fieldv[0]), (pbf_str){(const uint8_t *)fieldv[1], strlen(fieldv[1])}, values, nf > 2 ? nf - 2 : -1) != 0) {
      fprintf(stderr, "fuzz: %s\n", pbf_error(ctx));
      fclose(f);
      return -1;
    }
  }
  fclose(f);
  return 0;
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  const char *rules = NULL;
  double seconds = 10;
  int first = 1;
  for (; first + 1 < argc && argv[first][0] == '-'; first += 2) {
    if (strcmp(argv[first], "--rules") == 0) rules = argv[first + 1];
    else if (strcmp(argv[first], "--seconds") == 0) seconds = atof(argv[first + 1]);
    else if (strcmp(argv[first], "--seed") == 0) seed = strtoul(argv[first + 1], NULL, 10);
    else break;
  }
  if (!rules || first >= argc) {
    fprintf(stderr, "usage: %s --rules RULES [--seconds S] [--seed N] FILE...\n", argv[0]);
    return 64;
  }
  __sanitizer_set_death_callback(on_death);
  rng_state = seed * 0x9e3779b97f4a7c15ull + 1;
  pbf_ctx *ctx = pbf_ctx_new();
  if (!ctx || add_rules(ctx, rules) != 0) return 70;

  /* Every file as it is, keeping the inflated blocks of the valid ones for the mutants. */
  size_t nkept = 0, kept_cap = 0, nblocks = 0;
  blob *kept = NULL;
  double *ids = NULL;
  size_t nids = 0, ids_cap = 0;
  for (int f = first; f < argc; f++) {
    size_t len;
    uint8_t *file = read_file(argv[f], &len);
    if (!file) {
      fprintf(stderr, "fuzz: cannot read %s\n", argv[f]);
      return 66;
    }
    current_file = argv[f];
    blob *blobs;
    size_t n = frame(file, len, &blobs);
    nblocks += n;
    /* The ids a run would hold: pass 1 with no listed ways keeps the ways by their tags; their nodes are needed. */
    pbf_set_way_refs(ctx, NULL, 0);
    pbf_set_needed(ctx, NULL, 0);
    nids = 0;
    for (size_t i = 0; i < n; i++) {
      pbf_way_batch *wb;
      if (blobs[i].zlib && pbf_load_block(ctx, blobs[i].data, blobs[i].len, blobs[i].raw_size) == 0 && pbf_filter_ways(ctx, 0, &wb) == 0) add_refs(wb, &ids, &nids, &ids_cap);
    }
    nids = pbf_sort_unique(ids, nids);
    pbf_set_needed(ctx, ids, nids);
    for (size_t i = 0; i < n; i++) {
      current_block = (long)i + 1;
      current_mutant = -1;
      if (!blobs[i].zlib) {
        passes(ctx, blobs[i].data, blobs[i].len, PBF_INFLATED);
      } else if (passes(ctx, blobs[i].data, blobs[i].len, blobs[i].raw_size)) {
        /* keep the inflated block (a copy of exactly its size) for the mutants */
        size_t ilen;
        const uint8_t *inflated = pbf_block_data(ctx, &ilen);
        if (nkept == kept_cap) kept = realloc(kept, (kept_cap = kept_cap ? kept_cap * 2 : 64) * sizeof *kept);
        blob *k = &kept[nkept++];
        k->data = malloc(ilen ? ilen : 1);
        memcpy(k->data, inflated, ilen);
        k->len = ilen;
        k->raw_size = PBF_INFLATED;
        k->zlib = 0;
        /* and the compressed Blob, whose mutants exercise libdeflate and the raw_size checks */
        if (nkept == kept_cap) kept = realloc(kept, (kept_cap *= 2) * sizeof *kept);
        kept[nkept++] = blobs[i];
        continue;
      }
      free(blobs[i].data);
    }
    free(blobs);
    free(file);
  }
  long files_runs = runs;

  /* Mutants until the time is spent, of the inflated blocks (what reaches the decoder) and of their compressed
   * Blobs (inflated by libdeflate, checked against raw_size). The ids stay those of the last file. */
  double start = now();
  long mutants = 0;
  current_file = "mutants";
  while (nkept > 0 && now() - start < seconds) {
    for (int burst = 0; burst < 64; burst++, mutants++) {
      size_t b = below(nkept), mlen;
      current_block = (long)b;
      current_mutant = mutants;
      uint8_t *m = mutate(kept[b].data, kept[b].len, &mlen);
      passes(ctx, m, mlen, kept[b].raw_size);
      free(m);
    }
  }
  printf("fuzz: %zu blocks of %d files (%ld runs), then %ld mutants of %zu blocks (inflated and compressed) in %.1f s (seed %lu): "
         "%ld runs in all, %ld format errors, no sanitizer report\n",
         nblocks, argc - first, files_runs, mutants, nkept, now() - start, seed, runs, format_errors);
  for (size_t i = 0; i < nkept; i++) free(kept[i].data);
  free(kept);
  free(ids);
  pbf_ctx_free(ctx);
  return 0;
}
