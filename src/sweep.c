/* The out-of-memory sweep: fail allocation request 1, then 2, then 3, ...
 * each time in a forked child, until a run has no injected failure. The
 * child reports what it saw through a pipe; the parent judges how it ended. */
#include "zmem.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEFAULT_MAX_STEPS 100000

/* What a child that returned from fn writes to the pipe. */
typedef struct outcome {
  uint64_t hits;
  int64_t bytes, blocks; /* live after fn, minus live before */
} outcome;

static int64_t live_blocks(void) {
  zm_stats st = {.size = sizeof st};
  zm_get_stats(&st);
  return (int64_t)st.live_blocks;
}

static void write_all(int fd, const void *p, size_t n) {
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return;
    p = (const char *)p + w;
    n -= (size_t)w;
  }
}

static bool read_all(int fd, void *p, size_t n) {
  while (n) {
    ssize_t r = read(fd, p, n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return false;
    p = (char *)p + r;
    n -= (size_t)r;
  }
  return true;
}

__attribute__((noreturn)) static void run_child(int fd, uint64_t step,
                                         void (*fn)(void *), void *arg) {
  outcome o;
  int64_t bytes = (int64_t)zm_used_memory(), blocks = live_blocks();
  zm_fault_set(step, 0);
  fn(arg);
  zm_fault_clear();
  o.hits = zm_fault_hits();
  o.bytes = (int64_t)zm_used_memory() - bytes;
  o.blocks = live_blocks() - blocks;
  write_all(fd, &o, sizeof o);
  _exit(0);
}

static void record(zm_sweep_result *r, zm_sweep_step s) {
  if (s.kind == ZM_SWEEP_LEAK)
    r->leaks++;
  else
    r->crashes++;
  if (r->nrecords < ZM_SWEEP_RECORDS)
    r->records[r->nrecords++] = s;
}

/* One step; false when it could not be run (errno set). */
static bool run_step(uint64_t step, void (*fn)(void *), void *arg,
                     zm_sweep_result *r) {
  int fds[2];
  if (pipe(fds) != 0)
    return false;
  pid_t pid = fork();
  if (pid < 0) {
    int err = errno;
    close(fds[0]);
    close(fds[1]);
    errno = err;
    return false;
  }
  if (pid == 0) {
    close(fds[0]);
    run_child(fds[1], step, fn, arg);
  }
  close(fds[1]);
  outcome o;
  bool returned = read_all(fds[0], &o, sizeof o);
  close(fds[0]);
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  r->steps++;
  zm_sweep_step s = {.step = step};
  if (WIFSIGNALED(status) || !returned) {
    s.kind = ZM_SWEEP_CRASH;
    s.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    record(r, s);
    return true;
  }
  if (o.bytes != 0 || o.blocks != 0) {
    s.kind = ZM_SWEEP_LEAK;
    s.leaked_bytes = o.bytes;
    s.leaked_blocks = o.blocks;
    record(r, s);
  }
  r->complete = o.hits == 0;
  return true;
}

static void reset(zm_sweep_result *r) {
  size_t size = r->size;
  uint64_t max = r->max_steps;
  memset(r, 0, sizeof *r);
  r->size = size;
  r->max_steps = max ? max : DEFAULT_MAX_STEPS;
}

int zm_oom_sweep(void (*fn)(void *arg), void *arg, zm_sweep_result *r) {
  if (!fn || !r || r->size < sizeof *r) {
    errno = EINVAL;
    return -1;
  }
  reset(r);
  for (uint64_t step = 1; !r->complete && step <= r->max_steps; step++)
    if (!run_step(step, fn, arg, r))
      return -1;
  return 0;
}
