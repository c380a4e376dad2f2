/* A thread allocates a block that outlives it (the main thread frees it),
 * then the main thread allocates more: the heap peak must include the
 * block of the thread that has exited (200000 + 50000 + 10000 bytes at
 * once), though that thread published nothing before it exited. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *kept;

static void *worker(void *arg) {
  (void)arg;
  kept = malloc(50000);
  memset(kept, 1, 50000);
  return NULL;
}

int main(void) {
  char *big = malloc(200000);
  memset(big, 2, 200000);
  pthread_t t;
  if (pthread_create(&t, NULL, worker, NULL) != 0)
    return 2;
  pthread_join(t, NULL);
  char *more = malloc(10000);
  memset(more, 3, 10000);
  printf("%d\n", big[0] + ((char *)kept)[0] + more[0]);
  free(big);
  free(kept);
  free(more);
  return 0;
}
