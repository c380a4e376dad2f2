/* The compiled-in allocator (CMake option ZMEM_BACKEND), as inline functions
 * so that the default path has no indirect call. Exactly one of the
 * ZMEM_BACKEND_* macros is defined by the build; libc is the default.
 *
 * bi_good_size: the usable size a request gets, when the allocator guarantees
 * it equals the usable size of every block last requested with that size
 * (malloc, calloc or realloc). Only jemalloc makes that promise (nallocx is the
 * basis of its sized deallocation); bi_has_good_size says whether it exists. */
#ifndef ZM_BUILTIN_H
#define ZM_BUILTIN_H

#include <stdbool.h>
#include <stddef.h>

#if defined(ZMEM_BACKEND_JEMALLOC)
#include <jemalloc/jemalloc.h>
#define ZM__BUILTIN_NAME "jemalloc"
static const bool bi_has_good_size = true;
static const bool bi_free_keeps_errno = false;
/* malloc, calloc and free rather than mallocx and dallocx: in jemalloc 5.3
 * only the former have the thread-cache fast path (about 30 instead of 90
 * instructions a call). Like the *allocx names, these are jemalloc's own in
 * its default, unprefixed build (the one pkg-config finds). */
static inline void *bi_malloc(size_t n) { return malloc(n); }
static inline void *bi_calloc(size_t n) { return calloc(1, n); }
static inline void *bi_realloc(void *p, size_t n) { return rallocx(p, n, 0); }
static inline void bi_free(void *p) { free(p); }
static inline void bi_free_sized(void *p, size_t n) { sdallocx(p, n, 0); }
static inline size_t bi_usable(const void *p) { return sallocx(p, 0); }
static inline size_t bi_good_size(size_t n) { return nallocx(n, 0); }
static inline void *bi_aligned(size_t a, size_t n) {
  return mallocx(n, MALLOCX_ALIGN(a));
}

#elif defined(ZMEM_BACKEND_MIMALLOC)
#include <mimalloc.h>
#define ZM__BUILTIN_NAME "mimalloc"
static const bool bi_has_good_size = false;
static const bool bi_free_keeps_errno = false;
static inline void *bi_malloc(size_t n) { return mi_malloc(n); }
static inline void *bi_calloc(size_t n) { return mi_zalloc(n); }
static inline void *bi_realloc(void *p, size_t n) { return mi_realloc(p, n); }
static inline void bi_free(void *p) { mi_free(p); }
static inline void bi_free_sized(void *p, size_t n) { mi_free_size(p, n); }
static inline size_t bi_usable(const void *p) { return mi_usable_size(p); }
static inline size_t bi_good_size(size_t n) { return n; }
static inline void *bi_aligned(size_t a, size_t n) {
  return mi_malloc_aligned(n, a);
}

#elif defined(ZMEM_BACKEND_TCMALLOC)
#include <gperftools/tcmalloc.h>
#define ZM__BUILTIN_NAME "tcmalloc"
/* tc_free_sized is not used: tcmalloc keeps a block in place on a realloc
 * that shrinks it by less than half, so the requested size no longer names
 * the block's size class. */
static const bool bi_has_good_size = false;
static const bool bi_free_keeps_errno = false;
static inline void *bi_malloc(size_t n) { return tc_malloc(n); }
static inline void *bi_calloc(size_t n) { return tc_calloc(1, n); }
static inline void *bi_realloc(void *p, size_t n) { return tc_realloc(p, n); }
static inline void bi_free(void *p) { tc_free(p); }
static inline void bi_free_sized(void *p, size_t n) { (void)n; tc_free(p); }
static inline size_t bi_usable(const void *p) {
  return tc_malloc_size((void *)p);
}
static inline size_t bi_good_size(size_t n) { return n; }
static inline void *bi_aligned(size_t a, size_t n) { return tc_memalign(a, n); }

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
static inline void *bi_malloc(size_t n) { return malloc(n); }
static inline void *bi_calloc(size_t n) { return calloc(1, n); }
static inline void *bi_realloc(void *p, size_t n) { return realloc(p, n); }
static inline void bi_free(void *p) { free(p); }
static inline void bi_free_sized(void *p, size_t n) { (void)n; free(p); }
static inline size_t bi_usable(const void *p) {
  return malloc_usable_size((void *)p);
}
static inline size_t bi_good_size(size_t n) { return n; }
static inline void *bi_aligned(size_t a, size_t n) {
  void *p = NULL;
  return posix_memalign(&p, a, n) == 0 ? p : NULL;
}
#endif

#endif
