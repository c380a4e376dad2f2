/* An allocator's size query that answers 0, as tcmalloc's does for a block
 * it did not allocate: preloaded after zmem, so that zmem asks it. */
#include <stddef.h>

size_t malloc_usable_size(void *p) {
  (void)p;
  return 0;
}
