/* The compiled-in allocator (CMake option ZMEM_BACKEND), as inline functions
 * so that the default path has no indirect call. Exactly one of the
 * ZMEM_BACKEND_* macros is defined by the build; libc is the default.
 *
 * bi_good_size: the usable size a request gets, when the allocator guarantees
 * it equals the usable size of every block last requested with that size
 * (malloc, calloc or realloc). Only jemalloc makes that promise (nallocx is the
 * basis of its sized deallocation); bi_has_good_size says whether it exists.
 *
 * The size source (bi_*_counted, at the end of each section): each allocation
 * entry point together with the exact number of bytes the allocator holds
 * for the block, by the cheapest exact means the allocator offers. The lean
 * layout's fast path counts with these and nothing else. */
#ifndef ZM_BUILTIN_H
#define ZM_BUILTIN_H

#include "internal.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

/* jemalloc, mimalloc and tcmalloc give requests of 8 bytes or less a block
 * aligned to 8 only; zmem promises alignof(max_align_t) for every block, so
 * their requests are made at least that large (in every call that takes a
 * size, so that sized calls name the same size class). */
static inline size_t bi_req(size_t n) {
  return n < _Alignof(max_align_t) ? _Alignof(max_align_t) : n;
}

/* bi_zero_ok: the allocator's malloc(0) and calloc of 0 bytes return a
 * unique block (through bi_req, or glibc's own minimum chunk), so the
 * front end need not raise size 0 to 1 first. */

#if defined(ZMEM_BACKEND_JEMALLOC)
#include <jemalloc/jemalloc.h>
#define ZM__BUILTIN_NAME "jemalloc"
static const bool bi_zero_ok = true;
static const bool bi_has_good_size = true;
static const bool bi_free_keeps_errno = false;
/* In jemalloc 5.3 only malloc/calloc have the thread-cache fast path (about
 * 30 instructions against mallocx's 90). But `malloc` is jemalloc's only if
 * jemalloc comes before the C library in the process's lookup order, which a
 * program linked with -lzmem alone does not guarantee; so backend.c checks at
 * load that malloc lives in the same object as mallocx. */
extern zm__hidden bool zm__je_owns_malloc;
/* Whether the per-thread counters below are in use: decided at load. */
extern zm__hidden bool zm__je_counters_ok;
static inline void *bi_malloc(size_t n) {
  return zm__likely(zm__je_owns_malloc) ? malloc(bi_req(n))
                                        : mallocx(bi_req(n), 0);
}
static inline void *bi_calloc(size_t n) {
  return zm__likely(zm__je_owns_malloc) ? calloc(1, bi_req(n))
                                        : mallocx(bi_req(n), MALLOCX_ZERO);
}
static inline void *bi_realloc(void *p, size_t n) {
  return rallocx(p, bi_req(n), 0);
}
static inline void bi_free(void *p) { dallocx(p, 0); }
static inline void bi_free_sized(void *p, size_t n) {
  sdallocx(p, bi_req(n), 0);
}
/* sdallocx takes the thread-cache fast path that dallocx lacks in 5.3, and
 * the usable size is a valid size for it. */
static inline void bi_free_usable(void *p, size_t u) { sdallocx(p, u, 0); }
static inline size_t bi_usable(const void *p) { return sallocx(p, 0); }
static inline size_t bi_good_size(size_t n) { return nallocx(bi_req(n), 0); }
static inline void *bi_aligned(size_t a, size_t n) {
  return mallocx(n, MALLOCX_ALIGN(a));
}

/* Size source. jemalloc keeps, per thread, the bytes it has ever allocated
 * and freed (usable sizes, the mallctls thread.allocatedp and
 * thread.deallocatedp); the difference of a counter across a call is that
 * call's exact size, for two loads instead of a size lookup (nallocx,
 * sallocx: about 35 instructions each). The counters are read through
 * volatile: the compiler takes malloc and free for builtins that write no
 * memory it can see, and would otherwise reuse the load from before the
 * call.
 *
 * zm__je_tc.alloc is NULL until the thread's first call, and stays NULL
 * where the counters are unusable (jemalloc built without statistics, or
 * the check at load found them inexact; see backend.c): then every call
 * takes the documented path, out of line (usable size by nallocx/sallocx). */
typedef struct zm__je_counters {
  /* volatile pointers too: read again after the allocator's call instead
   * of held in a callee-saved register across it */
  const volatile uint64_t *volatile alloc, *volatile dealloc;
} zm__je_counters;
extern zm__hidden __thread zm__je_counters zm__je_tc
    __attribute__((tls_model("initial-exec")));
/* The slow paths return the block and its size (or size change) by value,
 * so that the fast path's size never has its address taken (it would live
 * in memory). */
typedef struct zm__je_block {
  void *p;
  int64_t bytes;
} zm__je_block;
zm__hidden zm__je_block zm__je_malloc_slow(size_t n, bool zero);
zm__hidden size_t zm__je_free_slow(void *p);
zm__hidden size_t zm__je_free_sized_slow(void *p, size_t n);
zm__hidden zm__je_block zm__je_realloc_slow(void *p, size_t n);

/* free's thread-cache path when free is jemalloc's; dallocx has none. */
static inline void bi_je_free(void *p) {
  if (zm__likely(zm__je_owns_malloc))
    free(p);
  else
    dallocx(p, 0);
}

/* The counter pointers are read again after the allocator's call (a TLS
 * load) rather than kept in a register across it. */
static inline void *bi_malloc_counted(size_t n, bool zero, size_t *bytes) {
  if (zm__unlikely(!zm__je_tc.alloc)) {
    zm__je_block b = zm__je_malloc_slow(n, zero);
    *bytes = (size_t)b.bytes;
    return b.p;
  }
  uint64_t a0 = *zm__je_tc.alloc;
  void *p = zero ? bi_calloc(n) : bi_malloc(n);
  *bytes = (size_t)(*zm__je_tc.alloc - a0);
  return p;
}

static inline size_t bi_free_counted(void *p) {
  if (zm__unlikely(!zm__je_tc.dealloc))
    return zm__je_free_slow(p);
  uint64_t d0 = *zm__je_tc.dealloc;
  bi_je_free(p);
  return (size_t)(*zm__je_tc.dealloc - d0);
}

/* n: the size the block was last requested with. */
static inline size_t bi_free_sized_counted(void *p, size_t n) {
  if (zm__unlikely(!zm__je_tc.dealloc))
    return zm__je_free_sized_slow(p, n);
  uint64_t d0 = *zm__je_tc.dealloc;
  sdallocx(p, bi_req(n), 0);
  return (size_t)(*zm__je_tc.dealloc - d0);
}

static inline void *bi_realloc_counted(void *p, size_t n, int64_t *delta) {
  if (zm__unlikely(!zm__je_tc.alloc)) {
    zm__je_block b = zm__je_realloc_slow(p, n);
    *delta = b.bytes;
    return b.p;
  }
  uint64_t a0 = *zm__je_tc.alloc, d0 = *zm__je_tc.dealloc;
  void *q = bi_realloc(p, n);
  *delta = (int64_t)(*zm__je_tc.alloc - a0) -
           (int64_t)(*zm__je_tc.dealloc - d0);
  return q;
}

#elif defined(ZMEM_BACKEND_MIMALLOC)
#include <mimalloc.h>
#define ZM__BUILTIN_NAME "mimalloc"
static const bool bi_zero_ok = true;
static const bool bi_has_good_size = false;
static const bool bi_free_keeps_errno = false;
static inline void *bi_malloc(size_t n) { return mi_malloc(bi_req(n)); }
static inline void *bi_calloc(size_t n) { return mi_zalloc(bi_req(n)); }
static inline void *bi_realloc(void *p, size_t n) {
  return mi_realloc(p, bi_req(n));
}
static inline void bi_free(void *p) { mi_free(p); }
static inline void bi_free_sized(void *p, size_t n) {
  mi_free_size(p, bi_req(n));
}
static inline void bi_free_usable(void *p, size_t u) { (void)u; mi_free(p); }
static inline size_t bi_usable(const void *p) { return mi_usable_size(p); }
static inline size_t bi_good_size(size_t n) { return n; }
/* The size class of a request (documented: the usable size a block of that
 * request gets); the source of the size table below. */
static inline size_t bi_class_size(size_t n) { return mi_good_size(bi_req(n)); }
static inline void bi_free_class(void *p, size_t n) { (void)n; mi_free(p); }
/* Not mi_malloc_aligned: in mimalloc 2.0.9 (issue #700) its fast path takes
 * any power-of-two size from the alignment up to 1024 as naturally aligned,
 * which it is not (mi_malloc_aligned(256, 256) can be 128-aligned). The _at
 * form checks the alignment. */
static inline void *bi_aligned(size_t a, size_t n) {
  return mi_malloc_aligned_at(n, a, 0);
}

#define ZM__BI_SIZE_BY_QUERY 1
#define ZM__BI_SIZE_TABLE 1

#elif defined(ZMEM_BACKEND_TCMALLOC)
#include <gperftools/nallocx.h>
#include <gperftools/tcmalloc.h>
#define ZM__BUILTIN_NAME "tcmalloc"
static const bool bi_zero_ok = true;
/* bi_has_good_size is false: tcmalloc keeps a block in place on a realloc
 * that shrinks it by less than half, so the requested size no longer names
 * the block's size class. Only the size table below, whose realloc moves
 * such a block, lets a sized free trust the request. */
static const bool bi_has_good_size = false;
static const bool bi_free_keeps_errno = false;
static inline void *bi_malloc(size_t n) { return tc_malloc(bi_req(n)); }
static inline void *bi_calloc(size_t n) { return tc_calloc(1, bi_req(n)); }
static inline void *bi_realloc(void *p, size_t n) {
  return tc_realloc(p, bi_req(n));
}
static inline void bi_free(void *p) { tc_free(p); }
static inline void bi_free_sized(void *p, size_t n) { (void)n; tc_free(p); }
static inline void bi_free_usable(void *p, size_t u) { (void)u; tc_free(p); }
static inline size_t bi_usable(const void *p) {
  return tc_malloc_size((void *)p);
}
static inline size_t bi_good_size(size_t n) { return n; }
/* nallocx: the size class of a request (gperftools 2.6 and later). */
static inline size_t bi_class_size(size_t n) { return tc_nallocx(bi_req(n), 0); }
/* tc_free_sized finds the block's class from the size instead of the page
 * map: valid when the block's class is the request's, which the size
 * table's realloc keeps true. */
static inline void bi_free_class(void *p, size_t n) {
  tc_free_sized(p, bi_req(n));
}
static inline void *bi_aligned(size_t a, size_t n) { return tc_memalign(a, n); }

#define ZM__BI_SIZE_BY_QUERY 1
#define ZM__BI_SIZE_TABLE 1

#else /* libc */
#include <malloc.h>
#include <stdlib.h>
#define ZM__BUILTIN_NAME "libc"
static const bool bi_has_good_size = false;
/* glibc's free keeps errno since 2.33; elsewhere zmem saves it. */
#if defined(__GLIBC__) &&                                                      \
    (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
static const bool bi_free_keeps_errno = true;
#else
static const bool bi_free_keeps_errno = false;
#endif
#if defined(__GLIBC__)
static const bool bi_zero_ok = true;
#else
static const bool bi_zero_ok = false;
#endif
static inline void *bi_malloc(size_t n) { return malloc(n); }
static inline void *bi_calloc(size_t n) { return calloc(1, n); }
static inline void *bi_realloc(void *p, size_t n) { return realloc(p, n); }
static inline void bi_free(void *p) { free(p); }
static inline void bi_free_sized(void *p, size_t n) { (void)n; free(p); }
static inline void bi_free_usable(void *p, size_t u) { (void)u; free(p); }
static inline size_t bi_usable(const void *p) {
  return malloc_usable_size((void *)p);
}
static inline size_t bi_good_size(size_t n) { return n; }
static inline void *bi_aligned(size_t a, size_t n) {
  void *p = NULL;
  return posix_memalign(&p, a, n) == 0 ? p : NULL;
}

#define ZM__BI_SIZE_BY_QUERY 1
#endif

#ifdef ZM__BI_SIZE_TABLE
/* The size table (mimalloc, tcmalloc): a request of at most
 * ZM__BI_TABLE_MAX bytes gets a block of its size class, whose usable size
 * is zm__bi_table[(n + 7) / 8]. Built at load from the allocator's
 * documented class query (bi_class_size) and accepted only if every request
 * up to the bound maps to one entry and a real block of every class has the
 * entry's usable size (backend.c); otherwise zm__bi_table_lim stays 0 and
 * every call takes the usable-size query, the documented path.
 *
 * With the table, allocation counts with an array load instead of the query
 * and a sized free with none. The table is true of a block only while its
 * usable size is the class of the size it was last requested with; a
 * realloc that the allocator does in place (both shrink by less than half
 * without moving, tcmalloc grows into a class a quarter above the old one)
 * can leave a block in another class than its new request. So a realloc to
 * a request in the table does not call the allocator's realloc: a block
 * already of the new request's class stays (no call at all), any other
 * moves to a fresh block of that class (zm__bi_table_move). That keeps
 * "usable size = table[last request]" true of every block by construction,
 * with no failure case (a failed move leaves the block as it was), and
 * costs less than a realloc followed by a check; the alternative, a sized
 * free that distrusts resized blocks, would need a mark per block. 4096
 * covers every request of the mixed workload (16 B..4 KiB); above it,
 * requests are rare enough that the query's cost is small beside the
 * allocator's own work. */
#define ZM__BI_TABLE_MAX 4096
extern zm__hidden uint16_t zm__bi_table[ZM__BI_TABLE_MAX / 8 + 1];
/* ZM__BI_TABLE_MAX + 1 while the table is in use, 0 while it is not. */
extern zm__hidden size_t zm__bi_table_lim;
/* Builds the table from `class_size` and checks it; true when accepted
 * (zm__bi_table_lim set), false when refused (the query is used). A test
 * hook besides its use at load. */
zm__hidden bool zm__bi_table_build(size_t (*class_size)(size_t));
/* Moves block p (`old` usable bytes) to a new block of n bytes: the new
 * block, or NULL with p unchanged. */
zm__hidden void *zm__bi_table_move(void *p, size_t n, size_t old);

static inline bool bi_in_table(size_t n) { return n < zm__bi_table_lim; }
static inline size_t bi_table_size(size_t n) {
  return zm__bi_table[(n + 7) >> 3];
}
#endif

#ifdef ZM__BI_SIZE_BY_QUERY
/* Size source, for the allocators above without a cheaper one: their
 * usable-size query, or the size table where there is one. */
static inline void *bi_malloc_counted(size_t n, bool zero, size_t *bytes) {
  void *p = zero ? bi_calloc(n) : bi_malloc(n);
#ifdef ZM__BI_SIZE_TABLE
  if (zm__likely(bi_in_table(n))) {
    *bytes = bi_table_size(n);
    return p;
  }
#endif
  if (zm__likely(p != NULL))
    *bytes = bi_usable(p);
  return p;
}

static inline size_t bi_free_counted(void *p) {
  size_t u = bi_usable(p);
  bi_free_usable(p, u);
  return u;
}

/* n: the size the block was last requested with (the query's path ignores
 * it: these allocators' sized frees need the size class, which only the
 * table keeps equal to the request's). */
static inline size_t bi_free_sized_counted(void *p, size_t n) {
#ifdef ZM__BI_SIZE_TABLE
  if (zm__likely(bi_in_table(n))) {
    size_t u = bi_table_size(n);
    bi_free_class(p, n);
    return u;
  }
#endif
  (void)n;
  return bi_free_counted(p);
}

static inline void *bi_realloc_counted(void *p, size_t n, int64_t *delta) {
  size_t old = bi_usable(p);
#ifdef ZM__BI_SIZE_TABLE
  if (zm__likely(bi_in_table(n))) {
    size_t u = bi_table_size(n);
    void *q = u == old ? p : zm__bi_table_move(p, n, old);
    if (q)
      *delta = (int64_t)u - (int64_t)old;
    return q;
  }
#endif
  void *q = bi_realloc(p, n);
  if (q)
    *delta = (int64_t)bi_usable(q) - (int64_t)old;
  return q;
}
#endif

#endif
