/* The raw allocator of this benchmark build, called directly (no zmem), with
 * the entry points a program that uses that allocator would call. Exactly one
 * ZBENCH_BACKEND_* macro is defined by bench/CMakeLists.txt, the same backend
 * that libzmem of this build is compiled for.
 *
 * rb_free_sized is the allocator's own sized free where it has one (jemalloc
 * sdallocx, mimalloc mi_free_size, tcmalloc tc_free_sized); glibc 2.36 has
 * none, so there it is free. rb_free_resized is the same for a block whose
 * last size came from realloc: tcmalloc's realloc grows a block to 1.25
 * times its old size class, so the requested size no longer names its class
 * and tc_free_sized would corrupt the heap (it did, in this suite); there it
 * is tc_free. rb_usable is the size query the Redis-style
 * designs use (what Redis's zmalloc calls for each allocator). */
#ifndef ZBENCH_RAW_H
#define ZBENCH_RAW_H

#include <stddef.h>
#include <stdio.h>

#if defined(ZBENCH_BACKEND_JEMALLOC)
#include <jemalloc/jemalloc.h>
#define RB_NAME "jemalloc"
static inline void *rb_malloc(size_t n) { return malloc(n); }
static inline void *rb_realloc(void *p, size_t n) { return realloc(p, n); }
static inline void rb_free(void *p) { free(p); }
static inline void rb_free_sized(void *p, size_t n) { sdallocx(p, n, 0); }
static inline void rb_free_resized(void *p, size_t n) { sdallocx(p, n, 0); }
static inline size_t rb_usable(void *p) { return malloc_usable_size(p); }
static inline const char *rb_version(char *buf, size_t len) {
  snprintf(buf, len, "%.5s", JEMALLOC_VERSION);
  return buf;
}

#elif defined(ZBENCH_BACKEND_MIMALLOC)
#include <mimalloc.h>
#define RB_NAME "mimalloc"
static inline void *rb_malloc(size_t n) { return mi_malloc(n); }
static inline void *rb_realloc(void *p, size_t n) { return mi_realloc(p, n); }
static inline void rb_free(void *p) { mi_free(p); }
static inline void rb_free_sized(void *p, size_t n) { mi_free_size(p, n); }
static inline void rb_free_resized(void *p, size_t n) { mi_free_size(p, n); }
static inline size_t rb_usable(void *p) { return mi_usable_size(p); }
static inline const char *rb_version(char *buf, size_t len) {
  int v = mi_version();
  snprintf(buf, len, "%d.%d.%d", v / 100, v / 10 % 10, v % 10);
  return buf;
}

#elif defined(ZBENCH_BACKEND_TCMALLOC)
#include <gperftools/tcmalloc.h>
#define RB_NAME "tcmalloc"
static inline void *rb_malloc(size_t n) { return tc_malloc(n); }
static inline void *rb_realloc(void *p, size_t n) { return tc_realloc(p, n); }
static inline void rb_free(void *p) { tc_free(p); }
static inline void rb_free_sized(void *p, size_t n) { tc_free_sized(p, n); }
static inline void rb_free_resized(void *p, size_t n) {
  (void)n;
  tc_free(p);
}
static inline size_t rb_usable(void *p) { return tc_malloc_size(p); }
static inline const char *rb_version(char *buf, size_t len) {
  int major, minor;
  const char *patch;
  tc_version(&major, &minor, &patch);
  snprintf(buf, len, "%d.%d%s", major, minor, patch);
  return buf;
}

#else
#include <gnu/libc-version.h>
#include <malloc.h>
#include <stdlib.h>
#define RB_NAME "libc"
static inline void *rb_malloc(size_t n) { return malloc(n); }
static inline void *rb_realloc(void *p, size_t n) { return realloc(p, n); }
static inline void rb_free(void *p) { free(p); }
static inline void rb_free_sized(void *p, size_t n) {
  (void)n;
  free(p);
}
static inline void rb_free_resized(void *p, size_t n) {
  (void)n;
  free(p);
}
static inline size_t rb_usable(void *p) { return malloc_usable_size(p); }
static inline const char *rb_version(char *buf, size_t len) {
  snprintf(buf, len, "glibc %s", gnu_get_libc_version());
  return buf;
}
#endif

#endif
