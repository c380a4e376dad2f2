/* The loaded-module table of the stack capture: see modules.h. */
#define _GNU_SOURCE
#include "modules.h"

#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <sys/single_threaded.h>
#include <stddef.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

typedef struct gen {
  size_t n;
  unsigned long long adds, subs; /* the loader's counters at the scan */
  zm__module m[ZM__MOD_MAX];
} gen;

/* Two tables: a refresh fills the one readers are not given, then
 * publishes it. A reader that still holds the older table after two
 * refreshes may see an entry change under it; entries are plain words, so
 * the worst case is a wrong frame-pointer verdict, which the capture's
 * stack-bound checks keep safe. */
static gen tabs[2];
static _Atomic(gen *) live;
static pthread_mutex_t refresh_lock = PTHREAD_MUTEX_INITIALIZER;

/* ------------------------------------------------------------ prologues */

/* How far into a function the frame set-up may be: gcc schedules other
 * instructions between push %rbp and mov %rsp,%rbp, and its
 * shrink-wrapping puts early exits in front of both. */
#define PROLOGUE_WINDOW 32

static bool fp_prologue_at(const uint8_t *p) {
#if defined(__x86_64__)
  return p[0] == 0x48 && p[1] == 0x89 && p[2] == 0xe5; /* mov %rsp,%rbp */
#elif defined(__aarch64__)
  uint32_t w;
  memcpy(&w, p, 4);
  /* stp x29, x30, [sp, #imm]! : 1010100110 imm7 11110 11111 11101 */
  return (w & 0xffc07fff) == 0xa9807bfd;
#else
  (void)p;
  return false;
#endif
}

int zm__modules_eh_find(const zm__module *m, uintptr_t pc, uintptr_t *start,
                        const uint8_t **fde) {
  if (!m->eh_table)
    return 0;
  uint32_t lo = 0, hi = m->eh_count; /* last entry whose start <= pc */
  while (hi - lo > 1) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (m->eh_base + (intptr_t)m->eh_table[2 * mid] <= pc)
      lo = mid;
    else
      hi = mid;
  }
  *start = m->eh_base + (intptr_t)m->eh_table[2 * lo];
  *fde = (const uint8_t *)(m->eh_base + (intptr_t)m->eh_table[2 * lo + 1]);
  return *start <= pc;
}

int zm__modules_func_has_fp(const zm__module *m, uintptr_t pc) {
  uintptr_t start;
  const uint8_t *fde;
  if (!zm__modules_eh_find(m, pc, &start, &fde) || start < m->lo)
    return 0;
  uintptr_t end = start + PROLOGUE_WINDOW;
  end = end < pc ? end : pc;
  if (end + 4 > m->hi)
    return 0;
#if defined(__x86_64__) || defined(__aarch64__)
  int step = 1;
#  if defined(__aarch64__)
  step = 4;
#  endif
  for (uintptr_t a = start; a < end; a += (uintptr_t)step)
    if (fp_prologue_at((const uint8_t *)a))
      return 1;
#endif
  return 0;
}

/* The .eh_frame_hdr search table, in the layout every GNU linker writes:
 * version 1, a pcrel sdata4 pointer, a udata4 count, a datarel sdata4
 * table. */
static void eh_table(zm__module *m, const struct dl_phdr_info *info) {
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_GNU_EH_FRAME)
      continue;
    const uint8_t *hdr = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
    if (hdr[0] != 1 || hdr[1] != 0x1b || hdr[2] != 0x03 || hdr[3] != 0x3b)
      return;
    uint32_t count;
    memcpy(&count, hdr + 8, 4);
    if (count == 0 || 12 + (size_t)count * 8 > ph->p_memsz)
      return;
    m->eh_table = (const int32_t *)(hdr + 12);
    m->eh_base = (uintptr_t)hdr;
    m->eh_count = count;
  }
}

/* ------------------------------------------------------------- one module */

static void build_id(zm__module *m, const struct dl_phdr_info *info) {
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_NOTE)
      continue;
    const uint8_t *p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
    const uint8_t *end = p + ph->p_memsz;
    while (p + sizeof(ElfW(Nhdr)) <= end) {
      const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
      const uint8_t *name = p + sizeof *nh;
      const uint8_t *desc = name + ((nh->n_namesz + 3) & ~3u);
      if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
          memcmp(name, "GNU", 4) == 0) {
        size_t len = nh->n_descsz < ZM__MOD_BUILDID ? nh->n_descsz : ZM__MOD_BUILDID;
        memcpy(m->build_id, desc, len);
        m->build_id_len = (uint8_t)len;
        return;
      }
      p = desc + ((nh->n_descsz + 3) & ~3u);
    }
  }
}

static bool exec_range(zm__module *m, const struct dl_phdr_info *info) {
  uintptr_t lo = UINTPTR_MAX, hi = 0;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
      continue;
    uintptr_t a = info->dlpi_addr + ph->p_vaddr;
    lo = a < lo ? a : lo;
    hi = a + ph->p_memsz > hi ? a + ph->p_memsz : hi;
  }
  m->lo = lo;
  m->hi = hi;
  return lo < hi;
}

typedef struct scan {
  gen *g;
} scan;

static int add_one(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size;
  scan *s = arg;
  if (s->g->n == ZM__MOD_MAX)
    return 1;
  zm__module *m = &s->g->m[s->g->n];
  memset(m, 0, sizeof *m);
  if (!exec_range(m, info))
    return 0;
  m->base = info->dlpi_addr;
  build_id(m, info);
  const char *path = info->dlpi_name ? info->dlpi_name : "";
  strncpy(m->path, path, ZM__MOD_PATH - 1);
  eh_table(m, info);
  s->g->n++;
  return 0;
}

static void sort_by_lo(gen *g) {
  for (size_t i = 1; i < g->n; i++) {
    zm__module t = g->m[i];
    size_t j = i;
    for (; j > 0 && g->m[j - 1].lo > t.lo; j--)
      g->m[j] = g->m[j - 1];
    g->m[j] = t;
  }
}

static int counters(struct dl_phdr_info *info, size_t size, void *arg) {
  unsigned long long *c = arg;
  if (size < offsetof(struct dl_phdr_info, dlpi_subs) + sizeof info->dlpi_subs)
    return 1;
  c[0] = info->dlpi_adds;
  c[1] = info->dlpi_subs;
  return 1;
}

/* Set in a fork child of a threaded parent (modules.h). */
static bool frozen;
/* Whether the parent had other threads, seen before the fork. */
static bool threaded_at_fork;

bool zm__modules_frozen(void) { return frozen; }

void zm__modules_prepare_fork(void) {
  pthread_mutex_lock(&refresh_lock);
  threaded_at_fork = !__libc_single_threaded;
}

void zm__modules_after_fork(bool child) {
  if (!child) {
    pthread_mutex_unlock(&refresh_lock);
    return;
  }
  /* The child's one thread took it in the parent: a fresh one. */
  pthread_mutex_init(&refresh_lock, NULL);
  frozen = frozen || threaded_at_fork;
}

size_t zm__modules_refresh(void) {
  if (frozen) {
    gen *g = atomic_load_explicit(&live, memory_order_acquire);
    return g ? g->n : 0;
  }
  pthread_mutex_lock(&refresh_lock);
  gen *old = atomic_load_explicit(&live, memory_order_acquire);
  unsigned long long c[2] = {0, 0};
  dl_iterate_phdr(counters, c);
  if (old && c[0] && old->adds == c[0] && old->subs == c[1]) {
    pthread_mutex_unlock(&refresh_lock); /* nothing loaded or unloaded */
    return old->n;
  }
  gen *g = old == &tabs[0] ? &tabs[1] : &tabs[0];
  g->adds = c[0];
  g->subs = c[1];
  g->n = 0;
  scan s = {g};
  dl_iterate_phdr(add_one, &s);
  sort_by_lo(g);
  atomic_store_explicit(&live, g, memory_order_release);
  pthread_mutex_unlock(&refresh_lock);
  return g->n;
}

static const zm__module *search(const gen *g, uintptr_t pc) {
  size_t lo = 0, hi = g->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (pc < g->m[mid].lo)
      hi = mid;
    else if (pc >= g->m[mid].hi)
      lo = mid + 1;
    else
      return &g->m[mid];
  }
  return NULL;
}

const zm__module *zm__modules_find(uintptr_t pc) {
  gen *g = atomic_load_explicit(&live, memory_order_acquire);
  const zm__module *m = g ? search(g, pc) : NULL;
  if (m)
    return m;
  zm__modules_refresh();
  return search(atomic_load_explicit(&live, memory_order_acquire), pc);
}

size_t zm__modules_count(void) {
  gen *g = atomic_load_explicit(&live, memory_order_acquire);
  return g ? g->n : 0;
}

const zm__module *zm__modules_get(size_t i) {
  gen *g = atomic_load_explicit(&live, memory_order_acquire);
  return g && i < g->n ? &g->m[i] : NULL;
}

int zm__modules_main_path(char *buf, size_t len) {
  if (len == 0)
    return -1;
  ssize_t n = readlink("/proc/self/exe", buf, len - 1);
  if (n < 0)
    return -1;
  buf[n] = '\0';
  return (int)n;
}

unsigned long long zm__modules_unloads(void) {
  unsigned long long c[2] = {0, 0};
  if (!frozen)
    dl_iterate_phdr(counters, c);
  return c[1];
}

static bool hex_field(const char **p, uintptr_t *v) {
  const char *s = *p;
  uintptr_t x = 0;
  for (; (*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f'); s++)
    x = x * 16 + (uintptr_t)(*s <= '9' ? *s - '0' : *s - 'a' + 10);
  if (s == *p)
    return false;
  *p = s;
  *v = x;
  return true;
}

/* One line of /proc/self/maps, "lo-hi perms offset dev inode   path":
 * its path into buf when [lo, hi) holds a and the path is absolute. */
static bool maps_line_path(const char *line, uintptr_t a, char *buf, size_t len) {
  uintptr_t lo, hi;
  if (!hex_field(&line, &lo) || *line++ != '-' || !hex_field(&line, &hi) || a < lo ||
      a >= hi)
    return false;
  const char *path = strchr(line, '/');
  if (!path || strlen(path) >= len)
    return false;
  memcpy(buf, path, strlen(path) + 1);
  return true;
}

int zm__modules_mapped_path(uintptr_t a, char *buf, size_t len) {
  int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  char chunk[4096];
  size_t have = 0;
  int found = -1;
  for (ssize_t r; found != 0 && (r = read(fd, chunk + have, sizeof chunk - 1 - have)) > 0;) {
    have += (size_t)r;
    chunk[have] = '\0';
    char *line = chunk, *nl;
    while (found != 0 && (nl = memchr(line, '\n', (size_t)(chunk + have - line)))) {
      *nl = '\0';
      found = maps_line_path(line, a, buf, len) ? 0 : -1;
      line = nl + 1;
    }
    have = (size_t)(chunk + have - line);
    memmove(chunk, line, have);
    if (have == sizeof chunk - 1)
      have = 0; /* a line longer than the buffer: not a module's */
  }
  close(fd);
  return found;
}
