/* The compiled-in allocator's own figures: one small function per
 * allocator, chosen by the same ZMEM_BACKEND_* macro as builtin.h. What each
 * field means for each allocator is in docs/report-schema.md. */
#include "backend_stats.h"
#include "builtin.h"

#if defined(ZMEM_BACKEND_JEMALLOC)
#include <stdint.h>

static size_t je_stat(const char *name) {
  size_t v = 0, len = sizeof v;
  return mallctl(name, &v, &len, NULL, 0) == 0 ? v : 0;
}

/* jemalloc caches its statistics; writing "epoch" refreshes them. */
static void fill(zm_sys_stats *st) {
  uint64_t epoch = 1;
  size_t len = sizeof epoch;
  (void)mallctl("epoch", &epoch, &len, &epoch, len);
  st->backend_allocated = je_stat("stats.allocated");
  st->backend_active = je_stat("stats.active");
  st->backend_resident = je_stat("stats.resident");
  st->backend_mapped = je_stat("stats.mapped");
}

#elif defined(ZMEM_BACKEND_MIMALLOC)
/* mimalloc 2 keeps no count of live bytes outside its statistics builds; it
 * reports what it has committed, and estimates its resident memory. */
static void fill(zm_sys_stats *st) {
  size_t elapsed, user, sys, rss, peak_rss, commit, peak_commit, faults;
  mi_process_info(&elapsed, &user, &sys, &rss, &peak_rss, &commit,
                  &peak_commit, &faults);
  st->backend_resident = rss;
  st->backend_mapped = commit;
}

#elif defined(ZMEM_BACKEND_TCMALLOC)
#include <gperftools/malloc_extension_c.h>

static size_t tc_prop(const char *name) {
  size_t v = 0;
  return MallocExtension_GetNumericProperty(name, &v) ? v : 0;
}

/* heap_size counts every page tcmalloc holds, free and released ones too. */
static void fill(zm_sys_stats *st) {
  size_t heap = tc_prop("generic.heap_size");
  size_t unmapped = tc_prop("tcmalloc.pageheap_unmapped_bytes");
  size_t free_pages = tc_prop("tcmalloc.pageheap_free_bytes");
  st->backend_allocated = tc_prop("generic.current_allocated_bytes");
  st->backend_mapped = heap;
  st->backend_resident = heap - (unmapped < heap ? unmapped : heap);
  st->backend_active = st->backend_resident -
                       (free_pages < st->backend_resident ? free_pages
                                                          : st->backend_resident);
}

#elif defined(__GLIBC__) &&                                                    \
    (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
/* glibc: in-use and held bytes of the sbrk arenas plus the mmapped chunks. */
static void fill(zm_sys_stats *st) {
  struct mallinfo2 mi = mallinfo2();
  st->backend_allocated = mi.uordblks + mi.hblkhd;
  st->backend_mapped = mi.arena + mi.hblkhd;
}

#else
/* A C library without a statistics call: nothing to report. */
static void fill(zm_sys_stats *st) { (void)st; }
#endif

void zm__backend_stats(zm_sys_stats *st) {
  st->backend = ZM__BUILTIN_NAME;
  st->backend_allocated = st->backend_active = 0;
  st->backend_resident = st->backend_mapped = 0;
  fill(st);
}
