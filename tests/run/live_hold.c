/* For the --live view's test: holds 12 MiB (one block of 12582912 bytes
 * requested), writes its pid to argv[1], waits (at most 120 s) for the
 * file argv[2] to appear, then reads one line from stdin, prints
 * "got: LINE" and exits with status 7. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 3)
    return 2;
  char *block = malloc(12u << 20);
  if (!block)
    return 3;
  memset(block, 1, 12u << 20);
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp", argv[1]);
  FILE *f = fopen(tmp, "w");
  if (!f)
    return 4;
  fprintf(f, "%d\n", (int)getpid());
  fclose(f);
  rename(tmp, argv[1]); /* the pid file appears whole */
  for (int i = 0; i < 1200 && access(argv[2], F_OK) != 0; i++)
    nanosleep(&(struct timespec){0, 100000000}, NULL);
  char line[256] = "";
  if (!fgets(line, sizeof line, stdin))
    strcpy(line, "(end of input)\n");
  printf("got: %s", line);
  free(block);
  return 7;
}
