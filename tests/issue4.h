/* Helpers shared by the options, report and system-figure tests. */
#ifndef ZM_TESTS_ISSUE4_H
#define ZM_TESTS_ISSUE4_H

#include <criterion/criterion.h>
#include <zmem.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define ZM4_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define ZM4_SANITIZED 1
#endif
#ifndef ZM4_SANITIZED
#define ZM4_SANITIZED 0
#endif

/* scripts/test.sh runs the suite once with a user backend that has no size
 * query (ZMEM_TEST_BACKEND=user-nosize): install it before anything else. */
static inline void zm4_setup(void) {
  const char *b = getenv("ZMEM_TEST_BACKEND");
  if (b && strcmp(b, "user-nosize") == 0)
    cr_assert_eq(zm_set_mem_functions(malloc, realloc, free), 0);
}

/* True when the backend in force can report block sizes (lean possible). */
static inline bool zm4_backend_has_size(void) {
  return zm_get_backend()->usable_size != NULL;
}

/* True when malloc is not the C library's own (sanitizers, valgrind): the C
 * library's statistics then describe an unused heap. */
static inline bool zm4_libc_malloc_replaced(void) {
  return ZM4_SANITIZED || RUNNING_ON_VALGRIND;
}

#endif
