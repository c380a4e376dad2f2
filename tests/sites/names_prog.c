/* Known sites for the names the --sites report gives (check_names.py):
 *   names_prog reload LIB_ALPHA LIB_BETA   alpha_alloc leaks 111,111 bytes,
 *       its library is closed, beta's is loaded (at the same addresses,
 *       which it prints: "same" or "moved") and beta_alloc leaks 222,222
 *   names_prog open DIR NAME    chdir DIR, dlopen("./NAME") (or NAME when
 *       absolute), then unnamed_entry leaks 44,444 through a function that
 *       is not exported and zmemt::cxx_alloc leaks 55,555; chdir /
 *   names_prog procs    the parent holds 20,000 bytes; a fork child holds
 *       300,000 at its peak and frees them
 * Exit 0; 3 when a library cannot be loaded. */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef void *(*alloc_fn)(size_t);

static alloc_fn symbol(void *h, const char *name) {
  void *p = h ? dlsym(h, name) : NULL;
  alloc_fn f = NULL;
  memcpy(&f, &p, sizeof f);
  if (!f) {
    fprintf(stderr, "names_prog: %s: %s\n", name, dlerror());
    exit(3);
  }
  return f;
}

static int reload(const char *alpha, const char *beta) {
  void *h = dlopen(alpha, RTLD_NOW | RTLD_LOCAL);
  alloc_fn a = symbol(h, "alpha_alloc");
  a(111111);
  dlclose(h);
  void *h2 = dlopen(beta, RTLD_NOW | RTLD_LOCAL);
  alloc_fn b = symbol(h2, "beta_alloc");
  b(222222);
  /* Compared as integers: the first library is gone. */
  uintptr_t wa, wb;
  memcpy(&wa, &a, sizeof wa);
  memcpy(&wb, &b, sizeof wb);
  puts(wa == wb ? "same" : "moved");
  return 0;
}

static int open_lib(const char *dir, const char *name) {
  char rel[512];
  snprintf(rel, sizeof rel, name[0] == '/' ? "%s" : "./%s", name);
  if (chdir(dir) != 0)
    return 3;
  void *h = dlopen(rel, RTLD_NOW | RTLD_LOCAL);
  symbol(h, "unnamed_entry")(44444);
  symbol(h, "_ZN5zmemt9cxx_allocEm")(55555);
  return chdir("/") == 0 ? 0 : 3;
}

__attribute__((noinline)) static void *parent_site(size_t n) {
  void *p = malloc(n);
  __asm__ volatile("" ::: "memory");
  return p;
}

__attribute__((noinline)) static void *child_site(size_t n) {
  void *p = malloc(n);
  if (p)
    memset(p, 5, n);
  __asm__ volatile("" ::: "memory");
  return p;
}

static int procs(void) {
  void *held = parent_site(20000);
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    free(child_site(300000));
    _exit(0);
  }
  int st = 0;
  if (pid < 0 || waitpid(pid, &st, 0) != pid)
    return 3;
  free(held);
  held = parent_site(20000); /* held at exit */
  return WIFEXITED(st) ? WEXITSTATUS(st) : 3;
}

int main(int argc, char **argv) {
  if (argc == 4 && !strcmp(argv[1], "reload"))
    return reload(argv[2], argv[3]);
  if (argc == 4 && !strcmp(argv[1], "open"))
    return open_lib(argv[2], argv[3]);
  if (argc == 2 && !strcmp(argv[1], "procs"))
    return procs();
  fputs("usage: names_prog reload A B | open DIR NAME | procs\n", stderr);
  return 2;
}
