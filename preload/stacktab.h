/* The stack table: one entry per distinct call stack, with what that stack
 * allocated, holds now and held at the peak. It lives in a region the
 * caller gives (the shared memory of `zmem run`), so it never allocates,
 * and another process can read it at any time.
 *
 * Writers: any number of threads, no lock on the common path. A known stack
 * is found by hashing its frames and probing the open-addressed table
 * (reads only); a new stack claims an empty entry with one compare-and-swap
 * and takes its frames from a pool with one atomic add. The counters of an
 * entry are updated with atomic adds, so threads only share a cache line
 * when they allocate from the very same stack.
 *
 * Peak: the table keeps the process's live bytes the way the core does
 * (per-thread unpublished bytes, a shared total P written once per
 * ZM__ST_GRANULE, see src/stats.h). A thread that sees P + its own
 * unpublished bytes pass the recorded peak raises it and starts a new peak
 * epoch. "Live at the peak" of an entry is its live bytes and blocks at the
 * moment the last epoch started: an entry first touched in a new epoch
 * saves its live figures before it changes them, and an entry not touched
 * since then still holds them. With one thread the figures are exact: the
 * peak is the exact maximum of live bytes, and each entry's figure is what
 * it held at that moment. With T threads the peak may be missed by up to
 * ZM__ST_GRANULE per other thread (as the core's peak), and an entry's
 * figure may include or miss the one block another thread was allocating or
 * freeing from that stack at that instant.
 *
 * Overflow: when the entries are 3/4 full or the frame pool is exhausted, a
 * stack that is not yet in the table is counted in the overflow entry (a
 * stack of depth 0), so that every total still adds up; the header counts
 * the stacks turned away.
 *
 * Readers (zm__stacktab_read) treat the region as untrusted: every size,
 * index and state is checked, and each field is read once into a copy. */
#ifndef ZM_PRELOAD_STACKTAB_H
#define ZM_PRELOAD_STACKTAB_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define ZM__ST_MAGIC UINT64_C(0x314b434154534d5a) /* "ZMSTACK1" */
#define ZM__ST_VERSION 1
#define ZM__ST_GRANULE 65536 /* bytes a thread keeps unpublished, either way */

/* Once a library has been unloaded, another may be loaded at its
 * addresses, and equal return addresses then name different code. Stacks
 * counted after the k-th unload end with one more frame, the era tag
 * ZM__ST_ERA_TAG(k), which no return address can be (user space ends far
 * below it): the tag keeps them apart from earlier stacks, and tells the
 * reader which load of a module they ran in. */
#define ZM__ST_ERA_MAX 0xffffu
#define ZM__ST_ERA_TAG(k) (UINTPTR_MAX - (uintptr_t)(k))
#define ZM__ST_IS_ERA_TAG(pc) ((pc) >= UINTPTR_MAX - ZM__ST_ERA_MAX)

enum { ZM__ST_EMPTY, ZM__ST_CLAIMED, ZM__ST_READY };

typedef struct zm__st_counters {
  _Atomic uint64_t alloc_count, alloc_bytes; /* in total */
  _Atomic int64_t live_count, live_bytes;    /* now */
  _Atomic int64_t peak_count, peak_bytes;    /* live when epoch `seq` began */
  _Atomic uint64_t seq;                      /* peak epoch of the last change */
  _Atomic uint32_t lock;                     /* taken to save the peak figures */
} zm__st_counters;

typedef struct zm__st_entry {
  _Atomic uint32_t state; /* ZM__ST_EMPTY, _CLAIMED, _READY */
  uint32_t depth;
  uint64_t hash;
  uint64_t frames; /* index of the first frame in the pool */
  zm__st_counters c;
} zm__st_entry;

typedef struct zm__st_header {
  uint64_t magic;
  uint32_t version;
  uint32_t header_size, entry_size;
  uint32_t capacity;  /* entries, a power of two */
  uint32_t max_depth; /* frames per stack, at most */
  uint32_t reserved;
  uint64_t frames_cap;            /* frames in the pool */
  uint64_t weighted;              /* 1 when counts are sampled estimates */
  _Atomic uint64_t frames_used;   /* may pass frames_cap: then it is full */
  _Atomic uint32_t entries_used;
  _Atomic uint64_t peak_seq;      /* the current peak epoch */
  _Atomic uint64_t turned_away;   /* stacks sent to the overflow entry */
  _Alignas(64) _Atomic int64_t published; /* P */
  _Atomic int64_t peak;                   /* the recorded peak of live bytes */
  _Alignas(64) zm__st_entry overflow;
  /* then capacity entries, then frames_cap uintptr_t frames */
} zm__st_header;

/* What one thread keeps of the table's totals; zero it at thread start. At
 * thread exit pass it to zm__stacktab_thread_exit. */
typedef struct zm__st_local {
  int64_t unpublished;
} zm__st_local;

/* Bytes a table of that shape needs; 0 when the shape is invalid
 * (capacity not a power of two or below 2, max_depth 0 or above 1024,
 * frames_cap 0, or a size that overflows). */
size_t zm__stacktab_size(uint32_t capacity, uint32_t max_depth, uint64_t frames_cap);

/* Lays out an empty table in region (len bytes, zero-filled or not,
 * 64-byte aligned). Returns the table, or NULL with errno EINVAL when the
 * shape is invalid or len is too small. */
zm__st_header *zm__stacktab_init(void *region, size_t len, uint32_t capacity,
                                 uint32_t max_depth, uint64_t frames_cap);

/* The entry of a stack (depth frames, innermost first), inserting it when
 * new; the overflow entry when the table is full. depth is cut to
 * max_depth. Never NULL. */
zm__st_entry *zm__stacktab_find(zm__st_header *t, const uintptr_t *frames,
                                uint32_t depth);

/* The same with the stack's hash already known: zm__stack_hash(frames,
 * depth) (stackhash.h), which the capture computes while it walks. */
zm__st_entry *zm__stacktab_find_hashed(zm__st_header *t, const uintptr_t *frames,
                                       uint32_t depth, uint64_t hash);

/* An allocation of `bytes` (count blocks: 1, or a sampled estimate) from
 * entry e, by the thread whose local state is l. */
void zm__stacktab_alloc(zm__st_header *t, zm__st_local *l, zm__st_entry *e,
                        uint64_t count, uint64_t bytes);

/* The release of what zm__stacktab_alloc added with the same figures. */
void zm__stacktab_free(zm__st_header *t, zm__st_local *l, zm__st_entry *e,
                       uint64_t count, uint64_t bytes);

/* The index of an entry (UINT32_MAX for the overflow entry), and back; the
 * entry of an index out of range is the overflow entry. Inline: the
 * preload turns each counted block's entry into an index and back. */
static inline uint32_t zm__stacktab_index(const zm__st_header *t, const zm__st_entry *e) {
  const zm__st_entry *tab = (const zm__st_entry *)(t + 1);
  if (e < tab || e >= tab + t->capacity)
    return UINT32_MAX;
  return (uint32_t)(e - tab);
}

static inline zm__st_entry *zm__stacktab_entry(zm__st_header *t, uint32_t index) {
  return index < t->capacity ? &((zm__st_entry *)(t + 1))[index] : &t->overflow;
}

/* Publishes a thread's unpublished bytes (at thread exit). */
void zm__stacktab_thread_exit(zm__st_header *t, zm__st_local *l);

/* ------------------------------------------------------------- reading */

/* One stack as read back: copies, checked. */
typedef struct zm__st_site {
  const uintptr_t *frames; /* valid during the callback only */
  uint32_t depth;          /* 0: the overflow entry */
  uint64_t alloc_count, alloc_bytes;
  int64_t live_count, live_bytes;
  int64_t peak_count, peak_bytes;
} zm__st_site;

typedef struct zm__st_summary {
  uint32_t capacity, max_depth, entries;
  uint64_t frames_cap, frames_used, turned_away;
  int64_t peak; /* the peak of live bytes the table recorded */
  int weighted;
} zm__st_summary;

/* Calls cb for every stack in the table in region (len bytes), the overflow
 * entry first when it counted anything; cb returns non-zero to stop. The
 * region may be written while it is read (figures then are a moment's, not
 * necessarily consistent between entries) or be garbage: returns 0, or -1
 * with a one-line reason in err (errlen bytes) when the header or an entry
 * is not a valid table, in which case cb may have seen the entries before
 * the bad one. */
typedef int (*zm__st_cb)(const zm__st_site *site, void *arg);
int zm__stacktab_read(const void *region, size_t len, zm__st_summary *sum,
                      zm__st_cb cb, void *arg, char *err, size_t errlen);

#endif
