/* N threads (argv[1], default 4) allocate, touch and free; each prints one
 * line in thread order after the join, so stdout is deterministic. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long sums[64];

static void *work(void *arg) {
  long id = (long)arg;
  void *keep[256] = {0};
  for (int i = 0; i < 200000; i++) {
    int k = i & 255;
    free(keep[k]);
    size_t n = 16 + (size_t)((i * 7919 + id) % 2000);
    keep[k] = malloc(n);
    memset(keep[k], (int)id, n < 64 ? n : 64);
    sums[id] += n;
  }
  for (int k = 0; k < 256; k++)
    free(keep[k]);
  return NULL;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 4;
  pthread_t t[64];
  if (n < 1 || n > 64)
    return 2;
  for (long i = 0; i < n; i++)
    pthread_create(&t[i], NULL, work, (void *)i);
  for (int i = 0; i < n; i++)
    pthread_join(t[i], NULL);
  for (int i = 0; i < n; i++)
    printf("thread %d: %lu bytes\n", i, sums[i]);
  return 0;
}
