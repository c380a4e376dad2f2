/* Three requests, each failure met differently: request 1 is checked and
 * the program exits 1 with a message (handled); request 2 is an optional
 * cache whose failure silently changes the result printed, exit 0 (the
 * silent wrong result: changed); request 3 is checked, the program warns on
 * stderr and goes on with the right result (handled). With "pid" it also
 * prints its pid, so that its output differs from run to run. Output goes
 * through write(2), which allocates nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void say(int fd, const char *s) { (void)!write(fd, s, strlen(s)); }

int main(int argc, char **argv) {
  long *values = malloc(100 * sizeof *values);
  if (!values) {
    say(2, "silent: out of memory\n");
    return 1;
  }
  for (int i = 0; i < 100; i++)
    values[i] = i;
  long *cache = malloc(100 * sizeof *cache); /* SILENT: its failure changes the sum */
  long sum = 0;
  for (int i = 0; i < 100; i++)
    sum += cache ? (cache[i] = values[i] * 2) : values[i];
  char *spare = malloc(64);
  if (!spare)
    say(2, "silent: no spare buffer, going on\n");
  char line[64];
  snprintf(line, sizeof line, "sum %ld\n", sum);
  say(1, line);
  if (argc > 1 && !strcmp(argv[1], "pid")) {
    snprintf(line, sizeof line, "pid %ld\n", (long)getpid());
    say(1, line);
  }
  free(spare);
  free(cache);
  free(values);
  return 0;
}
