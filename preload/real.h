/* The allocator underneath the preload: the next definitions of the C
 * allocation functions after this library (glibc's, or a jemalloc or
 * tcmalloc the program links), found with dlsym(RTLD_NEXT). While they are
 * being looked up, allocations come from a small static arena. */
#ifndef ZMP_REAL_H
#define ZMP_REAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct zmp_real {
  void *(*malloc)(size_t);
  void *(*calloc)(size_t, size_t);
  void *(*realloc)(void *, size_t);
  void (*free)(void *);
  void *(*memalign)(size_t, size_t);
  /* Its own rules for the alignments it accepts (memalign's when the
   * allocator has none). */
  void *(*aligned_alloc)(size_t, size_t);
  size_t (*usable_size)(void *);
} zmp_real;

extern zmp_real zmp_next;

/* Whether the allocator below is glibc's own, of a version whose chunk
 * header zmp_usable reads (zmp_real_init checks it, and checks the read
 * against the query on blocks of each kind); otherwise the query. */
extern bool zmp_glibc_chunks;

/* The usable size of p, a block the allocator below handed out. On glibc,
 * its chunk header read inline, as malloc_usable_size reads it: the size
 * field before the block (low bits: 1 the previous chunk in use, 2 mapped
 * by mmap, 4 not the main arena) less the header, and for a chunk in a
 * heap, 0 unless the in-use bit in the next chunk's size field is set. */
static inline size_t zmp_usable(void *p) {
#if defined(__x86_64__) && defined(__GLIBC__)
  if (__builtin_expect(zmp_glibc_chunks, 1)) {
    size_t field = ((const size_t *)p)[-1], size = field & ~(size_t)7;
    if (__builtin_expect(field & 2, 0))
      return size - 2 * sizeof(size_t);
    size_t next = *(const size_t *)((const char *)p + size - sizeof(size_t));
    return (size - sizeof(size_t)) & -(next & 1);
  }
#endif
  return zmp_next.usable_size(p);
}

/* zmp_usable of a block just handed out (so in use). */
static inline size_t zmp_usable_new(void *p) {
#if defined(__x86_64__) && defined(__GLIBC__)
  if (__builtin_expect(zmp_glibc_chunks, 1)) {
    size_t field = ((const size_t *)p)[-1];
    /* mapped: less 16 bytes of header; in a heap: less 8 */
    return (field & ~(size_t)7) - sizeof(size_t) - (field & 2) * (sizeof(size_t) / 2);
  }
#endif
  return zmp_next.usable_size(p);
}

/* Looks the functions up; false when one is missing (then every entry point
 * keeps using the arena, and says so once on stderr). Not reentrant: the
 * caller guards against recursion. */
bool zmp_real_init(void);

/* The bootstrap arena: bump allocation, 16-byte aligned, never reused. */
#define ZMP_ARENA_BYTES (64 << 10)
extern unsigned char zmp__arena[ZMP_ARENA_BYTES];
void *zmp_arena_alloc(size_t n);
static inline bool zmp_in_arena(const void *p) {
  return (uintptr_t)p - (uintptr_t)zmp__arena < ZMP_ARENA_BYTES; /* one compare */
}
size_t zmp_arena_size(const void *p); /* the size requested for p */

#endif
