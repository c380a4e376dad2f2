/* The allocation-site pieces end to end, in one process: known functions
 * allocate known amounts (in a loop, in a thread, in a dlopened library,
 * and a transient block), each allocation's stack is captured
 * (preload/unwind.c) and counted in a stack table (preload/stacktab.c),
 * exactly or through byte sampling (preload/sample.c); then the table is
 * read back as untrusted input, symbolised (cli/symbolize.c) and written
 * as pprof, folded stacks, a flame graph and the top-sites text.
 *
 *   sites_demo [--sample BYTES] [--depth N] [--scale K] OUT_PREFIX
 * writes OUT_PREFIX.pb.gz, .folded (live at the peak), .alloc.folded
 * (total allocated), .svg and .txt. Expected figures, exact mode:
 *   at the peak  loop_site 120000 B (120), thread_site 80000 B (40),
 *                dl_site_alloc 60000 B (12); peak 260000 B
 *   allocated    transient_site 150000 B (1) as well
 *   at exit      loop_site 120000 B (120)
 * --scale K makes K times as many blocks at every site. */
#define _GNU_SOURCE
#include "flame.h"
#include "folded.h"
#include "modules.h"
#include "pprof.h"
#include "profile.h"
#include "sample.h"
#include "stacktab.h"
#include "symbolize.h"
#include "topsites.h"
#include "unwind.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static zm__st_header *tab;
static void *region;
static size_t region_len;
static uint64_t rate;

/* What a block carries so that its release subtracts what it added. */
typedef struct block {
  zm__st_entry *e;
  zm__weight w;
} block;

static __thread zm__st_local local;
static __thread zm__sampler sampler;
static __thread int sampler_ready;

void *record(size_t size);
__attribute__((noinline)) void *record(size_t size) {
  block *b = calloc(1, sizeof *b);
  if (!sampler_ready) {
    zm__sample_init(&sampler, rate, (uint64_t)(uintptr_t)&local);
    sampler_ready = 1;
  }
  if (zm__sample(&sampler, size, &b->w)) {
    uintptr_t pcs[ZM__UNWIND_MAX_DEPTH];
    size_t n = zm__unwind_capture(pcs, ZM__UNWIND_MAX_DEPTH, 0);
    b->e = zm__stacktab_find(tab, pcs, (uint32_t)n);
    zm__stacktab_alloc(tab, &local, b->e, b->w.count, b->w.bytes);
  }
  __asm__ volatile("" ::: "memory");
  return b;
}

static void release(void *p) {
  block *b = p;
  if (b->e)
    zm__stacktab_free(tab, &local, b->e, b->w.count, b->w.bytes);
  free(b);
}

static int scale = 1;
static void **loop_blocks, **thread_blocks, **dl_blocks;

__attribute__((noinline)) void loop_site(void);
void loop_site(void) {
  for (int i = 0; i < 120 * scale; i++)
    loop_blocks[i] = record(1000);
  __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void thread_site(void);
void thread_site(void) {
  for (int i = 0; i < 40 * scale; i++)
    thread_blocks[i] = record(2000);
  __asm__ volatile("" ::: "memory");
}

static void *thread_main(void *arg) {
  thread_site();
  zm__stacktab_thread_exit(tab, &local);
  return arg;
}

__attribute__((noinline)) void transient_site(void);
void transient_site(void) {
  for (int i = 0; i < scale; i++)
    release(record(150000));
  __asm__ volatile("" ::: "memory");
}

static zm__symtab *symbols(void) {
  zm__symtab *s = zm__sym_open();
  char exe[512];
  zm__modules_refresh();
  zm__modules_main_path(exe, sizeof exe);
  for (size_t i = 0; i < zm__modules_count(); i++) {
    const zm__module *m = zm__modules_get(i);
    zm__sym_module sm = {m->path[0] ? m->path : exe, m->build_id, m->build_id_len,
                         m->base, m->lo, m->hi, 0};
    if (!strstr(sm.path, "linux-vdso"))
      zm__sym_add_module(s, &sm);
  }
  return s;
}

static FILE *open_out(const char *prefix, const char *ext, const char *mode) {
  char path[1024];
  snprintf(path, sizeof path, "%s%s", prefix, ext);
  FILE *f = fopen(path, mode);
  if (!f) {
    perror(path);
    exit(2);
  }
  return f;
}

static int write_outputs(const char *prefix) {
  zm__prof p;
  zm__prof_init(&p);
  char err[256];
  if (zm__prof_read_table(&p, region, region_len, err, sizeof err) != 0) {
    fprintf(stderr, "sites_demo: %s\n", err);
    return 1;
  }
  zm__symtab *s = symbols();
  zm__prof_symbolize(&p, s);
  FILE *f = open_out(prefix, ".pb.gz", "wb");
  zm__pprof_opts po = {0, 0, (int64_t)rate, "sites_demo"};
  int rc = zm__pprof_write(&p, f, &po);
  rc |= fclose(f);
  f = open_out(prefix, ".folded", "w");
  rc |= zm__folded_write(&p, ZM__PV_PEAK_BYTES, f);
  rc |= fclose(f);
  f = open_out(prefix, ".alloc.folded", "w");
  rc |= zm__folded_write(&p, ZM__PV_ALLOC_BYTES, f);
  rc |= fclose(f);
  f = open_out(prefix, ".svg", "w");
  zm__flame_opts fo = {"sites_demo: memory live at the peak", "bytes", 1200, NULL};
  rc |= zm__flame_write(&p, ZM__PV_PEAK_BYTES, f, &fo);
  rc |= fclose(f);
  f = open_out(prefix, ".txt", "w");
  fprintf(f, "peak %lld\n", (long long)p.peak);
  zm__topsites_write(&p, f, 10, 4);
  fputs("brief at the peak:\n", f);
  zm__topsites_brief(&p, ZM__PV_PEAK_BYTES, f, 3);
  rc |= fclose(f);
  zm__sym_close(s);
  zm__prof_free(&p);
  return rc ? 1 : 0;
}

int main(int argc, char **argv) {
  int a = 1;
  int depth = ZM__UNWIND_DEFAULT_DEPTH;
  for (; a + 1 < argc && argv[a][0] == '-'; a += 2) {
    if (strcmp(argv[a], "--sample") == 0)
      rate = strtoull(argv[a + 1], NULL, 10);
    else if (strcmp(argv[a], "--depth") == 0)
      depth = atoi(argv[a + 1]);
    else if (strcmp(argv[a], "--scale") == 0)
      scale = atoi(argv[a + 1]);
  }
  if (scale < 1 || scale > 100000)
    scale = 1;
  loop_blocks = malloc(120 * (size_t)scale * sizeof(void *));
  thread_blocks = malloc(40 * (size_t)scale * sizeof(void *));
  dl_blocks = malloc(12 * (size_t)scale * sizeof(void *));
  if (a != argc - 1 || zm__unwind_configure(ZM__UNWIND_AUTO, depth) != 0) {
    fprintf(stderr, "usage: sites_demo [--sample BYTES] [--depth N] [--scale K] OUT_PREFIX\n");
    return 2;
  }
  region_len = zm__stacktab_size(4096, ZM__UNWIND_MAX_DEPTH, 65536);
  region = aligned_alloc(64, region_len);
  tab = zm__stacktab_init(region, region_len, 4096, ZM__UNWIND_MAX_DEPTH, 65536);
  tab->weighted = rate != 0;

  transient_site();
  loop_site();
  pthread_t t;
  pthread_create(&t, NULL, thread_main, NULL);
  pthread_join(t, NULL);
  void *h = dlopen(ZT_DLSITE_LIB, RTLD_NOW);
  if (!h) {
    fprintf(stderr, "sites_demo: %s\n", dlerror());
    return 2;
  }
  void (*dl_site)(void *(*)(size_t), void **, int, size_t) =
      (void (*)(void *(*)(size_t), void **, int, size_t))dlsym(h, "dl_site_alloc");
  dl_site(record, dl_blocks, 12 * scale, 5000);
  /* The peak is here. Then all but the loop's blocks go. */
  for (int i = 0; i < 40 * scale; i++)
    release(thread_blocks[i]);
  for (int i = 0; i < 12 * scale; i++)
    release(dl_blocks[i]);
  zm__stacktab_thread_exit(tab, &local);
  int rc = write_outputs(argv[a]);
  for (int i = 0; i < 120 * scale; i++)
    release(loop_blocks[i]);
  free(loop_blocks);
  free(thread_blocks);
  free(dl_blocks);
  dlclose(h);
  free(region);
  return rc;
}
