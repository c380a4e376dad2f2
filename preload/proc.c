#define _GNU_SOURCE /* dl_iterate_phdr */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

zmr_proc *zmp_proc;
unsigned zmp_generation;
static zmr_header *hdr; /* the whole mapping */

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Parses a decimal or hex number without the C library's locale machinery. */
static bool parse_u64(const char *s, int base, uint64_t *out) {
  uint64_t v = 0;
  if (!s || !*s)
    return false;
  for (; *s; s++) {
    int d = *s >= '0' && *s <= '9'   ? *s - '0'
            : *s >= 'a' && *s <= 'f' ? *s - 'a' + 10
                                     : 99;
    if (d >= base)
      return false;
    v = v * (uint64_t)base + (uint64_t)d;
  }
  *out = v;
  return true;
}

static zmr_header *attach(void) {
  uint64_t fd, token;
  if (!parse_u64(getenv(ZMR_ENV_FD), 10, &fd) ||
      !parse_u64(getenv(ZMR_ENV_TOKEN), 16, &token) || fd > INT32_MAX)
    return NULL;
  zmr_header *h = mmap(NULL, ZMR_HEADER_BYTES, PROT_READ, MAP_SHARED, (int)fd, 0);
  if (h == MAP_FAILED)
    return NULL;
  bool ok = h->magic == ZMR_MAGIC && h->version == ZMR_VERSION &&
            h->token == token && h->proc_size == ZMR_PROC_BYTES &&
            h->slot_size == sizeof(zmr_slot) && h->max_procs == ZMR_MAX_PROCS;
  size_t total = ok ? h->total_size : 0;
  munmap(h, ZMR_HEADER_BYTES);
  if (!ok || total < ZMR_PROCS_END)
    return NULL;
  h = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, (int)fd, 0);
  return h == MAP_FAILED ? NULL : h;
}

zmr_header *zmp_record(void) { return hdr; }

static uint32_t index_of(const zmr_proc *p) {
  if (!p)
    return UINT32_MAX;
  return (uint32_t)(((const char *)p - (const char *)hdr - ZMR_PROCS_OFFSET) /
                    ZMR_PROC_BYTES);
}

/* The newest running record of pid, or NULL. */
static zmr_proc *find_running(pid_t pid) {
  uint32_t n = atomic_load(&hdr->nprocs);
  for (uint32_t i = n < ZMR_MAX_PROCS ? n : ZMR_MAX_PROCS; i-- > 0;) {
    zmr_proc *p = zmr_proc_at(hdr, i);
    if (p->pid == pid && atomic_load(&p->state) == ZMR_STATE_RUNNING)
      return p;
  }
  return NULL;
}

static zmr_proc *claim(void) {
  uint32_t i = atomic_fetch_add(&hdr->nprocs, 1);
  if (i >= ZMR_MAX_PROCS)
    return NULL;
  zmr_proc *p = zmr_proc_at(hdr, i);
  p->pid = getpid();
  p->ppid = getppid();
  p->start_ns = now_ns();
  return p;
}

static void read_command(char *out, size_t cap) {
  int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
  ssize_t n = fd < 0 ? -1 : read(fd, out, cap - 1);
  if (fd >= 0)
    close(fd);
  if (n <= 0)
    n = 0;
  out[n] = 0;
  for (ssize_t i = 0; i + 1 < n; i++)
    if (!out[i])
      out[i] = ' ';
}

typedef struct modbuf {
  char *at, *end;
} modbuf;

static void put_str(modbuf *b, const char *s) {
  while (*s && b->at < b->end)
    *b->at++ = *s++;
}

static void put_hex(modbuf *b, uintptr_t v) {
  char tmp[2 + 16], *q = tmp + sizeof tmp;
  *--q = 0;
  do
    *--q = "0123456789abcdef"[v & 15];
  while (v >>= 4);
  put_str(b, "0x");
  put_str(b, q);
}

static int add_module(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size;
  modbuf *b = arg;
  if (b->end - b->at < 64)
    return 1;
  put_hex(b, (uintptr_t)info->dlpi_addr);
  put_str(b, " ");
  put_str(b, info->dlpi_name && *info->dlpi_name ? info->dlpi_name : "[exe]");
  put_str(b, "\n");
  return 0;
}

/* The loaded objects, "load-address path" per line. */
static void read_modules(zmr_proc *p) {
  modbuf b = {p->modules, p->modules + ZMR_MODULE_BYTES - 1};
  dl_iterate_phdr(add_module, &b);
  *b.at = 0;
}

void zmp_proc_init(void) {
  hdr = attach();
  if (!hdr)
    return;
  pid_t pid = getpid();
  zmr_proc *old = find_running(pid); /* this pid before exec */
  zmr_proc *parent = old ? old : find_running(getppid());
  bool first = !old && getppid() == hdr->launcher_pid;
  if ((hdr->flags & ZMR_FLAG_NO_CHILDREN) && !first)
    return;
  zmr_proc *p = claim();
  if (!p)
    return;
  if (old) {
    old->end_ns = now_ns();
    atomic_store(&old->state, ZMR_STATE_EXECED);
  }
  p->origin = first ? ZMR_ORIGIN_FIRST : ZMR_ORIGIN_EXEC;
  p->parent_index = index_of(parent);
  read_command(p->command, sizeof p->command);
  read_modules(p);
  atomic_store(&p->state, ZMR_STATE_RUNNING);
  zmp_proc = p;
}

/* The parent's live figures when it forked, taken before the fork: after
 * it the parent's slots keep changing in the shared record. */
static int64_t fork_req, fork_held, fork_blocks;

void zmp_proc_prepare_fork(void) {
  zmr_proc *parent = zmp_proc;
  if (!parent)
    return;
  int64_t req = parent->base_requested, held = parent->base_held,
          blocks = parent->base_blocks;
  uint32_t n = atomic_load(&parent->nslots);
  for (uint32_t i = 0; i < n && i < ZMR_MAX_SLOTS; i++) {
    req += atomic_load(&parent->slots[i].live_requested);
    held += atomic_load(&parent->slots[i].live_held);
    blocks += atomic_load(&parent->slots[i].live_blocks);
  }
  fork_req = req;
  fork_held = held;
  fork_blocks = blocks;
}

void zmp_proc_forked(void) {
  zmr_proc *parent = zmp_proc;
  zmp_generation++;
  zmp_proc = NULL;
  if (!parent || (hdr->flags & ZMR_FLAG_NO_CHILDREN))
    return;
  zmr_proc *p = claim();
  if (!p)
    return;
  /* The child starts with the parent's heap. */
  int64_t req = fork_req, held = fork_held, blocks = fork_blocks;
  p->base_requested = req;
  p->base_held = held;
  p->base_blocks = blocks;
  atomic_store(&p->published_requested, req);
  atomic_store(&p->published_held, held);
  atomic_store(&p->peak_requested, req);
  atomic_store(&p->peak_held, held);
  p->origin = ZMR_ORIGIN_FORK;
  p->parent_index = index_of(parent);
  memcpy(p->command, parent->command, sizeof p->command);
  memcpy(p->modules, parent->modules, sizeof p->modules);
  atomic_store(&p->state, ZMR_STATE_RUNNING);
  zmp_proc = p;
}

/* VmHWM from /proc/self/status, in bytes; 0 when unreadable. */
static uint64_t peak_rss(void) {
  char buf[4096];
  int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
  if (fd >= 0)
    close(fd);
  if (n <= 0)
    return 0;
  buf[n] = 0;
  char *at = strstr(buf, "VmHWM:");
  if (!at)
    return 0;
  uint64_t kb = 0;
  for (at += 6; *at == ' ' || *at == '\t'; at++)
    ;
  for (; *at >= '0' && *at <= '9'; at++)
    kb = kb * 10 + (uint64_t)(*at - '0');
  return kb * 1024;
}

void zmp_proc_exit(int code) {
  zmr_proc *p = zmp_proc;
  if (!p || p->pid != getpid())
    return;
  p->rss_peak = peak_rss();
  p->exit_code = code;
  p->end_ns = now_ns();
  atomic_store(&p->state, ZMR_STATE_EXITED);
}

zmr_slot *zmp_slot_claim(bool *shared) {
  zmr_proc *p = zmp_proc;
  uint32_t i = atomic_fetch_add(&p->nslots, 1);
  *shared = i >= ZMR_MAX_SLOTS - 1;
  return &p->slots[*shared ? ZMR_MAX_SLOTS - 1 : i];
}

static void raise_peak(_Atomic int64_t *peak, int64_t v) {
  int64_t p = atomic_load_explicit(peak, memory_order_relaxed);
  while (v > p && !atomic_compare_exchange_weak_explicit(
                      peak, &p, v, memory_order_relaxed, memory_order_relaxed))
    ;
}

void zmp_publish(_Atomic int64_t *published, _Atomic int64_t *peak, int64_t u) {
  raise_peak(peak, atomic_fetch_add_explicit(published, u, memory_order_relaxed) + u);
}

void zmp_slot_flush(zmr_slot *s) {
  zmr_proc *p = zmp_proc;
  if (!p)
    return;
  int64_t req = atomic_exchange_explicit(&s->unpub_requested, 0,
                                         memory_order_relaxed);
  int64_t held = atomic_exchange_explicit(&s->unpub_held, 0,
                                          memory_order_relaxed);
  if (req)
    zmp_publish(&p->published_requested, &p->peak_requested, req);
  if (held)
    zmp_publish(&p->published_held, &p->peak_held, held);
}
