/* zm_configure, zm_last_error and ZMEM_OPTIONS. Each Criterion test runs in
 * its own process, so "before the first allocation" is the start of a test. */
#include "harness.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

TestSuite(options, .timeout = 60);

/* Every setting an option string can change. */
typedef struct settings {
  size_t limit, soft;
  int tags;
  zm_layout layout;
} settings;

static settings current(void) {
  zm_stats st = {.size = sizeof st};
  cr_assert_eq(zm_get_stats(&st), 0);
  return (settings){zm_get_limit(), zm_get_soft_limit(), zm_tags_enabled(),
                    st.layout};
}

static void assert_same(settings a, settings b, const char *what) {
  cr_assert_eq(a.limit, b.limit, "%s: limit changed", what);
  cr_assert_eq(a.soft, b.soft, "%s: soft limit changed", what);
  cr_assert_eq(a.tags, b.tags, "%s: tags changed", what);
  cr_assert_eq(a.layout, b.layout, "%s: layout changed", what);
}

/* ------------------------------------------------------------ good strings */

#define M ((size_t)1 << 20)
#define K ((size_t)1 << 10)
#define ANY ((zm_layout)0) /* layout: whatever the backend gives by default */

/* Parameters are copied into a re-executed test process, where pointers
 * into the parent's image are not valid: the strings live in the struct. */
typedef struct good_case {
  char s[64];
  size_t limit, soft;
  int tags;
  zm_layout layout;
} good_case;

ParameterizedTestParameters(options, good) {
  static good_case cases[] = {
      {"", 0, 0, 0, ANY},
      {"   ", 0, 0, 0, ANY},
      {",,,", 0, 0, 0, ANY},
      {" , limit=1k ,, ", K, 0, 0, ANY},
      {"limit=64M", 64 * M, 0, 0, ANY},
      {"limit=100", 100, 0, 0, ANY},
      {"limit=100B", 100, 0, 0, ANY},
      {"limit=100b", 100, 0, 0, ANY},
      {"limit=2kb", 2 * K, 0, 0, ANY},
      {"limit=512KiB", 512 * K, 0, 0, ANY},
      {"limit=3mib", 3 * M, 0, 0, ANY},
      {"limit=1G", (size_t)1 << 30, 0, 0, ANY},
      {"limit=1T", (size_t)1 << 40, 0, 0, ANY},
      {"limit=16777215T", (size_t)16777215 << 40, 0, 0, ANY},
      {"limit=18446744073709551615", SIZE_MAX, 0, 0, ANY},
      {"limit=1Mi", M, 0, 0, ANY},
      {"limit=1ki", K, 0, 0, ANY},
      {"limit=0", 0, 0, 0, ANY},
      {"limit=007K", 7 * K, 0, 0, ANY},
      {"\tlimit = 8M\n", 8 * M, 0, 0, ANY},
      {"LIMIT=1k", K, 0, 0, ANY},
      {"limit=1k,limit=2k", 2 * K, 0, 0, ANY},
      {"soft_limit=1g", 0, (size_t)1 << 30, 0, ANY},
      {" limit = 64M , soft_limit=32M ", 64 * M, 32 * M, 0, ANY},
      {"tags=1", 0, 0, 1, ZM_LAYOUT_HEADER},
      {"tags=true", 0, 0, 1, ZM_LAYOUT_HEADER},
      {"tags=ON", 0, 0, 1, ZM_LAYOUT_HEADER},
      {"tags=yes", 0, 0, 1, ZM_LAYOUT_HEADER},
      {"tags=0", 0, 0, 0, ANY},
      {"tags=off", 0, 0, 0, ANY},
      {"tags=false", 0, 0, 0, ANY},
      {"tags=no", 0, 0, 0, ANY},
      {"tags=1,tags=0", 0, 0, 0, ANY},
      {"layout=header", 0, 0, 0, ZM_LAYOUT_HEADER},
      {"layout=Header", 0, 0, 0, ZM_LAYOUT_HEADER},
      {"layout=lean", 0, 0, 0, ZM_LAYOUT_LEAN},
      {"layout=header,tags=1,limit=1M,soft_limit=512K", M, 512 * K, 1,
       ZM_LAYOUT_HEADER},
  };
  return cr_make_param_array(good_case, cases, sizeof cases / sizeof *cases);
}

ParameterizedTest(good_case *c, options, good) {
  settings before = current();
  bool lean_impossible = c->layout == ZM_LAYOUT_LEAN && !harness_backend_has_size();
  errno = 0;
  int rc = zm_configure(c->s);
  if (lean_impossible) { /* the user-nosize configuration */
    cr_assert_eq(rc, -1);
    cr_assert_eq(errno, ENOTSUP);
    assert_same(before, current(), c->s);
    return;
  }
  cr_assert_eq(rc, 0, "'%s': %s", c->s, zm_last_error());
  cr_assert_str_empty(zm_last_error());
  settings now = current();
  cr_assert_eq(now.limit, c->limit, "'%s': limit %zu", c->s, now.limit);
  cr_assert_eq(now.soft, c->soft, "'%s': soft %zu", c->s, now.soft);
  cr_assert_eq(now.tags, c->tags, "'%s'", c->s);
  cr_assert_eq(now.layout, c->layout == ANY ? before.layout : c->layout,
               "'%s'", c->s);
  void *p = zm_malloc(10); /* the settings survive the first allocation */
  cr_assert_not_null(p);
  cr_assert_eq(zm_tags_enabled(), c->tags);
  zm_stats st = {.size = sizeof st};
  zm_get_stats(&st);
  cr_assert_eq(st.layout, now.layout);
  zm_free(p);
}

/* ------------------------------------------------------------- bad strings */

typedef struct bad_case {
  const char *s;
  int err;
  const char *msg; /* zm_last_error() contains this */
} bad_case;

static const bad_case bad_before_first_allocation[] = {
    {"limt=1", EINVAL, "unknown option 'limt'"},
    {"limit=x12", EINVAL, "bad size 'x12' for 'limit'"},
    {"limit=", EINVAL, "bad size '' for 'limit'"},
    {"limit= ", EINVAL, "bad size '' for 'limit'"},
    {"limit", EINVAL, "missing '=' in 'limit'"},
    {" tags ", EINVAL, "missing '=' in 'tags'"},
    {"=5", EINVAL, "missing option name in '=5'"},
    {"limit=12Q", EINVAL, "bad size '12Q' for 'limit'"},
    {"limit=1.5G", EINVAL, "bad size '1.5G' for 'limit'"},
    {"limit=-1", EINVAL, "bad size '-1' for 'limit'"},
    {"limit=+1", EINVAL, "bad size '+1' for 'limit'"},
    {"limit=0x10", EINVAL, "bad size '0x10' for 'limit'"},
    {"limit=1KiBB", EINVAL, "bad size '1KiBB' for 'limit'"},
    {"limit=1 M", EINVAL, "bad size '1 M' for 'limit'"},
    {"limit=1\tKiB", EINVAL, "bad size '1\tKiB' for 'limit'"},
    {"limit=1iB", EINVAL, "bad size '1iB' for 'limit'"},
    {"limit=1P", EINVAL, "bad size '1P' for 'limit'"},
    {"limit=K", EINVAL, "bad size 'K' for 'limit'"},
    {"limit=1 2", EINVAL, "bad size '1 2' for 'limit'"},
    {"limit=18446744073709551616", EINVAL,
     "size '18446744073709551616' too large for 'limit'"},
    {"limit=16777216T", EINVAL, "size '16777216T' too large for 'limit'"},
    {"soft_limit=99999999999999999999999", EINVAL, "too large for 'soft_limit'"},
    {"tags=2", EINVAL, "bad boolean '2' for 'tags'"},
    {"tags=maybe", EINVAL, "bad boolean 'maybe' for 'tags'"},
    {"tags=", EINVAL, "bad boolean '' for 'tags'"},
    {"layout=debugx", EINVAL, "bad layout 'debugx' for 'layout'"},
    {"layout=leanx", EINVAL, "bad layout 'leanx' for 'layout'"},
    {"limit=1M,bogus=1", EINVAL, "unknown option 'bogus'"},
    {"limit=1M,tags=7", EINVAL, "bad boolean '7' for 'tags'"},
    {"tags=1,limit=1M,layout=x", EINVAL, "bad layout 'x' for 'layout'"},
    {"limit=1M;soft_limit=2M", EINVAL, "bad size '1M;soft_limit=2M' for"},
    {"tags=1,layout=lean", EINVAL, "'layout=lean' conflicts with 'tags=1'"},
    {"layout=lean,limit=1M,tags=on", EINVAL, "conflicts with 'tags=1'"},
    {"li mit=1", EINVAL, "unknown option 'li mit'"},
    {"limit==1", EINVAL, "bad size '=1' for 'limit'"},
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=1",
     EINVAL, "unknown option 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...'"},
};

static void check_bad(const bad_case *c) {
  settings before = current();
  errno = 0;
  cr_assert_eq(zm_configure(c->s), -1, "'%s' accepted", c->s);
  cr_assert_eq(errno, c->err, "'%s': errno %d", c->s, errno);
  cr_assert(strstr(zm_last_error(), c->msg), "'%s': message \"%s\"", c->s,
            zm_last_error());
  assert_same(before, current(), c->s);
}

Test(options, bad_strings_change_nothing) {
  size_t n = sizeof bad_before_first_allocation / sizeof *bad_before_first_allocation;
  for (size_t i = 0; i < n; i++)
    check_bad(&bad_before_first_allocation[i]);
  cr_assert_eq(zm_configure("limit=4M,soft_limit=2M"), 0); /* non-zero state */
  for (size_t i = 0; i < n; i++)
    check_bad(&bad_before_first_allocation[i]);
}

Test(options, null_string) {
  errno = 0;
  cr_assert_eq(zm_configure(NULL), -1);
  cr_assert_eq(errno, EINVAL);
  cr_assert_str_not_empty(zm_last_error());
}

static const bad_case bad_after_first_allocation[] = {
    {"layout=header", EBUSY, "option 'layout' cannot change"},
    {"layout=lean,soft_limit=1M", EBUSY, "option 'layout' cannot change"},
    {"limit=1M,tags=x", EINVAL, "bad boolean 'x' for 'tags'"},
};

/* tags=1 needs the header layout: refused once the lean one is fixed. */
static const bad_case bad_after_lean_is_fixed[] = {
    {"tags=1", EBUSY, "option 'tags=1' needs the header layout"},
    {"limit=1M,tags=1", EBUSY, "option 'tags=1' needs the header layout"},
};

Test(options, layout_options_refused_after_first_allocation) {
  void *p = zm_malloc(1);
  for (size_t i = 0; i < sizeof bad_after_first_allocation /
                              sizeof *bad_after_first_allocation;
       i++)
    check_bad(&bad_after_first_allocation[i]);
  if (layout_now() == ZM_LAYOUT_LEAN)
    for (size_t i = 0; i < sizeof bad_after_lean_is_fixed /
                                sizeof *bad_after_lean_is_fixed;
         i++)
      check_bad(&bad_after_lean_is_fixed[i]);
  cr_assert_eq(zm_configure("tags=0"), 0, "%s", zm_last_error());
  cr_assert_eq(zm_configure("limit=1M, soft_limit=512K"), 0); /* limits: yes */
  cr_assert_eq(zm_get_limit(), M);
  cr_assert_eq(zm_get_soft_limit(), 512 * K);
  zm_free(p);
}

/* With tags already on, layout=lean fails when applied; being applied first,
 * it leaves the other keys of the string unapplied. */
Test(options, failed_apply_leaves_the_rest) {
  cr_assert_eq(zm_tags_enable(), 0);
  settings before = current();
  errno = 0;
  cr_assert_eq(zm_configure("limit=1M,layout=lean,soft_limit=1M"), -1);
  cr_assert_eq(errno, harness_backend_has_size() ? EBUSY : ENOTSUP);
  cr_assert(strstr(zm_last_error(), "layout"), "%s", zm_last_error());
  assert_same(before, current(), "layout=lean with tags on");
}

Test(options, limit_applies) {
  cr_assert_eq(zm_configure("limit=64K"), 0);
  void *a = zm_try_malloc(48 * K);
  cr_assert_not_null(a);
  cr_assert_null(zm_try_malloc(48 * K));
  cr_assert_eq(zm_configure("limit=0"), 0);
  void *b = zm_try_malloc(48 * K);
  cr_assert_not_null(b);
  zm_free(a);
  zm_free(b);
}

Test(options, last_error_is_per_call_and_per_thread) {
  cr_assert_str_empty(zm_last_error());
  cr_assert_eq(zm_configure("nope=1"), -1);
  cr_assert_str_eq(zm_last_error(), "unknown option 'nope'");
  cr_assert_eq(zm_configure("limit=1k"), 0);
  cr_assert_str_empty(zm_last_error());
  cr_assert_eq(zm_configure("nope=1"), -1);
}

static void *configure_many(void *arg) {
  const char *s = arg;
  for (int i = 0; i < 200; i++) {
    bool bad = strstr(s, "bad") != NULL;
    if ((zm_configure(s) == 0) == bad)
      return (void *)1;
    if (bad != (zm_last_error()[0] != '\0'))
      return (void *)1;
    zm_free(zm_malloc(16));
  }
  return NULL;
}

Test(options, concurrent_callers) {
  static const char *strings[] = {"limit=1G", "bad=1", "soft_limit=1G,limit=2G",
                                  "limit=bad"};
  pthread_t t[4];
  for (int i = 0; i < 4; i++)
    cr_assert_eq(pthread_create(&t[i], NULL, configure_many, (void *)strings[i]), 0);
  for (int i = 0; i < 4; i++) {
    void *r;
    pthread_join(t[i], &r);
    cr_assert_null(r, "thread %d", i);
  }
  cr_assert_str_empty(zm_last_error()); /* other threads' errors stay theirs */
}

/* ------------------------------------------------------------- ZMEM_OPTIONS */

/* Makes the first allocation with ZMEM_OPTIONS=value and fd 2 captured;
 * returns what was written to stderr. */
static char *first_allocation_with(const char *value, char *err, size_t cap) {
  int fds[2], saved = dup(2);
  cr_assert_eq(pipe(fds), 0);
  cr_assert_eq(setenv("ZMEM_OPTIONS", value, 1), 0);
  dup2(fds[1], 2);
  close(fds[1]);
  errno = EDOM;
  void *p = zm_malloc(100);
  int e = errno;
  dup2(saved, 2);
  close(saved);
  cr_assert_not_null(p);
  cr_assert_eq(e, EDOM, "the first allocation changed errno");
  zm_free(p);
  fcntl(fds[0], F_SETFL, O_NONBLOCK);
  ssize_t n = read(fds[0], err, cap - 1);
  close(fds[0]);
  err[n > 0 ? n : 0] = '\0';
  return err;
}

Test(options, env_applied_at_first_allocation) {
  char err[512];
  cr_assert_eq(setenv("ZMEM_OPTIONS", "limit=1M,tags=1", 1), 0);
  cr_assert_eq(zm_get_limit(), 0, "applied before the first allocation");
  first_allocation_with(" limit=1M , tags=1, soft_limit=512k", err, sizeof err);
  cr_assert_str_empty(err);
  cr_assert_eq(zm_get_limit(), M);
  cr_assert_eq(zm_get_soft_limit(), 512 * K);
  cr_assert_eq(zm_tags_enabled(), 1);
  cr_assert_eq(current().layout, ZM_LAYOUT_HEADER);
  cr_assert_eq(setenv("ZMEM_OPTIONS", "limit=2M", 1), 0); /* read once only */
  zm_free(zm_malloc(1));
  cr_assert_eq(zm_get_limit(), M);
}

Test(options, env_layout) {
  char err[512];
  first_allocation_with("layout=header", err, sizeof err);
  cr_assert_str_empty(err);
  cr_assert_eq(current().layout, ZM_LAYOUT_HEADER);
  cr_assert_eq(zm_tags_enabled(), 0);
}

/* The environment's limit is a ceiling over the program's own. */
Test(options, env_wins_over_earlier_configure) {
  char err[512];
  cr_assert_eq(zm_configure("limit=2M,soft_limit=1M"), 0);
  first_allocation_with("limit=1M", err, sizeof err);
  cr_assert_str_empty(err);
  cr_assert_eq(zm_get_limit(), M);
  cr_assert_eq(zm_get_soft_limit(), M); /* untouched by the environment */
}

typedef struct env_case {
  char value[48], stderr_has[80];
} env_case;

ParameterizedTestParameters(options, env_bad) {
  static env_case cases[] = {
      {"limit=1M,tagz=1", "zmem: ZMEM_OPTIONS ignored: unknown option 'tagz'\n"},
      {"tags=1,limit=x12", "zmem: ZMEM_OPTIONS ignored: bad size 'x12' for 'limit'\n"},
      {"limit=1M,tags", "zmem: ZMEM_OPTIONS ignored: missing '=' in 'tags'\n"},
      {"layout=lean,tags=1,limit=1M", "conflicts with 'tags=1'\n"},
      {"soft_limit=1M,layout=nope", "bad layout 'nope' for 'layout'\n"},
  };
  return cr_make_param_array(env_case, cases, sizeof cases / sizeof *cases);
}

ParameterizedTest(env_case *c, options, env_bad) {
  char err[512];
  settings before = current();
  first_allocation_with(c->value, err, sizeof err);
  cr_assert(strstr(err, c->stderr_has), "stderr: \"%s\"", err);
  cr_assert_eq(strchr(err, '\n'), err + strlen(err) - 1, "one line: %s", err);
  assert_same(before, current(), c->value);
  cr_assert_str_empty(zm_last_error());
}

Test(options, env_empty_is_fine) {
  char err[512];
  settings before = current();
  first_allocation_with(" , ", err, sizeof err);
  cr_assert_str_empty(err);
  assert_same(before, current(), "empty ZMEM_OPTIONS");
}
