/* The allocator underneath the preload: the next definitions of the C
 * allocation functions after this library (glibc's, or a jemalloc or
 * tcmalloc the program links), found with dlsym(RTLD_NEXT). While they are
 * being looked up, allocations come from a small static arena. */
#ifndef ZMP_REAL_H
#define ZMP_REAL_H

#include <stdbool.h>
#include <stddef.h>

typedef struct zmp_real {
  void *(*malloc)(size_t);
  void *(*calloc)(size_t, size_t);
  void *(*realloc)(void *, size_t);
  void (*free)(void *);
  void *(*memalign)(size_t, size_t);
  size_t (*usable_size)(void *);
} zmp_real;

extern zmp_real zmp_next;

/* Looks the functions up; false when one is missing (then every entry point
 * keeps using the arena, and says so once on stderr). Not reentrant: the
 * caller guards against recursion. */
bool zmp_real_init(void);

/* The bootstrap arena: bump allocation, 16-byte aligned, never reused. */
#define ZMP_ARENA_BYTES (64 << 10)
extern unsigned char zmp__arena[ZMP_ARENA_BYTES];
void *zmp_arena_alloc(size_t n);
static inline bool zmp_in_arena(const void *p) {
  return (const unsigned char *)p >= zmp__arena &&
         (const unsigned char *)p < zmp__arena + ZMP_ARENA_BYTES;
}
size_t zmp_arena_size(const void *p); /* the size requested for p */

#endif
