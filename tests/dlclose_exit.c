/* A thread that used zmem exits after the program dlclose()d libzmem.so.
 * zmem arms an exit hook (a pthread key destructor) on a thread's first
 * allocation; if the library's code were gone by then, the thread would
 * jump into unmapped memory as it exits. libzmem.so is linked with
 * -z nodelete, so dlclose leaves it loaded: this checks both that it stays
 * and that the thread exits cleanly. A plain program, not linked with zmem
 * (that would keep the library loaded whatever its flags).
 *   dlclose_exit PATH/TO/libzmem.so */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *(*p_malloc)(size_t);
static void (*p_free)(void *);
static size_t (*p_used)(void);

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int phase; /* 1: worker allocated; 2: main closed the library */
static void *kept;  /* the worker's block, live when it exits */

static void *worker(void *arg) {
  (void)arg;
  p_free(p_malloc(100));
  kept = p_malloc(200);
  pthread_mutex_lock(&mu);
  phase = 1;
  pthread_cond_broadcast(&cv);
  while (phase != 2)
    pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);
  return NULL; /* the exit hook runs now */
}

static int fail(const char *what) {
  fprintf(stderr, "dlclose_exit: %s: %s\n", what, dlerror());
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: dlclose_exit PATH/TO/libzmem.so\n");
    return 2;
  }
  void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  const char *err = h ? NULL : dlerror();
  if (err && strstr(err, "static TLS")) {
    /* libjemalloc uses initial-exec TLS: it cannot be loaded by dlopen into
     * a program that does not link it, whatever zmem does. */
    printf("dlclose_exit: skipped: %s\n", err);
    return 77;
  }
  if (!h) {
    fprintf(stderr, "dlclose_exit: dlopen: %s\n", err);
    return 1;
  }
  p_malloc = (void *(*)(size_t))dlsym(h, "zm_malloc");
  p_free = (void (*)(void *))dlsym(h, "zm_free");
  p_used = (size_t(*)(void))dlsym(h, "zm_used_memory");
  if (!p_malloc || !p_free || !p_used)
    return fail("dlsym");
  pthread_t t;
  if (pthread_create(&t, NULL, worker, NULL) != 0)
    return 1;
  pthread_mutex_lock(&mu);
  while (phase != 1)
    pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);
  if (dlclose(h) != 0)
    return fail("dlclose");
  pthread_mutex_lock(&mu);
  phase = 2;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
  pthread_join(t, NULL);
  /* Still loaded (-z nodelete), and the worker's exit was counted. */
  void *again = dlopen(argv[1], RTLD_NOW | RTLD_NOLOAD);
  if (!again) {
    fprintf(stderr, "dlclose_exit: libzmem.so was unloaded by dlclose\n");
    return 1;
  }
  size_t used = p_used();
  p_free(kept);
  size_t after = p_used();
  dlclose(again);
  if (used == 0 || after != 0) {
    fprintf(stderr,
            "dlclose_exit: used %zu with the worker's block, %zu without\n",
            used, after);
    return 1;
  }
  printf("dlclose_exit: ok (used %zu after the worker exited)\n", used);
  return 0;
}
