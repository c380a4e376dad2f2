/* Fails only when memory stays short: each request is retried once after
 * a failure, and only a failed retry reaches the unchecked use (the
 * planted bug, marked below). A sweep that fails one request at a time
 * finds nothing; `--persistent` (every request from the step's on fails)
 * crashes at every step. Output goes through write(2). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *retrying(size_t n) {
  char *p = malloc(n);
  return p ? p : malloc(n); /* PLANTED: a second failure is not checked */
}

int main(void) {
  char *a = retrying(16);
  char *b = retrying(32);
  a[0] = b[0] = 'x';
  static const char done[] = "persist: done\n";
  (void)!write(1, done, sizeof done - 1);
  free(a);
  free(b);
  return 0;
}
