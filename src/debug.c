/* The debug layout (see debug.h): block set-up, checks, the live-block list
 * and the quarantine. Reports are built in a stack buffer and written with
 * one write(2), without allocating. */
#include "debug.h"
#include "backend.h"
#include "fork.h"
#include "line.h"
#include "prim/prim.h"
#include "vg.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define FRONT 16    /* front guard bytes */
#define REAR_MIN 16 /* rear guard: at least this, up to a 16-byte boundary */
#define MAGIC_LIVE 0x7a6d656d4c495645u  /* "zmemLIVE" */
#define MAGIC_FREED 0x7a6d656d46524545u /* "zmemFREE" */

typedef zm__site site;

typedef struct zm__dbg {
  uint64_t magic;    /* MAGIC_LIVE or MAGIC_FREED, xor the header's address */
  uint32_t offset16; /* backend block = header - offset16 * 16 */
  uint32_t tag;
  size_t size; /* requested: the user block */
  size_t held; /* what the backend holds, as counted */
  site alloc_at, freed_at;
  /* Live: the circular live-block list. Quarantined: next is the next
   * block's header, prev the next block's backend block, so that memcheck
   * finds every quarantined block through a pointer to its start (the
   * header is inside it when the block is over-aligned). */
  struct zm__dbg *prev, *next;
} zm__dbg;

#define HEAD (sizeof(zm__dbg) + FRONT)
_Static_assert(HEAD % 16 == 0, "the user block stays 16-aligned");

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static zm__dbg live = {.prev = &live, .next = &live};
static zm__dbg *q_head, *q_tail; /* oldest first */
static void *volatile q_head_base; /* q_head's backend block (see zm__dbg) */
static size_t q_bytes;
static _Atomic size_t q_limit = ZM_DEBUG_QUARANTINE_DEFAULT;

static _Thread_local site next_site; /* from zm_debug_site */
static _Thread_local void *caller;   /* from the front-end */

/* ------------------------------------------------------------- geometry */

static zm__dbg *hdr_of(const void *p) { return (zm__dbg *)((char *)p - HEAD); }
static unsigned char *user_of(const zm__dbg *d) {
  return (unsigned char *)d + HEAD;
}
static size_t rear_of(size_t n) { return REAR_MIN + (16 - n % 16) % 16; }
static void *base_of(zm__dbg *d) {
  return (char *)d - (size_t)d->offset16 * 16;
}
static uint64_t seal(const zm__dbg *d, uint64_t magic) {
  return magic ^ (uint64_t)(uintptr_t)d;
}

/* ---------------------------------------------------------------- sites */

void zm_debug_site(const char *file, int line) {
  next_site.file = file;
  next_site.where = (uintptr_t)(line > 0 ? line : 0);
}

void zm__dbg_note_caller(void *pc) { caller = pc; }

/* The site of the call in progress; forgets it. */
static site take_site(void) {
  site s = next_site.file ? next_site : (site){NULL, (uintptr_t)caller};
  next_site.file = NULL;
  caller = NULL;
  return s;
}

void zm__site_put(zm__line *l, site s) {
  if (s.file) {
    zm__line_str(l, s.file);
    zm__line_str(l, ":");
    zm__line_num(l, s.where);
    return;
  }
  if (!s.where) {
    zm__line_str(l, "an unknown site");
    return;
  }
  zm__prim_symbol sym;
  zm__line_hex(l, s.where);
  if (zm__prim_symbolize((void *)s.where, &sym)) {
    zm__line_str(l, " (");
    if (sym.name) {
      zm__line_str(l, sym.name);
      zm__line_str(l, "+");
      zm__line_hex(l, sym.offset);
      zm__line_str(l, " in ");
      zm__line_str(l, sym.object);
    } else {
      zm__line_str(l, sym.object);
      zm__line_str(l, "+");
      zm__line_hex(l, sym.offset);
    }
    zm__line_str(l, ")");
  }
}

/* --------------------------------------------------------------- reports */

/* "block ADDR (size N) allocated at SITE" */
static void put_block(zm__line *l, const zm__dbg *d) {
  zm__line_str(l, "block ");
  zm__line_hex(l, (uintptr_t)user_of(d));
  zm__line_str(l, " (size ");
  zm__line_num(l, d->size);
  zm__line_str(l, ") allocated at ");
  zm__site_put(l, d->alloc_at);
}

zm__cold static void die(zm__line *l, const char *op) {
  zm__line_str(l, " (found by ");
  zm__line_str(l, op);
  zm__line_str(l, ")");
  zm__line_flush(l);
  abort();
}

zm__cold static void die_guard(const zm__dbg *d, const char *what, size_t n,
                               const char *op) {
  zm__line l = {.n = 0};
  zm__line_str(&l, "zmem: buffer ");
  zm__line_str(&l, what);
  zm__line_str(&l, ": ");
  zm__line_num(&l, n);
  zm__line_str(&l, n == 1 ? " byte " : " bytes ");
  zm__line_str(&l, what[0] == 'o' ? "written past the end of"
                                  : "written before the start of");
  zm__line_str(&l, " ");
  put_block(&l, d);
  die(&l, op);
}

zm__cold static void die_double_free(const zm__dbg *d, const char *op) {
  zm__line l = {.n = 0};
  zm__line_str(&l, "zmem: double free of ");
  put_block(&l, d);
  zm__line_str(&l, ", first freed at ");
  zm__site_put(&l, d->freed_at);
  die(&l, op);
}

zm__cold static void die_foreign(const void *p, const char *op) {
  zm__line l = {.n = 0};
  zm__line_str(&l, "zmem: invalid pointer ");
  zm__line_hex(&l, (uintptr_t)p);
  zm__line_str(&l, ": not a block zmem allocated (or its header was "
                   "overwritten)");
  die(&l, op);
}

zm__cold static void die_after_free(const zm__dbg *d, size_t at,
                                    const char *op) {
  zm__line l = {.n = 0};
  zm__line_str(&l, "zmem: write after free: byte ");
  zm__line_num(&l, at);
  zm__line_str(&l, " of ");
  put_block(&l, d);
  zm__line_str(&l, ", freed at ");
  zm__site_put(&l, d->freed_at);
  die(&l, op);
}

/* ---------------------------------------------------------------- checks */

/* Index of the first byte of [p, p+n) that is not b, or n. */
static size_t first_not(const unsigned char *p, size_t n, unsigned char b) {
  size_t i = 0;
  while (i < n && p[i] == b)
    i++;
  return i;
}

/* Index + 1 of the last byte of [p, p+n) that is not b, or 0. */
static size_t last_not(const unsigned char *p, size_t n, unsigned char b) {
  while (n && p[n - 1] == b)
    n--;
  return n;
}

static void check_guards(const zm__dbg *d, const char *op) {
  const unsigned char *u = user_of(d);
  size_t front = first_not(u - FRONT, FRONT, ZM_DEBUG_FILL_GUARD);
  if (front < FRONT)
    die_guard(d, "underflow", FRONT - front, op);
  size_t rear = last_not(u + d->size, rear_of(d->size), ZM_DEBUG_FILL_GUARD);
  if (rear)
    die_guard(d, "overflow", rear, op);
}

static uint64_t magic_of(const zm__dbg *d) {
  return d->magic ^ (uint64_t)(uintptr_t)d;
}

void zm__dbg_check(const void *p, const char *op) {
  const zm__dbg *d = hdr_of(p);
  uint64_t m = magic_of(d);
  if (m == MAGIC_FREED)
    die_double_free(d, op);
  if (m != MAGIC_LIVE)
    die_foreign(p, op);
  check_guards(d, op);
}

static void check_freed(const zm__dbg *d, const char *op) {
  if (magic_of(d) != MAGIC_FREED)
    die_foreign(user_of(d), op);
  check_guards(d, op);
  zm__vg_open(user_of(d), d->size); /* freed: no access for the program */
  size_t at = first_not(user_of(d), d->size, ZM_DEBUG_FILL_FREE);
  zm__vg_close(user_of(d), d->size);
  if (at < d->size)
    die_after_free(d, at, op);
}

/* ------------------------------------------------------------ live list */

static void link_live(zm__dbg *d) {
  pthread_mutex_lock(&lock);
  d->prev = &live;
  d->next = live.next;
  live.next->prev = d;
  live.next = d;
  pthread_mutex_unlock(&lock);
}

static void unlink_live(zm__dbg *d) {
  d->prev->next = d->next;
  d->next->prev = d->prev;
}

/* -------------------------------------------------------------- blocks */

void *zm__dbg_new(size_t n, size_t alignment, bool zero, zm_tag tag,
                  size_t *bytes) {
  size_t align = alignment > 16 ? alignment : 16;
  size_t total = HEAD + n + rear_of(n) + (align > 16 ? align : 0);
  char *base = zm__be_malloc(total);
  if (!base)
    return NULL;
  uintptr_t user = ((uintptr_t)base + HEAD + align - 1) & ~(uintptr_t)(align - 1);
  zm__dbg *d = hdr_of((void *)user);
  *d = (zm__dbg){.offset16 = (uint32_t)(((char *)d - base) / 16),
                 .tag = tag,
                 .size = n,
                 .held = zm__be_has_usable() ? zm__be_usable(base) : total,
                 .alloc_at = take_site()};
  d->magic = seal(d, MAGIC_LIVE);
  memset(user_of(d) - FRONT, ZM_DEBUG_FILL_GUARD, FRONT);
  memset(user_of(d), zero ? 0 : ZM_DEBUG_FILL_ALLOC, n);
  memset(user_of(d) + n, ZM_DEBUG_FILL_GUARD, rear_of(n));
  link_live(d);
  zm__vg_alloc(user_of(d), n, zero);
  *bytes = d->held;
  return user_of(d);
}

size_t zm__dbg_bytes(const void *p) { return hdr_of(p)->held; }
size_t zm__dbg_size(const void *p) { return hdr_of(p)->size; }
zm_tag zm__dbg_tag(const void *p) { return hdr_of(p)->tag; }

/* Blocks that leave the quarantine: checked, then given back. */
static void give_back(zm__dbg *d) {
  while (d) {
    zm__dbg *next = d->next;
    check_freed(d, "the quarantine");
    zm__be_free(base_of(d));
    d = next;
  }
}

/* Removes the oldest blocks while the quarantine holds more than its
 * limit; returns them as a list. */
static zm__dbg *q_trim(void) {
  size_t limit = atomic_load_explicit(&q_limit, memory_order_relaxed);
  zm__dbg *out = q_head, *last = NULL;
  while (q_head && q_bytes > limit) {
    q_bytes -= q_head->held;
    last = q_head;
    q_head_base = q_head->prev;
    q_head = q_head->next;
  }
  if (!last)
    return NULL;
  last->next = NULL;
  if (!q_head)
    q_tail = NULL;
  return out;
}

static void q_push(zm__dbg *d) {
  d->next = d->prev = NULL;
  if (q_tail) {
    q_tail->next = d;
    q_tail->prev = base_of(d);
  } else {
    q_head = d;
    q_head_base = base_of(d);
  }
  q_tail = d;
  q_bytes += d->held;
}

void zm__dbg_release(void *p) {
  zm__dbg *d = hdr_of(p);
  site s = take_site();
  memset(user_of(d), ZM_DEBUG_FILL_FREE, d->size);
  zm__vg_free(user_of(d));
  pthread_mutex_lock(&lock);
  unlink_live(d);
  d->freed_at = s;
  d->magic = seal(d, MAGIC_FREED);
  q_push(d);
  zm__dbg *out = q_trim();
  pthread_mutex_unlock(&lock);
  give_back(out);
}

/* ----------------------------------------------------------- public calls */

size_t zm_debug_check_all(void) {
  size_t n = 0;
  pthread_mutex_lock(&lock);
  for (zm__dbg *d = live.next; d != &live; d = d->next, n++) {
    if (magic_of(d) != MAGIC_LIVE)
      die_foreign(user_of(d), "zm_debug_check_all");
    check_guards(d, "zm_debug_check_all");
  }
  for (zm__dbg *d = q_head; d; d = d->next, n++)
    check_freed(d, "zm_debug_check_all");
  pthread_mutex_unlock(&lock);
  return n;
}

int zm_set_quarantine(size_t bytes) {
  atomic_store(&q_limit, bytes);
  pthread_mutex_lock(&lock);
  zm__dbg *out = q_trim();
  pthread_mutex_unlock(&lock);
  give_back(out);
  return 0;
}

size_t zm__dbg_snapshot(zm__live *out, size_t max) {
  size_t n = 0;
  pthread_mutex_lock(&lock);
  for (zm__dbg *d = live.next; d != &live; d = d->next, n++)
    if (n < max)
      out[n] = (zm__live){d->alloc_at, d->size};
  pthread_mutex_unlock(&lock);
  return n;
}

size_t zm_get_quarantine(void) { return atomic_load(&q_limit); }

void zm__debug_fork_lock(void) { pthread_mutex_lock(&lock); }
void zm__debug_fork_unlock(void) { pthread_mutex_unlock(&lock); }
