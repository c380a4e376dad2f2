/* Waits forever when its first allocation fails (a hang for `zmem sweep`
 * to find and kill), and forks a child that waits too, so that killing the
 * step must take the whole process group. Otherwise ends at once.
 * With ZMEM_TEST_PIDS set, each waiting process appends its pid to that
 * file, so that the test checks exactly its own processes. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void note_pid(void) {
  const char *path = getenv("ZMEM_TEST_PIDS");
  if (!path)
    return;
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    return;
  char line[32];
  int n = snprintf(line, sizeof line, "%d\n", (int)getpid());
  (void)!write(fd, line, (size_t)n);
  close(fd);
}

static void wait_forever(void) {
  note_pid();
  for (;;)
    pause();
}

int main(void) {
  void *p = malloc(100);
  if (!p) {
    if (fork() == 0)
      wait_forever();
    wait_forever();
  }
  free(p);
  return 0;
}
