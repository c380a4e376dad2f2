/* Backend selection: the built-in allocator, zm_set_backend and the
 * libevent-shaped zm_set_mem_functions. */
#include "backend.h"
#include "setup.h"

#include "line.h"
#include "last_error.h"
#include "prim/prim.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

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
    zm__set_last_error("the backend is fixed at the first allocation, and a "
                       "block was already allocated: set the backend before "
                       "any allocation (freeing the blocks is not enough)");
    errno = EBUSY;
    return -1;
  }
  if (be && !be->usable_size && zm__layout_wanted == ZM_LAYOUT_LEAN) {
    zm__set_last_error("the lean layout was asked for, and it needs a "
                       "backend with usable_size");
    errno = EINVAL;
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
bool zm__je_counters_ok;
__thread zm__je_counters zm__je_tc __attribute__((tls_model("initial-exec")));

/* thread.allocatedp and thread.deallocatedp exist in jemalloc 4 and 5 (with
 * statistics enabled, the default); the pointers are per thread. */
static bool counters_fetch(zm__je_counters *c) {
#if JEMALLOC_VERSION_MAJOR >= 4
  uint64_t *a = NULL, *d = NULL;
  size_t la = sizeof a, ld = sizeof d;
  if (mallctl("thread.allocatedp", &a, &la, NULL, 0) != 0 ||
      mallctl("thread.deallocatedp", &d, &ld, NULL, 0) != 0 || !a || !d)
    return false;
  c->alloc = a;
  c->dealloc = d;
  return true;
#else
  (void)c;
  return false;
#endif
}

/* The thread's counters, for its next call, once they are known good. */
static void counters_arm(void) {
  if (zm__je_counters_ok && !zm__je_tc.alloc)
    counters_fetch(&zm__je_tc);
}

/* The documented path: a request's size from nallocx (the size class, the
 * basis of jemalloc's sized deallocation), a block's from sallocx. */
zm__je_block zm__je_malloc_slow(size_t n, bool zero) {
  counters_arm();
  void *p = zero ? bi_calloc(n) : bi_malloc(n);
  return (zm__je_block){p, p ? (int64_t)bi_good_size(n) : 0};
}

size_t zm__je_free_slow(void *p) {
  counters_arm();
  size_t u = sallocx(p, 0);
  sdallocx(p, u, 0);
  return u;
}

size_t zm__je_free_sized_slow(void *p, size_t n) {
  counters_arm();
  size_t u = bi_good_size(n);
  sdallocx(p, bi_req(n), 0);
  return u;
}

zm__je_block zm__je_realloc_slow(void *p, size_t n) {
  counters_arm();
  size_t old = sallocx(p, 0);
  void *q = bi_realloc(p, n);
  return (zm__je_block){q, q ? (int64_t)sallocx(q, 0) - (int64_t)old : 0};
}

/* Trusts the counters only after they measured one allocation, one resize
 * and one free exactly (a jemalloc that counts differently, or not at all,
 * keeps the documented path). */
static bool counters_check(void) {
  zm__je_counters c;
  if (!counters_fetch(&c))
    return false;
  uint64_t a0 = *c.alloc, d0 = *c.dealloc;
  void *p = mallocx(100, 0);
  if (!p)
    return false;
  bool ok = *c.alloc - a0 == sallocx(p, 0);
  size_t old = sallocx(p, 0);
  a0 = *c.alloc;
  d0 = *c.dealloc;
  void *q = rallocx(p, 5000, 0);
  if (!q)
    q = p;
  ok = ok && (int64_t)(*c.alloc - a0) - (int64_t)(*c.dealloc - d0) ==
                 (int64_t)sallocx(q, 0) - (int64_t)old;
  size_t u = sallocx(q, 0);
  d0 = *c.dealloc;
  dallocx(q, 0);
  return ok && *c.dealloc - d0 == u;
}

zm__at_load static void check_malloc_owner(void) {
  zm__je_owns_malloc = zm__prim_same_object((void *)malloc, (void *)mallocx);
  zm__je_counters_ok = counters_check();
}
#endif

#ifdef ZM__BI_SIZE_TABLE
uint16_t zm__bi_table[ZM__BI_TABLE_MAX / 8 + 1];
size_t zm__bi_table_lim;

/* Every request up to the bound must map to its entry (the classes are
 * multiples of 8 bytes), and a real block of every class must have the
 * entry's usable size. */
static bool table_fill(uint16_t *t, size_t (*class_size)(size_t)) {
  for (size_t k = 0; k <= ZM__BI_TABLE_MAX / 8; k++) {
    size_t c = class_size(8 * k);
    if (c < 8 * k || c > UINT16_MAX)
      return false;
    t[k] = (uint16_t)c;
  }
  for (size_t n = 0; n <= ZM__BI_TABLE_MAX; n++)
    if (class_size(n) != t[(n + 7) >> 3])
      return false;
  return true;
}

static bool table_true_of_blocks(const uint16_t *t) {
  for (size_t k = 0; k <= ZM__BI_TABLE_MAX / 8; k++) {
    if (k > 0 && t[k] == t[k - 1])
      continue; /* one block per class */
    void *p = bi_malloc(8 * k), *z = bi_calloc(8 * k);
    bool ok = p && z && bi_usable(p) == t[k] && bi_usable(z) == t[k];
    if (p)
      bi_free(p);
    if (z)
      bi_free(z);
    if (!ok)
      return false;
  }
  return true;
}

bool zm__bi_table_build(size_t (*class_size)(size_t)) {
  static uint16_t t[ZM__BI_TABLE_MAX / 8 + 1];
  zm__bi_table_lim = 0;
  if (!table_fill(t, class_size) || !table_true_of_blocks(t))
    return false;
  memcpy(zm__bi_table, t, sizeof t);
  zm__bi_table_lim = ZM__BI_TABLE_MAX + 1;
  return true;
}

void *zm__bi_table_move(void *p, size_t n, size_t old) {
  void *q = bi_malloc(n);
  if (!q)
    return NULL;
  memcpy(q, p, old < n ? old : n);
  bi_free(p);
  return q;
}

zm__at_load static void table_at_load(void) { zm__bi_table_build(bi_class_size); }
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
