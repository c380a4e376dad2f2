/* Leaves a daemon behind: forks a child that calls setsid() (so it leaves
 * the step's process group) and forks again; the grandchild writes its pid
 * to $ZMEM_TEST_PIDS and waits forever. The first process waits until that
 * pid is written, then ends; with the argument "hang" it waits forever
 * instead when its first allocation request fails (a step killed at the
 * timeout). `zmem sweep` must leave none of these processes running. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testpids.h"

/* Returns once the daemon has noted its pid. */
static void daemonise(void) {
  int ready[2];
  if (pipe(ready) != 0)
    _exit(3);
  pid_t c = fork();
  if (c == 0) {
    setsid();
    if (fork() == 0) {
      note_pid();
      (void)!write(ready[1], "x", 1);
      for (;;)
        pause();
    }
    _exit(0);
  }
  close(ready[1]);
  char x;
  (void)!read(ready[0], &x, 1);
  close(ready[0]);
  waitpid(c, NULL, 0);
}

int main(int argc, char **argv) {
  void *p = malloc(100);
  daemonise();
  if (!p && argc > 1 && !strcmp(argv[1], "hang"))
    for (;;)
      pause();
  free(p);
  return 0;
}
