/* The cost of one stack capture and one stack-table update, for callgrind:
 *   valgrind --tool=callgrind --callgrind-out-file=cg.out \
 *     build/tests/unwind_cost MODE DEPTH N
 *   callgrind_annotate cg.out | grep -E 'zm__unwind_capture|zm__stacktab'
 * MODE is fp, dwarf or auto; the capture (zm__unwind_capture_site, as the
 * preload takes it) runs N times at DEPTH frames below main (plus the C
 * library's start-up frames), each followed by a zm__stacktab_find_hashed
 * and zm__stacktab_alloc. Divide the inclusive counts by
 * N for the cost per allocation. */
#include "stacktab.h"
#include "unwind.h"

#include <stdio.h>
#include <stdlib.h>

static zm__st_header *tab;
static zm__st_local local;

__attribute__((noinline)) static void capture(int n) {
  uintptr_t pcs[ZM__UNWIND_MAX_DEPTH];
  for (int i = 0; i < n; i++) {
    uint64_t hash;
    size_t got = zm__unwind_capture_site(pcs, ZM__UNWIND_MAX_DEPTH, 0, 0, &hash);
    zm__stacktab_alloc(tab, &local, zm__stacktab_find_hashed(tab, pcs, (uint32_t)got, hash),
                       1, 64);
  }
}

__attribute__((noinline)) static void descend(int depth, int n) {
  if (depth <= 1)
    capture(n);
  else
    descend(depth - 1, n);
  __asm__ volatile("" ::: "memory");
}

int main(int argc, char **argv) {
  if (argc != 4 || zm__unwind_parse_mode(argv[1]) < 0) {
    fprintf(stderr, "usage: unwind_cost fp|dwarf|auto DEPTH N\n");
    return 2;
  }
  int depth = atoi(argv[2]), n = atoi(argv[3]);
  zm__unwind_configure((zm__unwind_mode)zm__unwind_parse_mode(argv[1]), ZM__UNWIND_MAX_DEPTH);
  size_t len = zm__stacktab_size(1024, ZM__UNWIND_MAX_DEPTH, 8192);
  void *region = aligned_alloc(64, len);
  tab = zm__stacktab_init(region, len, 1024, ZM__UNWIND_MAX_DEPTH, 8192);
  descend(depth, 1); /* the first capture learns the root */
  descend(depth, n);
  free(region);
  return 0;
}
