/* Three threads allocate all the time, through libraries they load and
 * unload over and over (argv[1] and argv[2]: the libraries' paths), while
 * the main thread forks 200 times; each child allocates, frees and exits.
 * A child must never block on a lock a thread of its parent held at the
 * fork: zmem's own, or the loader's (which the C library does not release
 * in the child). */
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile int stop;
static const char *libs[2];

static void *churn(void *arg) {
  unsigned i = (unsigned)(uintptr_t)arg;
  while (!stop) {
    void *h = dlopen(libs[i++ % 2], RTLD_NOW);
    if (!h)
      continue;
    void *(*alloc)(size_t) = (void *(*)(size_t))dlsym(h, "plugin_alloc");
    if (alloc)
      free(alloc(16 + i % 512));
    dlclose(h);
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 3)
    return 2;
  libs[0] = argv[1];
  libs[1] = argv[2];
  pthread_t t[3];
  for (int i = 0; i < 3; i++)
    pthread_create(&t[i], NULL, churn, (void *)(uintptr_t)i);
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
