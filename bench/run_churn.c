/* The allocation-heavy program of the `zmem run` overhead benchmark: T
 * threads (argv[1]) each make R rounds (argv[2], default 2000000) of
 * malloc/free over a 1024-block window of sizes 16..4111 bytes. Prints a
 * checksum so the work cannot be optimised away. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long rounds = 2000000;

static void *work(void *arg) {
  unsigned long x = 88172645463325252UL ^ (unsigned long)(size_t)arg, sum = 0;
  void *win[1024] = {0};
  for (long i = 0; i < rounds; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    int k = (int)(x & 1023);
    free(win[k]);
    size_t n = 16 + (x >> 20) % 4096;
    char *p = malloc(n);
    p[0] = (char)i;
    sum += (unsigned char)p[0] + n;
    win[k] = p;
  }
  for (int k = 0; k < 1024; k++)
    free(win[k]);
  return (void *)sum;
}

int main(int argc, char **argv) {
  int t = argc > 1 ? atoi(argv[1]) : 1;
  if (argc > 2)
    rounds = atol(argv[2]);
  if (t < 1 || t > 64 || rounds < 1)
    return 2;
  pthread_t th[64];
  unsigned long total = 0;
  for (long i = 0; i < t; i++)
    pthread_create(&th[i], NULL, work, (void *)i);
  for (int i = 0; i < t; i++) {
    void *r;
    pthread_join(th[i], &r);
    total += (unsigned long)r;
  }
  printf("%lu\n", total);
  return 0;
}
