/* A child made by clone() without CLONE_VM: no fork handlers run in it, so
 * it still holds its parent's place in zmem's record. It allocates, frees
 * a block its parent allocated (its own copy) and exits with status 5
 * through exit(). With "check" (under zmem only), the parent then prints
 * how many processes its record says shared it. */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "record.h"
#include <unistd.h>

static char *inherited;

static int child(void *arg) {
  (void)arg;
  for (int i = 0; i < 100; i++)
    free(malloc(100 + (size_t)i));
  free(inherited);
  exit(5);
}

/* The shared_by count of this process's record. */
static int shared_by(void) {
  const char *fd = getenv(ZMR_ENV_FD);
  if (!fd)
    return -1;
  zmr_header *h = mmap(NULL, ZMR_PROCS_END, PROT_READ, MAP_SHARED, atoi(fd), 0);
  if (h == MAP_FAILED)
    return -1;
  for (uint32_t i = 0; i < h->nprocs && i < ZMR_MAX_PROCS; i++) {
    zmr_proc *p = zmr_proc_at(h, i);
    if (p->pid == getpid() && p->state == ZMR_STATE_RUNNING)
      return (int)p->shared_by;
  }
  return -1;
}

int main(int argc, char **argv) {
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
  if (argc > 1 && strcmp(argv[1], "check") == 0)
    printf("shared by %d\n", shared_by());
  free(inherited);
  free(stack);
  return 0;
}
