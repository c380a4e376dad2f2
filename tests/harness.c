/* Shared test helpers and the ZMEM_TEST_BACKEND constructor (see harness.h). */
#include "harness.h"

#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <sys/resource.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) ||    \
    __has_feature(memory_sanitizer)
#define UNDER_SANITIZER 1
#endif
#endif
#ifndef UNDER_SANITIZER
#define UNDER_SANITIZER 0
#endif

#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#ifndef UNDER_TSAN
#define UNDER_TSAN 0
#endif

bool harness_tsan(void) { return UNDER_TSAN; }

/* ------------------------------------------------- sanitizer defaults */

/* Requests that reach the allocator and cannot be met (1 << 60 bytes) must
 * return NULL, as they do outside the sanitizers. The environment still
 * overrides these. */
const char *__asan_default_options(void);
const char *__tsan_default_options(void);
const char *__ubsan_default_options(void);
const char *__asan_default_options(void) {
  return "allocator_may_return_null=1";
}
const char *__tsan_default_options(void) {
  return "allocator_may_return_null=1";
}
/* Undefined behaviour stops the test where it happens, even in a build
 * without -fno-sanitize-recover. */
const char *__ubsan_default_options(void) {
  return "halt_on_error=1:print_stacktrace=1";
}

/* ------------------------------------------- ZMEM_TEST_BACKEND constructor */

static bool nosize_installed;

static void *nosize_malloc(void *ud, size_t n) {
  (void)ud;
  return malloc(n);
}
static void *nosize_realloc(void *ud, void *p, size_t n) {
  (void)ud;
  return realloc(p, n);
}
static void nosize_free(void *ud, void *p) {
  (void)ud;
  free(p);
}

static const zm_backend nosize_backend = {
    .name = HARNESS_NOSIZE_NAME,
    .malloc = nosize_malloc,
    .realloc = nosize_realloc,
    .free = nosize_free,
};

static void die(const char *msg) {
  fprintf(stderr, "test harness: %s\n", msg);
  fflush(stderr);
  _exit(2);
}

__attribute__((constructor)) static void harness_init(void) {
  const char *want = getenv("ZMEM_TEST_BACKEND");
  if (!want || !*want || strcmp(want, "builtin") == 0)
    return;
  if (strcmp(want, HARNESS_NOSIZE_NAME) != 0)
    die("ZMEM_TEST_BACKEND must be unset, builtin or user-nosize");
  if (!harness_replacement())
    die("ZMEM_TEST_BACKEND=user-nosize needs a ZMEM_REPLACEMENT=ON build");
  if (zm_set_backend(&nosize_backend) != 0)
    die("zm_set_backend failed for ZMEM_TEST_BACKEND=user-nosize");
  nosize_installed = true;
}

bool harness_user_nosize(void) { return nosize_installed; }

zm_layout harness_default_layout(void) {
  return nosize_installed ? ZM_LAYOUT_HEADER : ZM_LAYOUT_LEAN;
}

/* ---------------------------------------------------------------- helpers */

__attribute__((noinline)) size_t opaque(size_t v) {
  __asm__ volatile("" : "+r"(v));
  return v;
}

__attribute__((noinline)) void *opaque_ptr(void *p) {
  __asm__ volatile("" : "+r"(p));
  return p;
}

zm_stats stats_now(void) {
  zm_stats st = {.size = sizeof st};
  cr_assert_eq(zm_get_stats(&st), 0, "zm_get_stats failed");
  return st;
}

zm_layout layout_now(void) { return stats_now().layout; }

size_t block_cost(const void *p) {
  size_t hdr = layout_now() == ZM_LAYOUT_HEADER ? ZM_HEADER_SIZE : 0;
  return zm_usable_size(p) + hdr;
}

bool harness_slow(void) { return UNDER_SANITIZER || RUNNING_ON_VALGRIND; }

bool harness_valgrind(void) { return RUNNING_ON_VALGRIND; }

unsigned scaled(unsigned n) {
  if (!harness_slow())
    return n;
  return n / 8 ? n / 8 : 1;
}

uint64_t rng_next(uint64_t *state) {
  uint64_t x = *state ? *state : 0x9e3779b97f4a7c15u;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *state = x;
  return x * 0x2545f4914f6cdd1du;
}

static unsigned char pattern_byte(size_t i, unsigned seed) {
  return (unsigned char)(i * 131u + seed * 7u + (i >> 8) + 1u);
}

void fill_pattern(void *p, size_t n, unsigned seed) {
  unsigned char *b = p;
  for (size_t i = 0; i < n; i++)
    b[i] = pattern_byte(i, seed);
}

bool check_pattern(const void *p, size_t n, unsigned seed) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++)
    if (b[i] != pattern_byte(i, seed))
      return false;
  return true;
}

bool all_bytes(const void *p, size_t n, unsigned char byte) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++)
    if (b[i] != byte)
      return false;
  return true;
}

void oom_record(size_t size, void *arg) {
  oom_rec *r = arg;
  r->calls++;
  r->last_size = size;
  r->last_arg = arg;
}

/* ------------------------------------------------------- death tests */

death run_death(void (*fn)(size_t), size_t arg) {
  int fds[2];
  cr_assert_eq(pipe(fds), 0);
  fflush(NULL);
  pid_t pid = fork();
  cr_assert_neq(pid, -1, "fork: %s", strerror(errno));
  if (pid == 0) {
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    alarm(30); /* never hang the parent */
    close(fds[0]);
    dup2(fds[1], STDERR_FILENO);
    close(fds[1]);
    fn(arg);
    _exit(0); /* fn returned: the parent sees exit status 0, not SIGABRT */
  }
  close(fds[1]);
  death d = {0};
  for (;;) {
    ssize_t n = read(fds[0], d.err + d.err_len, sizeof d.err - 1 - d.err_len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    d.err_len += (size_t)n;
  }
  close(fds[0]);
  d.err[d.err_len] = '\0';
  while (waitpid(pid, &d.status, 0) < 0)
    cr_assert_eq(errno, EINTR, "waitpid: %s", strerror(errno));
  return d;
}
