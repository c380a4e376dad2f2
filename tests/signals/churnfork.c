/* A churning, forking program for the signal and kill tests:
 *   churnfork MARKER [CHILDREN] [MAX_MS]
 * The first process churns allocations (malloc, calloc, free; never
 * realloc, never free(NULL), so that each process's figures must agree:
 * live = inherited + allocated - freed) and keeps CHILDREN (default 2)
 * children alive, each churning for a short, bounded time and then
 * exiting, so processes start and end all the time. MARKER gets the first
 * process's pid once its first children run (written, then renamed into
 * place). The first process ends by itself after MAX_MS (default 20000):
 * no test leaves it running. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void churn(void **v, unsigned long *x, int rounds) {
  for (int i = 0; i < rounds; i++) {
    *x = *x * 6364136223846793005UL + 1442695040888963407UL;
    int k = (int)((*x >> 33) % 256);
    size_t n = 1 + (size_t)((*x >> 45) % 4000);
    if (v[k]) {
      free(v[k]);
      v[k] = NULL;
    } else {
      v[k] = (*x & 1) ? malloc(n) : calloc(1, n);
      if (v[k])
        memset(v[k], 1, n);
    }
  }
}

/* A child: churns for up to 150 ms, frees what it holds, exits 0. */
static void child(void **v, unsigned long seed) {
  double end = now_ms() + 50 + (double)(seed % 100);
  while (now_ms() < end)
    churn(v, &seed, 200);
  for (int k = 0; k < 256; k++)
    if (v[k]) {
      free(v[k]);
      v[k] = NULL;
    }
  _exit(0);
}

static pid_t start_child(void **v, unsigned long seed) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0)
    child(v, seed);
  return pid;
}

static void write_marker(const char *path) {
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  if (!f)
    exit(2);
  fprintf(f, "%d\n", (int)getpid());
  fclose(f);
  rename(tmp, path);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: churnfork MARKER [CHILDREN] [MAX_MS]\n");
    return 2;
  }
  int nchildren = argc > 2 ? atoi(argv[2]) : 2;
  double end = now_ms() + (argc > 3 ? atof(argv[3]) : 20000);
  static void *v[256];
  unsigned long x = (unsigned long)getpid();
  for (int i = 0; i < nchildren; i++)
    start_child(v, x + (unsigned long)i);
  write_marker(argv[1]);
  for (unsigned long round = 0; now_ms() < end; round++) {
    churn(v, &x, 200);
    while (waitpid(-1, NULL, WNOHANG) > 0)
      start_child(v, x + round); /* one ended: another takes its place */
  }
  while (wait(NULL) > 0)
    ;
  return 0;
}
