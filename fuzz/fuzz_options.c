/* libFuzzer target: the options parser alone (zm_configure). For any
 * string: 0 with an empty zm_last_error, or -1 with errno EINVAL, EBUSY or
 * ENOTSUP and a message; and a refused string changes nothing (limits,
 * quarantine). Nothing is allocated through zmem, so the layout stays open
 * and every key can apply. */
#include <zmem.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "fuzz_options: invariant failed: %s\n", #cond);          \
      abort();                                                                 \
    }                                                                          \
  } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
  char s[512];
  if (n >= sizeof s)
    n = sizeof s - 1;
  memcpy(s, data, n);
  s[n] = '\0';
  size_t limit = zm_get_limit(), soft = zm_get_soft_limit(),
         q = zm_get_quarantine();
  errno = 0;
  int rc = zm_configure(s);
  if (rc == 0) {
    CHECK(zm_last_error()[0] == '\0');
  } else {
    CHECK(rc == -1);
    CHECK(errno == EINVAL || errno == EBUSY || errno == ENOTSUP);
    CHECK(zm_last_error()[0] != '\0');
    CHECK(zm_get_limit() == limit && zm_get_soft_limit() == soft &&
          zm_get_quarantine() == q);
  }
  zm_set_limit(0);
  zm_set_soft_limit(0, NULL, NULL);
  zm_set_leak_check(0);
  zm_fault_clear();
  zm_set_quarantine(ZM_DEBUG_QUARANTINE_DEFAULT);
  return 0;
}
