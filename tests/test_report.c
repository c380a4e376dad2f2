/* zm_stats_print in its three formats, and the summary the default OOM
 * handler writes. The JSON and Prometheus outputs are also checked by real
 * parsers: see check_report.py and report_dump.c. */
#include "harness.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

TestSuite(report, .timeout = 60);

/* The report in fmt, as a string (free it). */
static char *report(zm_format fmt) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  cr_assert_not_null(f);
  cr_assert_eq(zm_stats_print(f, fmt), 0);
  fclose(f);
  return buf;
}

static void assert_has(const char *text, const char *needle) {
  cr_assert(strstr(text, needle), "missing \"%s\" in:\n%s", needle, text);
}

/* needles appear in this order. */
static void assert_order(const char *text, const char *const needles[],
                         size_t n) {
  const char *at = text;
  for (size_t i = 0; i < n; i++) {
    const char *next = strstr(at, needles[i]);
    cr_assert(next, "\"%s\" missing or out of order in:\n%s", needles[i], text);
    at = next + strlen(needles[i]);
  }
}

Test(report, bad_arguments) {
  errno = 0;
  cr_assert_eq(zm_stats_print(NULL, ZM_FORMAT_TEXT), -1);
  cr_assert_eq(errno, EINVAL);
  errno = 0;
  cr_assert_eq(zm_stats_print(stdout, (zm_format)7), -1);
  cr_assert_eq(errno, EINVAL);
  errno = 0;
  cr_assert_eq(zm_stats_print(stdout, (zm_format)-1), -1);
  cr_assert_eq(errno, EINVAL);
}

Test(report, write_error_is_reported) {
  FILE *f = fopen("/dev/full", "w");
  cr_assert_not_null(f);
  errno = 0;
  cr_assert_eq(zm_stats_print(f, ZM_FORMAT_JSON), -1);
  cr_assert_eq(errno, ENOSPC);
  fclose(f);
}

Test(report, text_totals) {
  void *a = zm_malloc(1000), *b = zm_calloc(10, 10);
  zm_stats st = {.size = sizeof st};
  zm_get_stats(&st);
  char *t = report(ZM_FORMAT_TEXT);
  char used[64], backend[64];
  snprintf(used, sizeof used, "(%zu bytes)", st.used);
  snprintf(backend, sizeof backend, "backend %s, layout %s", st.backend,
           st.layout == ZM_LAYOUT_LEAN ? "lean" : "header");
  static const char *const order[] = {"memory", "used", "peak", "live blocks",
                                      "calls", "malloc", "calloc", "realloc",
                                      "aligned_alloc", "free", "failures",
                                      "realloc moved", "limits", "hard",
                                      "soft", "system", "rss", "peak rss",
                                      "physical memory", "fragmentation",
                                      "backend", "allocated", "active",
                                      "resident", "mapped", "tags: off"};
  assert_order(t, order, sizeof order / sizeof *order);
  assert_has(t, used);
  assert_has(t, backend);
  free(t);
  zm_free(a);
  zm_free(b);
}

/* With nothing in use there is no ratio: "n/a", not 0. */
Test(report, text_fragmentation_without_use) {
  if (zm_used_memory() != 0)
    cr_skip_test("%zu bytes in use at the start", zm_used_memory());
  char *t = report(ZM_FORMAT_TEXT);
  const char *f = strstr(t, "fragmentation");
  cr_assert(f, "no fragmentation line in:\n%s", t);
  const char *na = strstr(f, " n/a  (rss / used)\n");
  cr_assert(na && na < strchr(f, '\n'), "fragmentation line: %.60s", f);
  free(t);
}

Test(report, text_limits) {
  cr_assert_eq(zm_configure("limit=64M"), 0);
  char *t = report(ZM_FORMAT_TEXT);
  assert_has(t, "64.0 MiB  (67108864 bytes)");
  cr_assert(strstr(t, "soft") && strstr(strstr(t, "soft"), "none"));
  free(t);
}

Test(report, text_tag_tree) {
  zm_tag db = zm_tag_new("db"), net = zm_tag_new("net");
  zm_tag index = zm_tag_new_child(db, "index");
  zm_tag btree = zm_tag_new_child(index, "btree");
  zm_tag wal = zm_tag_new_child(db, "wal");
  cr_assert_neq(wal, ZM_TAG_INVALID);
  void *p = zm_malloc_tag(btree, 3000), *q = zm_malloc_tag(net, 100);
  cr_assert_eq(zm_tag_set_limit(db, 1 << 20), 0);
  char *t = report(ZM_FORMAT_TEXT);
  static const char *const order[] = {
      "tags on", "tags\n", "  tag ", "used", "blocks", "peak", "calls",
      "failures", "limit", "\n  untagged ", "\n  db ", "1.0 MiB",
      "\n    index ", "\n      btree ", "\n    wal ", "\n  net "};
  assert_order(t, order, sizeof order / sizeof *order);
  free(t);
  zm_free(p);
  zm_free(q);
}

/* Names are user strings: control bytes and invalid UTF-8 must not break the
 * table, the JSON or the exposition format. */
static void weird_tags(void) {
  static const char *const names[] = {"q\"uote", "back\\slash", "new\nline",
                                      "tab\t", "\001ctl", "bad\377utf8",
                                      "caf\xc3\xa9"};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++)
    cr_assert_neq(zm_tag_new(names[i]), ZM_TAG_INVALID);
}

Test(report, json_escapes_names) {
  weird_tags();
  char *t = report(ZM_FORMAT_JSON);
  assert_has(t, "\"name\": \"q\\\"uote\"");
  assert_has(t, "\"name\": \"back\\\\slash\"");
  assert_has(t, "\"name\": \"new\\nline\"");
  assert_has(t, "\"name\": \"tab\\t\"");
  assert_has(t, "\"name\": \"\\u0001ctl\"");
  assert_has(t, "\"name\": \"bad\xef\xbf\xbdutf8\"");
  assert_has(t, "\"name\": \"caf\xc3\xa9\"");
  assert_has(t, "\"schema\": 1");
  free(t);
}

Test(report, prometheus_escapes_labels) {
  weird_tags();
  char *t = report(ZM_FORMAT_PROMETHEUS);
  assert_has(t, "tag=\"q\\\"uote\"");
  assert_has(t, "tag=\"back\\\\slash\"");
  assert_has(t, "tag=\"new\\nline\"");
  assert_has(t, "tag=\"bad\xef\xbf\xbdutf8\"");
  assert_has(t, "# TYPE zmem_calls_total counter\n");
  assert_has(t, "zmem_calls_total{function=\"malloc\"} ");
  free(t);
}

Test(report, text_sanitises_names) {
  weird_tags();
  char *t = report(ZM_FORMAT_TEXT);
  assert_has(t, "\n  new?line ");
  assert_has(t, "\n  ?ctl ");
  assert_has(t, "\n  bad?utf8 ");
  assert_has(t, "\n  caf\xc3\xa9 ");
  free(t);
}

Test(report, prometheus_totals) {
  void *a = zm_malloc(123);
  zm_stats st = {.size = sizeof st};
  zm_get_stats(&st);
  char *t = report(ZM_FORMAT_PROMETHEUS);
  char line[128];
  snprintf(line, sizeof line, "\nzmem_used_bytes %zu\n", st.used);
  assert_has(t, line);
  snprintf(line, sizeof line, "\nzmem_live_blocks %zu\n", st.live_blocks);
  assert_has(t, line);
  cr_assert_null(strstr(t, "zmem_tag_"), "tags are off");
  free(t);
  zm_free(a);
}

/* ------------------------------------------------------------ OOM summary */

/* Runs body in a child whose stderr goes to a pipe; returns the child's
 * stderr and its wait status. */
static char *stderr_of_child(void (*body)(void), int *status) {
  int fds[2];
  cr_assert_eq(pipe(fds), 0);
  fflush(NULL);
  pid_t pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    dup2(fds[1], 2);
    close(fds[0]);
    body();
    _exit(0);
  }
  close(fds[1]);
  static char out[8192];
  size_t n = 0;
  ssize_t r;
  while (n < sizeof out - 1 && (r = read(fds[0], out + n, sizeof out - 1 - n)) > 0)
    n += (size_t)r;
  out[n] = '\0';
  close(fds[0]);
  waitpid(pid, status, 0);
  return out;
}

static void oom_with_tags(void) {
  zm_tag big = zm_tag_new("big"), small = zm_tag_new("small\n");
  zm_tag child = zm_tag_new_child(big, "child");
  if (child == ZM_TAG_INVALID || small == ZM_TAG_INVALID)
    _exit(3);
  zm_configure("limit=4M"); /* room for any allocator's size classes */
  void *a = zm_malloc_tag(child, 600000), *b = zm_malloc_tag(small, 1000);
  void *c = zm_malloc(8 << 20); /* over the limit: the default handler aborts */
  (void)a, (void)b, (void)c;
  _exit(4);
}

Test(report, oom_summary_before_the_verdict) {
  int status;
  char *err = stderr_of_child(oom_with_tags, &status);
  cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
            "status %d, stderr: %s", status, err);
  static const char *const order[] = {
      "zmem: used ", " bytes, peak ", " bytes, 2 live blocks, limit 4194304 bytes\n",
      "zmem: top tags: big ", ", child ", ", small? ", " bytes\n",
      "zmem: out of memory allocating 8388608 bytes\n"};
  assert_order(err, order, sizeof order / sizeof *order);
}

static void oom_without_tags(void) {
  void *a = zm_malloc(100);
  volatile size_t huge = (size_t)1 << 62;
  void *b = zm_malloc(huge);
  (void)a, (void)b;
  _exit(4);
}

Test(report, oom_summary_without_tags) {
  int status;
  char *err = stderr_of_child(oom_without_tags, &status);
  cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
            "status %d, stderr: %s", status, err);
  static const char *const order[] = {
      "zmem: used ", ", 1 live blocks, no limit\n",
      "zmem: out of memory allocating 4611686018427387904 bytes\n"};
  assert_order(err, order, sizeof order / sizeof *order);
  cr_assert_null(strstr(err, "top tags"));
}
