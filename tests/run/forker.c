/* Fork without exec: parent and child each allocate their own amount; the
 * child exits with status 3, the parent reports it and exits 0. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void use(size_t n) {
  char *p = malloc(n);
  memset(p, 1, n);
  free(p);
}

int main(void) {
  void *shared = malloc(100000); /* inherited by the child */
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    use(3 << 20);
    free(shared);
    _exit(3);
  }
  use(1 << 20);
  int st;
  waitpid(pid, &st, 0);
  printf("child exited %d\n", WEXITSTATUS(st));
  free(shared);
  return 0;
}
