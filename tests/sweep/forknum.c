/* Numbering across fork: 3 requests, a fork, 3 more in the child and (after
 * the child ended) 3 more in the parent; each process prints, on stderr,
 * the numbers (as counted along its own line of descent) of its requests
 * that failed. With --fail N the child and the parent must report the same
 * N for N from 4 on (both continue from 3), and only the parent for N <= 3. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void requests(const char *who, int from, int n) {
  for (int i = 0; i < n; i++) {
    void *p = malloc(10);
    if (!p)
      dprintf(2, "%s %d\n", who, from + i);
    free(p);
  }
}

int main(void) {
  requests("parent", 1, 3);
  pid_t c = fork();
  if (c == 0) {
    requests("child", 4, 3);
    _exit(0);
  }
  waitpid(c, NULL, 0);
  requests("parent", 4, 3);
  return 0;
}
