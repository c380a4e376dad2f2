/* A library that allocates (for dl_main). */
#include <stdlib.h>
#include <string.h>

long dl_work(int n);

long dl_work(int n) {
  long sum = 0;
  char **v = calloc((size_t)n, sizeof *v);
  for (int i = 0; i < n; i++) {
    v[i] = malloc((size_t)i + 1);
    memset(v[i], 'a', (size_t)i + 1);
    sum += i + 1;
  }
  for (int i = 0; i < n; i++)
    free(v[i]);
  free(v);
  return sum;
}
