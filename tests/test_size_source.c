/* The built-in allocator's size source (src/builtin.h), checked against the
 * allocator's own usable-size query for every entry point, on whichever
 * backend this build has. With jemalloc it runs twice: through the
 * per-thread byte counters, and through the documented path (nallocx,
 * sallocx) that zmem falls back to where the counters are unusable.
 *
 * A plain program linked with the static library, because it calls the
 * internal size source directly. Exits 0 when every check passed. */
#include "builtin.h"

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
      CHECK(bi_free_counted(q) == u, "%s: free after realloc", path);
    }
}

static void check_all(const char *path) {
  check_malloc_free(path, false);
  check_malloc_free(path, true);
  check_sized_free(path);
  check_realloc(path);
}

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
#else
  check_all(ZM__BUILTIN_NAME);
#endif
  if (failures)
    fprintf(stderr, "test_size_source: %d checks failed\n", failures);
  else
    printf("test_size_source: all checks passed (%s)\n", ZM__BUILTIN_NAME);
  return failures ? 1 : 0;
}
