/* System figures: RSS, physical memory, smaps fields, fragmentation and the
 * backend's own figures. ZMEM_TEST_BUILTIN_NAME is the CMake ZMEM_BACKEND value. */
#include "harness.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

TestSuite(sysinfo, .timeout = 60);

#define MiB ((size_t)1 << 20)
#define BIG (64 * MiB)

/* A block of BIG bytes, every page written. */
static char *touched_block(void) {
  char *p = zm_malloc(BIG);
  cr_assert_not_null(p);
  for (size_t i = 0; i < BIG; i += 1024)
    p[i] = (char)i;
  return p;
}

Test(sysinfo, rss_grows_when_memory_is_touched) {
  size_t before = zm_rss();
  cr_assert_gt(before, 0);
  char *p = touched_block();
  size_t after = zm_rss();
  cr_assert_geq(after, before + BIG / 2, "rss %zu -> %zu", before, after);
  zm_free(p);
}

Test(sysinfo, physical_memory) {
  size_t phys = zm_physical_memory();
  cr_assert_gt(phys, 0);
  cr_assert_gt(phys, zm_rss());
}

Test(sysinfo, smaps_fields) {
  char *p = touched_block();
  size_t dirty = zm_smaps_field("Private_Dirty:");
  cr_assert_geq(dirty, BIG / 2);
  size_t dirty2 = zm_smaps_field("Private_Dirty");
  cr_assert_geq(dirty2, BIG / 2); /* with or without the colon */
  size_t rss = zm_smaps_field("Rss");
  size_t size = zm_smaps_field("Size"); /* not in smaps_rollup: full scan */
  cr_assert_gt(rss, 0);
  cr_assert_geq(size, rss);
  cr_assert_geq(size, BIG);
  errno = 0;
  cr_assert_eq(zm_smaps_field("Swap"), zm_smaps_field("Swap:"));
  zm_free(p);
}

Test(sysinfo, smaps_bad_fields) {
  static const char *bad[] = {"Bogus", "Bogus:", "", ":", "Private Dirty",
                              "VmFlags", "Rss::", "rss", "Private_Dirty\n"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    errno = 0;
    cr_assert_eq(zm_smaps_field(bad[i]), 0, "'%s'", bad[i]);
    cr_assert_eq(errno, EINVAL, "'%s': errno %d", bad[i], errno);
  }
  errno = 0;
  cr_assert_eq(zm_smaps_field(NULL), 0);
  cr_assert_eq(errno, EINVAL);
}

Test(sysinfo, fragmentation_ratio) {
  cr_assert_eq(zm_used_memory(), 0);
  cr_assert_eq(zm_fragmentation_ratio(), 0.0, "nothing used");
  char *p = touched_block();
  double r = zm_fragmentation_ratio();
  cr_assert_gt(r, 0.0);
  double expect = (double)zm_rss() / (double)zm_used_memory();
  cr_assert_float_eq(r, expect, 0.05 * expect);
  zm_free(p);
}

Test(sysinfo, sys_stats_arguments) {
  errno = 0;
  cr_assert_eq(zm_get_sys_stats(NULL), -1);
  cr_assert_eq(errno, EINVAL);
  zm_sys_stats st = {.size = sizeof st - 1};
  errno = 0;
  cr_assert_eq(zm_get_sys_stats(&st), -1);
  cr_assert_eq(errno, EINVAL);
}

Test(sysinfo, sys_stats_fields) {
  char *p = touched_block();
  zm_sys_stats st = {.size = sizeof st};
  errno = EDOM;
  cr_assert_eq(zm_get_sys_stats(&st), 0);
  cr_assert_eq(errno, EDOM, "errno changed");
  cr_assert_eq(st.version, ZM_SYS_STATS_VERSION);
  cr_assert_geq(st.rss, BIG / 2);
  cr_assert_geq(st.peak_rss, st.rss);
  cr_assert_gt(st.physical_memory, st.rss);
  cr_assert_eq(st.used, zm_used_memory());
  cr_assert_float_eq(st.fragmentation, (double)st.rss / (double)st.used,
                     1e-9);
  cr_assert_str_eq(st.backend, ZMEM_TEST_BUILTIN_NAME);
  zm_free(p);
}

/* What each allocator reports (docs/report-schema.md): with a BIG block
 * live, the figures it has are at least that large. */
Test(sysinfo, backend_figures) {
  char *p = touched_block();
  zm_sys_stats st = {.size = sizeof st};
  cr_assert_eq(zm_get_sys_stats(&st), 0);
  const char *be = ZMEM_TEST_BUILTIN_NAME;
  if (strcmp(be, "jemalloc") == 0 || strcmp(be, "tcmalloc") == 0) {
    cr_assert_geq(st.backend_allocated, BIG);
    cr_assert_geq(st.backend_active, st.backend_allocated);
    cr_assert_geq(st.backend_resident, st.backend_active);
    cr_assert_geq(st.backend_mapped, st.backend_active);
  } else if (strcmp(be, "mimalloc") == 0) {
    cr_assert_geq(st.backend_mapped, BIG);
    cr_assert_gt(st.backend_resident, 0);
  } else if (!harness_libc_malloc_replaced()) { /* glibc */
    cr_assert_geq(st.backend_allocated, BIG);
    cr_assert_geq(st.backend_mapped, st.backend_allocated);
  }
  zm_free(p);
}

/* A directory path of about 4040 bytes under a fresh temporary directory:
 * the smaps header line of a file mapped from there is longer than the
 * reader's 4 KiB buffer. */
static void long_path(char *path, size_t cap) {
  snprintf(path, cap, "%s/zmem-sysinfo-XXXXXX", "/tmp");
  cr_assert_not_null(mkdtemp(path));
  char part[201];
  memset(part, 'd', 200);
  part[200] = '\0';
  while (strlen(path) + 202 < 4060) {
    strcat(path, "/");
    strcat(path, part);
    cr_assert_eq(mkdir(path, 0700), 0, "%s", strerror(errno));
  }
  strcat(path, "/f");
}

static void remove_long_path(char *path) {
  cr_assert_eq(unlink(path), 0);
  for (char *slash; (slash = strrchr(path, '/')) && strstr(path, "/zmem-sysinfo-");) {
    *slash = '\0';
    if (rmdir(path) != 0 || !strstr(path, "/zmem-sysinfo-"))
      break;
  }
}

/* The test is only worth its name if smaps really has such a line. */
static size_t longest_smaps_line(void) {
  FILE *f = fopen("/proc/self/smaps", "r");
  cr_assert_not_null(f);
  size_t longest = 0, cur = 0;
  for (int c; (c = fgetc(f)) != EOF;) {
    cur = c == '\n' ? 0 : cur + 1;
    longest = cur > longest ? cur : longest;
  }
  fclose(f);
  return longest;
}

Test(sysinfo, smaps_lines_longer_than_the_buffer) {
  char path[4096];
  long_path(path, sizeof path);
  int fd = open(path, O_RDWR | O_CREAT, 0600);
  cr_assert_geq(fd, 0, "%s", strerror(errno));
  cr_assert_eq(ftruncate(fd, (off_t)MiB), 0);
  size_t before = zm_smaps_field("Size");
  char *m = mmap(NULL, MiB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  cr_assert_neq(m, MAP_FAILED);
  memset(m, 1, MiB);
  size_t during = zm_smaps_field("Size");
  cr_assert_gt(longest_smaps_line(), 4096);
  size_t shared = zm_smaps_field("Shared_Dirty") + zm_smaps_field("Private_Dirty");
  cr_assert_geq(during, before + MiB, "%zu -> %zu", before, during);
  cr_assert_geq(shared, MiB);
  munmap(m, MiB);
  close(fd);
  remove_long_path(path);
}
