/* Allocation sites in the preload: see sites.h. */
#define _GNU_SOURCE
#include "sites.h"

#include "modules.h"
#include "proc.h"
#include "sample.h"
#include "sites_record.h"
#include "stackhash.h"
#include "stacktab.h"
#include "unwind.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define TLS __thread __attribute__((tls_model("initial-exec")))

static zm__st_header *tab;     /* NULL: no sites in this process */
void *zmp_sites_table;         /* tab, for the entry points' test */
static zms_modules *mods;
static const zms_dir *dir;
static uintptr_t self_lo, self_hi; /* the preload's own code */
static pthread_mutex_t publish_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_key_t exit_key;
static unsigned generation;         /* bumped in a fork child */
static _Atomic unsigned era;        /* unloads seen: the era tag (stacktab.h) */
/* The era in which each listed module was last seen loaded: a return
 * address in a module not seen since the last unload may belong to
 * another library loaded at its addresses. */
static _Atomic unsigned seen_in[ZMS_MAX_MODULES];
static unsigned long long unloads;  /* the loader's count at the last era */

static TLS zm__st_local local;
TLS zm__sampler zmp__sampler; /* its countdown is taken inline: sites.h */
static TLS unsigned thread_gen;     /* 0: this thread is not set up */
static TLS uint32_t seen_entries;   /* the table's entry count at the last check */

/* ------------------------------------------------------------- modules */

/* The index of module m in the shared list, or -1. */
static int64_t published(const zm__module *m, uint32_t n) {
  for (uint32_t i = 0; i < n; i++)
    if (mods->m[i].lo == m->lo && mods->m[i].hi == m->hi &&
        mods->m[i].build_id_len == m->build_id_len &&
        memcmp(mods->m[i].build_id, m->build_id, m->build_id_len) == 0)
      return i;
  return -1;
}

/* Appends the modules not yet in the shared list; each entry is complete
 * before the count that covers it is published. */
static void publish_modules(void) {
  pthread_mutex_lock(&publish_lock);
  unsigned e = atomic_load_explicit(&era, memory_order_relaxed);
  zm__modules_refresh();
  uint32_t n = atomic_load_explicit(&mods->count, memory_order_relaxed);
  for (size_t i = 0; i < zm__modules_count() && n < ZMS_MAX_MODULES; i++) {
    const zm__module *m = zm__modules_get(i);
    int64_t at = m ? published(m, n) : -1;
    if (at >= 0)
      atomic_store_explicit(&seen_in[at], e, memory_order_relaxed);
    if (!m || at >= 0 || strstr(m->path, "linux-vdso"))
      continue;
    zms_module *d = &mods->m[n];
    memset(d, 0, sizeof *d);
    d->base = m->base;
    d->lo = m->lo;
    d->hi = m->hi;
    d->era = e;
    d->build_id_len = m->build_id_len;
    memcpy(d->build_id, m->build_id, m->build_id_len);
    if (m->path[0] && m->path[0] != '/' &&
        zm__modules_mapped_path(m->lo, d->path, ZMS_PATH_BYTES) == 0)
      ; /* opened by a relative path: the file the loader found */
    else if (m->path[0]) {
      size_t len = strnlen(m->path, ZMS_PATH_BYTES - 1); /* a longer path is cut */
      memcpy(d->path, m->path, len);
    } else
      zm__modules_main_path(d->path, ZMS_PATH_BYTES);
    atomic_store_explicit(&seen_in[n], e, memory_order_relaxed);
    atomic_store_explicit(&mods->count, ++n, memory_order_release);
  }
  pthread_mutex_unlock(&publish_lock);
}

/* Whether pc is in a listed module seen loaded in the current era. */
static bool listed(uintptr_t pc, uint32_t n) {
  unsigned now = atomic_load_explicit(&era, memory_order_relaxed);
  for (uint32_t i = 0; i < n; i++)
    if (pc >= mods->m[i].lo && pc < mods->m[i].hi &&
        atomic_load_explicit(&seen_in[i], memory_order_relaxed) == now)
      return true;
  return false;
}

/* A stack new to the table may name a module loaded since the last
 * publication (dlopen), maybe where an unloaded one was: publish it before
 * the stack is counted. */
static void check_modules(const uintptr_t *pcs, size_t n) {
  uint32_t have = atomic_load_explicit(&mods->count, memory_order_acquire);
  for (size_t i = 0; i < n; i++)
    if (!ZM__ST_IS_ERA_TAG(pcs[i]) && !listed(pcs[i], have)) {
      publish_modules();
      return;
    }
}

void zmp_sites_unloaded(void) {
  if (!tab)
    return;
  pthread_mutex_lock(&publish_lock);
  unsigned long long now = zm__modules_unloads();
  if ((now != unloads || zm__modules_frozen()) &&
      atomic_load_explicit(&era, memory_order_relaxed) < ZM__ST_ERA_MAX)
    atomic_fetch_add_explicit(&era, 1, memory_order_relaxed);
  unloads = now;
  pthread_mutex_unlock(&publish_lock);
}

/* A stack counted after an unload ends with the era's tag, in place of
 * its outermost frame when it is full (not with a depth of 1: the tag
 * would be all of it). */
static size_t tag_era(uintptr_t *pcs, size_t depth, unsigned e, uint64_t *hash) {
  if (depth == 0 || dir->depth < 2)
    return depth;
  depth = depth < dir->depth ? depth : dir->depth - 1;
  pcs[depth++] = ZM__ST_ERA_TAG(e);
  *hash = zm__stack_hash(pcs, depth);
  return depth;
}

/* ------------------------------------------------------------- threads */

static void thread_gone(void *arg) {
  (void)arg;
  if (tab && thread_gen == generation)
    zm__stacktab_thread_exit(tab, &local);
}

__attribute__((noinline, cold)) static void thread_setup(void) {
  if (thread_gen == 0)
    zm__sample_init(&zmp__sampler, dir->sample_rate,
                    (uint64_t)syscall(SYS_gettid) * 0x9e3779b97f4a7c15ULL ^
                        (uint64_t)(uintptr_t)&local);
  memset(&local, 0, sizeof local);
  thread_gen = generation;
  pthread_setspecific(exit_key, &local);
}

/* ---------------------------------------------------------------- setup */

static const zms_dir *find_dir(void) {
  const zmr_header *h = zmp_record();
  if (!h || !zmp_proc)
    return NULL;
  for (int i = 0; i < ZMR_MAX_SECTIONS; i++) {
    const zmr_section *s = &h->sections[i];
    if (s->kind != ZMR_SECTION_SITES || s->offset < ZMR_PROCS_END ||
        s->offset > h->total_size || s->size > h->total_size - s->offset ||
        s->size < ZMS_DIR_BYTES)
      continue;
    const zms_dir *d = (const zms_dir *)((const char *)h + s->offset);
    if (d->magic != ZMS_MAGIC || d->version != ZMS_VERSION ||
        d->slot_bytes < sizeof(zms_modules) + d->table_bytes ||
        (uint64_t)d->ntables * d->slot_bytes > s->size - ZMS_DIR_BYTES)
      return NULL;
    return d;
  }
  return NULL;
}

static void claim_table(void) {
  tab = NULL;
  zmp_sites_table = NULL;
  mods = NULL;
  if (!dir)
    return;
  uint32_t k = atomic_fetch_add((_Atomic uint32_t *)&dir->next, 1);
  if (k >= dir->ntables)
    return;
  const zmr_header *h = zmp_record();
  uint64_t at = zms_slot_offset((uint64_t)((const char *)dir - (const char *)h),
                                dir->slot_bytes, k);
  char *slot = (char *)h + at;
  mods = (zms_modules *)slot;
  memset(mods, 0, sizeof *mods);
  tab = zm__stacktab_init(slot + sizeof *mods, dir->table_bytes, dir->capacity,
                          dir->depth, dir->frames_cap);
  if (!tab)
    return;
  tab->weighted = dir->sample_rate != 0;
  zmp_sites_table = tab;
  unloads = zm__modules_unloads();
  publish_modules();
  zmp_proc->ext[ZMS_EXT_SLOT] = k + 1;
}

/* Around fork, no other thread may hold the publication's or the module
 * list's lock: the child would wait for them forever. The publication's
 * is taken first, as publish_modules does. */
static void fork_prepare(void) {
  pthread_mutex_lock(&publish_lock);
  zm__modules_prepare_fork();
}

static void fork_parent(void) {
  zm__modules_after_fork(false);
  pthread_mutex_unlock(&publish_lock);
}

/* The sizes table forgets the parent's sites in its own fork handler. */
static void fork_child(void) {
  pthread_mutex_init(&publish_lock, NULL);
  zm__modules_after_fork(true);
  generation++;
  claim_table(); /* the child's own table (zmp_proc is its new record) */
}

void zmp_sites_init(void) {
  dir = find_dir();
  if (!dir)
    return;
  if (zm__unwind_configure((zm__unwind_mode)dir->mode, (int)dir->depth) != 0)
    return;
  const zm__module *self = zm__modules_find((uintptr_t)zmp_sites_init);
  if (self) {
    self_lo = self->lo;
    self_hi = self->hi;
  }
  generation = 1;
  pthread_key_create(&exit_key, thread_gone);
  /* Registered after the preload's own handlers: this prepare handler
   * runs before theirs (which lock the table of live blocks), this child
   * handler after theirs (which claim the child's record). */
  pthread_atfork(fork_prepare, fork_parent, fork_child);
  claim_table();
}

/* ------------------------------------------------------------- counting */

size_t zmp_sites_stack(uintptr_t *out, size_t max) {
  if (!tab)
    return 0;
  uintptr_t pcs[ZM__UNWIND_MAX_DEPTH];
  uint64_t hash;
  size_t depth = zm__unwind_capture_site(pcs, dir->depth, self_lo, self_hi, &hash);
  depth = depth < max ? depth : max;
  memcpy(out, pcs, depth * sizeof *out);
  check_modules(out, depth);
  return depth;
}

/* The allocation gets a site: its stack, entry and weights w. */
static inline __attribute__((always_inline)) bool pick_stack(const zm__weight *w,
                                                             zmp_site *site) {
  uintptr_t pcs[ZM__UNWIND_MAX_DEPTH];
  uint64_t hash;
  size_t depth = zm__unwind_capture_site(pcs, dir->depth, self_lo, self_hi, &hash);
  unsigned now = atomic_load_explicit(&era, memory_order_relaxed);
  if (__builtin_expect(now != 0, 0))
    depth = tag_era(pcs, depth, now, &hash);
  zm__st_entry *e = zm__stacktab_find_hashed(tab, pcs, (uint32_t)depth, hash);
  uint32_t entries = atomic_load_explicit(&tab->entries_used, memory_order_relaxed);
  if (entries != seen_entries) {
    seen_entries = entries;
    check_modules(pcs, depth);
  }
  site->entry = zm__stacktab_index(tab, e);
  site->count = w->count > UINT32_MAX ? UINT32_MAX : (uint32_t)w->count;
  site->bytes = w->bytes;
  return true;
}

/* All but the common case of sampling, with n already taken off the
 * countdown: every allocation (no sampling), a thread to set up (its
 * countdown starts at 0; in a fork child the forking thread's goes on
 * where it was, the Poisson process having no memory), or a sample point
 * reached. */
bool zmp__sites_pick_slow(size_t n, zmp_site *site) {
  if (!tab)
    return false;
  zm__weight w;
  if (thread_gen == 0) { /* n came off a countdown not yet started */
    thread_setup();
    if (!zm__sample(&zmp__sampler, n, &w))
      return false;
  } else {
    if (thread_gen != generation)
      thread_setup();
    if (zmp__sampler.rate == 0) {
      zmp__sampler.until = 0; /* every allocation: the inline test always fails */
      w.count = 1;
      w.bytes = n;
    } else if (!zm__sample_slow(&zmp__sampler, n, &w)) {
      return false;
    }
  }
  return pick_stack(&w, site);
}

void zmp_sites_add(const zmp_site *site) {
  zm__stacktab_alloc(tab, &local, zm__stacktab_entry(tab, site->entry), site->count,
                     site->bytes);
}

void zmp_sites_sub(const zmp_site *site) {
  if (!tab)
    return;
  if (__builtin_expect(thread_gen != generation, 0))
    thread_setup();
  zm__stacktab_free(tab, &local, zm__stacktab_entry(tab, site->entry), site->count,
                    site->bytes);
}
