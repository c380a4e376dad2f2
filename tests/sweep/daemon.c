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

static void note_pid(void) {
  const char *path = getenv("ZMEM_TEST_PIDS");
  int fd = path ? open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644) : -1;
  if (fd < 0)
    return;
  char line[32];
  int n = snprintf(line, sizeof line, "%d\n", (int)getpid());
  (void)!write(fd, line, (size_t)n);
  close(fd);
}

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
