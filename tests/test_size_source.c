/* The built-in allocator's size source (src/builtin.h), checked against the
 * allocator's own usable-size query for every entry point, on whichever
 * backend this build has. With jemalloc it runs twice: through the
 * per-thread byte counters, and through the documented path (nallocx,
 * sallocx) that zmem falls back to where the counters are unusable. With
 * mimalloc and tcmalloc it runs with the size table and without it (the
 * usable-size query), and checks that a table that disagrees with the
 * allocator's blocks is refused at build. On every backend, zm_* calls
 * (malloc, calloc, realloc, sized and plain free) bring used memory back
 * exactly to where it started.
 *
 * A plain program linked with the static library, because it calls the
 * internal size source directly. Exits 0 when every check passed. */
#include "builtin.h"

#include <zmem.h>

#include <stdio.h>
#include <string.h>

static int failures;

#define CHECK(cond, ...)                                                       \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "test_size_source: %s:%d: ", __FILE__, __LINE__);      \
      fprintf(stderr, __VA_ARGS__);                                            \
      fprintf(stderr, "\n");                                                   \
      failures++;                                                              \
    }                                                                          \
  } while (0)

/* Sizes across small, medium and large classes, and their edges. */
static const size_t sizes[] = {1,    7,    8,     15,    16,    17,     24,
                               48,   64,   100,   128,   129,   1000,   1024,
                               1025, 4000, 4096,  5000,  16384, 16385, 65536,
                               100000, 1 << 20, (1 << 20) + 1, 3 << 20};
#define NSIZES (sizeof sizes / sizeof sizes[0])

static void check_malloc_free(const char *path, bool zero) {
  for (size_t i = 0; i < NSIZES; i++) {
    size_t bytes = 0;
    unsigned char *p = bi_malloc_counted(sizes[i], zero, &bytes);
    CHECK(p, "%s: allocation of %zu failed", path, sizes[i]);
    if (!p)
      continue;
    CHECK(bytes == bi_usable(p), "%s: %s(%zu) counted %zu, usable %zu", path,
          zero ? "calloc" : "malloc", sizes[i], bytes, bi_usable(p));
    CHECK(bytes >= sizes[i], "%s: %zu counted for %zu", path, bytes, sizes[i]);
    if (zero)
      for (size_t k = 0; k < sizes[i]; k++)
        if (p[k]) {
          CHECK(false, "%s: calloc(%zu) byte %zu not zero", path, sizes[i], k);
          break;
        }
    size_t u = bi_usable(p);
    size_t freed = bi_free_counted(p);
    CHECK(freed == u, "%s: free of %zu counted %zu, usable %zu", path,
          sizes[i], freed, u);
  }
}

static void check_sized_free(const char *path) {
  for (size_t i = 0; i < NSIZES; i++) {
    size_t bytes = 0;
    void *p = bi_malloc_counted(sizes[i], false, &bytes);
    if (!p)
      continue;
    size_t freed = bi_free_sized_counted(p, sizes[i]);
    CHECK(freed == bytes, "%s: sized free of %zu counted %zu, allocated %zu",
          path, sizes[i], freed, bytes);
  }
}

/* Every pair of sizes: grow and shrink, in place or moved; the counted
 * change is the change of the usable size. */
static void check_realloc(const char *path) {
  for (size_t i = 0; i < NSIZES; i++)
    for (size_t j = 0; j < NSIZES; j++) {
      size_t bytes = 0;
      char *p = bi_malloc_counted(sizes[i], false, &bytes);
      if (!p)
        continue;
      memset(p, 'z', sizes[i]);
      int64_t delta = 0;
      char *q = bi_realloc_counted(p, sizes[j], &delta);
      CHECK(q, "%s: realloc %zu -> %zu failed", path, sizes[i], sizes[j]);
      if (!q) {
        bi_free(p);
        continue;
      }
      size_t keep = sizes[i] < sizes[j] ? sizes[i] : sizes[j];
      CHECK(q[keep - 1] == 'z', "%s: realloc lost the contents", path);
      CHECK((int64_t)bytes + delta == (int64_t)bi_usable(q),
            "%s: realloc %zu -> %zu: %zu %+lld, usable %zu", path, sizes[i],
            sizes[j], bytes, (long long)delta, bi_usable(q));
      size_t u = bi_usable(q);
      /* every other pair: the plain free, or the sized free with the size
       * the block was last requested with */
      if ((i + j) % 2)
        CHECK(bi_free_counted(q) == u, "%s: free after realloc", path);
      else
        CHECK(bi_free_sized_counted(q, sizes[j]) == u,
              "%s: sized free after realloc %zu -> %zu: usable %zu", path,
              sizes[i], sizes[j], u);
    }
}

/* Realloc by one byte at a time up and down through the small classes,
 * where in-place resizes within and across classes happen, each block
 * ending in a sized free. */
static void check_realloc_steps(const char *path) {
  for (size_t start = 1; start <= 600; start += 37) {
    size_t bytes = 0;
    void *p = bi_malloc_counted(start, false, &bytes);
    if (!p)
      continue;
    size_t n = start;
    for (size_t k = 0; k < 300; k++) {
      size_t to = k < 150 ? n + 3 : (n > 7 ? n - 7 : 1);
      int64_t delta = 0;
      void *q = bi_realloc_counted(p, to, &delta);
      CHECK(q, "%s: realloc %zu -> %zu failed", path, n, to);
      if (!q)
        break;
      bytes = (size_t)((int64_t)bytes + delta);
      CHECK(bytes == bi_usable(q), "%s: realloc %zu -> %zu counted %zu, "
            "usable %zu", path, n, to, bytes, bi_usable(q));
      p = q;
      n = to;
    }
    size_t u = bi_usable(p);
    CHECK(bi_free_sized_counted(p, n) == u && u == bytes,
          "%s: sized free of a block resized to %zu: usable %zu, counted %zu",
          path, n, u, bytes);
  }
}

/* Through the public API: used memory at quiescence returns exactly to its
 * starting value after allocations, reallocs and both frees. */
static void check_quiescent(const char *path) {
  enum { N = 64 };
  void *v[N];
  size_t req[N];
  size_t used0 = zm_used_memory();
  for (int round = 0; round < 20; round++) {
    for (int i = 0; i < N; i++) {
      req[i] = sizes[(size_t)(i + round) % NSIZES];
      v[i] = i % 3 ? zm_malloc(req[i]) : zm_calloc(1, req[i]);
    }
    for (int i = 0; i < N; i++) {
      size_t to = req[i] * (size_t)(i % 4 + 1) / 3 + 1;
      void *q = zm_realloc(v[i], to);
      CHECK(q, "%s: zm_realloc %zu -> %zu failed", path, req[i], to);
      if (q) {
        v[i] = q;
        req[i] = to;
      }
    }
    for (int i = 0; i < N; i++) {
      if (i % 2)
        zm_free_sized(v[i], req[i]);
      else
        zm_free(v[i]);
    }
  }
  CHECK(zm_used_memory() == used0, "%s: used %zu at quiescence, was %zu", path,
        zm_used_memory(), used0);
}

static void check_all(const char *path) {
  check_malloc_free(path, false);
  check_malloc_free(path, true);
  check_sized_free(path);
  check_realloc(path);
  check_realloc_steps(path);
  check_quiescent(path);
}

#ifdef ZM__BI_SIZE_TABLE
/* A class query that disagrees with the allocator's blocks: one class too
 * large from 512 bytes up. */
static size_t wrong_class(size_t n) {
  size_t c = bi_class_size(n);
  return n >= 512 ? c + 16 : c;
}

/* Every class query must map each request of a class to one entry. */
static size_t ragged_class(size_t n) { return n < 16 ? 16 : n; }
#endif

int main(void) {
#if defined(ZMEM_BACKEND_JEMALLOC)
  /* The load-time check must have accepted the counters of jemalloc 5. */
  CHECK(zm__je_counters_ok, "jemalloc's thread counters were not accepted");
  check_all("warm-up"); /* the thread's first calls arm its counters */
  CHECK(zm__je_tc.alloc != NULL, "the thread's counters were not armed");
  check_all("counters");
  zm__je_counters_ok = false;
  zm__je_tc.alloc = zm__je_tc.dealloc = NULL;
  check_all("documented");
  CHECK(zm__je_tc.alloc == NULL, "counters armed while refused");
#elif defined(ZM__BI_SIZE_TABLE)
  /* The load-time build must have accepted the table of mimalloc 2.0 and
   * gperftools 2.10. */
  CHECK(zm__bi_table_lim == ZM__BI_TABLE_MAX + 1, "the size table was refused");
  check_all("table");
  zm__bi_table_lim = 0;
  check_all("query");
  CHECK(!zm__bi_table_build(wrong_class), "a wrong table was accepted");
  CHECK(zm__bi_table_lim == 0, "the size table is in use after a refusal");
  CHECK(!zm__bi_table_build(ragged_class), "a ragged table was accepted");
  CHECK(zm__bi_table_lim == 0, "the size table is in use after a refusal");
  check_all("query after refusal");
  CHECK(zm__bi_table_build(bi_class_size), "the size table was not rebuilt");
  check_all("table rebuilt");
#else
  check_all(ZM__BUILTIN_NAME);
#endif
  if (failures)
    fprintf(stderr, "test_size_source: %d checks failed\n", failures);
  else
    printf("test_size_source: all checks passed (%s)\n", ZM__BUILTIN_NAME);
  return failures ? 1 : 0;
}
