#define _GNU_SOURCE /* dladdr */
/* Platform primitives for POSIX systems (Linux first). */
#include "prim.h"

#include <dlfcn.h>

#include <errno.h>
#include <pthread.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

void zm__prim_write_stderr(const char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(STDERR_FILENO, buf, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return;
    buf += n;
    len -= (size_t)n;
  }
}

static pthread_key_t exit_key;

int zm__prim_thread_exit_init(void (*fn)(void *)) {
  return pthread_key_create(&exit_key, fn) == 0 ? 0 : -1;
}

void zm__prim_thread_watch(void *arg) { (void)pthread_setspecific(exit_key, arg); }

void zm__prim_atfork(void (*prepare)(void), void (*parent)(void),
                     void (*child)(void)) {
  (void)pthread_atfork(prepare, parent, child);
}

void *zm__prim_map(size_t size) {
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                 -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

void zm__prim_unmap(void *p, size_t size) {
  if (p)
    (void)munmap(p, size);
}

bool zm__prim_symbolize(const void *pc, zm__prim_symbol *out) {
  Dl_info info;
  if (!dladdr(pc, &info) || !info.dli_fname)
    return false;
  out->object = info.dli_fname;
  out->name = info.dli_sname;
  out->offset = (uintptr_t)pc - (uintptr_t)(info.dli_sname ? info.dli_saddr
                                                            : info.dli_fbase);
  return true;
}

bool zm__prim_same_object(void *f, void *g) {
  Dl_info a, b;
  return dladdr(f, &a) && dladdr(g, &b) && a.dli_fbase == b.dli_fbase;
}

uint64_t zm__prim_monotonic_ns(void) {
  struct timespec ts;
  if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
    return 0;
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
