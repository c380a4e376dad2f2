/* For the tests' own processes: with ZMEM_TEST_PIDS set, a process appends
 * its pid to that file, so that a test checks exactly its own processes
 * (never a search by name). */
#ifndef ZMEM_TEST_PIDS_H
#define ZMEM_TEST_PIDS_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void note_pid(void) {
  const char *path = getenv("ZMEM_TEST_PIDS");
  int fd = path ? open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644) : -1;
  if (fd < 0)
    return;
  char line[32];
  int n = snprintf(line, sizeof line, "%d\n", (int)getpid());
  (void)!write(fd, line, (size_t)n);
  close(fd);
}

#endif
