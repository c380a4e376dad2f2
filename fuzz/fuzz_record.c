/* The launcher's reader of the shared record, fed mutated records: the
 * header check, the process records (copied once, checked), the live
 * figures the sampler reads, a stack table and a module list of the sites
 * section. A valid record is built once; each input patches it.
 *
 * Input: one mode byte, then patches of [region, offset (2 bytes), length,
 * bytes]. Mode bit 0: the patches after the first half are applied by the
 * stack-table reader's callback, between the entries it reads (the table
 * changes while it is read, deterministically). Mode bit 1: a second
 * thread flips bytes of the header, the process records and the table
 * while they are read (not reproducible; finds what bit 0 cannot reach). */
#define _GNU_SOURCE
#include "profile.h"
#include "read.h"
#include "render.h"
#include "summary.h"
#include "sites_record.h"
#include "sites_run.h"
#include "stacktab.h"
#include "symbolize.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define PROCS 3           /* records made valid in the image */
#define READ_PROCS 6      /* records read (the others are zero) */
#define TAB_CAP 16
#define TAB_DEPTH 8
#define TAB_FRAMES 256

static char *image;       /* the whole record, as the launcher maps it */
static char *pristine;    /* its first PROCS records and header, valid */
static size_t pristine_len;
static zms_modules *mods, *mods0;
static char *table, *table0;
static size_t table_len;
static zmr_header wrote;

/* ------------------------------------------------------------- the seed */

static void make_proc(uint32_t i) {
  zmr_proc *p = zmr_proc_at(image, i);
  atomic_store(&p->state, i == 1 ? ZMR_STATE_RUNNING : ZMR_STATE_EXITED);
  p->pid = 100 + (int)i;
  p->ppid = i ? 100 : 1;
  p->origin = i ? ZMR_ORIGIN_FORK : ZMR_ORIGIN_FIRST;
  p->parent_index = i ? 0 : UINT32_MAX;
  p->start_ns = 1000, p->end_ns = 5000;
  strcpy(p->command, "prog --arg");
  atomic_store(&p->nslots, 2);
  p->base_blocks = i ? 2 : 0;
  p->base_requested = i ? 200 : 0;
  for (int s = 0; s < 2; s++) {
    zmr_slot *sl = &p->slots[s];
    atomic_store(&sl->calls[ZMR_MALLOC], 5);
    atomic_store(&sl->bytes[ZMR_MALLOC], 500);
    atomic_store(&sl->calls[ZMR_FREE], 3);
    atomic_store(&sl->hist[zmr_bucket(100)], 5);
    atomic_store(&sl->total_requested, 500);
    atomic_store(&sl->total_held, 560);
    atomic_store(&sl->live_requested, 200);
    atomic_store(&sl->live_held, 224);
    atomic_store(&sl->live_blocks, 2);
  }
  atomic_store(&p->peak_requested, 400 + p->base_requested);
  atomic_store(&p->peak_held, 448);
  p->ext[ZMS_EXT_SLOT] = 1;
}

static void make_sites(void) {
  mods = calloc(1, sizeof *mods);
  mods0 = calloc(1, sizeof *mods0);
  const char *paths[] = {"/bin/true", "/nonexistent/lib.so"};
  for (int k = 0; k < 2; k++) {
    zms_module *m = &mods0->m[k];
    m->base = 0x400000u * (uint64_t)(k + 1);
    m->lo = m->base;
    m->hi = m->base + 0x100000;
    strcpy(m->path, paths[k]);
  }
  atomic_store(&mods0->count, 2);
  table_len = zm__stacktab_size(TAB_CAP, TAB_DEPTH, TAB_FRAMES);
  table = aligned_alloc(64, (table_len + 63) / 64 * 64);
  table0 = aligned_alloc(64, (table_len + 63) / 64 * 64);
  zm__st_header *t = zm__stacktab_init(table0, table_len, TAB_CAP, TAB_DEPTH, TAB_FRAMES);
  zm__st_local l = {0};
  for (uintptr_t k = 1; k <= 5; k++) {
    uintptr_t st[4] = {0x401000 + k, 0x402000, 0x800100, 0x403000};
    zm__stacktab_alloc(t, &l, zm__stacktab_find(t, st, (uint32_t)(k % 4) + 1), 1, 64 * k);
  }
}

static void make_image(void) {
  image = mmap(NULL, ZMR_PROCS_END, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
               -1, 0);
  if (image == MAP_FAILED)
    abort();
  zmr_header *h = &wrote;
  zmr_header_init(h, 0x1234);
  atomic_store(&h->nprocs, PROCS);
  memcpy(image, h, sizeof *h);
  for (uint32_t i = 0; i < PROCS; i++)
    make_proc(i);
  pristine_len = ZMR_PROCS_OFFSET + (size_t)PROCS * ZMR_PROC_BYTES;
  pristine = malloc(pristine_len);
  memcpy(pristine, image, pristine_len);
  make_sites();
}

/* -------------------------------------------------------------- patches */

typedef struct patch {
  char *at;
  size_t len;
  const uint8_t *bytes;
} patch;

/* Where region r's patch of n bytes at off lands (NULL: none). */
static char *region(unsigned r, size_t off, size_t *n) {
  char *base;
  size_t len;
  switch (r % 6) {
  case 0: base = image, len = sizeof(zmr_header); break;
  case 1: case 2: /* a process record's fields before the slots, or its slots */
    base = (char *)zmr_proc_at(image, (uint32_t)(off >> 12) % PROCS);
    len = r % 6 == 1 ? offsetof(zmr_proc, slots) : 2 * sizeof(zmr_slot);
    if (r % 6 == 2)
      base += offsetof(zmr_proc, slots);
    break;
  case 3: base = (char *)mods, len = offsetof(zms_modules, m) + 3 * sizeof(zms_module); break;
  case 4: base = table, len = sizeof(zm__st_header) + TAB_CAP * sizeof(zm__st_entry); break;
  default: base = table, len = table_len; break;
  }
  off %= len;
  if (*n > len - off)
    *n = len - off;
  return base + off;
}

static size_t parse(const uint8_t *d, size_t n, patch *out, size_t cap) {
  size_t k = 0;
  while (n >= 4 && k < cap) {
    size_t len = d[3] < n - 4 ? d[3] : n - 4, take = 4 + len;
    out[k].at = region(d[0], (size_t)d[1] | (size_t)d[2] << 8, &len);
    out[k].len = len;
    out[k].bytes = d + 4;
    k++;
    d += take;
    n -= take;
  }
  return k;
}

static void apply(const patch *p) {
  memcpy(p->at, p->bytes, p->len);
}

/* ---------------------------------------------------- reading with races */

typedef struct late {
  const patch *p;
  size_t next, n;
} late;

static int during_read(const zm__st_site *s, void *arg) {
  late *l = arg;
  (void)s;
  if (l->next < l->n)
    apply(&l->p[l->next++]);
  return 0;
}

static _Atomic int flipping;
static pthread_t flipper;

static void *flip(void *arg) {
  (void)arg;
  uint64_t x = 88172645463325252u;
  for (;;) {
    while (!atomic_load_explicit(&flipping, memory_order_acquire))
      sched_yield();
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    char *at = x & 1 ? image + (x >> 8) % pristine_len : table + (x >> 8) % table_len;
    __atomic_fetch_xor((unsigned char *)at, (unsigned char)(x >> 56 | 1), __ATOMIC_RELAXED);
  }
  return NULL;
}

/* ------------------------------------------------------------- the run */

/* Reads the record as the launcher does after the run, then sums and
 * renders it (text and JSON, to /dev/null). */
static void read_record(void) {
  static zmc_proc procs[READ_PROCS];
  static zmc_sample samples[READ_PROCS];
  static char *argv[] = {"prog", "--arg"};
  zmc_run run = {.argv = argv, .argc = 2, .procs = procs, .samples = samples};
  if (!zmc_check_header(image, &wrote)) {
    uint32_t lost, n = zmc_claimed(image, &lost);
    run.reattached = zmc_reattached(image);
    for (uint32_t i = 0; i < n && i < READ_PROCS; i++) {
      int pid;
      zmc_sample *sm = &samples[run.nsamples];
      if (zmc_live(image, i, &sm->requested, &sm->held, &pid))
        sm->proc = i, run.nsamples++;
      (void)zmc_read_proc(image, i, 0, &procs[run.nprocs++]);
    }
  } else {
    run.record_lost = "destroyed";
  }
  zmc_summarize(&run);
  FILE *f = fopen("/dev/null", "w");
  if (f) {
    zmc_write_text(f, &run);
    zmc_write_json(f, &run);
    fclose(f);
  }
}

static void read_sites(late *l) {
  zm__prof prof;
  char err[256];
  zm__prof_init(&prof);
  zm__st_summary sum;
  (void)zm__stacktab_read(table, table_len, &sum, during_read, l, err, sizeof err);
  if (zm__prof_read_table(&prof, table, table_len, err, sizeof err) == 0) {
    zm__symtab *sym = zmc_sites_symbols(mods);
    zm__prof_symbolize(&prof, sym);
    zm__sym_close(sym);
  }
  zm__prof_free(&prof);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int ready;
  if (!ready) {
    make_image();
    pthread_create(&flipper, NULL, flip, NULL);
    ready = 1;
  }
  if (size < 1)
    return 0;
  memcpy(image, pristine, pristine_len);
  memcpy(mods, mods0, sizeof *mods);
  memcpy(table, table0, table_len);
  patch p[64];
  size_t n = parse(data + 1, size - 1, p, 64);
  size_t now = data[0] & 1 ? n / 2 : n;
  for (size_t k = 0; k < now; k++)
    apply(&p[k]);
  late l = {p, now, n};
  if (data[0] & 2)
    atomic_store(&flipping, 1);
  read_record();
  read_sites(&l);
  atomic_store(&flipping, 0);
  return 0;
}
