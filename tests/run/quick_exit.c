/* Allocates, prints, and ends with _exit(7) (no exit handlers). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(void) {
  for (int i = 0; i < 100; i++)
    (void)!malloc(1000);
  printf("leaving\n");
  fflush(stdout);
  _exit(7);
}
