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
  fprintf(stderr, "[SKIP] %s::%s", current->suite, current->name);
  va_start(ap, fmt);
  vreport(fmt, ap);
  va_end(ap);
  fflush(NULL);
  _exit(SKIPPED);
}

static int run(const struct shim_test *t) {
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
    fprintf(stderr, "[PASS] %s::%s\n", t->suite, t->name);
    return 0;
  }
  if (WIFSIGNALED(status))
    fprintf(stderr, "[FAIL] %s::%s: CRASH (signal %d)\n", t->suite, t->name,
            WTERMSIG(status));
  else
    fprintf(stderr, "[FAIL] %s::%s: exit status %d\n", t->suite, t->name,
            WEXITSTATUS(status));
  return 1;
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
  int tested = 0, failed = 0;
  for (int i = 0; i < ntests; i++) {
    char id[256];
    snprintf(id, sizeof id, "%s/%s", tests[i]->suite, tests[i]->name);
    if (filter && fnmatch(filter, id, 0) != 0)
      continue;
    int rc = run(tests[i]);
    if (rc == SKIPPED)
      continue;
    tested++;
    failed += rc != 0;
  }
  fprintf(stderr,
          "[====] Synthesis: Tested: %d | Passing: %d | Failing: %d "
          "(criterion shim)\n",
          tested, tested - failed, failed);
  return failed ? 1 : 0;
}
