/* Backend selection: the built-in allocator, zm_set_backend and the
 * libevent-shaped zm_set_mem_functions. */
#include "backend.h"
#include "layout.h"

#include "line.h"
#include "prim/prim.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

static void *builtin_malloc(void *ud, size_t n) {
  (void)ud;
  return bi_malloc(n);
}
static void *builtin_realloc(void *ud, void *p, size_t n) {
  (void)ud;
  return bi_realloc(p, n);
}
static void builtin_free(void *ud, void *p) {
  (void)ud;
  bi_free(p);
}
static size_t builtin_usable(void *ud, const void *p) {
  (void)ud;
  return bi_usable(p);
}
static void *builtin_aligned(void *ud, size_t a, size_t n) {
  (void)ud;
  return bi_aligned(a, n);
}

/* A macro, not a copy of `builtin`: C does not take a const object as a
 * constant initializer (GCC accepts it, clang does not). */
#define BUILTIN_BACKEND                                                        \
  {                                                                            \
    .name = ZM__BUILTIN_NAME, .malloc = builtin_malloc,                        \
    .realloc = builtin_realloc, .free = builtin_free,                          \
    .usable_size = builtin_usable, .aligned_alloc = builtin_aligned,           \
  }

static const zm_backend builtin = BUILTIN_BACKEND;

zm__backend zm__be = {.pub = BUILTIN_BACKEND, .builtin = true};

/* Runs under the set-up lock, so it cannot race with the first allocation. */
static int install_locked(const zm_backend *be) {
  if (zm__setup_frozen()) {
    errno = EBUSY;
    return -1;
  }
  zm__be.pub = be ? *be : builtin;
  zm__be.builtin = be == NULL;
  return 0;
}

int zm__backend_install(const zm_backend *be) {
  if (be && (!be->malloc || !be->realloc || !be->free)) {
    errno = EINVAL;
    return -1;
  }
  zm__setup_lock();
  int rc = install_locked(be);
  zm__setup_unlock();
  return rc;
}

int zm_set_backend(const zm_backend *be) {
  if (!zm__replacement) {
    errno = ENOTSUP;
    return -1;
  }
  if (!be) {
    errno = EINVAL;
    return -1;
  }
  return zm__backend_install(be);
}

const zm_backend *zm_get_backend(void) { return &zm__be.pub; }

/* zm_set_mem_functions keeps the plain functions here; the backend's ud
 * points at them. Only written while unfrozen, like zm__be. */
static struct {
  void *(*malloc)(size_t);
  void *(*realloc)(void *, size_t);
  void (*free)(void *);
} plain;

static void *plain_malloc(void *ud, size_t n) {
  (void)ud;
  return plain.malloc(n);
}
static void *plain_realloc(void *ud, void *p, size_t n) {
  (void)ud;
  return plain.realloc(p, n);
}
static void plain_free(void *ud, void *p) {
  (void)ud;
  plain.free(p);
}

static const zm_backend plain_backend = {
    .name = "user",
    .malloc = plain_malloc,
    .realloc = plain_realloc,
    .free = plain_free,
};

int zm_set_mem_functions(void *(*malloc_fn)(size_t),
                         void *(*realloc_fn)(void *, size_t),
                         void (*free_fn)(void *)) {
  if (!zm__replacement) {
    errno = ENOTSUP;
    return -1;
  }
  bool none = !malloc_fn && !realloc_fn && !free_fn;
  if (none)
    return zm__backend_install(NULL);
  if (!malloc_fn || !realloc_fn || !free_fn) {
    errno = EINVAL;
    return -1;
  }
  zm__setup_lock();
  int rc = install_locked(&plain_backend);
  if (rc == 0) {
    plain.malloc = malloc_fn;
    plain.realloc = realloc_fn;
    plain.free = free_fn;
  }
  zm__setup_unlock();
  return rc;
}

#if defined(ZMEM_BACKEND_JEMALLOC)
bool zm__je_owns_malloc;

zm__at_load static void check_malloc_owner(void) {
  zm__je_owns_malloc = zm__prim_same_object((void *)malloc, (void *)mallocx);
}
#endif

/* ------------------------------------------ user backends' alignment */

static _Atomic bool misaligned_reported;

static void report_misaligned(const void *p, size_t align) {
  if (atomic_exchange(&misaligned_reported, true))
    return;
  zm__line l = {.n = 0};
  zm__line_str(&l, "zmem: backend '");
  zm__line_name(&l, zm__be.pub.name ? zm__be.pub.name : "user");
  zm__line_str(&l, "' returned a block at offset ");
  zm__line_num(&l, (unsigned long long)((uintptr_t)p & (align - 1)));
  zm__line_str(&l, " from a multiple of ");
  zm__line_num(&l, align);
  zm__line_str(&l, " (its contract); zmem refuses such blocks");
  zm__line_flush(&l);
}

void *zm__be_misaligned(void *p, size_t align) {
  if (p) {
    report_misaligned(p, align);
    zm__be.pub.free(zm__be.pub.ud, p);
  }
  return NULL;
}

void *zm__be_misaligned_realloc(void *p, size_t n) {
  if (!p)
    return NULL; /* failed: the old block is intact */
  report_misaligned(p, ZM__MIN_ALIGN);
  void *q = zm__be.pub.malloc(zm__be.pub.ud, n);
  if (!zm__be_aligned_ok(q, ZM__MIN_ALIGN) || !q) {
    static const char msg[] = "zmem: the backend's realloc moved a block to "
                              "misaligned memory and no aligned block could "
                              "take it; aborting\n";
    zm__prim_write_stderr(msg, sizeof msg - 1);
    abort();
  }
  memcpy(q, p, n);
  zm__be.pub.free(zm__be.pub.ud, p);
  return q;
}
