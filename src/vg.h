/* valgrind client requests, so that memcheck sees the blocks zmem hands out
 * rather than the backend's blocks they sit in. Compiled in when the build
 * finds valgrind/memcheck.h (Debian's valgrind package ships it); each
 * request costs a few instructions when the program does not run under
 * valgrind. Without the header they compile to nothing. */
#ifndef ZM_VG_H
#define ZM_VG_H

#include <stdbool.h>
#include <stddef.h>

#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>) && !defined(ZMEM_NO_VALGRIND)
#include <valgrind/memcheck.h>
#define ZM__VG 1
#endif
#endif

#ifdef ZM__VG
/* A user block of n bytes starts at p (its memory: undefined, or defined
 * when zeroed). */
static inline void zm__vg_alloc(void *p, size_t n, bool zeroed) {
  VALGRIND_MALLOCLIKE_BLOCK(p, n, 0, zeroed);
}
/* The user block at p is freed: no access from now on. */
static inline void zm__vg_free(void *p) { VALGRIND_FREELIKE_BLOCK(p, 0); }
/* zmem reads or writes a region the program may not touch; then closes it. */
static inline void zm__vg_open(const void *p, size_t n) {
  (void)VALGRIND_MAKE_MEM_DEFINED(p, n);
}
static inline void zm__vg_close(const void *p, size_t n) {
  (void)VALGRIND_MAKE_MEM_NOACCESS(p, n);
}
static inline bool zm__vg_running(void) { return RUNNING_ON_VALGRIND != 0; }
/* Whether the tool in force reads the requests above: memcheck answers its
 * own requests, every other tool (callgrind, cachegrind) and a run without
 * valgrind give the default 0. */
static inline bool zm__vg_memcheck(void) {
  char probe = 0, vbits;
  return VALGRIND_GET_VBITS(&probe, &vbits, 1) == 1;
}
#else
static inline void zm__vg_alloc(void *p, size_t n, bool zeroed) {
  (void)p, (void)n, (void)zeroed;
}
static inline void zm__vg_free(void *p) { (void)p; }
static inline void zm__vg_open(const void *p, size_t n) { (void)p, (void)n; }
static inline void zm__vg_close(const void *p, size_t n) { (void)p, (void)n; }
static inline bool zm__vg_running(void) { return false; }
static inline bool zm__vg_memcheck(void) { return false; }
#endif

#endif
