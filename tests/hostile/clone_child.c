/* A child made by clone() without CLONE_VM: no fork handlers run in it, so
 * it still holds its parent's place in zmem's record. It allocates, frees
 * a block its parent allocated (its own copy) and exits with status 5
 * through exit(). */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char *inherited;

static int child(void *arg) {
  (void)arg;
  for (int i = 0; i < 100; i++)
    free(malloc(100 + (size_t)i));
  free(inherited);
  exit(5);
}

int main(void) {
  inherited = malloc(5000);
  memset(inherited, 1, 5000);
  size_t size = 256 << 10;
  char *stack = malloc(size);
  fflush(stdout);
  pid_t pid = clone(child, stack + size, SIGCHLD, NULL);
  if (pid < 0)
    return 3;
  int st;
  if (waitpid(pid, &st, 0) != pid)
    return 4;
  printf("child %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
  free(inherited);
  free(stack);
  return 0;
}
