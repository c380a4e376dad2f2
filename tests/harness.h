/* Shared test helpers, linked into every test executable.
 *
 * harness.c also holds a constructor: with ZMEM_TEST_BACKEND=user-nosize in
 * the environment it installs a user backend over the C library's
 * malloc/realloc/free, without usable_size, before anything allocates, so the
 * whole suite runs in the header layout. Criterion starts every test in a
 * fresh process, so the constructor runs before each test. */
#ifndef ZMEM_TEST_HARNESS_H
#define ZMEM_TEST_HARNESS_H

#include <zmem.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef ZMEM_REPLACEMENT
#define ZMEM_REPLACEMENT 1
/* A death test's child: how it ended and what it wrote to stderr. */
typedef struct death {
  int status;    /* from waitpid */
  char err[512]; /* what the child wrote to stderr */
  size_t err_len;
} death;

/* Runs fn(arg) in a forked child with stderr on a pipe, no core file and a
 * 30 s alarm; returns how it ended (exit status 0 if fn returned). */
death run_death(void (*fn)(size_t), size_t arg);

#endif

/* Name of the compiled-in backend (the CMake option ZMEM_BACKEND). */
#ifndef ZMEM_TEST_BUILTIN_NAME
#define ZMEM_TEST_BUILTIN_NAME "libc"
/* A death test's child: how it ended and what it wrote to stderr. */
typedef struct death {
  int status;    /* from waitpid */
  char err[512]; /* what the child wrote to stderr */
  size_t err_len;
} death;

/* Runs fn(arg) in a forked child with stderr on a pipe, no core file and a
 * 30 s alarm; returns how it ended (exit status 0 if fn returned). */
death run_death(void (*fn)(size_t), size_t arg);

#endif

/* Name of the backend the harness installs for ZMEM_TEST_BACKEND=user-nosize. */
#define HARNESS_NOSIZE_NAME "user-nosize"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Returns v unchanged, out of the compiler's sight: GCC turns constant
 * oversized requests to functions with alloc_size attributes into warnings
 * (errors with -Werror), and may fold away checks on constant sizes. */
size_t opaque(size_t v);
void *opaque_ptr(void *p);

/* True when the harness installed the user-nosize backend. */
bool harness_user_nosize(void);

/* The layout the first allocation fixes when the test sets nothing itself. */
zm_layout harness_default_layout(void);

/* True when zm_set_backend and zm_set_mem_functions can work (the library
 * was built with ZMEM_REPLACEMENT=ON). */
static inline bool harness_replacement(void) { return ZMEM_REPLACEMENT; }

/* True when the backend in force can report block sizes (lean possible). */
static inline bool harness_backend_has_size(void) {
  return zm_get_backend()->usable_size != NULL;
}

/* Skips the current test when the library cannot take a user backend. */
#define SKIP_UNLESS_REPLACEMENT()                                              \
  do {                                                                         \
    if (!harness_replacement())                                                \
      cr_skip_test("built with ZMEM_REPLACEMENT=OFF: no user backends");       \
  } while (0)

/* zm_get_stats, asserting that it succeeds. */
zm_stats stats_now(void);

/* The layout in force (or to be fixed by the next allocation). */
zm_layout layout_now(void);

/* What the accounting charges for a block that is not over-aligned: its
 * usable size, plus the header in the header layout. */
size_t block_cost(const void *p);

/* True when the tests run under valgrind or a sanitizer: loops that only add
 * confidence are shortened there. */
bool harness_slow(void);

/* True when malloc is not the C library's own (sanitizers, valgrind): the C
 * library's statistics then describe an unused heap. */
static inline bool harness_libc_malloc_replaced(void) { return harness_slow(); }

/* True under valgrind. */
bool harness_valgrind(void);

/* True in a ThreadSanitizer build. */
bool harness_tsan(void);

/* n, or n / 8 (at least 1) when harness_slow(). */
unsigned scaled(unsigned n);

/* A pseudo-random number generator with explicit state (xorshift64*), so
 * threads do not share hidden state. */
uint64_t rng_next(uint64_t *state);

/* Fills n bytes at p with a pattern derived from seed; checks it. */
void fill_pattern(void *p, size_t n, unsigned seed);
bool check_pattern(const void *p, size_t n, unsigned seed);

/* True when every one of the n bytes at p is `byte`. */
bool all_bytes(const void *p, size_t n, unsigned char byte);

/* An OOM handler that counts its calls and remembers the last size, for
 * tests that need a handler that returns. Install with
 * zm_set_oom_handler(oom_record, &rec). */
typedef struct oom_rec {
  unsigned calls;
  size_t last_size;
  void *last_arg;
} oom_rec;
void oom_record(size_t size, void *arg);

/* A death test's child: how it ended and what it wrote to stderr. */
typedef struct death {
  int status;    /* from waitpid */
  char err[512]; /* what the child wrote to stderr */
  size_t err_len;
} death;

/* Runs fn(arg) in a forked child with stderr on a pipe, no core file and a
 * 30 s alarm; returns how it ended (exit status 0 if fn returned). */
death run_death(void (*fn)(size_t), size_t arg);

#endif
