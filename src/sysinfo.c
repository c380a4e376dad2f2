/* System figures: the process's memory as the OS and the allocator see it.
 * The reading is done by the platform layer (prim/) and by backend_stats.c;
 * this module only combines them. */
#include "backend_stats.h"
#include "prim/prim.h"
#include "zmem.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

size_t zm_rss(void) { return zm__prim_rss(); }

size_t zm_physical_memory(void) { return zm__prim_physical_memory(); }

static double ratio(size_t rss, size_t used) {
  return used ? (double)rss / (double)used : 0.0;
}

double zm_fragmentation_ratio(void) {
  size_t used = zm_used_memory();
  return used ? ratio(zm_rss(), used) : 0.0;
}

static bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '_';
}

/* "Private_Dirty" or "Private_Dirty:"; nothing else reaches the reader. */
size_t zm_smaps_field(const char *field) {
  size_t n = field ? strlen(field) : 0;
  if (n && field[n - 1] == ':')
    n--;
  for (size_t i = 0; i < n; i++)
    if (!name_char(field[i]))
      n = 0;
  if (n == 0) {
    errno = EINVAL;
    return 0;
  }
  return zm__prim_smaps_field(field, n);
}

int zm_get_sys_stats(zm_sys_stats *st) {
  if (!st || st->size < sizeof(zm_sys_stats)) {
    errno = EINVAL;
    return -1;
  }
  int saved = errno; /* unreadable figures are 0, not an error */
  st->version = ZM_SYS_STATS_VERSION;
  st->rss = zm__prim_rss();
  st->peak_rss = zm__prim_peak_rss();
  st->physical_memory = zm__prim_physical_memory();
  st->used = zm_used_memory();
  st->fragmentation = ratio(st->rss, st->used);
  zm__backend_stats(st);
  errno = saved;
  return 0;
}
