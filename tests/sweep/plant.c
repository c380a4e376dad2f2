/* Plants symbolic links where `zmem sweep --logs` would write its next
 * logs: $ZMEM_TEST_LOGS/step-N.log -> $ZMEM_TEST_VICTIM for N from 1 to
 * 10 (a link that exists already stays). Then makes 3 allocation
 * requests, each checked. zmem must not write through the links. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(void) {
  const char *dir = getenv("ZMEM_TEST_LOGS"), *victim = getenv("ZMEM_TEST_VICTIM");
  for (int n = 1; dir && victim && n <= 10; n++) {
    char link[4096];
    snprintf(link, sizeof link, "%s/step-%d.log", dir, n);
    (void)symlink(victim, link);
  }
  for (int i = 0; i < 3; i++) {
    void *p = malloc(16);
    if (!p)
      return 1;
    free(p);
  }
  static const char done[] = "plant: done\n";
  (void)!write(1, done, sizeof done - 1);
  return 0;
}
