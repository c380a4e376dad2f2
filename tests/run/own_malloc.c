/* A program that defines the malloc family itself (a bump allocator over a
 * static buffer), so that the loader binds every call, the C library's
 * own included, to these before any preloaded library. Allocates 1 MiB in
 * 1000 blocks and prints a checksum. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static _Alignas(16) unsigned char arena[16 << 20];
static size_t used;

void *malloc(size_t n) {
  size_t need = ((n + 15) & ~(size_t)15) + 16;
  if (n > sizeof arena || need > sizeof arena - used) {
    errno = ENOMEM;
    return NULL;
  }
  unsigned char *p = arena + used;
  used += need;
  memcpy(p, &n, sizeof n); /* the size, in front */
  return p + 16;
}

void free(void *p) { (void)p; }

void *calloc(size_t c, size_t n) {
  if (n && c > SIZE_MAX / n)
    return NULL;
  void *p = malloc(c * n);
  return p ? memset(p, 0, c * n) : NULL;
}

void *realloc(void *p, size_t n) {
  void *q = malloc(n);
  if (p && q) {
    size_t old;
    memcpy(&old, (unsigned char *)p - 16, sizeof old);
    memcpy(q, p, old < n ? old : n);
  }
  return q;
}

int main(void) {
  unsigned sum = 0;
  for (int i = 0; i < 1000; i++) {
    unsigned char *b = malloc(1024);
    memset(b, i & 0xff, 1024);
    sum += b[i];
  }
  printf("%u\n", sum);
  return 0;
}
