/* A program that attacks zmem's shared record, for the launcher's tests:
 * it maps the record (ZMEM_RUN_FD), allocates a little, damages what
 * argv[1] names, and exits with status 3.
 *   counters  its own malloc count far beyond its allocations
 *   header    the header's magic (no figures can be read at all)
 *   depth     with --sites: its stack table's depth limit and every
 *             entry's depth, far beyond the reader's buffer
 *   fifo      with --sites: a module whose path is a FIFO (argv[2])
 *             covering every address
 *   race      a thread that flips bytes in the record (header, process
 *             records, stack tables) while the program allocates and
 *             exits, and a child that outlives it and goes on flipping
 *             for a second while the launcher reads */
#define _GNU_SOURCE
#include "record.h"
#include "sites_record.h"
#include "stacktab.h"

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char *base;
static uint64_t size;

static int map_record(void) {
  const char *fd = getenv(ZMR_ENV_FD);
  struct stat st;
  if (!fd || fstat(atoi(fd), &st) != 0)
    return -1;
  size = (uint64_t)st.st_size;
  base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, atoi(fd), 0);
  return base == MAP_FAILED ? -1 : 0;
}

static zmr_proc *mine(void) {
  for (uint32_t i = 0; i < ZMR_MAX_PROCS; i++) {
    zmr_proc *p = zmr_proc_at(base, i);
    if (p->pid == getpid() && atomic_load(&p->state) == ZMR_STATE_RUNNING)
      return p;
  }
  return NULL;
}

/* This process's sites slot: its module list, then its stack table. */
static char *my_slot(void) {
  zmr_header *h = (zmr_header *)base;
  zmr_proc *p = mine();
  for (int i = 0; p && i < ZMR_MAX_SECTIONS; i++)
    if (h->sections[i].kind == ZMR_SECTION_SITES && p->ext[ZMS_EXT_SLOT]) {
      zms_dir *d = (zms_dir *)(base + h->sections[i].offset);
      return base + zms_slot_offset(h->sections[i].offset, d->slot_bytes,
                                    (uint32_t)p->ext[ZMS_EXT_SLOT] - 1);
    }
  return NULL;
}

static void deepen(void) {
  char *slot = my_slot();
  if (!slot)
    return;
  zm__st_header *t = (zm__st_header *)(slot + sizeof(zms_modules));
  t->max_depth = 1u << 30;
  zm__st_entry *e = (zm__st_entry *)(t + 1);
  for (uint32_t i = 0; i < t->capacity; i++)
    if (atomic_load(&e[i].state) == ZM__ST_READY)
      e[i].depth = 100000;
}

static void plant_fifo(const char *path) {
  zms_modules *m = (zms_modules *)my_slot();
  if (!m)
    return;
  uint32_t n = atomic_load(&m->count);
  if (n >= ZMS_MAX_MODULES)
    n = ZMS_MAX_MODULES - 1;
  zms_module *e = &m->m[n];
  memset(e, 0, sizeof *e);
  e->lo = 1;
  e->hi = UINT64_MAX;
  snprintf(e->path, sizeof e->path, "%s", path);
  atomic_store(&m->count, n + 1);
}

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Flips random bytes of the record until the deadline (ms): of the header
 * and the first process records, and with all, of the sites section too
 * (whose stack tables the program's own preload addresses by: only a
 * process that no longer allocates may flip them). */
static void flip_until(uint64_t end, uint64_t x, bool all) {
  uint64_t spans[] = {ZMR_HEADER_BYTES, ZMR_PROCS_OFFSET + 2 * (uint64_t)ZMR_PROC_BYTES, size};
  while (now_ms() < end) {
    for (int k = 0; k < 4096; k++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      uint64_t at = (x >> 8) % spans[x % (all ? 3 : 2)];
      __atomic_fetch_xor((unsigned char *)base + at, (unsigned char)(x >> 56 | 1),
                         __ATOMIC_RELAXED);
    }
  }
}

static void *flipper(void *arg) {
  (void)arg;
  flip_until(UINT64_MAX, 0x9e3779b97f4a7c15u, false); /* until the process exits */
  return NULL;
}

/* A flipping thread in this process, and a child (bounded: it ends by
 * itself) that keeps flipping after this process exited. */
static void race(void) {
  pthread_t t;
  pthread_create(&t, NULL, flipper, NULL);
  for (int i = 0; i < 2000; i++)
    free(malloc((size_t)(i % 300) + 1));
  if (fork() == 0) {
    setsid();
    flip_until(now_ms() + 1000, (uint64_t)getpid() * 0x9e3779b97f4a7c15u, true);
    _exit(0);
  }
}

int main(int argc, char **argv) {
  volatile char *keep[64];
  for (int i = 0; i < 64; i++)
    keep[i] = malloc((size_t)(i + 1) * 24);
  if (argc < 2 || map_record() != 0)
    return 3;
  if (!strcmp(argv[1], "counters")) {
    zmr_proc *p = mine();
    if (p)
      p->slots[0].calls[ZMR_MALLOC] = 18446744073709551360ull;
  } else if (!strcmp(argv[1], "header")) {
    memset(base, 0xff, 16);
  } else if (!strcmp(argv[1], "depth")) {
    deepen();
  } else if (!strcmp(argv[1], "fifo") && argc > 2) {
    plant_fifo(argv[2]);
  } else if (!strcmp(argv[1], "race")) {
    race();
  }
  for (int i = 0; i < 32; i++)
    free((void *)keep[i]);
  return 3;
}
