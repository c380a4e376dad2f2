/* Fault injection in the library (zm_fault_*, the fault options) and the
 * out-of-memory sweep (zm_oom_sweep). */
#include "harness.h"

#include <criterion/criterion.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Runs n zm_try_malloc calls; bit i of the result set when call i+1 failed
 * (with errno ENOMEM). Each block is freed at once. */
static uint64_t failure_pattern(unsigned n) {
  uint64_t bits = 0;
  for (unsigned i = 0; i < n; i++) {
    errno = 0;
    void *p = zm_try_malloc(opaque(24));
    if (!p) {
      cr_assert_eq(errno, ENOMEM, "call %u: errno %d", i + 1, errno);
      bits |= (uint64_t)1 << i;
    }
    zm_free(p);
  }
  return bits;
}

Test(fault, nth_fails_once) {
  cr_assert_eq(zm_fault_set(3, 0), 0);
  cr_assert_eq(failure_pattern(6), 0x4);
  cr_assert_eq(zm_fault_hits(), 1);
  cr_assert_eq(zm_fault_requests(), 6);
}

Test(fault, repeat_fails_the_next_ones_too) {
  zm_fault_set(2, 2);
  cr_assert_eq(failure_pattern(8), 0xe); /* 2, 3, 4 */
  cr_assert_eq(zm_fault_hits(), 3);
}

Test(fault, persistent) {
  zm_fault_set(4, UINT64_MAX);
  cr_assert_eq(failure_pattern(10), 0x3f8);
}

Test(fault, clear_stops_and_keeps_the_count) {
  zm_fault_set(1, UINT64_MAX);
  cr_assert_eq(failure_pattern(2), 0x3);
  zm_fault_clear();
  cr_assert_eq(failure_pattern(5), 0);
  cr_assert_eq(zm_fault_hits(), 2);
}

Test(fault, nth_zero_is_off) {
  zm_fault_set(0, 5);
  cr_assert_eq(failure_pattern(10), 0);
  cr_assert_eq(zm_fault_hits(), 0);
}

Test(fault, used_memory_unchanged_by_a_refusal) {
  void *keep = zm_malloc(100);
  size_t used = zm_used_memory();
  zm_fault_set(1, 0);
  cr_assert_null(zm_try_malloc(opaque(64)));
  cr_assert_eq(zm_used_memory(), used);
  cr_assert_eq(stats_now().failures, 1);
  zm_free(keep);
}

/* Each entry point fails like a real failure: checked ones call the OOM
 * handler with the size asked for, try ones do not. */
typedef struct entry {
  const char *name;
  void *(*call)(void *old);
  bool checked;
  size_t size; /* the handler's size */
} entry;

static void *e_malloc(void *o) { (void)o; return zm_malloc(opaque(40)); }
static void *e_try_malloc(void *o) { (void)o; return zm_try_malloc(opaque(40)); }
static void *e_calloc(void *o) { (void)o; return zm_calloc(opaque(4), 10); }
static void *e_try_calloc(void *o) { (void)o; return zm_try_calloc(opaque(4), 10); }
static void *e_realloc(void *o) { return zm_realloc(o, opaque(400)); }
static void *e_try_realloc(void *o) { return zm_try_realloc(o, opaque(400)); }
static void *e_reallocarray(void *o) { return zm_reallocarray(o, opaque(40), 10); }
static void *e_aligned(void *o) { (void)o; return zm_aligned_alloc(64, opaque(40)); }
static void *e_strdup(void *o) { (void)o; return zm_strdup("0123456789"); }
static void *e_strndup(void *o) { (void)o; return zm_strndup("0123456789", 4); }
static void *e_memdup(void *o) { (void)o; return zm_memdup("abc", 3); }

static const entry entries[] = {
    {"malloc", e_malloc, true, 40},       {"try_malloc", e_try_malloc, false, 0},
    {"calloc", e_calloc, true, 40},       {"try_calloc", e_try_calloc, false, 0},
    {"realloc", e_realloc, true, 400},    {"try_realloc", e_try_realloc, false, 0},
    {"reallocarray", e_reallocarray, true, 400},
    {"aligned_alloc", e_aligned, true, 40},
    {"strdup", e_strdup, true, 11},       {"strndup", e_strndup, true, 5},
    {"memdup", e_memdup, true, 3},
};

Test(fault, every_entry_point_fails_like_a_real_failure) {
  oom_rec rec = {0};
  zm_set_oom_handler(oom_record, &rec);
  for (size_t i = 0; i < ARRAY_LEN(entries); i++) {
    const entry *e = &entries[i];
    char *old = zm_malloc(16);
    memcpy(old, "fifteen bytes..", 16);
    unsigned calls = rec.calls;
    zm_fault_set(1, 0);
    errno = 0;
    cr_assert_null(e->call(old), "%s", e->name);
    cr_assert_eq(errno, ENOMEM, "%s: errno %d", e->name, errno);
    cr_assert_eq(zm_fault_hits(), 1, "%s", e->name);
    cr_assert_eq(rec.calls, calls + e->checked, "%s: handler", e->name);
    if (e->checked)
      cr_assert_eq(rec.last_size, e->size, "%s: size %zu", e->name,
                   rec.last_size);
    cr_assert_str_eq(old, "fifteen bytes..", "%s: old block", e->name);
    zm_fault_clear();
    zm_free(old);
  }
  cr_assert_eq(stats_now().live_blocks, 0);
}

Test(fault, realloc_to_zero_and_free_are_not_numbered) {
  void *p = zm_malloc(10);
  zm_fault_set(1, 0);
  cr_assert_null(zm_realloc(p, 0));
  zm_free(NULL);
  cr_assert_eq(zm_fault_requests(), 0);
  void *q = zm_try_malloc(opaque(8));
  cr_assert_null(q);
}

Test(fault, with_limits_and_tags) {
  zm_tag t = zm_tag_new("t");
  cr_assert_neq(t, ZM_TAG_INVALID);
  cr_assert_eq(zm_set_limit(1 << 20), 0);
  zm_fault_set(2, 0);
  void *a = zm_malloc_tag(t, 100);
  cr_assert_not_null(a);
  cr_assert_null(zm_try_malloc(opaque(100)));
  zm_free(a);
  cr_assert_eq(zm_tag_used(t), 0);
  zm_tag_info info = {.size = sizeof info};
  cr_assert_eq(zm_tag_stats(ZM_TAG_DEFAULT, &info), 0);
  cr_assert_eq(info.failures, 1);
}

/* ------------------------------------------------------------ probability */

Test(fault, probability_is_reproducible_from_the_seed) {
  cr_assert_eq(zm_fault_set_probability(0.5, 42), 0);
  uint64_t a = failure_pattern(64);
  uint64_t hits = zm_fault_hits();
  zm_fault_set_probability(0.5, 42);
  cr_assert_eq(failure_pattern(64), a);
  zm_fault_set_probability(0.5, 43);
  cr_assert_neq(failure_pattern(64), a);
  /* 64 fair coins: 16..48 heads but for a chance below 1e-4 */
  cr_assert(hits >= 16 && hits <= 48, "%lu hits", (unsigned long)hits);
}

Test(fault, probability_bounds) {
  cr_assert_eq(zm_fault_set_probability(0, 1), 0);
  cr_assert_eq(failure_pattern(64), 0);
  cr_assert_eq(zm_fault_set_probability(1, 1), 0);
  cr_assert_eq(failure_pattern(64), UINT64_MAX);
  double bad[] = {-0.1, 1.01, 0.0 / 0.0};
  for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
    errno = 0;
    cr_assert_eq(zm_fault_set_probability(bad[i], 1), -1);
    cr_assert_eq(errno, EINVAL);
  }
}

Test(fault, rate_follows_p) {
  zm_fault_set_probability(0.1, 7);
  unsigned n = 20000, failed = 0;
  for (unsigned i = 0; i < n; i++) {
    void *p = zm_try_malloc(opaque(8));
    failed += !p;
    zm_free(p);
  }
  cr_assert(failed > 1700 && failed < 2300, "%u of %u failed", failed, n);
}

/* ---------------------------------------------------------------- options */

Test(fault, options) {
  cr_assert_eq(zm_configure("fault=2:1"), 0, "%s", zm_last_error());
  cr_assert_eq(failure_pattern(5), 0x6);
  cr_assert_eq(zm_configure("fault=3"), 0);
  cr_assert_eq(failure_pattern(5), 0x4);
  cr_assert_eq(zm_configure("fault=0"), 0);
  cr_assert_eq(failure_pattern(5), 0);
  cr_assert_eq(zm_configure("fault_p=0.5, fault_seed=9"), 0);
  uint64_t a = failure_pattern(64);
  zm_fault_set_probability(0.5, 9);
  cr_assert_eq(failure_pattern(64), a);
  cr_assert_eq(zm_configure("fault_p=1"), 0);
  cr_assert_eq(failure_pattern(3), 0x7);
  cr_assert_eq(zm_configure("fault_p=0"), 0);
  cr_assert_eq(failure_pattern(3), 0);
}

Test(fault, bad_options) {
  static const struct {
    const char *s, *msg;
  } bad[] = {
      {"fault=x", "bad NTH[:REPEAT] 'x' for 'fault'"},
      {"fault=3:", "bad NTH[:REPEAT] '3:' for 'fault'"},
      {"fault=3:y", "bad NTH[:REPEAT] '3:y' for 'fault'"},
      {"fault=-1", "bad NTH[:REPEAT] '-1' for 'fault'"},
      {"fault_p=1.5", "bad probability '1.5' for 'fault_p'"},
      {"fault_p=.", "bad probability '.' for 'fault_p'"},
      {"fault_p=", "bad probability '' for 'fault_p'"},
      {"fault_p=1e-3", "bad probability '1e-3' for 'fault_p'"},
      {"fault_seed=7k", "bad number '7k' for 'fault_seed'"},
  };
  for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
    errno = 0;
    cr_assert_eq(zm_configure(bad[i].s), -1, "%s", bad[i].s);
    cr_assert_eq(errno, EINVAL);
    cr_assert_str_eq(zm_last_error(), bad[i].msg);
  }
  cr_assert_eq(failure_pattern(8), 0, "nothing applied");
}

Test(fault, from_the_environment) {
  cr_assert_eq(setenv("ZMEM_OPTIONS", "fault=2", 1), 0);
  void *p = zm_try_malloc(opaque(8)); /* the first allocation */
  cr_assert_not_null(p);
  cr_assert_null(zm_try_malloc(opaque(8)));
  zm_free(p);
  cr_assert_eq(zm_fault_hits(), 1);
}

/* ----------------------------------------------------------------- sweep */

/* A sample with a planted leak: builds a three-part record with try
 * allocations and frees what it has on every failure, except one path. */
typedef struct record {
  char *name, *value, *note;
} record;

static record *record_new(const char *name, const char *value) {
  record *r = zm_try_malloc(sizeof *r);
  if (!r)
    return NULL;
  r->name = zm_try_malloc(strlen(name) + 1);
  if (!r->name)
    goto fail_r;
  strcpy(r->name, name);
  r->value = zm_try_malloc(strlen(value) + 1);
  if (!r->value)
    goto fail_name;
  strcpy(r->value, value);
  r->note = zm_try_calloc(1, 32);
  if (!r->note)
    goto fail_r; /* the planted leak: name and value are not freed */
  return r;
fail_name:
  zm_free(r->name);
fail_r:
  zm_free(r);
  return NULL;
}

static void record_free(record *r) {
  if (!r)
    return;
  zm_free(r->name);
  zm_free(r->value);
  zm_free(r->note);
  zm_free(r);
}

static void sample(void *arg) {
  (void)arg;
  record_free(record_new("key", "value"));
}

static const char *sweep_kind(zm_sweep_kind k) {
  return k == ZM_SWEEP_LEAK ? "leak" : "crash";
}

Test(sweep, finds_exactly_the_planted_leak) {
  zm_sweep_result r = {.size = sizeof r};
  cr_assert_eq(zm_oom_sweep(sample, NULL, &r), 0);
  cr_assert_eq(r.steps, 5, "steps %lu", (unsigned long)r.steps);
  cr_assert_eq(r.complete, 1);
  cr_assert_eq(r.crashes, 0);
  cr_assert_eq(r.leaks, 1);
  cr_assert_eq(r.nrecords, 1);
  zm_sweep_step s = r.records[0];
  cr_assert_eq(s.kind, ZM_SWEEP_LEAK, "%s", sweep_kind(s.kind));
  cr_assert_eq(s.step, 4);
  cr_assert_eq(s.leaked_blocks, 2);
  void *a = zm_malloc(4), *b = zm_malloc(6);
  int64_t two = (int64_t)(block_cost(a) + block_cost(b));
  zm_free(a);
  zm_free(b);
  cr_assert_eq(s.leaked_bytes, two, "%ld bytes", (long)s.leaked_bytes);
}

/* An unchecked allocation: crashes on the step that fails it. The crash is
 * a trap (SIGILL) rather than a write through NULL, which a sanitizer build
 * would report as an error of the test. */
static void unchecked(void *arg) {
  (void)arg;
  char *a = zm_try_malloc(8);
  char *b = zm_try_malloc(8);
  if (!b)
    __builtin_trap();
  b[0] = 'x';
  zm_free(b);
  zm_free(a);
}

Test(sweep, reports_a_crash_with_its_signal) {
  zm_sweep_result r = {.size = sizeof r};
  cr_assert_eq(zm_oom_sweep(unchecked, NULL, &r), 0);
  cr_assert_eq(r.steps, 3);
  cr_assert_eq(r.crashes, 1);
  cr_assert_eq(r.leaks, 0);
  cr_assert_eq(r.records[0].step, 2);
  cr_assert_eq(r.records[0].kind, ZM_SWEEP_CRASH);
  cr_assert_eq(r.records[0].signal, SIGILL);
}

/* zmem's own functions, with a handler that returns: every one of them must
 * give back what it took on every failure. */
static void own_functions(void *arg) {
  (void)arg;
  char *s = zm_strdup("a string");
  char *t = s ? zm_strndup(s, 3) : NULL;
  void *m = zm_memdup("abcd", 4);
  int *v = zm_calloc(8, sizeof *v);
  if (v) {
    int *w = zm_reallocarray(v, 64, sizeof *v);
    v = w ? w : v;
    w = zm_realloc(v, 4096);
    v = w ? w : v;
  }
  void *al = zm_aligned_alloc(256, 100);
  void *tr = zm_try_realloc(NULL, 50);
  zm_free(tr);
  zm_free(al);
  zm_free(v);
  zm_free(m);
  zm_free(t);
  zm_free(s);
}

static void returns(size_t size, void *arg) {
  (void)size;
  (void)arg;
}

Test(sweep, zmem_functions_leak_nothing) {
  zm_set_oom_handler(returns, NULL);
  zm_sweep_result r = {.size = sizeof r};
  cr_assert_eq(zm_oom_sweep(own_functions, NULL, &r), 0);
  cr_assert_eq(r.steps, 9, "steps %lu", (unsigned long)r.steps);
  cr_assert_eq(r.complete, 1);
  cr_assert_eq(r.leaks, 0, "step %lu leaked %ld bytes",
               (unsigned long)r.records[0].step,
               (long)r.records[0].leaked_bytes);
  cr_assert_eq(r.crashes, 0);
}

Test(sweep, default_handler_aborts_a_step) {
  zm_sweep_result r = {.size = sizeof r};
  cr_assert_eq(zm_oom_sweep(own_functions, NULL, &r), 0);
  /* the checked calls (steps 1-7) abort; zm_try_realloc (8) does not */
  cr_assert_eq(r.crashes, 7);
  for (size_t i = 0; i < r.nrecords; i++) {
    cr_assert_eq(r.records[i].step, i + 1);
    cr_assert_eq(r.records[i].signal, SIGABRT);
  }
}

Test(sweep, max_steps_and_bad_arguments) {
  zm_sweep_result r = {.size = sizeof r, .max_steps = 2};
  cr_assert_eq(zm_oom_sweep(sample, NULL, &r), 0);
  cr_assert_eq(r.steps, 2);
  cr_assert_eq(r.complete, 0);
  errno = 0;
  cr_assert_eq(zm_oom_sweep(NULL, NULL, &r), -1);
  cr_assert_eq(errno, EINVAL);
  r.size = 8;
  cr_assert_eq(zm_oom_sweep(sample, NULL, &r), -1);
  cr_assert_eq(zm_oom_sweep(sample, NULL, NULL), -1);
}
