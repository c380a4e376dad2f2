/* Recovers from every failed request, but forgets two blocks on one error
 * path: when its third request fails it goes on without them and exits 0,
 * as the baseline does, with the first two still live. Every other failure
 * ends with status 1, everything freed. `zmem sweep` must report exactly
 * step 3 as a leak of 2 blocks. */
#include <stdlib.h>
#include <string.h>

int main(void) {
  char *a = malloc(24), *b = NULL, *c = NULL;
  if (!a)
    return 1;
  b = malloc(40);
  if (!b) {
    free(a);
    return 1;
  }
  c = malloc(64);
  if (!c)
    return 0; /* the planted leak: a and b are not freed */
  memset(c, 0, 64);
  void *d = calloc(4, 8);
  if (!d) {
    free(a), free(b), free(c);
    return 1;
  }
  free(d), free(c), free(b), free(a);
  return 0;
}
