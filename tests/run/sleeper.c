/* Allocates 10 MB in 1000 blocks, writes its pid to argv[1], then sleeps
 * until killed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
  for (int i = 0; i < 1000; i++)
    memset(malloc(10000), 1, 10000);
  FILE *f = fopen(argc > 1 ? argv[1] : "/dev/null", "w");
  fprintf(f, "%d\n", (int)getpid());
  fclose(f);
  for (;;)
    pause();
}
