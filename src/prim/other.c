/* Process and machine figures where zmem has no reader yet: every figure is
 * 0 with errno ENOTSUP. */
#include "prim.h"

#include <errno.h>

static size_t unsupported(void) {
  errno = ENOTSUP;
  return 0;
}

size_t zm__prim_rss(void) { return unsupported(); }

size_t zm__prim_peak_rss(void) { return unsupported(); }

size_t zm__prim_physical_memory(void) { return unsupported(); }

size_t zm__prim_smaps_field(const char *name, size_t n) {
  (void)name;
  (void)n;
  return unsupported();
}
