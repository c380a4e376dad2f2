#define _GNU_SOURCE /* RTLD_NEXT */
#include "real.h"

#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

zmp_real zmp_next;
bool zmp_glibc_chunks;

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

#if defined(__x86_64__) && defined(__GLIBC__)
#include <gnu/libc-version.h>

/* Whether f is glibc's function name (libc.so.6's own definition). */
static bool from_libc(void *libc, const char *name, void *f) {
  return f && dlsym(libc, name) == f;
}

/* A loaded valgrind tool that replaces malloc (memcheck, helgrind, drd,
 * massif, dhat): its blocks have no glibc header. */
static int is_malloc_tool(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size;
  (void)arg;
  const char *name = info->dlpi_name ? info->dlpi_name : "";
  return strstr(name, "vgpreload_") && !strstr(name, "vgpreload_core");
}

/* glibc 2.34 to 2.40 (from 2.34 the malloc checking that changes the
 * usable size lives in a library of its own, libc_malloc_debug.so, whose
 * functions then come first; the header's layout is the same throughout). */
static bool version_known(void) {
  const char *v = gnu_get_libc_version();
  if (v[0] != '2' || v[1] != '.')
    return false;
  int minor = atoi(v + 2);
  return minor >= 34 && minor <= 40;
}

/* The inline read gives what the query gives, on a small block, a large
 * one and one mapped by mmap. The mapped one is above glibc's largest
 * dynamic mmap threshold (32 MiB), so that freeing it leaves the
 * thresholds as the program would find them; it is never touched. */
static bool read_agrees(const zmp_real *r) {
  static const size_t sizes[] = {24, 5000, 33 << 20};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    void *p = r->malloc(sizes[i]);
    if (!p)
      return false;
    bool same = zmp_usable(p) == r->usable_size(p);
    r->free(p);
    if (!same)
      return false;
  }
  return true;
}

static bool glibc_chunks_readable(const zmp_real *r) {
  void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
  if (!libc)
    return false;
  bool own = from_libc(libc, "malloc", (void *)r->malloc) &&
             from_libc(libc, "free", (void *)r->free) &&
             from_libc(libc, "realloc", (void *)r->realloc) &&
             from_libc(libc, "calloc", (void *)r->calloc) &&
             from_libc(libc, "memalign", (void *)r->memalign) &&
             from_libc(libc, "aligned_alloc", (void *)r->aligned_alloc) &&
             from_libc(libc, "malloc_usable_size", (void *)r->usable_size);
  dlclose(libc);
  if (!own || !version_known() || dl_iterate_phdr(is_malloc_tool, NULL))
    return false;
  int saved = errno; /* a refused block sets it */
  zmp_glibc_chunks = true;
  bool agrees = read_agrees(r);
  zmp_glibc_chunks = false;
  errno = saved;
  return agrees;
}
#else
static bool glibc_chunks_readable(const zmp_real *r) {
  (void)r;
  return false;
}
#endif

bool zmp_real_init(void) {
  zmp_real r;
  r.malloc = (void *(*)(size_t))next("malloc");
  r.calloc = (void *(*)(size_t, size_t))next("calloc");
  r.realloc = (void *(*)(void *, size_t))next("realloc");
  r.free = (void (*)(void *))next("free");
  r.memalign = (void *(*)(size_t, size_t))next("memalign");
  r.usable_size = (size_t(*)(void *))next("malloc_usable_size");
  r.aligned_alloc = (void *(*)(size_t, size_t))next("aligned_alloc");
  if (!r.aligned_alloc)
    r.aligned_alloc = r.memalign;
  if (!r.malloc || !r.calloc || !r.realloc || !r.free || !r.memalign ||
      !r.usable_size) {
    static const char msg[] =
        "zmem: the C allocator's functions were not found; not profiling\n";
    (void)!write(2, msg, sizeof msg - 1);
    return false;
  }
  zmp_next = r;
  zmp_glibc_chunks = glibc_chunks_readable(&r);
  return true;
}
