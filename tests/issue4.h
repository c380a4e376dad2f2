/* Helpers shared by the options, report and system-figure tests. */
#ifndef ZM_TESTS_ISSUE4_H
#define ZM_TESTS_ISSUE4_H

#include "harness.h"

#include <criterion/criterion.h>
#include <zmem.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* True when the backend in force can report block sizes (lean possible). */
static inline bool zm4_backend_has_size(void) {
  return zm_get_backend()->usable_size != NULL;
}

/* True when malloc is not the C library's own (sanitizers, valgrind): the C
 * library's statistics then describe an unused heap. */
static inline bool zm4_libc_malloc_replaced(void) { return harness_slow(); }

#endif
