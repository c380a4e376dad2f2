/* Heap against RSS at exit: the process reads its own kernel figures
 * (/proc/self/status, /proc/self/smaps) once, when it exits, into its
 * record's heap_rss words, and sorts its anonymous mappings by the headers
 * glibc malloc writes at their start: an arena heap's heap_info, a block
 * mapped on its own's chunk header. Those are read through the kernel
 * (process_vm_readv), never by walking the allocator's lists: mallinfo2
 * would walk them, under the arenas' locks, and a heap the program
 * corrupted (a double free) would make it loop or crash at exit. Nothing
 * here runs on the allocation path, and nothing allocates: the files are
 * read through a buffer on the stack. */
#define _GNU_SOURCE
#include "heaprss.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

/* glibc's per-arena heap header (malloc/arena.c, heap_info): a non-main
 * arena's heap starts with it, aligned to HEAP_MAX_SIZE (64 MiB on LP64). */
typedef struct arena_heap_info {
  void *ar_ptr, *prev;
  size_t size, mprotect_size, pagesize;
} arena_heap_info;

#define ARENA_HEAP_ALIGN ((uintptr_t)64 << 20)
#define STACK_GUARD_MAX ((uintptr_t)1 << 20)

#define IS_MMAPPED 2u /* glibc's chunk size bit */
#define PAGE ((uintptr_t)4096)
#define PEEKS 16                /* pages read per call */
#define PEEK_BUDGET (1u << 18)  /* pages read per process: 1 GiB of mappings */
#define CHUNK_HEADER (2 * sizeof(size_t))

enum kind { K_NONE, K_STACK, K_ARENA, K_ANON };

typedef struct scan {
  uintptr_t prev_end;   /* previous mapping's end */
  bool prev_guard;      /* ... was an anonymous PROT_NONE mapping of at most 1 MiB */
  enum kind kind;       /* what the current mapping counts as */
  uintptr_t blocks;     /* its bytes in blocks glibc mapped on their own */
  unsigned budget;      /* pages left to read for headers */
  uint64_t stacks, arenas, mmapped_usable, anon;
} scan;

static uint64_t kb_field(const char *line, size_t prefix) {
  uint64_t kb = 0;
  const char *c = line + prefix;
  while (*c == ' ' || *c == '\t')
    c++;
  for (; *c >= '0' && *c <= '9'; c++)
    kb = kb * 10 + (uint64_t)(*c - '0');
  return kb * 1024;
}

static uintptr_t hex(const char **c) {
  uintptr_t v = 0;
  for (;; (*c)++) {
    char ch = **c;
    unsigned d = ch >= '0' && ch <= '9' ? (unsigned)(ch - '0')
               : ch >= 'a' && ch <= 'f' ? (unsigned)(ch - 'a' + 10) : 16u;
    if (d == 16)
      return v;
    v = v * 16 + d;
  }
}

/* Reads len bytes at addr of this process through the kernel: a mapping
 * that faults on access (a range the program protected) gives an error,
 * not a signal. */
static bool peek(uintptr_t addr, void *out, size_t len) {
  struct iovec mine = {out, len}, there = {(void *)addr, len};
  return process_vm_readv(getpid(), &mine, 1, &there, 1, 0) == (ssize_t)len;
}

/* A glibc arena heap: its header says it is as big as its read-write part. */
static bool is_arena_heap(uintptr_t start, uintptr_t end) {
  arena_heap_info h;
  if (start % ARENA_HEAP_ALIGN || !peek(start, &h, sizeof h))
    return false;
  return h.ar_ptr && h.size <= end - start && h.mprotect_size == end - start &&
         h.pagesize == (size_t)sysconf(_SC_PAGESIZE);
}

/* Whether h (16 bytes at a page start, at most room bytes before the
 * mapping's end) is the header of a block glibc mapped on its own: no
 * offset, the mapped bit, a size in whole pages that fits. */
static size_t mapped_block(const size_t h[2], uintptr_t room) {
  size_t size = h[1] & ~(size_t)7;
  return h[0] == 0 && (h[1] & IS_MMAPPED) && size && size % PAGE == 0 && size <= room
             ? size : 0;
}

/* Blocks glibc mapped on their own inside an anonymous mapping (the
 * kernel merges adjacent ones): their headers at page starts, read PEEKS
 * pages per call, within the process's page budget. Returns the bytes
 * they cover and adds their usable bytes to s. */
static uintptr_t mapped_blocks(scan *s, uintptr_t start, uintptr_t end) {
  size_t h[PEEKS][2];
  struct iovec mine[PEEKS], there[PEEKS];
  uintptr_t at = start, covered = 0;
  while (at < end && s->budget) {
    int n = 0;
    for (uintptr_t a = at; n < PEEKS && a < end; a += PAGE, n++) {
      mine[n] = (struct iovec){h[n], sizeof h[n]};
      there[n] = (struct iovec){(void *)a, sizeof h[n]};
    }
    s->budget = s->budget > (unsigned)n ? s->budget - (unsigned)n : 0;
    ssize_t got = process_vm_readv(getpid(), mine, (unsigned long)n, there,
                                   (unsigned long)n, 0);
    int read = got > 0 ? (int)(got / (ssize_t)sizeof h[0]) : 0;
    uintptr_t next = at + (uintptr_t)(read < n ? read + 1 : n) * PAGE;
    for (int i = 0; i < read; i++) {
      uintptr_t a = at + (uintptr_t)i * PAGE;
      size_t size = mapped_block(h[i], end - a);
      if (!size)
        continue;
      s->mmapped_usable += size - CHUNK_HEADER;
      covered += size;
      next = a + size; /* its pages hold the program's data */
      break;
    }
    at = next;
  }
  return covered;
}

/* "start-end perms offset dev inode   path": what the mapping counts as. */
static void mapping(scan *s, const char *line) {
  const char *c = line;
  uintptr_t start = hex(&c);
  c++;
  uintptr_t end = hex(&c);
  char perms[5];
  memcpy(perms, c + 1, 4);
  perms[4] = 0;
  int field = 0;
  for (c += 5; *c && field < 3; field++) { /* offset, dev, inode */
    while (*c == ' ')
      c++;
    while (*c && *c != ' ')
      c++;
  }
  bool anon_inode = c > line + 2 && c[-1] == '0' && c[-2] == ' ';
  while (*c == ' ')
    c++;
  bool anon = anon_inode && (!*c || *c == '\n' || !strncmp(c, "[anon", 5));
  bool rw = perms[0] == 'r' && perms[1] == 'w';
  if (!strncmp(c, "[heap]", 6))
    s->kind = K_ARENA;
  else if (!strncmp(c, "[stack", 6))
    s->kind = K_STACK;
  else if (!anon || !rw)
    s->kind = K_NONE;
  else if (is_arena_heap(start, end))
    s->kind = K_ARENA;
  else if (s->prev_guard && s->prev_end == start)
    s->kind = K_STACK; /* a thread stack: its guard page just below */
  else
    s->kind = K_ANON;
  s->blocks = s->kind == K_ANON ? mapped_blocks(s, start, end) : 0;
  s->prev_guard = anon && !strcmp(perms, "---p") && end - start <= STACK_GUARD_MAX;
  s->prev_end = end;
}

static void line_of(scan *s, const char *line) {
  if (!strncmp(line, "Rss:", 4)) {
    uint64_t b = kb_field(line, 4);
    if (s->kind == K_STACK)
      s->stacks += b;
    else if (s->kind == K_ARENA)
      s->arenas += b;
    else if (s->kind == K_ANON) /* less malloc's blocks: held bytes */
      s->anon += b - (b < s->blocks ? b : s->blocks);
  } else if ((line[0] >= '0' && line[0] <= '9') || (line[0] >= 'a' && line[0] <= 'f')) {
    if (strchr(line, '-') && strchr(line, '-') < strchr(line, ' '))
      mapping(s, line);
  }
}

/* Calls fn(arg, line) for each line of a /proc file (lines cut at 255
 * bytes: a mapping's path matters only by its start); false when it
 * cannot be read. Small buffers: exit may run on a thread's small stack. */
static bool each_line(const char *path, void (*fn)(void *, const char *), void *arg) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  char buf[1024], line[256];
  size_t len = 0;
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0)
    for (ssize_t i = 0; i < n; i++) {
      if (buf[i] != '\n') {
        if (len < sizeof line - 1)
          line[len++] = buf[i];
        continue;
      }
      line[len] = 0;
      fn(arg, line);
      len = 0;
    }
  close(fd);
  return n == 0;
}

static void smaps_line(void *arg, const char *line) { line_of(arg, line); }

static void status_line(void *arg, const char *line) {
  uint64_t *w = arg;
  if (!strncmp(line, "VmRSS:", 6))
    w[ZMR_HR_RSS] = kb_field(line, 6);
  else if (!strncmp(line, "RssFile:", 8) || !strncmp(line, "RssShmem:", 9))
    w[ZMR_HR_FILE] += kb_field(line, line[4] == 'F' ? 8 : 9);
}

void zmp_heap_rss_exit(void) {
  zmr_proc *p = zmp_proc;
  if (!p)
    return;
  int saved = errno;
  uint64_t w[ZMR_HR_WORDS] = {0};
  scan s = {.budget = PEEK_BUDGET};
  if (each_line("/proc/self/status", status_line, w) &&
      each_line("/proc/self/smaps", smaps_line, &s)) {
    w[ZMR_HR_STACKS] = s.stacks;
    w[ZMR_HR_ARENAS] = s.arenas;
    w[ZMR_HR_ANON_OTHER] = s.anon;
    w[ZMR_HR_MMAPPED_USABLE] = s.mmapped_usable;
    w[ZMR_HR_VALID] = 1;
    memcpy(p->heap_rss, w, sizeof w);
  }
  errno = saved;
}
