/* Waits forever when its first allocation fails (a hang for `zmem sweep`
 * to find and kill), and forks a child that waits too, so that killing the
 * step must take the whole process group. Otherwise ends at once.
 * With ZMEM_TEST_PIDS set, each waiting process appends its pid to that
 * file, so that the test checks exactly its own processes. */
#include <stdlib.h>
#include <unistd.h>

#include "testpids.h"

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
