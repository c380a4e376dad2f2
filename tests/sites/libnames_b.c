/* A library whose allocating function has a C++ name (set through an
 * assembler label: the test needs no C++ compiler) and one that is not
 * exported, which a stripped copy of this library has no symbol for. */
#include <stdlib.h>
#include <string.h>

/* zmemt::cxx_alloc(unsigned long) */
void *cxx_alloc(size_t size) __asm__("_ZN5zmemt9cxx_allocEm");
__attribute__((noinline)) void *cxx_alloc(size_t size) {
  void *p = malloc(size);
  if (p)
    memset(p, 3, size);
  __asm__ volatile("" ::: "memory");
  return p;
}

__attribute__((noinline, visibility("hidden"))) void *hidden_alloc(size_t size);
__attribute__((noinline, visibility("hidden"))) void *hidden_alloc(size_t size) {
  void *p = malloc(size);
  if (p)
    memset(p, 4, size);
  __asm__ volatile("" ::: "memory");
  return p;
}

void *unnamed_entry(size_t size);
__attribute__((noinline)) void *unnamed_entry(size_t size) {
  void *p = hidden_alloc(size);
  __asm__ volatile("" ::: "memory");
  return p;
}
