/* Waits forever when its first allocation fails (a hang for `zmem sweep`
 * to find and kill), and forks a child that waits too, so that killing the
 * step must take the whole process group. Otherwise ends at once. */
#include <stdlib.h>
#include <unistd.h>

int main(void) {
  void *p = malloc(100);
  if (!p) {
    if (fork() == 0)
      for (;;)
        pause();
    for (;;)
      pause();
  }
  free(p);
  return 0;
}
