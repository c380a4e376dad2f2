/* The shim's parameterized tests, with Criterion's meaning:
 *
 *   ParameterizedTestParameters(suite, name) {
 *     static my_case cases[] = {...};
 *     return cr_make_param_array(my_case, cases, n);
 *   }
 *   ParameterizedTest(my_case *c, suite, name) { ... }
 *
 * The runner calls the parameter function in the parent and runs the test
 * once per element, each in a forked child of its own (see
 * criterion_shim.c). As in Criterion, extra test options are accepted and
 * ignored, and so is cr_make_param_array's optional cleanup function: the
 * arrays the suite passes are static. */
#ifndef ZMEM_CRITERION_SHIM_PARAMETERIZED_H
#define ZMEM_CRITERION_SHIM_PARAMETERIZED_H

#include <criterion/criterion.h>

#define cr_make_param_array(type, array, len, ...)                             \
  ((struct criterion_test_params){sizeof(type), (void *)(array), (len)})

#define ParameterizedTestParameters(suite, name)                               \
  static struct criterion_test_params suite##_##name##_params(void)

/* param is a declaration, "my_case *c", as in Criterion. */
#define ParameterizedTest(param, suite, name, ...)                             \
  static struct criterion_test_params suite##_##name##_params(void);           \
  static void suite##_##name##_impl(param);                                    \
  static void suite##_##name##_call(void *p) { suite##_##name##_impl(p); }     \
  __attribute__((constructor)) static void suite##_##name##_reg(void) {        \
    static const struct shim_test t = {#suite, #name, NULL,                    \
                                       suite##_##name##_params,                \
                                       suite##_##name##_call};                 \
    shim_register(&t);                                                         \
  }                                                                            \
  static void suite##_##name##_impl(param)

#endif
