/* profile.proto, written by hand: see pprof.h. Field numbers are those of
 * proto/profile.proto. */
#include "pprof.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* ------------------------------------------------------------ a buffer */

typedef struct buf {
  unsigned char *p;
  size_t n, cap;
  bool oom;
} buf;

static void put(buf *b, const void *src, size_t n) {
  if (b->oom)
    return;
  if (b->n + n > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->n + n)
      cap *= 2;
    unsigned char *q = realloc(b->p, cap);
    if (!q) {
      b->oom = true;
      return;
    }
    b->p = q;
    b->cap = cap;
  }
  memcpy(b->p + b->n, src, n);
  b->n += n;
}

static void varint(buf *b, uint64_t v) {
  unsigned char t[10];
  size_t n = 0;
  do {
    t[n++] = (unsigned char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    v >>= 7;
  } while (v);
  put(b, t, n);
}

static void key(buf *b, int field, int wire) { varint(b, (uint64_t)field << 3 | (uint64_t)wire); }
static void field_int(buf *b, int field, int64_t v) {
  if (v == 0)
    return; /* proto3: a zero is the default */
  key(b, field, 0);
  varint(b, (uint64_t)v);
}
static void field_bytes(buf *b, int field, const void *p, size_t n) {
  key(b, field, 2);
  varint(b, n);
  put(b, p, n);
}
static void field_msg(buf *b, int field, buf *m) {
  if (m->oom)
    b->oom = true;
  field_bytes(b, field, m->p, m->n);
  m->n = 0;
}

/* ------------------------------------------------------- string table */

typedef struct strtab {
  const char **s;
  uint32_t n, cap;
  uint32_t *map; /* index + 1 */
  uint32_t map_cap;
  bool oom;
} strtab;

static uint32_t hash_str(const char *s) {
  uint32_t h = 2166136261u;
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 16777619u;
  return h;
}

static bool strtab_grow(strtab *t) {
  uint32_t cap = t->map_cap ? t->map_cap * 2 : 1024;
  uint32_t *m = calloc(cap, sizeof *m);
  const char **s = realloc(t->s, cap / 2 * sizeof *s);
  if (!m || !s) {
    free(m);
    if (s)
      t->s = s;
    return false;
  }
  t->s = s;
  for (uint32_t i = 0; i < t->n; i++) {
    uint32_t h = hash_str(t->s[i]) & (cap - 1);
    while (m[h])
      h = (h + 1) & (cap - 1);
    m[h] = i + 1;
  }
  free(t->map);
  t->map = m;
  t->map_cap = cap;
  return true;
}

/* The index of s, added when new; "" is index 0. */
static int64_t str_ix(strtab *t, const char *s) {
  if ((t->n + 1) * 2 > t->map_cap && !strtab_grow(t)) {
    t->oom = true;
    return 0;
  }
  uint32_t h = hash_str(s) & (t->map_cap - 1);
  for (; t->map[h]; h = (h + 1) & (t->map_cap - 1))
    if (strcmp(t->s[t->map[h] - 1], s) == 0)
      return t->map[h] - 1;
  t->s[t->n] = s;
  t->map[h] = ++t->n;
  return t->n - 1;
}

/* ------------------------------------------------------------ messages */

static void value_type(buf *b, buf *m, int field, strtab *t, const char *type,
                       const char *unit) {
  field_int(m, 1, str_ix(t, type));
  field_int(m, 2, str_ix(t, unit));
  field_msg(b, field, m);
}

static void samples(buf *b, buf *m, buf *packed, const zm__prof *p) {
  for (uint32_t i = 0; i < p->nstacks; i++) {
    const zm__prof_stack *s = &p->stacks[i];
    bool any = false;
    for (int k = 0; k < ZM__PV_N; k++)
      any |= s->v[k] != 0;
    if (!any)
      continue;
    uint32_t n = s->depth ? s->depth : 1;
    for (uint32_t d = 0; d < n; d++)
      varint(packed, (uint64_t)s->loc[d] + 1);
    field_msg(m, 1, packed);
    for (int k = 0; k < ZM__PV_N; k++)
      varint(packed, (uint64_t)s->v[k]);
    field_msg(m, 2, packed);
    field_msg(b, 2, m);
  }
}

/* Function ids: one per distinct (name, file), found through the string
 * indices. */
typedef struct fn {
  int64_t name, file, sysname;
} fn;

static uint32_t *function_ids(const zm__prof *p, strtab *t, fn **fns, uint32_t *nf,
                              bool *oom) {
  uint32_t n = p->nlocs ? p->nlocs : 1, cap = 1;
  while (cap < 2 * n)
    cap *= 2;
  uint32_t *ids = malloc(n * sizeof *ids);
  uint32_t *map = calloc(cap, sizeof *map); /* function index + 1 */
  *fns = malloc(n * sizeof **fns);
  if (!ids || !map || !*fns) {
    free(ids);
    free(map);
    *oom = true;
    return NULL;
  }
  for (uint32_t i = 0; i < p->nlocs; i++) {
    const zm__prof_loc *l = &p->locs[i];
    const char *name = l->name ? l->name : "?";
    fn f = {str_ix(t, name), str_ix(t, l->file ? l->file : ""),
            str_ix(t, l->sysname ? l->sysname : name)};
    uint64_t k = (uint64_t)f.name * UINT64_C(0x9e3779b97f4a7c15) ^ (uint64_t)f.file;
    uint32_t h = (uint32_t)(k ^ k >> 32) & (cap - 1);
    while (map[h] && !((*fns)[map[h] - 1].name == f.name && (*fns)[map[h] - 1].file == f.file))
      h = (h + 1) & (cap - 1);
    if (!map[h]) {
      (*fns)[*nf] = f;
      map[h] = ++*nf;
    }
    ids[i] = map[h] - 1;
  }
  free(map);
  return ids;
}

static void locations(buf *b, buf *m, buf *line, const zm__prof *p, const uint32_t *fid) {
  for (uint32_t i = 0; i < p->nlocs; i++) {
    const zm__prof_loc *l = &p->locs[i];
    field_int(m, 1, i + 1);
    if (l->pc != UINT64_MAX)
      field_int(m, 3, (int64_t)ZM__SYM_ADDR(l->pc));
    field_int(line, 1, fid[i] + 1);
    field_int(line, 2, l->line);
    field_msg(m, 4, line);
    field_msg(b, 4, m);
  }
}

static void functions(buf *b, buf *m, const fn *fns, uint32_t nf) {
  for (uint32_t i = 0; i < nf; i++) {
    field_int(m, 1, i + 1);
    field_int(m, 2, fns[i].name);
    field_int(m, 3, fns[i].sysname);
    field_int(m, 4, fns[i].file);
    field_msg(b, 5, m);
  }
}

int zm__pprof_encode(const zm__prof *p, const zm__pprof_opts *o, unsigned char **out,
                     size_t *len) {
  static const char *units[ZM__PV_N] = {"count", "bytes", "count", "bytes", "count", "bytes"};
  buf b = {0}, m = {0}, x = {0};
  strtab t = {0};
  fn *fns = NULL;
  uint32_t nf = 0;
  bool oom = false;
  str_ix(&t, "");
  for (int k = 0; k < ZM__PV_N; k++)
    value_type(&b, &m, 1, &t, zm__prof_value_name(k), units[k]);
  samples(&b, &m, &x, p);
  uint32_t *fid = function_ids(p, &t, &fns, &nf, &oom);
  if (fid)
    locations(&b, &m, &x, p, fid);
  functions(&b, &m, fns, nf);
  int64_t comment = o && o->comment ? str_ix(&t, o->comment) : 0;
  int64_t dflt = str_ix(&t, zm__prof_value_name(ZM__PV_PEAK_BYTES));
  value_type(&b, &m, 11, &t, "space", "bytes");
  /* Every string is interned by now: the table goes last. */
  for (uint32_t i = 0; i < t.n; i++)
    field_bytes(&b, 6, t.s[i], strlen(t.s[i]));
  if (o) {
    field_int(&b, 9, o->time_nanos);
    field_int(&b, 10, o->duration_nanos);
  }
  field_int(&b, 12, o && o->sample_rate ? o->sample_rate : 1);
  if (comment) {
    key(&b, 13, 0);
    varint(&b, (uint64_t)comment);
  }
  field_int(&b, 14, dflt);
  oom |= b.oom || m.oom || x.oom || t.oom;
  free(fid);
  free(fns);
  free(t.s);
  free(t.map);
  free(m.p);
  free(x.p);
  if (oom) {
    free(b.p);
    errno = ENOMEM;
    return -1;
  }
  *out = b.p;
  *len = b.n;
  return 0;
}

int zm__pprof_write(const zm__prof *p, FILE *out, const zm__pprof_opts *o) {
  unsigned char *raw;
  size_t n;
  if (zm__pprof_encode(p, o, &raw, &n) != 0)
    return -1;
  z_stream z;
  memset(&z, 0, sizeof z);
  /* windowBits 15 + 16: a gzip wrapper, as pprof expects. */
  if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    free(raw);
    errno = ENOMEM;
    return -1;
  }
  unsigned char chunk[65536];
  z.next_in = raw;
  z.avail_in = (uInt)n;
  int rc, err = 0;
  do {
    z.next_out = chunk;
    z.avail_out = sizeof chunk;
    rc = deflate(&z, Z_FINISH);
    size_t have = sizeof chunk - z.avail_out;
    if (have && fwrite(chunk, 1, have, out) != have) {
      err = errno ? errno : EIO;
      break;
    }
  } while (rc == Z_OK);
  deflateEnd(&z);
  free(raw);
  if (!err && rc != Z_STREAM_END)
    err = EIO;
  if (err) {
    errno = err;
    return -1;
  }
  return 0;
}
