/* Three threads allocate all the time while the main thread forks 200
 * times; each child allocates, frees and exits. A child must never block
 * on a lock a thread of its parent held at the fork. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile int stop;

static void *churn(void *arg) {
  size_t base = (size_t)(uintptr_t)arg;
  while (!stop) {
    char *p = malloc(base + (size_t)(rand() % 512));
    p[0] = 1;
    free(p);
  }
  return NULL;
}

int main(void) {
  pthread_t t[3];
  for (int i = 0; i < 3; i++)
    pthread_create(&t[i], NULL, churn, (void *)(uintptr_t)(16 << i));
  int bad = 0;
  for (int i = 0; i < 200; i++) {
    pid_t pid = fork();
    if (pid == 0) {
      free(malloc(100));
      _exit(0);
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
      bad++;
  }
  stop = 1;
  for (int i = 0; i < 3; i++)
    pthread_join(t[i], NULL);
  printf("forks failed: %d\n", bad);
  return bad != 0;
}
