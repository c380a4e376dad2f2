/* A program with known allocation sites, for `zmem report` and `zmem diff`:
 *   diff_prog EXTRA [new] [fork]
 *   steady_site  4096 B x10, freed before exit
 *   grow_site    1000 + EXTRA B x1, live at exit (the change between runs)
 *   new_site     3000 B x1, live at exit, only with "new"
 *   child_site   5000 B x2 in a fork child, freed, only with "fork" */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

__attribute__((noinline)) void *steady_site(size_t n);
__attribute__((noinline)) void *grow_site(size_t n);
__attribute__((noinline)) void *new_site(size_t n);
__attribute__((noinline)) void child_site(void);

/* Inlined, so that each site's innermost frame is its own function. */
static inline __attribute__((always_inline)) void *filled(size_t n) {
  void *p = malloc(n);
  if (!p)
    exit(3);
  memset(p, 1, n);
  return p;
}

void *steady_site(size_t n) { return filled(n); }
void *grow_site(size_t n) { return filled(n); }
void *new_site(size_t n) { return filled(n); }

void child_site(void) {
  void *a = filled(5000), *b = filled(5000);
  free(a);
  free(b);
}

int main(int argc, char **argv) {
  size_t extra = argc > 1 ? strtoul(argv[1], NULL, 10) : 0;
  void *steady[10];
  for (int i = 0; i < 10; i++)
    steady[i] = steady_site(4096);
  void *kept = grow_site(1000 + extra), *fresh = NULL;
  for (int i = 2; i < argc; i++) {
    if (!strcmp(argv[i], "new"))
      fresh = new_site(3000);
    if (!strcmp(argv[i], "fork")) {
      pid_t pid = fork();
      if (pid == 0) {
        child_site();
        _exit(0);
      }
      int st;
      if (pid < 0 || waitpid(pid, &st, 0) != pid)
        return 4;
    }
  }
  for (int i = 0; i < 10; i++)
    free(steady[i]);
  /* kept and fresh stay live: the leaks at exit */
  (void)fresh;
  return kept ? 0 : 5;
}
