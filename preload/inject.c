/* Fault injection in the preload: see inject.h. */
#define _GNU_SOURCE
#include "inject.h"

#include "fault.h"
#include "proc.h"
#include "record.h"
#include "sites.h"
#include "stackhash.h"

#include <zmem.h>

#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

bool zmp_inject_on;
/* The core's hit count when this process last looked: a fork child
 * inherits it with the core's counters, so it records only its own. */
static _Atomic uint64_t seen_hits;

/* ---------------------------------------------------------- site census */

/* The sites seen, open addressing by hash, in pages mapped at start-up
 * (never malloc: it runs inside requests). Only `zmem sweep`'s census run
 * has it, so a lock is no cost to a program's ordinary runs. */
#define CENSUS_SLOTS (1u << 16)
static zmr_census_entry *census;
static const char *census_path;
static size_t census_frames;
static atomic_flag census_lock = ATOMIC_FLAG_INIT;

static zmr_census_entry *census_slot(uint64_t hash) {
  for (uint32_t i = 0; i < CENSUS_SLOTS; i++) {
    zmr_census_entry *e = &census[(hash + i) & (CENSUS_SLOTS - 1)];
    if (e->hash == hash || !e->hash)
      return e;
  }
  return NULL; /* full: the site is not counted */
}

static void census_note(zmr_census_entry *e, uint64_t k) {
  e->last = k;
  uint64_t n = ++e->calls;
  if (n == 1)
    e->first = k;
  /* Calls 2, 4, 8, ...: a power of two, below 2^(SAMPLES+1). */
  if ((n & (n - 1)) == 0 && n >= 2 && n < (UINT64_C(2) << ZMR_CENSUS_SAMPLES))
    e->sample[__builtin_ctzll(n) - 1] = k;
}

/* The core numbered request k: its site's entry notes it. */
static void census_observe(uint64_t k) {
  uintptr_t pcs[ZMR_CENSUS_MAX_FRAMES];
  size_t n = zmp_sites_stack(pcs, census_frames);
  uint64_t hash = zm__stack_hash(pcs, n);
  hash += !hash; /* 0 marks a free slot */
  while (atomic_flag_test_and_set_explicit(&census_lock, memory_order_acquire))
    ;
  zmr_census_entry *e = census ? census_slot(hash) : NULL;
  if (e) {
    e->hash = hash;
    census_note(e, k);
  }
  atomic_flag_clear_explicit(&census_lock, memory_order_release);
}

static void census_init(void) {
  const char *v = getenv(ZMR_ENV_CENSUS);
  char *path;
  unsigned long frames = v ? strtoul(v, &path, 10) : 0;
  if (!frames || frames > ZMR_CENSUS_MAX_FRAMES || *path != ':' || !path[1])
    return;
  census_frames = frames;
  census_path = path + 1;
  void *m = mmap(NULL, CENSUS_SLOTS * sizeof *census, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED)
    return;
  census = m;
  zm__fault_observe(census_observe);
}

/* Appends this process's sites to the census file, whole entries per
 * write, so that processes exiting at once do not mix their entries. */
static void census_write(void) {
  if (!census)
    return;
  zm__fault_observe(NULL);
  /* A thread still in census_observe finishes its entry first. */
  while (atomic_flag_test_and_set_explicit(&census_lock, memory_order_acquire))
    ;
  zmr_census_entry *table = census;
  census = NULL; /* written once, whichever exit path comes first */
  atomic_flag_clear_explicit(&census_lock, memory_order_release);
  int fd = table ? open(census_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600) : -1;
  if (fd < 0)
    return;
  enum { BATCH = 4096 / sizeof(zmr_census_entry) };
  zmr_census_entry batch[BATCH];
  size_t n = 0;
  for (uint32_t i = 0; i < CENSUS_SLOTS; i++) {
    if (table[i].hash)
      batch[n++] = table[i];
    if (n == BATCH || (n && i == CENSUS_SLOTS - 1)) {
      (void)!write(fd, batch, n * sizeof *batch);
      n = 0;
    }
  }
  close(fd);
}

/* ------------------------------------------------------------ the setting */

void zmp_inject_init(void) {
  const char *s = getenv(ZMR_ENV_FAULT);
  if (!s || !*s)
    return;
  if (zm_configure(s) != 0) {
    /* The launcher checks the values; this is someone else's setting. */
    static const char msg[] = "zmem: " ZMR_ENV_FAULT " ignored: ";
    (void)!write(2, msg, sizeof msg - 1);
    (void)!write(2, zm_last_error(), strlen(zm_last_error()));
    (void)!write(2, "\n", 1);
    return;
  }
  zmp_inject_on = true;
  census_init();
}

static void note_stack(zmr_proc *p) {
  uintptr_t pcs[ZMR_FAULT_MAX_PCS];
  size_t n = zmp_sites_stack(pcs, ZMR_FAULT_MAX_PCS);
  for (size_t i = 0; i < n; i++)
    p->ext[ZMR_EXT_FAULT_PCS + i] = pcs[i];
  p->ext[ZMR_EXT_FAULT_NPCS] = n;
}

/* Claims the hits not yet recorded; 0 when there are none (a real
 * failure, or another thread recorded them). */
static uint64_t claim_hits(void) {
  uint64_t hits = zm_fault_hits();
  uint64_t seen = atomic_load_explicit(&seen_hits, memory_order_relaxed);
  while (seen < hits && !atomic_compare_exchange_weak(&seen_hits, &seen, hits))
    ;
  return seen < hits ? hits - seen : 0;
}

void zmp_inject_failed(void) {
  uint64_t mine = claim_hits();
  zmr_proc *p = zmp_proc;
  if (!mine || !p)
    return;
  /* The request number is exact with one thread; with several, another
   * thread's request may have been numbered in between. */
  uint64_t none = 0;
  if (__atomic_compare_exchange_n(&p->ext[ZMR_EXT_FAULT_FIRST], &none, zm_fault_requests(),
                                  false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
    note_stack(p);
  __atomic_fetch_add(&p->ext[ZMR_EXT_FAULT_HITS], mine, __ATOMIC_RELAXED);
}

void zmp_inject_exit(void) {
  if (zmp_inject_on && zmp_proc)
    zmp_proc->ext[ZMR_EXT_FAULT_REQUESTS] = zm_fault_requests();
  census_write();
}
