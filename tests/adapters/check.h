/* Checks for the adapter tests: plain programs (one process per test, run
 * through run_test.sh --plain), so they also run in the TSan build, and no
 * test runner shares the process with the library under test. */
#ifndef ZM_ADAPTER_CHECK_H
#define ZM_ADAPTER_CHECK_H

#include <zmem.h>

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                        \
  do {                                                                     \
    if (!(cond)) {                                                         \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__,     \
              #cond);                                                      \
      exit(1);                                                             \
    }                                                                      \
  } while (0)

#define CHECK_EQ(a, b)                                                     \
  do {                                                                     \
    unsigned long long a_ = (unsigned long long)(a);                       \
    unsigned long long b_ = (unsigned long long)(b);                       \
    if (a_ != b_) {                                                        \
      fprintf(stderr, "%s:%d: check failed: %s == %s (%llu != %llu)\n",    \
              __FILE__, __LINE__, #a, #b, a_, b_);                         \
      exit(1);                                                             \
    }                                                                      \
  } while (0)

static inline zm_tag_info tag_info(zm_tag tag) {
  zm_tag_info info = {.size = sizeof info};
  CHECK(zm_tag_stats(tag, &info) == 0);
  return info;
}

/* Tags need the header layout, fixed at the first allocation. */
static inline void tags_on(void) {
  if (zm_tags_enable() != 0) {
    fprintf(stderr, "zm_tags_enable: %s\n", zm_last_error());
    exit(1);
  }
}

#endif
