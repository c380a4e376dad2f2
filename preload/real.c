#define _GNU_SOURCE /* RTLD_NEXT */
#include "real.h"

#include <dlfcn.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

zmp_real zmp_next;

/* dlsym and dlerror may allocate a few hundred bytes; 64 KiB leaves room for
 * a program whose own constructors allocate before the lookup ends. */
#define ARENA_BYTES ZMP_ARENA_BYTES
#define arena zmp__arena
_Alignas(16) unsigned char zmp__arena[ZMP_ARENA_BYTES];
static size_t arena_used; /* under the caller's guard; see zmp_arena_alloc */

void *zmp_arena_alloc(size_t n) {
  /* 16 bytes in front hold the size, for realloc and malloc_usable_size. */
  size_t need = 16 + ((n + 15) & ~(size_t)15);
  size_t at = __atomic_fetch_add(&arena_used, need, __ATOMIC_RELAXED);
  if (n > ARENA_BYTES || at + need > ARENA_BYTES)
    return NULL;
  memcpy(arena + at, &n, sizeof n);
  return arena + at + 16;
}

size_t zmp_arena_size(const void *p) {
  size_t n;
  memcpy(&n, (const unsigned char *)p - 16, sizeof n);
  return n;
}

static void *next(const char *name) { return dlsym(RTLD_NEXT, name); }

bool zmp_real_init(void) {
  zmp_real r;
  r.malloc = (void *(*)(size_t))next("malloc");
  r.calloc = (void *(*)(size_t, size_t))next("calloc");
  r.realloc = (void *(*)(void *, size_t))next("realloc");
  r.free = (void (*)(void *))next("free");
  r.memalign = (void *(*)(size_t, size_t))next("memalign");
  r.usable_size = (size_t(*)(void *))next("malloc_usable_size");
  if (!r.malloc || !r.calloc || !r.realloc || !r.free || !r.memalign ||
      !r.usable_size) {
    static const char msg[] =
        "zmem: the C allocator's functions were not found; not profiling\n";
    (void)!write(2, msg, sizeof msg - 1);
    return false;
  }
  zmp_next = r;
  return true;
}
