/* The front-end: every public allocation entry point. It screens size 0,
 * overflow and oversized requests so the layers below never see them, picks
 * the block layout, applies limits, counts, and turns failures into errno or
 * the OOM handler.
 *
 * Each operation has a fast path, taken when the mode word says "lean layout,
 * built-in allocator, no tags, no limits" (one load, one compare), which
 * calls the allocator's size source (builtin.h) directly and counts in the
 * thread's window (stats.h); two more for allocation and free, one under a
 * hard limit alone (the thread's reserve, limits.h) and one for the header
 * layout with or without tags (the tag counted in the window of the
 * thread's set for it, tags.h); and a general path for everything else. The
 * block helpers (lean_*, hdr_*) allocate and free without counting and
 * report the bytes the backend holds; each public call counts exactly
 * once. */
#include "backend.h"
#include "debug.h"
#include "fault.h"
#include "layout.h"
#include "limits.h"
#include "oom.h"
#include "prim/prim.h"
#include "stats.h"
#include "tags.h"
#include "vg.h"
#include "wiring.h"

#include <errno.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

/* Larger requests fail: this leaves room for the header and keeps every
 * request the backend sees below PTRDIFF_MAX. */
#define MAX_REQUEST ((size_t)PTRDIFF_MAX - 4096)
/* Over-aligned header blocks store their offset in 16-byte units, 32 bits. */
#define MAX_HEADER_ALIGN ((size_t)1 << 35)
#define MIN_ALIGN alignof(max_align_t)
/* zm_malloc and friends allocate into the calling thread's current tag.
 * An internal marker: the *_tag functions turn every tag they are given
 * into a registered one (explicit_tag) first, so no caller can pass it. */
#define CURRENT_TAG ZM_TAG_INVALID

/* Inlined even without optimisation: the debug layout's allocation site is
 * the return address of the public function these are inlined into. */
#define zm__inline static inline __attribute__((always_inline))

static inline size_t nonzero(size_t n) { return n ? n : 1; }
static inline bool is_lean(int mode) {
  return (mode & ZM__MODE_LAYOUT) == ZM_LAYOUT_LEAN;
}
static inline bool is_debug(int mode) {
  return (mode & ZM__MODE_LAYOUT) == ZM_LAYOUT_DEBUG;
}

/* In the debug layout, the caller of the public function in progress is the
 * site of what it allocates or frees. */
#define note_caller(mode) note_site(mode, __builtin_return_address(0))

/* The same, for a function that the public one calls: ra is the public
 * function's return address, which it passes on. */
static inline void note_site(int mode, void *ra) {
  if (is_debug(mode))
    zm__dbg_note_caller(ra);
}

/* ---------------------------------------------------- lean layout blocks */

static inline void *lean_new(size_t n, bool zero, size_t *bytes) {
  void *p = zero ? zm__be_calloc(n) : zm__be_malloc(n);
  if (zm__likely(p))
    *bytes = zm__be_sized_exact() ? zm__be_good_size(n) : zm__be_usable(p);
  return p;
}

/* With the built-in allocator, through its size source: where it keeps a
 * size table (builtin.h), its realloc keeps every block in its request's
 * class, which a sized free in the fast path relies on. */
static void *lean_resize(void *p, size_t n, int64_t *delta) {
  if (zm__be_direct())
    return bi_realloc_counted(p, n, delta);
  size_t old = zm__be_usable(p);
  void *q = zm__be_realloc(p, n);
  if (q)
    *delta = (int64_t)zm__be_usable(q) - (int64_t)old;
  return q;
}

/* alignment: a power of two above MIN_ALIGN. */
static void *lean_new_aligned(size_t alignment, size_t n, size_t *bytes,
                              int *err) {
  if (!zm__be_has_aligned()) {
    *err = ENOTSUP;
    return NULL;
  }
  void *p = zm__be_aligned(alignment, n);
  if (p)
    *bytes = zm__be_usable(p);
  return p;
}

/* -------------------------------------------------- header layout blocks */

/* Fills in the header at h inside a backend block of `total` bytes starting
 * at base, and returns the user pointer. */
static void *hdr_init(void *base, zm__header *h, size_t total, zm_tag tag) {
  size_t held = zm__be_has_usable() ? zm__be_usable(base) : total;
  h->offset16 = (uint32_t)(((char *)h - (char *)base) / 16);
  h->size = held - ZM_HEADER_SIZE - (size_t)h->offset16 * 16;
  h->tag = tag;
  return zm__hdr_user(h);
}

static void *hdr_new(size_t n, bool zero, zm_tag tag, size_t *bytes) {
  size_t total = n + ZM_HEADER_SIZE;
  void *base = zero ? zm__be_calloc(total) : zm__be_malloc(total);
  if (!base)
    return NULL;
  void *user = hdr_init(base, base, total, tag);
  *bytes = zm__hdr_bytes(zm__hdr(user));
  zm__vg_alloc(user, zm__hdr(user)->size, zero);
  return user;
}

/* alignment: a power of two above MIN_ALIGN. The backend block is 16-aligned,
 * so at most alignment - 16 bytes are skipped to align the user pointer. */
static void *hdr_new_aligned(size_t alignment, size_t n, zm_tag tag,
                             size_t *bytes) {
  if (alignment > MAX_HEADER_ALIGN)
    return NULL;
  size_t total = n + alignment;
  char *base = zm__be_malloc(total);
  if (!base)
    return NULL;
  uintptr_t user = ((uintptr_t)base + ZM_HEADER_SIZE + alignment - 1) &
                   ~(uintptr_t)(alignment - 1);
  void *p = hdr_init(base, zm__hdr((void *)user), total, tag);
  *bytes = zm__hdr_bytes(zm__hdr(p));
  zm__vg_alloc(p, zm__hdr(p)->size, false);
  return p;
}

static void *hdr_resize(void *p, size_t n, int64_t *delta) {
  zm__header *h = zm__hdr(p);
  size_t old = zm__hdr_bytes(h);
  size_t total = n + ZM_HEADER_SIZE;
  zm__header *nh = zm__be_realloc(h, total);
  if (!nh)
    return NULL;
  void *q = hdr_init(nh, nh, total, nh->tag);
  *delta = (int64_t)zm__hdr_bytes(nh) - (int64_t)old;
  return q;
}

/* ------------------------------------------------ layout-neutral blocks */

static void *block_new(int mode, size_t n, bool zero, zm_tag tag,
                       size_t *bytes) {
  if (is_debug(mode))
    return zm__dbg_new(n, 0, zero, tag, bytes);
  return is_lean(mode) ? lean_new(n, zero, bytes)
                       : hdr_new(n, zero, tag, bytes);
}

static size_t block_bytes(int mode, const void *p) {
  if (is_debug(mode))
    return zm__dbg_bytes(p);
  return is_lean(mode) ? zm__be_usable(p) : zm__hdr_bytes(zm__hdr(p));
}

static void block_release(int mode, void *p) {
  if (is_debug(mode)) {
    zm__dbg_release(p);
    return;
  }
  if (!is_lean(mode))
    zm__vg_free(p);
  zm__be_free(is_lean(mode) ? p : zm__hdr_base(zm__hdr(p)));
}

static zm_tag block_tag(int mode, const void *p) {
  if (!(mode & ZM__MODE_TAGS))
    return ZM_TAG_DEFAULT;
  return is_debug(mode) ? zm__dbg_tag(p) : zm__hdr(p)->tag;
}

static size_t block_usable(int mode, const void *p) {
  if (is_debug(mode))
    return zm__dbg_size(p);
  return is_lean(mode) ? zm__be_usable(p) : zm__hdr(p)->size;
}

/* The debug layout checks every block passed in before using it. */
static void block_check(int mode, const void *p, const char *op) {
  if (is_debug(mode))
    zm__dbg_check(p, op);
}

/* ------------------------------------------------------------ counting */

static zm_tag resolve_tag(int mode, zm_tag tag) {
  if (!(mode & ZM__MODE_TAGS))
    return ZM_TAG_DEFAULT;
  return zm__tag_valid(tag == CURRENT_TAG ? zm__cur_tag : tag);
}

static void count_general(int mode, zm_tag tag, int64_t bytes, int64_t blocks,
                          zm__call call) {
  zm__count(bytes, blocks, call);
  if (mode & ZM__MODE_TAGS)
    zm__tags_count(tag, bytes, blocks, false);
}

zm__cold static void *failed(zm__call call, zm_tag tag, size_t size,
                             bool checked, int err) {
  zm__count_call(call);
  zm__count_call(ZM__CALL_FAILURE);
  /* Not zm__mode_get: a call refused before the first allocation must not
   * fix the layout (it allocated nothing); before that, tags count nothing. */
  int mode = atomic_load_explicit(&zm__mode, memory_order_acquire);
  if (mode & ZM__MODE_TAGS)
    zm__tags_count(resolve_tag(mode, tag), 0, 0, true);
  if (checked && err == ENOMEM) {
    zm__register_upcalls(); /* the summary, should this be the first call */
    zm__oom(size);
  }
  errno = err;
  return NULL;
}

/* Fault injection refuses a request before the backend sees it. */
static bool fault_refused(int mode) {
  return (mode & ZM__MODE_FAULT) && zm__fault_refuse();
}

/* The policies that may refuse a new block of about n bytes. */
static bool refused(int mode, size_t n, zm_tag tag) {
  return fault_refused(mode) ||
         ((mode & ZM__MODE_LIMITS) && !zm__limit_admit(n, tag));
}

/* Charges a new block to the limits; on refusal releases it. */
static bool admit_block(int mode, void *p, size_t bytes, zm_tag tag) {
  if (!(mode & ZM__MODE_LIMITS) || zm__limit_charge(bytes, tag))
    return true;
  block_release(mode, p);
  return false;
}

/* ----------------------------------------------------------- allocation */

zm__noinline static void *alloc_general(int mode, size_t size, bool zero,
                                        zm__call call, zm_tag tag) {
  size_t n = nonzero(size), bytes;
  tag = resolve_tag(mode, tag);
  if (refused(mode, n, tag))
    return NULL;
  void *p = block_new(mode, n, zero, tag, &bytes);
  if (!p || !admit_block(mode, p, bytes, tag))
    return NULL;
  count_general(mode, tag, (int64_t)bytes, 1, call);
  return p;
}

/* The mode of the lean path under a hard limit alone (no soft limit, so no
 * ZM__MODE_SOFT): the fast path with the thread's reserve of the limit
 * (limits.h) in place of the shared counter. */
static inline bool is_limited(int mode) {
  return mode == (ZM_LAYOUT_LEAN | ZM__MODE_LIMITS);
}

/* Refused before the backend is asked when the reserve cannot cover the
 * request; the block's exact bytes are taken from it after. */
zm__noinline static void *alloc_limited(size_t size, bool zero,
                                        zm__call call) {
  size_t n = bi_zero_ok ? size : nonzero(size), bytes;
  if (zm__unlikely(!zm__reserve_has(n)) && !zm__reserve_refill(n))
    return NULL;
  void *p = bi_malloc_counted(n, zero, &bytes);
  if (zm__unlikely(!p))
    return NULL;
  /* the reserve was valid before the call: only its size is checked */
  zm__reserve *r = &zm__my_reserve;
  if (zm__unlikely(r->left < (int64_t)bytes) && !zm__reserve_refill(bytes)) {
    bi_free(p);
    return NULL;
  }
  r->left -= (int64_t)bytes;
  return zm__count_p(p, (int64_t)bytes, 1, call);
}

/* The header layout's fast path (with or without tags): the built-in
 * allocator, no limit, no fault injection, not under memcheck. */
#define MODE_HEADER ZM_LAYOUT_HEADER
#define MODE_TAGGED (ZM_LAYOUT_HEADER | ZM__MODE_TAGS)

/* The size source gives the bytes the header records; the block counts
 * into the total and, with tags on, into its tag. tag: CURRENT_TAG or a
 * registered tag (the current one always is). A failure is reported here,
 * so that the public function's call to this is its last. */
zm__inline void *header_new(size_t size, bool zero, zm__call call, zm_tag tag,
                            bool tags, bool checked) {
  size_t bytes;
  zm__header *h;
  if (zm__unlikely(size > MAX_REQUEST) ||
      zm__unlikely(!(h = bi_malloc_counted(size + ZM_HEADER_SIZE, zero,
                                           &bytes))))
    return failed(call, tag, size, checked, ENOMEM);
  zm_tag t = !tags ? ZM_TAG_DEFAULT : tag == CURRENT_TAG ? zm__cur_tag : tag;
  h->size = bytes - ZM_HEADER_SIZE;
  h->offset16 = 0;
  h->tag = t;
  void *p = zm__hdr_user(h);
  if (!tags)
    return zm__count_p(p, (int64_t)bytes, 1, call);
  if (zm__unlikely(!zm__count_tagged_fast((int64_t)bytes, 1, call, t)))
    return zm__count_tagged_slow_p(p, (int64_t)bytes, 1, call, t);
  return p;
}

/* zm_malloc and its checked kin with tags on: the hottest case, inlined
 * into the public function (which then keeps no second frame) with its
 * constants folded in. */
zm__inline void *tagged_malloc(size_t size, zm_tag tag) {
  return header_new(size, false, ZM__CALL_MALLOC, tag, true, true);
}

zm__noinline static void *header_alloc(int mode, size_t size, bool zero,
                                       zm__call call, zm_tag tag,
                                       bool checked) {
  return header_new(size, zero, call, tag, mode & ZM__MODE_TAGS, checked);
}

/* Every path but the lean and header fast paths. size: within
 * MAX_REQUEST. */
zm__inline void *alloc_slow(size_t size, bool zero, zm__call call,
                            zm_tag tag) {
  int mode = zm__mode_get();
  if (is_limited(mode)) /* the first allocation fixed it just now */
    return alloc_limited(size, zero, call);
  note_caller(mode);
  return alloc_general(mode, size, zero, call, tag);
}

zm__inline void *alloc_or_fail(size_t size, bool zero, zm__call call,
                               zm_tag tag, bool checked) {
  int mode = atomic_load_explicit(&zm__mode, memory_order_acquire);
  void *p = NULL;
  if (zm__likely(mode == ZM_LAYOUT_LEAN && size <= MAX_REQUEST)) {
    size_t bytes;
    p = bi_malloc_counted(bi_zero_ok ? size : nonzero(size), zero, &bytes);
    if (zm__likely(p))
      return zm__count_p(p, (int64_t)bytes, 1, call);
  } else if (mode == MODE_TAGGED) {
    return !zero && call == ZM__CALL_MALLOC && checked
               ? tagged_malloc(size, tag)
               : header_alloc(mode, size, zero, call, tag, checked);
  } else if (is_limited(mode) && size <= MAX_REQUEST) {
    p = alloc_limited(size, zero, call);
    if (zm__likely(p))
      return p;
  } else if (mode == MODE_HEADER) {
    return header_alloc(mode, size, zero, call, tag, checked);
  } else if (size <= MAX_REQUEST) { /* else refused before the mode: a
                                       refused call fixes no layout */
    p = alloc_slow(size, zero, call, tag);
    if (zm__likely(p))
      return p;
  }
  return failed(call, tag, size, checked, ENOMEM);
}

void *zm_malloc(size_t size) {
  return alloc_or_fail(size, false, ZM__CALL_MALLOC, CURRENT_TAG, true);
}

void *zm_try_malloc(size_t size) {
  return alloc_or_fail(size, false, ZM__CALL_MALLOC, CURRENT_TAG, false);
}

/* A tag a caller named: unknown ones (ZM_TAG_INVALID too) are the default. */
static zm_tag explicit_tag(zm_tag tag) { return zm__tag_valid(tag); }

void *zm_malloc_tag(zm_tag tag, size_t size) {
  return alloc_or_fail(size, false, ZM__CALL_MALLOC, explicit_tag(tag), true);
}

void *zm_try_malloc_tag(zm_tag tag, size_t size) {
  return alloc_or_fail(size, false, ZM__CALL_MALLOC, explicit_tag(tag), false);
}

zm__inline void *calloc_impl(size_t count, size_t size, zm_tag tag, bool checked) {
  size_t n;
  if (__builtin_mul_overflow(count, size, &n))
    return failed(ZM__CALL_CALLOC, tag, SIZE_MAX, checked, ENOMEM);
  return alloc_or_fail(n, true, ZM__CALL_CALLOC, tag, checked);
}

void *zm_calloc(size_t count, size_t size) {
  return calloc_impl(count, size, CURRENT_TAG, true);
}

void *zm_try_calloc(size_t count, size_t size) {
  return calloc_impl(count, size, CURRENT_TAG, false);
}

void *zm_calloc_tag(zm_tag tag, size_t count, size_t size) {
  return calloc_impl(count, size, explicit_tag(tag), true);
}

void *zm_try_calloc_tag(zm_tag tag, size_t count, size_t size) {
  return calloc_impl(count, size, explicit_tag(tag), false);
}

/* ----------------------------------------------------------------- free */

/* Frees p and counts it as `call`. */
/* Limits are given back only after the count went down (and charged before
 * it goes up), so used memory never exceeds what the limits hold. */
static void release_general(int mode, void *p, zm__call call) {
  block_check(mode, p, call == ZM__CALL_FREE ? "free" : "realloc");
  size_t bytes = block_bytes(mode, p);
  zm_tag tag = block_tag(mode, p);
  block_release(mode, p);
  count_general(mode, tag, -(int64_t)bytes, -1, call);
  if (mode & ZM__MODE_LIMITS)
    zm__limit_adjust(-(int64_t)bytes, tag);
}

zm__noinline static void free_general(int mode, void *p) {
  int saved = errno;
  release_general(mode, p, ZM__CALL_FREE);
  errno = saved;
}

/* errno's address, found once per thread: errno is a call away
 * (__errno_location), which the free path would pay twice and around which
 * it would keep the pointer in a saved register. */
static __thread int *errno_at __attribute__((tls_model("initial-exec")));

static inline int *my_errno(void) {
  int *e = errno_at;
  if (zm__unlikely(!e))
    e = errno_at = &errno;
  return e;
}

/* The fast path's free: the size source frees and says how much. */
static inline void free_fast(void *ptr) {
  zm__count(-(int64_t)bi_free_counted(ptr), -1, ZM__CALL_FREE);
}

/* Under a hard limit alone: the bytes go to the thread's reserve, after the
 * count went down. */
zm__noinline static void free_limited(void *ptr) {
  int *e = my_errno(), saved = *e;
  size_t bytes = bi_free_counted(ptr);
  zm__count(-(int64_t)bytes, -1, ZM__CALL_FREE);
  zm__reserve_give(bytes);
  *e = saved;
}

/* Frees a header block without its count: a free of the allocator that may
 * change errno keeps it. */
static inline void header_release(zm__header *h, size_t bytes) {
  if (bi_free_keeps_errno) {
    bi_free_usable(h, bytes);
    return;
  }
  int *e = my_errno(), saved = *e;
  bi_free_usable(h, bytes);
  *e = saved;
}

/* The header layout's fast path when a count leaves its window, and for
 * over-aligned blocks (an offset to the backend's block): the general
 * path. */
zm__noinline static void header_free_slow(void *ptr) {
  free_general(zm__mode_get(), ptr);
}

/* The header layout's fast path: the header says how many bytes the
 * backend holds and which tag they count into, so the block is counted
 * before it goes and nothing is kept across a call. */
zm__inline void header_free(void *ptr, bool tags) {
  zm__header *h = zm__hdr(ptr);
  size_t bytes = h->size + ZM_HEADER_SIZE;
  if (zm__unlikely(h->offset16 != 0)) {
    header_free_slow(ptr);
    return;
  }
  if (!tags) {
    zm__count(-(int64_t)bytes, -1, ZM__CALL_FREE);
  } else if (zm__unlikely(!zm__count_tagged_fast(-(int64_t)bytes, -1,
                                                  ZM__CALL_FREE, h->tag))) {
    header_free_slow(ptr);
    return;
  }
  header_release(h, bytes);
}

zm__noinline static void untagged_free(void *ptr) { header_free(ptr, false); }

/* Every free but the fast paths, out of line: zm_free then keeps fewer
 * registers on its lean path. ra: zm_free's return address, the debug
 * layout's site. */
zm__noinline static void free_other(void *ptr, void *ra) {
  int mode = zm__mode_get();
  note_site(mode, ra);
  free_general(mode, ptr);
}

/* The lean path is tested first, the tagged one second, each with the mode
 * word read once (the general path reads it again: before the first
 * allocation it is 0). */
void zm_free(void *ptr) {
  if (!ptr)
    return;
  int mode = atomic_load_explicit(&zm__mode, memory_order_acquire);
  if (zm__unlikely(mode != ZM_LAYOUT_LEAN)) {
    if (mode == MODE_TAGGED)
      header_free(ptr, true);
    else if (is_limited(mode))
      free_limited(ptr);
    else if (mode == MODE_HEADER)
      untagged_free(ptr);
    else
      free_other(ptr, __builtin_return_address(0));
    return;
  }
  if (bi_free_keeps_errno) {
    free_fast(ptr);
    return;
  }
  int *e = my_errno(), saved = *e;
  free_fast(ptr);
  *e = saved;
}

zm__cold static void sized_mismatch(void) {
  static const char msg[] =
      "zmem: zm_free_sized called with a size the block was not requested "
      "with\n";
  zm__prim_write_stderr(msg, sizeof msg - 1);
  abort();
}

void zm_free_sized(void *ptr, size_t size) {
  if (!ptr)
    return;
  if (zm__unlikely(!zm__mode_is_fast())) {
    zm_free(ptr);
    return;
  }
  size_t n = nonzero(size);
  if (zm__debug_assert && bi_has_good_size &&
      bi_usable(ptr) != bi_good_size(n))
    sized_mismatch();
#ifdef ZM__BI_SIZE_TABLE
  if (zm__debug_assert && bi_in_table(n) && bi_usable(ptr) != bi_table_size(n))
    sized_mismatch();
#endif
  int *e = my_errno(), saved = *e;
  zm__count(-(int64_t)bi_free_sized_counted(ptr, n), -1, ZM__CALL_FREE);
  *e = saved;
}

/* -------------------------------------------------------------- realloc */

/* Allocate, copy, free: for over-aligned header blocks (the offset to the
 * alignment would shift under the backend's realloc) and for growth under a
 * limit (the new block is charged before the old one is let go). *unpaid is
 * what the caller gives back to the limits once it has counted. */
static void *resize_by_moving(int mode, void *p, size_t n, zm_tag tag,
                              int64_t *delta, size_t *unpaid) {
  size_t bytes, old = block_bytes(mode, p);
  if ((mode & ZM__MODE_LIMITS) && !zm__limit_admit(n, tag))
    return NULL;
  void *q = block_new(mode, n, false, tag, &bytes);
  if (!q || !admit_block(mode, q, bytes, tag))
    return NULL;
  size_t keep = block_usable(mode, p);
  memcpy(q, p, n < keep ? n : keep);
  block_release(mode, p);
  *delta = (int64_t)bytes - (int64_t)old;
  *unpaid = old;
  return q;
}

/* Debug blocks always move. Under valgrind header blocks do too, so that
 * memcheck follows the contents from block to block. */
static bool must_move(int mode, void *p, size_t n) {
  if (is_debug(mode))
    return true;
  if (!is_lean(mode) && (zm__hdr(p)->offset16 || zm__vg_running()))
    return true;
  return (mode & ZM__MODE_LIMITS) && n > block_usable(mode, p);
}

static void *resize(int mode, void *p, size_t n, zm_tag tag, int64_t *delta,
                    size_t *unpaid) {
  if (fault_refused(mode))
    return NULL;
  if (must_move(mode, p, n))
    return resize_by_moving(mode, p, n, tag, delta, unpaid);
  void *q = is_lean(mode) ? lean_resize(p, n, delta) : hdr_resize(p, n, delta);
  if (q && (mode & ZM__MODE_LIMITS)) {
    if (*delta > 0) /* a shrink that still grew: charge it, no refusal */
      zm__limit_adjust(*delta, tag);
    else
      *unpaid = (size_t)-*delta;
  }
  return q;
}

/* Resizes in the fast path's mode: size > 0, within MAX_REQUEST. */
static void *realloc_fast(void *ptr, size_t size, bool checked) {
  int64_t delta;
  void *q = bi_realloc_counted(ptr, size, &delta);
  if (zm__unlikely(!q))
    return failed(ZM__CALL_REALLOC, ZM_TAG_DEFAULT, size, checked, ENOMEM);
  zm__count(delta, 0, ZM__CALL_REALLOC);
  if (q != ptr)
    zm__count_call(ZM__CALL_MOVED);
  return q;
}

zm__inline void *realloc_impl(void *ptr, size_t size, bool checked) {
  if (zm__likely(ptr && size - 1 < MAX_REQUEST && zm__mode_is_fast()))
    return realloc_fast(ptr, size, checked);
  if (!ptr)
    return alloc_or_fail(size, false, ZM__CALL_REALLOC, CURRENT_TAG, checked);
  int mode = zm__mode_get();
  note_caller(mode);
  block_check(mode, ptr, "realloc");
  if (size == 0) { /* a free: errno kept, like zm_free */
    int saved = errno;
    release_general(mode, ptr, ZM__CALL_REALLOC);
    errno = saved;
    return NULL;
  }
  zm_tag tag = block_tag(mode, ptr);
  int64_t delta = 0;
  size_t unpaid = 0;
  void *q = size <= MAX_REQUEST ? resize(mode, ptr, size, tag, &delta, &unpaid)
                                : NULL;
  if (zm__unlikely(!q))
    return failed(ZM__CALL_REALLOC, tag, size, checked, ENOMEM);
  count_general(mode, tag, delta, 0, ZM__CALL_REALLOC);
  if (unpaid)
    zm__limit_adjust(-(int64_t)unpaid, tag);
  if (q != ptr)
    zm__count_call(ZM__CALL_MOVED);
  return q;
}

void *zm_realloc(void *ptr, size_t size) {
  return realloc_impl(ptr, size, true);
}

void *zm_try_realloc(void *ptr, size_t size) {
  return realloc_impl(ptr, size, false);
}

void *zm_reallocarray(void *ptr, size_t count, size_t size) {
  size_t n;
  if (__builtin_mul_overflow(count, size, &n))
    return failed(ZM__CALL_REALLOC, CURRENT_TAG, SIZE_MAX, true, ENOMEM);
  return realloc_impl(ptr, n, true);
}

/* -------------------------------------------------------------- aligned */

static void *aligned_general(int mode, size_t alignment, size_t n, int *err) {
  zm_tag tag = resolve_tag(mode, CURRENT_TAG);
  size_t bytes;
  if (refused(mode, n, tag))
    return NULL;
  void *p = is_debug(mode) ? zm__dbg_new(n, alignment, false, tag, &bytes)
            : is_lean(mode) ? lean_new_aligned(alignment, n, &bytes, err)
                            : hdr_new_aligned(alignment, n, tag, &bytes);
  if (!p || !admit_block(mode, p, bytes, tag))
    return NULL;
  count_general(mode, tag, (int64_t)bytes, 1, ZM__CALL_ALIGNED);
  return p;
}

void *zm_aligned_alloc(size_t alignment, size_t size) {
  if (alignment == 0 || (alignment & (alignment - 1)))
    return failed(ZM__CALL_ALIGNED, CURRENT_TAG, size, true, EINVAL);
  if (alignment <= MIN_ALIGN)
    return alloc_or_fail(size, false, ZM__CALL_ALIGNED, CURRENT_TAG, true);
  if (alignment > MAX_REQUEST || size > MAX_REQUEST - alignment)
    return failed(ZM__CALL_ALIGNED, CURRENT_TAG, size, true, ENOMEM);
  int err = ENOMEM, mode = zm__mode_get();
  note_caller(mode);
  void *p = aligned_general(mode, alignment, nonzero(size), &err);
  return p ? p : failed(ZM__CALL_ALIGNED, CURRENT_TAG, size, true, err);
}

/* ---------------------------------------------------------- the rest */

size_t zm_usable_size(const void *ptr) {
  if (!ptr)
    return 0;
  int mode = zm__mode_get();
  block_check(mode, ptr, "zm_usable_size");
  return block_usable(mode, ptr);
}

zm_tag zm_tag_of(const void *ptr) {
  return ptr ? block_tag(zm__mode_get(), ptr) : ZM_TAG_DEFAULT;
}

zm__inline void *memdup_tag(zm_tag tag, const void *p, size_t n) {
  void *q = alloc_or_fail(n, false, ZM__CALL_MALLOC, tag, true);
  if (q && n)
    memcpy(q, p, n);
  return q;
}

void *zm_memdup(const void *p, size_t n) {
  return memdup_tag(CURRENT_TAG, p, n);
}

char *zm_strdup(const char *s) {
  return memdup_tag(CURRENT_TAG, s, strlen(s) + 1);
}

char *zm_strdup_tag(zm_tag tag, const char *s) {
  return memdup_tag(explicit_tag(tag), s, strlen(s) + 1);
}

char *zm_strndup(const char *s, size_t n) {
  size_t len = strnlen(s, n);
  char *q = alloc_or_fail(len + 1, false, ZM__CALL_MALLOC, CURRENT_TAG, true);
  if (q) {
    memcpy(q, s, len);
    q[len] = '\0';
  }
  return q;
}

/* The accounting layer's figures, with the layout and backend in force. */
int zm_get_stats(zm_stats *st) {
  if (!st || st->size < sizeof(zm_stats)) {
    errno = EINVAL;
    return -1;
  }
  zm__stats_counts(st);
  st->version = ZM_STATS_VERSION;
  st->layout = zm__layout_report();
  st->backend = zm__be.pub.name ? zm__be.pub.name : "user";
  return 0;
}

int zm_version(void) { return ZMEM_VERSION; }
