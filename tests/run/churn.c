/* A deterministic allocation workload for the memusage comparison: a fixed
 * number of malloc, calloc, realloc and free calls of varied sizes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
  enum { N = 4096 };
  static void *v[N];
  unsigned long x = 12345;
  for (int i = 0; i < 200000; i++) {
    x = x * 6364136223846793005UL + 1442695040888963407UL;
    int k = (int)(x >> 33) % N;
    size_t n = (size_t)(x >> 45) % 3000;
    switch (i % 4) {
    case 0: free(v[k]); v[k] = malloc(n); break;
    case 1: free(v[k]); v[k] = calloc(1, n); break;
    case 2: { void *q = realloc(v[k], n + 1); if (q) v[k] = q; } break;
    default: free(v[k]); v[k] = NULL; break;
    }
  }
  for (int k = 0; k < N; k++)
    free(v[k]);
  puts("done");
  return 0;
}
