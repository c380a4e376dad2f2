/* The backend layer: the allocator in force, called through inline dispatch.
 * The built-in allocator is called directly; a user backend through its
 * function pointers. With ZMEM_REPLACEMENT=OFF the indirect branch is dead
 * code and disappears. */
#ifndef ZM_BACKEND_H
#define ZM_BACKEND_H

#include "builtin.h"
#include "internal.h"
#include "zmem.h"

#include <stdalign.h>
#include <string.h>

/* What every block a backend returns must be aligned to. */
#define ZM__MIN_ALIGN alignof(max_align_t)

typedef struct zm__backend {
  zm_backend pub; /* what zm_get_backend returns */
  bool builtin;   /* pub is the compiled-in allocator */
} zm__backend;

/* Written only before the first allocation (under the freeze lock). */
extern zm__hidden zm__backend zm__be;

/* Installs be (NULL: the built-in). Fails with EBUSY once frozen. */
int zm__backend_install(const zm_backend *be);

/* Expected: the built-in allocator is the straight path. */
static inline bool zm__be_direct(void) {
  return zm__likely(!zm__replacement || zm__be.builtin);
}

/* A user backend's block that is not aligned to `align` (its contract):
 * reported on stderr (the first time) and refused. For malloc and
 * aligned_alloc the block goes back to the backend and the call fails;
 * for realloc the contents move to a block from malloc, and if that is
 * misaligned too, zmem reports and aborts rather than hand out memory that
 * breaks its alignment promise. */
void *zm__be_misaligned(void *p, size_t align);
void *zm__be_misaligned_realloc(void *p, size_t n);

/* Checks a user backend's block: one test on its path, none on the
 * built-in one. */
static inline bool zm__be_aligned_ok(const void *p, size_t align) {
  return zm__likely(((uintptr_t)p & (align - 1)) == 0);
}

/* A user backend is never asked for fewer than ZM__MIN_ALIGN bytes: a C
 * malloc aligns a block only for the objects that fit in it (jemalloc and
 * mimalloc give 8-byte blocks 8-byte alignment), as the built-in backends'
 * bi_req does. */
static inline size_t zm__be_user_req(size_t n) {
  return n < ZM__MIN_ALIGN ? ZM__MIN_ALIGN : n;
}

static inline void *zm__be_malloc(size_t n) {
  if (zm__be_direct())
    return bi_malloc(n);
  void *p = zm__be.pub.malloc(zm__be.pub.ud, zm__be_user_req(n));
  return zm__be_aligned_ok(p, ZM__MIN_ALIGN) ? p
                                              : zm__be_misaligned(p, ZM__MIN_ALIGN);
}

static inline void *zm__be_calloc(size_t n) {
  if (zm__be_direct())
    return bi_calloc(n);
  void *p = zm__be_malloc(n);
  return p ? memset(p, 0, n) : NULL;
}

static inline void *zm__be_realloc(void *p, size_t n) {
  if (zm__be_direct())
    return bi_realloc(p, n);
  void *q = zm__be.pub.realloc(zm__be.pub.ud, p, zm__be_user_req(n));
  return zm__be_aligned_ok(q, ZM__MIN_ALIGN) ? q
                                              : zm__be_misaligned_realloc(q, n);
}

static inline void zm__be_free(void *p) {
  if (zm__be_direct())
    bi_free(p);
  else
    zm__be.pub.free(zm__be.pub.ud, p);
}

static inline bool zm__be_has_usable(void) {
  return zm__be_direct() || zm__be.pub.usable_size != NULL;
}

static inline size_t zm__be_usable(const void *p) {
  if (zm__be_direct())
    return bi_usable(p);
  return zm__be.pub.usable_size(zm__be.pub.ud, p);
}

static inline bool zm__be_has_aligned(void) {
  return zm__be_direct() || zm__be.pub.aligned_alloc != NULL;
}

/* alignment: a power of two above alignof(max_align_t). */
static inline void *zm__be_aligned(size_t alignment, size_t n) {
  if (zm__be_direct())
    return bi_aligned(alignment, n);
  void *p = zm__be.pub.aligned_alloc(zm__be.pub.ud, alignment, n);
  return zm__be_aligned_ok(p, alignment) ? p : zm__be_misaligned(p, alignment);
}

/* True when zm__be_good_size(n) is the exact usable size of a block last
 * requested with n bytes, so sized free needs no lookup. */
static inline bool zm__be_sized_exact(void) {
  return bi_has_good_size && zm__be_direct();
}

static inline size_t zm__be_good_size(size_t n) { return bi_good_size(n); }

#endif
