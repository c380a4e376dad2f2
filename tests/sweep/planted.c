/* A program with exactly one unchecked allocation (the planted bug, marked
 * below): every other request is checked, and on failure the program frees
 * what it holds and exits with status 1. `zmem sweep` must report exactly
 * one crash, at the step that fails the planted request. Output goes
 * through write(2), which allocates nothing. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int give_up(void *a, void *b, void *c) {
  free(a);
  free(b);
  free(c);
  static const char msg[] = "planted: out of memory\n";
  (void)!write(2, msg, sizeof msg - 1);
  return 1;
}

int main(void) {
  char *name = malloc(16);
  if (!name)
    return give_up(NULL, NULL, NULL);
  strcpy(name, "planted");
  int *table = calloc(32, sizeof *table);
  if (!table)
    return give_up(name, NULL, NULL);
  char *grown = realloc(name, 64);
  if (!grown)
    return give_up(name, table, NULL);
  name = grown;
  char *buffer = malloc(256); /* PLANTED: the one unchecked request */
  buffer[0] = 'x';
  buffer[1] = 0;
  void *aligned = aligned_alloc(64, 64);
  if (!aligned)
    return give_up(name, table, buffer);
  static const char done[] = "planted: done\n";
  (void)!write(1, done, sizeof done - 1);
  free(aligned);
  free(buffer);
  free(table);
  free(name);
  return 0;
}
