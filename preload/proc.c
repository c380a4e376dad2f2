#define _GNU_SOURCE /* dl_iterate_phdr */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
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

/* What the launcher hands down to find its record (record.h). */
typedef struct record_ref {
  uint64_t fd, token, launcher, dev, ino;
} record_ref;

/* Parses "PID:DEV:INO" (ZMR_ENV_ID) without copying it. */
static bool parse_id(const char *s, record_ref *r) {
  uint64_t *field[3] = {&r->launcher, &r->dev, &r->ino};
  for (int i = 0; i < 3; i++) {
    const char *end = s ? strchr(s, i < 2 ? ':' : '\0') : NULL;
    char part[24];
    if (!end || end - s >= (ptrdiff_t)sizeof part)
      return false;
    memcpy(part, s, (size_t)(end - s));
    part[end - s] = 0;
    if (!parse_u64(part, i ? 16 : 10, field[i]))
      return false;
    s = end + 1;
  }
  return true;
}

static bool read_ref(record_ref *r) {
  return parse_u64(getenv(ZMR_ENV_FD), 10, &r->fd) && r->fd <= INT32_MAX &&
         parse_u64(getenv(ZMR_ENV_TOKEN), 16, &r->token) &&
         parse_id(getenv(ZMR_ENV_ID), r) && r->launcher > 0 && r->launcher <= INT32_MAX;
}

/* Whether fd is the launcher's record: the memfd it named, sealed as it
 * seals it, whose header (read with pread, nothing mapped yet) has the
 * token and this build's sizes and states the file's size. A descendant
 * that inherited the variables but not the descriptor may have anything
 * there, a file, a pipe, a socket: only fstat and fcntl touch it until the
 * identity matches. *total gets the record's size. */
static bool is_record(int fd, const record_ref *r, size_t *total) {
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_dev != r->dev ||
      (uint64_t)st.st_ino != r->ino || (uint64_t)st.st_size < ZMR_PROCS_END)
    return false;
  const int seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
  int have = fcntl(fd, F_GET_SEALS);
  if (have < 0 || (have & seals) != seals)
    return false;
  zmr_header h;
  if (pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h)
    return false;
  *total = (size_t)st.st_size;
  return h.magic == ZMR_MAGIC && h.version == ZMR_VERSION && h.token == r->token &&
         h.header_size == ZMR_HEADER_BYTES && h.proc_size == ZMR_PROC_BYTES &&
         h.slot_size == sizeof(zmr_slot) && h.max_procs == ZMR_MAX_PROCS &&
         h.total_size == (uint64_t)st.st_size;
}

static zmr_header *map_record(int fd, size_t total) {
  void *h = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  return h == MAP_FAILED ? NULL : h;
}

/* "/proc/PID/fd/FD" into buf, without the C library's formatting. */
static void proc_fd_path(char *buf, uint64_t pid, uint64_t fd) {
  char digits[2][24];
  uint64_t v[2] = {pid, fd};
  for (int i = 0; i < 2; i++) {
    char *q = digits[i] + sizeof digits[i];
    *--q = 0;
    do
      *--q = (char)('0' + v[i] % 10);
    while (v[i] /= 10);
    memmove(digits[i], q, (size_t)(digits[i] + sizeof digits[i] - q));
  }
  buf[0] = 0;
  strcat(strcat(strcat(strcat(buf, "/proc/"), digits[0]), "/fd/"), digits[1]);
}

/* The record through the launcher's own descriptor, when this process's
 * is gone or reused: opened, checked as the inherited one would be,
 * mapped, closed again (the program's descriptors are as they were). */
static zmr_header *reopen(const record_ref *r) {
  char path[64];
  proc_fd_path(path, r->launcher, r->fd);
  int fd = open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0)
    return NULL;
  size_t total = 0;
  zmr_header *h = is_record(fd, r, &total) ? map_record(fd, total) : NULL;
  close(fd);
  if (h)
    atomic_fetch_add(&h->reattached, 1);
  return h;
}

/* The record, or NULL (not under `zmem run`, or no way to it: the process
 * runs unprofiled). Nothing is written to the program's output. */
static zmr_header *attach(void) {
  record_ref r;
  if (!read_ref(&r))
    return NULL;
  size_t total = 0;
  if (is_record((int)r.fd, &r, &total))
    return map_record((int)r.fd, total);
  return reopen(&r);
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
  /* The launcher's own child, and the first to claim a record: zmem run
   * is a child subreaper, so an orphan that execs later also has the
   * launcher for its parent. */
  bool first = !old && getppid() == hdr->launcher_pid && atomic_load(&hdr->nprocs) == 0;
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
  p->bypass = parent->bypass;
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

bool zmp_proc_owned(void) {
  zmr_proc *p = zmp_proc;
  if (!p)
    return false;
  if (p->pid == getpid())
    return true;
  atomic_fetch_add(&p->shared_by, 1);
  return false;
}

void zmp_proc_exit(int code) {
  zmr_proc *p = zmp_proc;
  if (!p)
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

/* The unpublished part of a live figure, marked as published. */
static int64_t publish_from(_Atomic int64_t *live, _Atomic int64_t *mark) {
  int64_t now = atomic_load_explicit(live, memory_order_relaxed);
  return now - atomic_exchange_explicit(mark, now, memory_order_relaxed);
}

void zmp_slot_flush(zmr_slot *s) {
  zmr_proc *p = zmp_proc;
  if (!p)
    return;
  int64_t req = publish_from(&s->live_requested, &s->mark_requested);
  int64_t held = publish_from(&s->live_held, &s->mark_held);
  if (req)
    zmp_publish(&p->published_requested, &p->peak_requested, req);
  if (held)
    zmp_publish(&p->published_held, &p->peak_held, held);
}
