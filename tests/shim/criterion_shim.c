/* The runner behind shim/criterion/criterion.h: each registered test runs in
 * a forked child; the parent, which runs no test code, reports like Criterion
 * and exits non-zero when a test failed. A child that exits non-zero after its
 * test returned also fails it (ThreadSanitizer exits 66 after a report). */
#include <criterion/criterion.h>

#include <fnmatch.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

enum { MAX_TESTS = 512, TIMEOUT_S = 600, SKIPPED = 77 };

static const struct shim_test *tests[MAX_TESTS];
static int ntests;
static const struct shim_test *current;
static char current_id[256]; /* suite::name, or suite::name[i] */

enum { MAX_SUITES = 64 };
static const struct shim_suite *suites[MAX_SUITES];
static int nsuites;

void shim_register_suite(const struct shim_suite *s) {
  if (nsuites == MAX_SUITES) {
    fputs("criterion shim: too many test suites\n", stderr);
    abort();
  }
  suites[nsuites++] = s;
}

static const struct shim_suite *suite_of(const struct shim_test *t) {
  for (int i = 0; i < nsuites; i++)
    if (strcmp(suites[i]->name, t->suite) == 0)
      return suites[i];
  return NULL;
}

void shim_register(const struct shim_test *t) {
  if (ntests == MAX_TESTS) {
    fputs("criterion shim: too many tests\n", stderr);
    abort();
  }
  tests[ntests++] = t;
}

static void vreport(const char *fmt, va_list ap) {
  if (*fmt) {
    fputs(": ", stderr);
    vfprintf(stderr, fmt, ap);
  }
  fputc('\n', stderr);
}

void shim_fail(const char *file, int line, const char *expr, const char *fmt,
               ...) {
  va_list ap;
  fprintf(stderr, "[----] %s:%d: Assertion failed: %s", file, line, expr);
  va_start(ap, fmt);
  vreport(fmt, ap);
  va_end(ap);
  fflush(NULL);
  _exit(1);
}

void shim_skip(const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "[SKIP] %s", current_id);
  va_start(ap, fmt);
  vreport(fmt, ap);
  va_end(ap);
  fflush(NULL);
  _exit(SKIPPED);
}

/* Runs one test (one element of a parameterized test: param) in a forked
 * child; returns 0 if it passed, SKIPPED, or 1. */
static int run(const struct shim_test *t, void *param) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    perror("criterion shim: fork");
    return 1;
  }
  if (pid == 0) {
    current = t;
    const struct shim_suite *suite = suite_of(t);
    alarm(TIMEOUT_S);
    if (suite && suite->init)
      suite->init();
    if (t->pfn)
      t->pfn(param);
    else
      t->fn();
    if (suite && suite->fini)
      suite->fini();
    exit(0); /* exit, not _exit: sanitizers report at exit */
  }
  int status;
  while (waitpid(pid, &status, 0) < 0)
    ;
  if (WIFEXITED(status) && WEXITSTATUS(status) == SKIPPED)
    return SKIPPED;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    fprintf(stderr, "[PASS] %s\n", current_id);
    return 0;
  }
  if (WIFSIGNALED(status))
    fprintf(stderr, "[FAIL] %s: CRASH (signal %d)\n", current_id,
            WTERMSIG(status));
  else
    fprintf(stderr, "[FAIL] %s: exit status %d\n", current_id,
            WEXITSTATUS(status));
  return 1;
}

struct tally {
  int tested, failed, skipped;
};

static void count(struct tally *n, int rc) {
  if (rc == SKIPPED) {
    n->skipped++;
    return;
  }
  n->tested++;
  n->failed += rc != 0;
}

/* Runs t, or each of its parameters. */
static void run_all(const struct shim_test *t, struct tally *n) {
  if (!t->params) {
    snprintf(current_id, sizeof current_id, "%s::%s", t->suite, t->name);
    count(n, run(t, NULL));
    return;
  }
  struct criterion_test_params p = t->params();
  if (p.length == 0) { /* Criterion fails such a test too */
    fprintf(stderr, "[FAIL] %s::%s: no parameters\n", t->suite, t->name);
    count(n, 1);
  }
  for (size_t i = 0; i < p.length; i++) {
    snprintf(current_id, sizeof current_id, "%s::%s[%zu]", t->suite, t->name,
             i);
    count(n, run(t, (char *)p.params + i * p.size));
  }
}

int main(int argc, char **argv) {
  const char *filter = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--filter") == 0 && i + 1 < argc)
      filter = argv[++i];
    else if (strncmp(argv[i], "--filter=", 9) == 0)
      filter = argv[i] + 9;
    /* Other Criterion options (--jobs, --verbose, ...) do not apply. */
  }
  struct tally n = {0, 0, 0};
  for (int i = 0; i < ntests; i++) {
    char id[256];
    snprintf(id, sizeof id, "%s/%s", tests[i]->suite, tests[i]->name);
    if (filter && fnmatch(filter, id, 0) != 0)
      continue;
    run_all(tests[i], &n);
  }
  fprintf(stderr,
          "[====] Synthesis: Tested: %d | Passing: %d | Failing: %d | "
          "Skipped: %d (criterion shim)\n",
          n.tested, n.tested - n.failed, n.failed, n.skipped);
  return n.failed ? 1 : 0;
}
