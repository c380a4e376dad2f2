/* A profiling timer's handler allocates while the main loop allocates and
 * frees: some of its allocations interrupt the preload inside its own
 * code, where they go to the C library uncounted, and the main loop frees
 * them later. The handler's blocks are large (mapped by the C library on
 * their own) and the loop's are small (the thread cache): the handler
 * never runs the C library's allocator over a state the loop left half
 * changed. The mmap threshold is fixed: glibc would otherwise raise it on
 * the first free of a mapped block, serve the next 1 MiB from its heap,
 * and a handler could then run into a free the loop had half done (that
 * corrupts the heap with or without zmem). Bounded: a fixed number of handler runs, or of loop turns. */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

static void *volatile pending;
static volatile sig_atomic_t runs;

static void on_tick(int sig) {
  (void)sig;
  if (!pending)
    pending = malloc(1 << 20);
  runs++;
}

int main(void) {
  mallopt(M_MMAP_THRESHOLD, 1 << 16);
  struct sigaction sa = {.sa_handler = on_tick, .sa_flags = SA_RESTART};
  sigaction(SIGPROF, &sa, NULL);
  struct itimerval t = {{0, 200}, {0, 200}};
  setitimer(ITIMER_PROF, &t, NULL);
  long freed = 0;
  for (long i = 0; i < 200000000 && runs < 400; i++) {
    char *p = malloc(24);
    p[0] = (char)i;
    free(p);
    void *q = __atomic_exchange_n(&pending, NULL, __ATOMIC_SEQ_CST);
    if (q) {
      free(q);
      freed++;
    }
  }
  struct itimerval off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_PROF, &off, NULL);
  free(pending);
  printf("done\n");
  return freed > 0 ? 0 : 1;
}
