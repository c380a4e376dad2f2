/* A stand-in for <criterion/criterion.h> in ThreadSanitizer builds.
 *
 * Criterion cannot start under ThreadSanitizer: BoxFort, which it uses to run
 * each test in its own process, maps its arena at a random address in a range
 * that ThreadSanitizer reserves, and aborts ("Could not initialize inheritable
 * arena", Criterion issue #274, open since 2018). tests/CMakeLists.txt puts
 * this directory first on the include path in such builds. It provides the
 * subset of Criterion's API the suite uses, with the same meaning (with
 * parameterized tests in criterion/parameterized.h), and
 * criterion_shim.c runs every test in a forked child of a single-threaded
 * parent, so each test still has a process of its own. */
#ifndef ZMEM_CRITERION_SHIM_H
#define ZMEM_CRITERION_SHIM_H

#include <stdbool.h>
#include <string.h>

/* Criterion's parameter array, as cr_make_param_array builds it. */
struct criterion_test_params {
  size_t size;   /* of one parameter */
  void *params;  /* the first one */
  size_t length; /* how many */
};

/* A test: fn, or pfn once per element of the array that params returns. */
struct shim_test {
  const char *suite, *name;
  void (*fn)(void);
  struct criterion_test_params (*params)(void);
  void (*pfn)(void *param);
};

/* TestSuite's options; the ones the suite uses. */
struct shim_suite {
  const char *name;
  int unused; /* lets the option list be empty after it */
  void (*init)(void);
  void (*fini)(void);
  double timeout;
};

/* No format attribute: like Criterion's, the format may be "" alone. */
void shim_register(const struct shim_test *t);
void shim_register_suite(const struct shim_suite *s);
__attribute__((noreturn)) void shim_fail(const char *file, int line,
                                         const char *expr, const char *fmt,
                                         ...);
__attribute__((noreturn)) void shim_skip(const char *fmt, ...);

/* Extra arguments (Criterion's test options) are accepted and ignored. */
#define Test(suite, name, ...)                                                 \
  static void suite##_##name##_impl(void);                                     \
  __attribute__((constructor)) static void suite##_##name##_reg(void) {        \
    static const struct shim_test t = {#suite, #name, suite##_##name##_impl,   \
                                       NULL, NULL};                            \
    shim_register(&t);                                                         \
  }                                                                            \
  static void suite##_##name##_impl(void)

/* The options are designated initializers, as in Criterion:
 * TestSuite(report, .init = setup, .timeout = 60). */
#define TestSuite(suite, ...)                                                  \
  __attribute__((constructor)) static void suite##_suite_reg(void) {           \
    static const struct shim_suite s = {#suite, 0, __VA_ARGS__};               \
    shim_register_suite(&s);                                                   \
  }

/* As in Criterion, the message arguments are optional: "" pastes onto a
 * format string literal, or stands alone. */
#define cr_assert(cond, ...)                                                   \
  ((cond) ? (void)0 : shim_fail(__FILE__, __LINE__, #cond, "" __VA_ARGS__))
#define cr_assert_fail(...)                                                    \
  shim_fail(__FILE__, __LINE__, "cr_assert_fail", "" __VA_ARGS__)
#define cr_skip_test(...) shim_skip("" __VA_ARGS__)

#define shim_cmp(a, op, b, ...)                                                \
  (((a)op(b)) ? (void)0                                                        \
              : shim_fail(__FILE__, __LINE__, #a " " #op " " #b,               \
                          "" __VA_ARGS__))
#define cr_assert_eq(a, b, ...) shim_cmp(a, ==, b, __VA_ARGS__)
#define cr_assert_neq(a, b, ...) shim_cmp(a, !=, b, __VA_ARGS__)
#define cr_assert_lt(a, b, ...) shim_cmp(a, <, b, __VA_ARGS__)
#define cr_assert_leq(a, b, ...) shim_cmp(a, <=, b, __VA_ARGS__)
#define cr_assert_gt(a, b, ...) shim_cmp(a, >, b, __VA_ARGS__)
#define cr_assert_geq(a, b, ...) shim_cmp(a, >=, b, __VA_ARGS__)
#define cr_assert_null(p, ...) shim_cmp((const void *)(p), ==, NULL, __VA_ARGS__)
#define cr_assert_not_null(p, ...)                                             \
  shim_cmp((const void *)(p), !=, NULL, __VA_ARGS__)
#define cr_assert_float_eq(a, b, eps, ...)                                     \
  cr_assert((a) - (b) <= (eps) && (b) - (a) <= (eps), __VA_ARGS__)
#define cr_assert_str_eq(a, b, ...)                                            \
  cr_assert(strcmp((a), (b)) == 0, __VA_ARGS__)
#define cr_assert_str_empty(s, ...) cr_assert(*(s) == '\0', __VA_ARGS__)
#define cr_assert_str_not_empty(s, ...) cr_assert(*(s) != '\0', __VA_ARGS__)

#endif
