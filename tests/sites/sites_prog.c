/* A program whose allocation sites are known, for `zmem run --sites`:
 *   sites_prog DLSITE_LIB [kill|scale K]
 * Sites (requested bytes; blocks):
 *   transient_site  150000 B x1 per K, freed at once
 *   loop_site       1000 B x120 per K, still live at exit
 *   thread_site     2000 B x40 per K, in a thread, freed after the peak
 *   dl_site_alloc   5000 B x12 per K, in a dlopened library, freed after the peak
 *   child_site      3000 B x7 per K, in a fork child (its own process)
 *   inherited       in the fork child, a realloc to 4000 B x1 per K of a
 *                   block the parent allocated at loop_site (the child also
 *                   frees others of them: the parent's sites are not the
 *                   child's)
 *   small_site      100 B x2 per K, freed or moved by realloc
 *   grow_site       realloc of a small_site block to 50000 B x1 per K (a
 *                   block after it keeps it from growing in place), live
 *                   at exit
 *   kept_site       700 B x1 per K, live at exit: a realloc that fails
 *                   leaves the block and its site as they were
 * The peak comes after dl_site_alloc: loop 120000, thread 80000, dl 60000
 * (times K). With "kill" the program sends itself SIGKILL at the peak. */
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int scale = 1;
static void **loop_blocks, **thread_blocks, **dl_blocks;

/* Keeps the compiler from dropping or merging the allocations. */
static void touch(void *p, size_t n) {
  if (!p)
    exit(3);
  memset(p, 1, n < 64 ? n : 64);
}

__attribute__((noinline)) void transient_site(void);
void transient_site(void) {
  for (int i = 0; i < scale; i++) {
    void *p = malloc(150000);
    touch(p, 150000);
    free(p);
  }
}

__attribute__((noinline)) void loop_site(void);
void loop_site(void) {
  for (int i = 0; i < 120 * scale; i++) {
    loop_blocks[i] = malloc(1000);
    touch(loop_blocks[i], 1000);
  }
}

__attribute__((noinline)) void thread_site(void);
void thread_site(void) {
  for (int i = 0; i < 40 * scale; i++) {
    thread_blocks[i] = malloc(2000);
    touch(thread_blocks[i], 2000);
  }
}

static void *thread_main(void *arg) {
  thread_site();
  return arg;
}

__attribute__((noinline)) void inherited(void);
__attribute__((noinline)) void child_site(void);
void child_site(void) {
  inherited();
  for (int i = 0; i < 7 * scale; i++)
    touch(malloc(3000), 3000);
}

__attribute__((noinline)) void small_site(void **p, void **fence);
void small_site(void **p, void **fence) {
  *p = malloc(100);
  *fence = malloc(100);
  touch(*p, 100);
  touch(*fence, 100);
}

__attribute__((noinline)) void *grow_site(void *p);
void *grow_site(void *p) {
  void *q = realloc(p, 50000);
  touch(q, 50000);
  return q;
}

__attribute__((noinline)) void *kept_site(void);
void *kept_site(void) {
  void *p = malloc(700);
  touch(p, 700);
  volatile size_t too_big = SIZE_MAX / 2;
  void *huge = realloc(p, too_big);
  if (huge)
    exit(4);
  return p;
}

/* After the peak: blocks that stay live at exit or move between sites. */
static void **late_blocks(void) {
  void **keep = calloc(2 * (size_t)scale, sizeof(void *));
  for (int i = 0; i < scale; i++) {
    void *p, *fence;
    small_site(&p, &fence);
    keep[2 * i] = grow_site(p);
    free(fence);
    keep[2 * i + 1] = kept_site();
  }
  return keep;
}

void inherited(void) {
  for (int i = 0; i < scale; i++) {
    free(loop_blocks[i]);
    loop_blocks[scale + i] = realloc(loop_blocks[scale + i], 4000);
    touch(loop_blocks[scale + i], 4000);
  }
}

int main(int argc, char **argv) {
  if (argc < 2)
    return 2;
  int kill_self = argc > 2 && strcmp(argv[2], "kill") == 0;
  if (argc > 3 && strcmp(argv[2], "scale") == 0)
    scale = atoi(argv[3]);
  loop_blocks = calloc(120 * (size_t)scale, sizeof(void *));
  thread_blocks = calloc(40 * (size_t)scale, sizeof(void *));
  dl_blocks = calloc(12 * (size_t)scale, sizeof(void *));
  void *h = dlopen(argv[1], RTLD_NOW);
  void (*dl_site)(void **, int, size_t) = h ? (void (*)(void **, int, size_t))dlsym(h, "dl_site_alloc") : NULL;
  if (!dl_site) {
    fprintf(stderr, "sites_prog: %s\n", dlerror());
    return 2;
  }
  transient_site();
  loop_site();
  pthread_t t;
  pthread_create(&t, NULL, thread_main, NULL);
  pthread_join(t, NULL);
  dl_site(dl_blocks, 12 * scale, 5000);
  if (kill_self)
    raise(SIGKILL);
  for (int i = 0; i < 40 * scale; i++)
    free(thread_blocks[i]);
  for (int i = 0; i < 12 * scale; i++)
    free(dl_blocks[i]);
  void **late = late_blocks();
  pid_t pid = fork();
  if (pid == 0) {
    child_site();
    _exit(0);
  }
  int st;
  waitpid(pid, &st, 0);
  printf("sites_prog done %d\n", late[0] != NULL);
  return 0;
}
