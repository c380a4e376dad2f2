/* The front-end: every public allocation entry point. It screens size 0,
 * overflow and oversized requests so the layers below never see them, picks
 * the block layout, counts, and turns failures into errno or the OOM handler.
 *
 * The block helpers (block_*) allocate and free without counting and report
 * the bytes the backend holds; each public function counts exactly once. */
#include "backend.h"
#include "layout.h"
#include "oom.h"
#include "prim/prim.h"
#include "stats.h"

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

static inline size_t nonzero(size_t n) { return n ? n : 1; }

/* ---------------------------------------------------- lean layout blocks */

static inline void *lean_new(size_t n, bool zero, size_t *bytes) {
  void *p = zero ? zm__be_calloc(n) : zm__be_malloc(n);
  if (zm__likely(p))
    *bytes = zm__be_sized_exact() ? zm__be_good_size(n) : zm__be_usable(p);
  return p;
}

static void *lean_resize(void *p, size_t n, int64_t *delta) {
  size_t old = zm__be_usable(p);
  void *q = zm__be_realloc(p, n);
  if (q)
    *delta = (int64_t)zm__be_usable(q) - (int64_t)old;
  return q;
}

/* -------------------------------------------------- header layout blocks */

/* Fills in the header at h inside a backend block of `total` bytes starting
 * at base, and returns the user pointer. */
static void *hdr_init(void *base, zm__header *h, size_t total, uint32_t tag) {
  size_t held = zm__be_has_usable() ? zm__be_usable(base) : total;
  h->offset16 = (uint32_t)(((char *)h - (char *)base) / 16);
  h->size = held - ZM_HEADER_SIZE - (size_t)h->offset16 * 16;
  h->tag = tag;
  return zm__hdr_user(h);
}

zm__noinline static void *hdr_new(size_t n, bool zero, uint32_t tag,
                                  size_t *bytes) {
  size_t total = n + ZM_HEADER_SIZE;
  void *base = zero ? zm__be_calloc(total) : zm__be_malloc(total);
  if (!base)
    return NULL;
  void *user = hdr_init(base, base, total, tag);
  *bytes = zm__hdr_bytes(zm__hdr(user));
  return user;
}

/* alignment: a power of two above MIN_ALIGN. The backend block is 16-aligned,
 * so at most alignment - 16 bytes are skipped to align the user pointer. */
static void *hdr_new_aligned(size_t alignment, size_t n, size_t *bytes) {
  size_t total = n + alignment;
  char *base = zm__be_malloc(total);
  if (!base)
    return NULL;
  uintptr_t user = ((uintptr_t)base + ZM_HEADER_SIZE + alignment - 1) &
                   ~(uintptr_t)(alignment - 1);
  void *p = hdr_init(base, zm__hdr((void *)user), total, 0);
  *bytes = zm__hdr_bytes(zm__hdr(p));
  return p;
}

/* Over-aligned blocks cannot go through the backend's realloc (the offset to
 * the alignment would shift), so they move to a plain block. */
static void *hdr_move(void *p, size_t n, int64_t *delta) {
  zm__header *h = zm__hdr(p);
  size_t bytes;
  void *q = hdr_new(n, false, h->tag, &bytes);
  if (!q)
    return NULL;
  memcpy(q, p, n < h->size ? n : h->size);
  *delta = (int64_t)bytes - (int64_t)zm__hdr_bytes(h);
  zm__be_free(zm__hdr_base(h));
  return q;
}

static void *hdr_resize(void *p, size_t n, int64_t *delta) {
  zm__header *h = zm__hdr(p);
  if (h->offset16)
    return hdr_move(p, n, delta);
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

static inline bool lean(void) { return zm__layout() == ZM_LAYOUT_LEAN; }

static inline void *block_new(size_t n, bool zero, size_t *bytes) {
  if (zm__likely(lean()))
    return lean_new(n, zero, bytes);
  return hdr_new(n, zero, 0, bytes);
}

zm__noinline static size_t hdr_free(void *p) {
  zm__header *h = zm__hdr(p);
  size_t bytes = zm__hdr_bytes(h);
  zm__be_free(zm__hdr_base(h));
  return bytes;
}

/* Frees p and returns the bytes the backend held for it. The layout is read
 * once; the header layout's work stays out of line. */
static inline size_t block_free(void *p) {
  if (zm__likely(lean())) {
    size_t bytes = zm__be_usable(p);
    zm__be_free(p);
    return bytes;
  }
  return hdr_free(p);
}

static void *block_resize(void *p, size_t n, int64_t *delta) {
  return lean() ? lean_resize(p, n, delta) : hdr_resize(p, n, delta);
}

/* --------------------------------------------------------- the front-end */

zm__cold static void *failed(zm__call call, size_t size, bool checked,
                             int err) {
  zm__count_call(call);
  zm__count_call(ZM__CALL_FAILURE);
  if (checked && err == ENOMEM)
    zm__oom(size);
  errno = err;
  return NULL;
}

static inline void *alloc(size_t size, bool zero, zm__call call) {
  size_t bytes;
  void *p = NULL;
  if (zm__likely(size <= MAX_REQUEST))
    p = block_new(nonzero(size), zero, &bytes);
  if (zm__likely(p))
    zm__count((int64_t)bytes, 1, call);
  return p;
}

static inline void *alloc_or_fail(size_t size, bool zero, zm__call call,
                                  bool checked) {
  void *p = alloc(size, zero, call);
  return zm__likely(p) ? p : failed(call, size, checked, ENOMEM);
}

void *zm_malloc(size_t size) {
  return alloc_or_fail(size, false, ZM__CALL_MALLOC, true);
}

void *zm_try_malloc(size_t size) {
  return alloc_or_fail(size, false, ZM__CALL_MALLOC, false);
}

static void *calloc_impl(size_t count, size_t size, bool checked) {
  size_t n;
  if (__builtin_mul_overflow(count, size, &n))
    return failed(ZM__CALL_CALLOC, SIZE_MAX, checked, ENOMEM);
  return alloc_or_fail(n, true, ZM__CALL_CALLOC, checked);
}

void *zm_calloc(size_t count, size_t size) {
  return calloc_impl(count, size, true);
}

void *zm_try_calloc(size_t count, size_t size) {
  return calloc_impl(count, size, false);
}

void zm_free(void *ptr) {
  if (!ptr)
    return;
  int saved = zm__be_free_keeps_errno() ? 0 : errno;
  size_t bytes = block_free(ptr);
  zm__count(-(int64_t)bytes, -1, ZM__CALL_FREE);
  if (!zm__be_free_keeps_errno())
    errno = saved;
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
  if (!zm__be_sized_exact() || !lean()) {
    zm_free(ptr);
    return;
  }
  size_t n = nonzero(size);
  size_t bytes = zm__be_good_size(n);
  if (zm__debug_assert && zm__be_usable(ptr) != bytes)
    sized_mismatch();
  int saved = errno;
  zm__be_free_sized(ptr, n);
  zm__count(-(int64_t)bytes, -1, ZM__CALL_FREE);
  errno = saved;
}

static void *realloc_impl(void *ptr, size_t size, bool checked) {
  if (!ptr)
    return alloc_or_fail(size, false, ZM__CALL_REALLOC, checked);
  if (size == 0) {
    size_t bytes = block_free(ptr);
    zm__count(-(int64_t)bytes, -1, ZM__CALL_REALLOC);
    return NULL;
  }
  int64_t delta = 0;
  void *q = size <= MAX_REQUEST ? block_resize(ptr, size, &delta) : NULL;
  if (zm__unlikely(!q))
    return failed(ZM__CALL_REALLOC, size, checked, ENOMEM);
  zm__count(delta, 0, ZM__CALL_REALLOC);
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
    return failed(ZM__CALL_REALLOC, SIZE_MAX, true, ENOMEM);
  return realloc_impl(ptr, n, true);
}

/* alignment: a power of two above MIN_ALIGN; size already screened. */
static void *aligned_block(size_t alignment, size_t n, size_t *bytes,
                           int *err) {
  if (!lean())
    return alignment <= MAX_HEADER_ALIGN ? hdr_new_aligned(alignment, n, bytes)
                                         : NULL;
  if (!zm__be_has_aligned()) {
    *err = ENOTSUP;
    return NULL;
  }
  void *p = zm__be_aligned(alignment, n);
  if (p)
    *bytes = zm__be_usable(p);
  return p;
}

void *zm_aligned_alloc(size_t alignment, size_t size) {
  if (alignment == 0 || (alignment & (alignment - 1)))
    return failed(ZM__CALL_ALIGNED, size, true, EINVAL);
  if (alignment <= MIN_ALIGN)
    return alloc_or_fail(size, false, ZM__CALL_ALIGNED, true);
  if (size > MAX_REQUEST - alignment)
    return failed(ZM__CALL_ALIGNED, size, true, ENOMEM);
  size_t bytes;
  int err = ENOMEM;
  void *p = aligned_block(alignment, nonzero(size), &bytes, &err);
  if (!p)
    return failed(ZM__CALL_ALIGNED, size, true, err);
  zm__count((int64_t)bytes, 1, ZM__CALL_ALIGNED);
  return p;
}

size_t zm_usable_size(const void *ptr) {
  if (!ptr)
    return 0;
  return lean() ? zm__be_usable(ptr) : zm__hdr(ptr)->size;
}

void *zm_memdup(const void *p, size_t n) {
  void *q = alloc_or_fail(n, false, ZM__CALL_MALLOC, true);
  if (q && n)
    memcpy(q, p, n);
  return q;
}

char *zm_strndup(const char *s, size_t n) {
  size_t len = strnlen(s, n);
  char *q = alloc_or_fail(len + 1, false, ZM__CALL_MALLOC, true);
  if (q) {
    memcpy(q, s, len);
    q[len] = '\0';
  }
  return q;
}

char *zm_strdup(const char *s) { return zm_memdup(s, strlen(s) + 1); }

int zm_version(void) { return ZMEM_VERSION; }
