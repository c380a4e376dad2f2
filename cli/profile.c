/* The sites of a process, read back and merged: see profile.h. */
#include "profile.h"

#include "demangle.h"
#include "stacktab.h"

#include <errno.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

void zm__prof_init(zm__prof *p) { memset(p, 0, sizeof *p); }

void zm__prof_free(zm__prof *p) {
  for (uint32_t i = 0; i < p->nlocs; i++) {
    free(p->locs[i].name);
    free(p->locs[i].sysname);
    free(p->locs[i].file);
  }
  for (uint32_t i = 0; i < p->nstacks; i++)
    free(p->stacks[i].loc);
  free(p->locs);
  free(p->stacks);
  free(p->map_pc);
  free(p->map_ix);
  free(p->smap);
  zm__prof_init(p);
}

static bool grow(void **arr, uint32_t *cap, uint32_t n, size_t elem) {
  if (n < *cap)
    return true;
  uint32_t c = *cap ? *cap * 2 : 64;
  void *q = realloc(*arr, (size_t)c * elem);
  if (!q)
    return false;
  *arr = q;
  *cap = c;
  return true;
}

static uint32_t hash_pc(uint64_t pc) {
  pc ^= pc >> 33;
  pc *= UINT64_C(0xff51afd7ed558ccd);
  return (uint32_t)(pc ^ pc >> 29);
}

static int rehash(zm__prof *p) {
  uint32_t cap = p->map_cap ? p->map_cap * 2 : 256;
  uint64_t *pcs = calloc(cap, sizeof *pcs);
  uint32_t *ix = malloc(cap * sizeof *ix);
  if (!pcs || !ix) {
    free(pcs);
    free(ix);
    return -1;
  }
  for (uint32_t i = 0; i < p->nlocs; i++) {
    uint32_t h = hash_pc(p->locs[i].pc) & (cap - 1);
    while (pcs[h])
      h = (h + 1) & (cap - 1);
    pcs[h] = p->locs[i].pc;
    ix[h] = i;
  }
  free(p->map_pc);
  free(p->map_ix);
  p->map_pc = pcs;
  p->map_ix = ix;
  p->map_cap = cap;
  return 0;
}

/* The location of pc (pc 0 stands for the overflow stack's frame). */
static int64_t loc_of(zm__prof *p, uint64_t pc) {
  uint64_t key = pc ? pc : UINT64_MAX;
  if ((p->nlocs + 1) * 2 > p->map_cap && rehash(p) != 0)
    return -1;
  uint32_t h = hash_pc(key) & (p->map_cap - 1);
  for (; p->map_pc[h]; h = (h + 1) & (p->map_cap - 1))
    if (p->map_pc[h] == key)
      return p->map_ix[h];
  if (!grow((void **)&p->locs, &p->loc_cap, p->nlocs, sizeof *p->locs))
    return -1;
  zm__prof_loc *l = &p->locs[p->nlocs];
  memset(l, 0, sizeof *l);
  l->pc = key;
  p->map_pc[h] = key;
  p->map_ix[h] = p->nlocs;
  return p->nlocs++;
}

static uint32_t hash_stack(const uint32_t *loc, uint32_t n, uint32_t depth) {
  uint64_t h = depth * UINT64_C(0x9e3779b97f4a7c15);
  for (uint32_t i = 0; i < n; i++)
    h = (h ^ loc[i]) * UINT64_C(0xff51afd7ed558ccd);
  return (uint32_t)(h ^ h >> 31);
}

static uint32_t stack_n(const zm__prof_stack *s) { return s->depth ? s->depth : 1; }

static int rehash_stacks(zm__prof *p) {
  uint32_t cap = p->smap_cap ? p->smap_cap * 2 : 256;
  uint32_t *m = calloc(cap, sizeof *m);
  if (!m)
    return -1;
  for (uint32_t i = 0; i < p->nstacks; i++) {
    const zm__prof_stack *s = &p->stacks[i];
    uint32_t h = hash_stack(s->loc, stack_n(s), s->depth) & (cap - 1);
    while (m[h])
      h = (h + 1) & (cap - 1);
    m[h] = i + 1;
  }
  free(p->smap);
  p->smap = m;
  p->smap_cap = cap;
  return 0;
}

/* The slot of the stack (loc, n, depth) in the stack map: holding it, or
 * empty where it goes. */
static uint32_t stack_slot(const zm__prof *p, const uint32_t *loc, uint32_t n,
                           uint32_t depth) {
  uint32_t h = hash_stack(loc, n, depth) & (p->smap_cap - 1);
  for (; p->smap[h]; h = (h + 1) & (p->smap_cap - 1)) {
    const zm__prof_stack *s = &p->stacks[p->smap[h] - 1];
    if (s->depth == depth && memcmp(s->loc, loc, n * sizeof *loc) == 0)
      break;
  }
  return h;
}

/* Adds a stack given as location indices (loc is taken over). */
static int add_locs(zm__prof *p, uint32_t *loc, uint32_t n, uint32_t depth,
                    const int64_t v[ZM__PV_N]) {
  if ((p->nstacks + 1) * 2 > p->smap_cap && rehash_stacks(p) != 0) {
    free(loc);
    return -1;
  }
  uint32_t h = stack_slot(p, loc, n, depth);
  if (p->smap[h]) { /* the same stack again: a table entry written twice */
    zm__prof_stack *s = &p->stacks[p->smap[h] - 1];
    for (int k = 0; k < ZM__PV_N; k++)
      s->v[k] += v[k];
    free(loc);
    return 0;
  }
  if (!grow((void **)&p->stacks, &p->stack_cap, p->nstacks, sizeof *p->stacks)) {
    free(loc);
    return -1;
  }
  zm__prof_stack *s = &p->stacks[p->nstacks++];
  s->depth = depth;
  s->loc = loc;
  memcpy(s->v, v, sizeof s->v);
  p->smap[h] = p->nstacks;
  return 0;
}

int zm__prof_add(zm__prof *p, const uintptr_t *pcs, uint32_t depth,
                 const int64_t v[ZM__PV_N]) {
  uint32_t n = depth ? depth : 1;
  uint32_t *loc = malloc(n * sizeof *loc);
  if (!loc)
    return -1;
  for (uint32_t i = 0; i < n; i++) {
    int64_t ix = loc_of(p, depth ? pcs[i] : 0);
    if (ix < 0) {
      free(loc);
      return -1;
    }
    loc[i] = (uint32_t)ix;
  }
  return add_locs(p, loc, n, depth, v);
}

/* A new location of dst with a copy of a name, system name, file and line. */
static int64_t synthetic_loc(zm__prof *dst, const char *name, const char *sysname,
                             const char *file, int line) {
  int64_t ix = loc_of(dst, (UINT64_C(1) << 62) + ++dst->synthetic);
  if (ix < 0)
    return -1;
  zm__prof_loc *l = &dst->locs[ix];
  l->name = strdup(name ? name : "?");
  l->sysname = sysname ? strdup(sysname) : NULL;
  l->file = strdup(file ? file : "");
  l->line = line;
  l->status = ZM__SYM_OK;
  return l->name && l->file && (l->sysname || !sysname) ? ix : -1;
}

int zm__prof_merge(zm__prof *dst, const zm__prof *src, const char *root) {
  int64_t *map = malloc((src->nlocs ? src->nlocs : 1) * sizeof *map);
  int64_t rootix = root ? synthetic_loc(dst, root, NULL, "", 0) : 0;
  if (!map || rootix < 0) {
    free(map);
    errno = ENOMEM;
    return -1;
  }
  for (uint32_t i = 0; i < src->nlocs; i++)
    map[i] = -1;
  int rc = 0;
  for (uint32_t i = 0; i < src->nstacks && rc == 0; i++) {
    const zm__prof_stack *s = &src->stacks[i];
    uint32_t n = s->depth ? s->depth : 1, m = n + (root ? 1 : 0);
    uint32_t *loc = malloc(m * sizeof *loc);
    rc = loc ? 0 : -1;
    for (uint32_t d = 0; rc == 0 && d < n; d++) {
      const zm__prof_loc *l = &src->locs[s->loc[d]];
      if (map[s->loc[d]] < 0)
        map[s->loc[d]] = synthetic_loc(dst, l->name, l->sysname, l->file, l->line);
      rc = map[s->loc[d]] < 0 ? -1 : 0;
      if (rc == 0)
        loc[d] = (uint32_t)map[s->loc[d]];
    }
    if (rc == 0 && root)
      loc[n] = (uint32_t)rootix;
    if (rc == 0)
      rc = add_locs(dst, loc, m, m, s->v);
    else
      free(loc);
  }
  free(map);
  if (rc == 0) {
    dst->peak += src->peak;
    dst->weighted |= src->weighted;
    dst->turned_away += src->turned_away;
  }
  return rc;
}

typedef struct reading {
  zm__prof *p;
  int failed;
} reading;

static int add_site(const zm__st_site *s, void *arg) {
  reading *r = arg;
  int64_t v[ZM__PV_N] = {(int64_t)s->alloc_count, (int64_t)s->alloc_bytes,
                         s->live_count, s->live_bytes, s->peak_count, s->peak_bytes};
  uint32_t depth = s->depth, era = 0;
  if (depth > 0 && ZM__ST_IS_ERA_TAG(s->frames[depth - 1]))
    era = (uint32_t)(UINTPTR_MAX - s->frames[--depth]);
  uintptr_t keyed[1024];
  const uintptr_t *frames = s->frames;
  if (r->p->keys && depth <= 1024) {
    for (uint32_t i = 0; i < depth; i++)
      keyed[i] = (uintptr_t)zm__sym_key(r->p->keys, s->frames[i], era);
    frames = keyed;
  }
  r->failed = zm__prof_add(r->p, frames, depth, v) != 0;
  return r->failed;
}

int zm__prof_read_table(zm__prof *p, const void *region, size_t len, char *err,
                        size_t errlen) {
  zm__st_summary sum;
  reading r = {p, 0};
  if (zm__stacktab_read(region, len, &sum, add_site, &r, err, errlen) != 0)
    return -1;
  if (r.failed) {
    snprintf(err, errlen, "stack table: out of memory while reading it");
    return -1;
  }
  p->peak = sum.peak;
  p->weighted = sum.weighted;
  p->turned_away = sum.turned_away;
  p->table_entries = sum.entries;
  p->table_frames = sum.frames_used < sum.frames_cap ? sum.frames_used : sum.frames_cap;
  return 0;
}

static char *dup_or_empty(const char *s) { return strdup(s ? s : ""); }

int zm__prof_symbolize(zm__prof *p, zm__symtab *sym) {
  for (uint32_t i = 0; i < p->nlocs; i++) {
    zm__prof_loc *l = &p->locs[i];
    bool oom = false;
    free(l->name);
    free(l->sysname);
    free(l->file);
    l->name = l->file = l->sysname = NULL;
    l->line = 0;
    if (l->pc == UINT64_MAX) {
      l->name = dup_or_empty(ZM__PROF_OTHER);
      l->file = dup_or_empty("");
      l->status = ZM__SYM_NO_MODULE;
    } else {
      zm__sym_frame f;
      char buf[600];
      if (sym)
        zm__sym_lookup(sym, l->pc, &f);
      else {
        memset(&f, 0, sizeof f);
        f.offset = l->pc;
        f.status = ZM__SYM_NO_MODULE;
      }
      if (f.func[0] && (l->name = zm__demangle(f.func)) != NULL) {
        l->sysname = dup_or_empty(f.func);
        oom = !l->sysname;
      } else if (f.func[0])
        l->name = dup_or_empty(f.func);
      else
        l->name = dup_or_empty(zm__sym_format(&f, buf, sizeof buf));
      l->file = dup_or_empty(f.file);
      l->line = f.line;
      l->status = f.status;
    }
    if (oom || !l->name || !l->file) {
      errno = ENOMEM;
      return -1;
    }
  }
  return 0;
}

int64_t zm__prof_total(const zm__prof *p, int k) {
  int64_t t = 0;
  for (uint32_t i = 0; i < p->nstacks; i++)
    t += p->stacks[i].v[k];
  return t;
}

uint32_t zm__prof_top(const zm__prof *p, int k, uint32_t *out, uint32_t n) {
  uint32_t got = 0;
  for (uint32_t i = 0; i < p->nstacks; i++) {
    int64_t v = p->stacks[i].v[k];
    if (v <= 0)
      continue;
    /* Insertion into the n best so far; equal figures keep their order. */
    uint32_t j = got < n ? got++ : n;
    while (j > 0 && p->stacks[out[j - 1]].v[k] < v) {
      if (j < n)
        out[j] = out[j - 1];
      j--;
    }
    if (j < n)
      out[j] = i;
  }
  return got;
}

const char *zm__prof_value_name(int k) {
  static const char *names[ZM__PV_N] = {
      "alloc_objects", "alloc_space", "inuse_objects",
      "inuse_space", "peak_inuse_objects", "peak_inuse_space"};
  return k >= 0 && k < ZM__PV_N ? names[k] : "?";
}
