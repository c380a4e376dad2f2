/*
 * zmem — accounted, pluggable, debuggable memory allocation.
 *
 * This header is the whole public API and its documentation. Every name that
 * starts with zm_ / ZM_ is part of the contract; nothing else is.
 *
 * Conventions that hold for every function below unless its comment says
 * otherwise:
 *  - Thread safety: every function may be called from any thread at any time.
 *    The exceptions are the set-up calls (zm_set_backend, zm_set_mem_functions,
 *    zm_set_layout), which are meant for the start of the program: they fail
 *    with EBUSY once the first block has been allocated.
 *  - Checked allocation (zm_malloc, zm_calloc, ...): on failure the OOM handler
 *    runs (see zm_set_oom_handler); if it returns, the function returns NULL
 *    with errno = ENOMEM.
 *  - Try allocation (zm_try_*): never calls the handler; NULL with errno = ENOMEM.
 *  - Setters return 0 on success, -1 with errno set on failure.
 *  - Every returned block is aligned to alignof(max_align_t) (16 on x86-64),
 *    whatever the block layout.
 *  - Requests above PTRDIFF_MAX, and count * size products that overflow, fail
 *    with ENOMEM; a backend never sees them.
 *
 * Signal handlers: zmem makes no promise in async-signal context. Each
 * thread updates its own counters with a plain load and store, so a handler
 * that allocates or frees while the same thread is inside zmem may lose
 * that update (the figures drift by the handler's bytes), and a handler
 * that runs during a thread's first allocation, or one that takes a zmem
 * lock (zm_used_memory, zm_get_stats, set-up calls, a limit's callback),
 * can deadlock. Nothing in zmem is async-signal-safe; as with malloc, do
 * not call it from handlers. The zmem run profiler shares this: a program
 * that allocates in signal handlers can show small drifts in its figures.
 *
 * Threads and processes:
 *  - A thread's counters are folded into shared totals when it exits (a
 *    pthread key destructor), so figures stay exact after threads come and
 *    go. A thread may make its first zmem call at any point of its life,
 *    even in the last round of another library's key destructors (its exit
 *    hook cannot run then; its few hundred bytes of counters then stay
 *    registered after it ends, and are still summed exactly).
 *  - fork(): the child holds no zmem lock and keeps only the forking
 *    thread's counters; the other threads' counts are folded into the shared
 *    totals, so the child's figures are the parent's at the moment of the
 *    fork. The child may start threads and allocate freely.
 *  - dlclose(): the shared library is linked with -z nodelete, so dlclose
 *    leaves it loaded (threads that used it still run its exit hook). A
 *    program that links the static library into a shared object of its own
 *    must not unload that object while threads that allocated through it
 *    are still running.
 *
 * ABI policy: within one major version, functions are only added and structs
 * that carry a size field only grow at their end. The shared library's SONAME
 * is the major version (libzmem.so.MAJOR).
 */
#ifndef ZMEM_H
#define ZMEM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- version */

#define ZMEM_VERSION_MAJOR 0
#define ZMEM_VERSION_MINOR 1
#define ZMEM_VERSION_PATCH 0
/* One integer: major * 10000 + minor * 100 + patch. */
#define ZMEM_VERSION                                                           \
  (ZMEM_VERSION_MAJOR * 10000 + ZMEM_VERSION_MINOR * 100 + ZMEM_VERSION_PATCH)

/* ------------------------------------------------- export and attributes */

#if defined(ZMEM_STATIC)
#define ZM_API
#elif defined(_WIN32)
#if defined(ZMEM_BUILDING)
#define ZM_API __declspec(dllexport)
#else
#define ZM_API __declspec(dllimport)
#endif
#elif defined(__GNUC__)
#define ZM_API __attribute__((visibility("default")))
#else
#define ZM_API
#endif

#if defined(__has_attribute)
#define ZM__HAS_ATTR(x) __has_attribute(x)
#else
#define ZM__HAS_ATTR(x) 0
#endif

#if ZM__HAS_ATTR(malloc)
#define ZM_ATTR_MALLOC __attribute__((malloc))
#else
#define ZM_ATTR_MALLOC
#endif
#if ZM__HAS_ATTR(alloc_size)
#define ZM_ATTR_ALLOC_SIZE(i) __attribute__((alloc_size(i)))
#define ZM_ATTR_ALLOC_SIZE2(i, j) __attribute__((alloc_size(i, j)))
#else
#define ZM_ATTR_ALLOC_SIZE(i)
#define ZM_ATTR_ALLOC_SIZE2(i, j)
#endif
#if ZM__HAS_ATTR(alloc_align)
#define ZM_ATTR_ALLOC_ALIGN(i) __attribute__((alloc_align(i)))
#else
#define ZM_ATTR_ALLOC_ALIGN(i)
#endif
#if ZM__HAS_ATTR(warn_unused_result)
#define ZM_ATTR_NODISCARD __attribute__((warn_unused_result))
#else
#define ZM_ATTR_NODISCARD
#endif
/* GCC 11+ can pair an allocator with its deallocator (-Wmismatched-dealloc). */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
#define ZM_ATTR_DEALLOC __attribute__((malloc(zm_free, 1)))
#else
#define ZM_ATTR_DEALLOC
#endif

/* Attribute bundles for allocating declarations. */
#define ZM_ALLOC ZM_ATTR_MALLOC ZM_ATTR_DEALLOC ZM_ATTR_NODISCARD
#define ZM_REALLOC ZM_ATTR_NODISCARD

/* Version of the library actually loaded (ZMEM_VERSION of its build). */
ZM_API int zm_version(void);

/* ------------------------------------------------------------- allocation */

/* Frees a block from any zm_ allocation function. NULL does nothing. errno is
 * preserved. Freeing a block that zmem did not allocate is undefined. */
ZM_API void zm_free(void *ptr);

/* A block of at least `size` bytes. size 0 gives a unique pointer that must
 * be freed like any other. */
ZM_API ZM_ALLOC ZM_ATTR_ALLOC_SIZE(1) void *zm_malloc(size_t size);

/* count * size bytes, zeroed. Overflow of the product fails (ENOMEM; the OOM
 * handler receives SIZE_MAX as the size). */
ZM_API ZM_ALLOC ZM_ATTR_ALLOC_SIZE2(1, 2) void *zm_calloc(size_t count,
                                                          size_t size);

/* Resizes ptr to `size` bytes, keeping the contents up to the smaller size.
 *  - zm_realloc(NULL, n) is zm_malloc(n).
 *  - zm_realloc(p, 0) frees p and returns NULL (errno unchanged). C23 leaves
 *    this case undefined; zmem defines it.
 *  - On failure p is left valid, unchanged and still counted.
 * A block keeps its tag. Blocks from zm_aligned_alloc keep their alignment
 * only up to alignof(max_align_t). */
ZM_API ZM_REALLOC ZM_ATTR_ALLOC_SIZE(2) void *zm_realloc(void *ptr,
                                                         size_t size);

/* zm_realloc(ptr, count * size), with overflow of the product failing like
 * zm_calloc (ptr left intact). */
ZM_API ZM_REALLOC ZM_ATTR_ALLOC_SIZE2(2, 3) void *zm_reallocarray(void *ptr,
                                                                  size_t count,
                                                                  size_t size);

/* A block of `size` bytes aligned to `alignment`, any power of two. size need
 * not be a multiple of alignment. A zero or non-power-of-two alignment returns
 * NULL with errno = EINVAL (the OOM handler is not called). In the lean layout
 * with a user backend that has no aligned_alloc member, alignments above
 * alignof(max_align_t) return NULL with errno = ENOTSUP. */
ZM_API ZM_ALLOC ZM_ATTR_ALLOC_ALIGN(1) ZM_ATTR_ALLOC_SIZE(2) void *
zm_aligned_alloc(size_t alignment, size_t size);

/* A copy of the string s (s must not be NULL). */
ZM_API ZM_ALLOC char *zm_strdup(const char *s);
/* A copy of at most n bytes of s, always NUL-terminated; s need not be
 * terminated within its first n bytes. */
ZM_API ZM_ALLOC char *zm_strndup(const char *s, size_t n);
/* A copy of n bytes at p (n may be 0: a unique pointer, like zm_malloc(0)). */
ZM_API ZM_ALLOC ZM_ATTR_ALLOC_SIZE(2) void *zm_memdup(const void *p, size_t n);

/* zm_free with the size the block was last requested with (malloc, calloc's
 * count * size, or realloc's size). In the lean layout on backends that can
 * derive a block's size from its request (jemalloc), this skips the size
 * lookup; elsewhere it is zm_free. Passing any other size is undefined (a
 * build with ZMEM_DEBUG_ASSERT=ON checks it). Use zm_free for blocks from
 * zm_aligned_alloc. */
ZM_API void zm_free_sized(void *ptr, size_t size);

/* The bytes usable at ptr (at least what was requested). 0 for NULL. */
ZM_API size_t zm_usable_size(const void *ptr);

/* Try variants: like the checked ones, but never call the OOM handler. */
ZM_API ZM_ALLOC ZM_ATTR_ALLOC_SIZE(1) void *zm_try_malloc(size_t size);
ZM_API ZM_ALLOC ZM_ATTR_ALLOC_SIZE2(1, 2) void *zm_try_calloc(size_t count,
                                                              size_t size);
ZM_API ZM_REALLOC ZM_ATTR_ALLOC_SIZE(2) void *zm_try_realloc(void *ptr,
                                                             size_t size);

/* ------------------------------------------------------------ OOM handler */

typedef void (*zm_oom_handler)(size_t size, void *arg);

/* Installs the function called when a checked allocation fails, with the size
 * that was asked for and `arg`. If it returns, the allocation returns NULL with
 * errno = ENOMEM. NULL restores the default handler, which writes a short
 * report to stderr with write(2), without allocating, and calls abort():
 *   zmem: used N bytes, peak N bytes, N live blocks, limit N bytes|no limit
 *   zmem: top tags: NAME N bytes, ...        (only with tags on)
 *   zmem: out of memory allocating N bytes
 * The handler may be called from any thread, concurrently. */
ZM_API void zm_set_oom_handler(zm_oom_handler handler, void *arg);

/* ---------------------------------------------------------------- backend */

/* The allocator underneath zmem. `ud` is passed back to every call.
 *  - malloc must return blocks aligned to alignof(max_align_t), or NULL.
 *    zmem never asks it for fewer than alignof(max_align_t) bytes (a C
 *    malloc, which aligns a block for the objects that fit in it, meets the
 *    contract) or for more than PTRDIFF_MAX. zmem
 *    checks every block a user backend returns: a misaligned one from
 *    malloc or aligned_alloc is given back to free and the call fails
 *    (ENOMEM); one from realloc is moved to a block from malloc (zmem aborts
 *    if that one is misaligned too). The first such block is reported in
 *    one line on stderr.
 *  - realloc has C semantics for non-NULL pointers and non-zero sizes (zmem
 *    never calls it with NULL, nor with fewer than alignof(max_align_t)
 *    bytes).
 *  - usable_size may be NULL: zmem then uses the header layout (16 bytes in
 *    front of each block hold its size).
 *  - aligned_alloc may be NULL (alignment is a power of two above
 *    alignof(max_align_t); its blocks are freed with free). Without it, the
 *    header layout over-allocates to align; the lean layout refuses large
 *    alignments (ENOTSUP).
 * The struct is copied by zm_set_backend. */
typedef struct zm_backend {
  const char *name;
  void *(*malloc)(void *ud, size_t size);
  void *(*realloc)(void *ud, void *ptr, size_t size);
  void (*free)(void *ud, void *ptr);
  size_t (*usable_size)(void *ud, const void *ptr);
  void *ud;
  void *(*aligned_alloc)(void *ud, size_t alignment, size_t size);
} zm_backend;

/* Installs a backend. Must come before the first allocation: afterwards it
 * fails with EBUSY. EINVAL if be or one of malloc/realloc/free is NULL, or
 * if the lean layout was asked for (zm_set_layout, layout=lean) and be has
 * no usable_size: a conflict between two explicit requests is refused, the
 * layout is never changed behind the caller's back.
 * ENOTSUP when zmem was built with ZMEM_REPLACEMENT=OFF. Use zm_get_backend
 * first to wrap the built-in backend. */
ZM_API int zm_set_backend(const zm_backend *be);

/* The libevent-shaped form: plain malloc/realloc/free functions, without a
 * size query (so the header layout is used). All three NULL restores the
 * built-in backend; some but not all NULL is EINVAL. Same EBUSY / ENOTSUP
 * rules as zm_set_backend, and EINVAL after a request for the lean layout. */
ZM_API int zm_set_mem_functions(void *(*malloc_fn)(size_t),
                                void *(*realloc_fn)(void *, size_t),
                                void (*free_fn)(void *));

/* The backend in force (or that will be, before the first allocation). For
 * the built-in backend its function pointers call the compiled-in allocator
 * (libc, jemalloc, mimalloc or tcmalloc), so it can be wrapped. The pointer
 * stays valid until the next successful zm_set_backend. */
ZM_API const zm_backend *zm_get_backend(void);

/* ----------------------------------------------------------------- layout */

typedef enum zm_layout {
  ZM_LAYOUT_LEAN = 1,   /* no header: the backend reports block sizes */
  ZM_LAYOUT_HEADER = 2, /* 16-byte header in front of every block */
  ZM_LAYOUT_DEBUG = 3,  /* checked blocks: see "debug layout" below */
} zm_layout;

/* Bytes of the header layout's per-block header. */
#define ZM_HEADER_SIZE 16

/* Asks for a layout. The layout is fixed at the first allocation: afterwards
 * this fails with EBUSY. ZM_LAYOUT_LEAN is refused with ENOTSUP when the
 * backend has no usable_size. ZM_LAYOUT_DEBUG works with every backend and
 * with tags. EINVAL for other values. */
ZM_API int zm_set_layout(zm_layout layout);

/* ------------------------------------------------------------- accounting */

/* Bytes the backend holds for live blocks: their usable sizes plus zmem's
 * headers. Exact whenever no allocation is in flight; after every block
 * allocated since some moment is freed, it returns to its value at that
 * moment, whichever threads allocated and freed them. Lock-free for the
 * allocating threads; a reader sums every live thread's counters.
 * While other threads allocate and free, the reader adds their counters one
 * after another, so it may see a sum that the memory never had at any one
 * instant: a free counted by a thread read early and the matching
 * allocation by a thread read late both miss, or both count. Such a
 * reading can even be above a hard limit that the allocations themselves
 * never crossed (zm_set_limit holds at every instant; readings of a moving
 * total do not). zmem offers no consistent snapshot: one would need a
 * shared write on every allocation. */
ZM_API size_t zm_used_memory(void);

/* Highest used memory seen since start or the last zm_reset_peak. Exact when
 * one thread allocates. With several, each thread publishes its count to a
 * shared total in steps of ZM_PEAK_GRANULE bytes and notes a peak candidate
 * only when its own count passes its own high (so no call pays a shared
 * atomic, and most pay one compare), and the peak may be off by at most
 * ZM_PEAK_GRANULE per thread alive at the moment of the true peak. Never
 * below the current used memory. Tags' peaks follow the same rule, per tag:
 * exact when one thread allocates in the tag, off by at most ZM_PEAK_GRANULE
 * per thread alive at the moment of the tag's true peak. */
ZM_API size_t zm_peak_memory(void);
#define ZM_PEAK_GRANULE ((size_t)64 * 1024)

/* Sets the peak to the current used memory. */
ZM_API void zm_reset_peak(void);

#define ZM_STATS_VERSION 1

/* Everything zm_get_stats reports. Set `size` to sizeof(zm_stats) before the
 * call; a library newer than the caller fills only the fields that fit. */
typedef struct zm_stats {
  size_t size;              /* in: sizeof(zm_stats) of the caller */
  unsigned version;         /* out: ZM_STATS_VERSION of the library */
  zm_layout layout;         /* in force, or to be used at the first allocation */
  const char *backend;      /* backend name */
  size_t used;              /* as zm_used_memory() */
  size_t peak;              /* as zm_peak_memory() */
  size_t live_blocks;       /* blocks allocated and not yet freed */
  /* Calls per function, failed ones included. Each public call counts once,
   * under its own function. */
  uint64_t malloc_calls;    /* zm_malloc, zm_try_malloc, zm_malloc_tag,
                               zm_try_malloc_tag, zm_strdup, zm_strndup,
                               zm_memdup, zm_strdup_tag */
  uint64_t calloc_calls;    /* zm_calloc, zm_try_calloc, zm_calloc_tag,
                               zm_try_calloc_tag */
  uint64_t realloc_calls;   /* zm_realloc, zm_try_realloc, zm_reallocarray,
                               including (NULL, n) and (p, 0) */
  uint64_t aligned_calls;   /* zm_aligned_alloc */
  uint64_t free_calls;      /* zm_free, zm_free_sized with a non-NULL pointer */
  uint64_t failures;        /* calls that returned NULL for want of memory,
                               a limit, or a bad argument (realloc(p, 0),
                               which returns NULL by design, is not one) */
  uint64_t realloc_moved;   /* reallocs that returned a different pointer */
} zm_stats;

/* Fills *st. 0, or -1 with EINVAL when st is NULL or st->size is smaller than
 * the version-1 struct. The figures are read one after another, so with other
 * threads allocating they may not be mutually consistent. */
ZM_API int zm_get_stats(zm_stats *st);

/* ------------------------------------------------------------------- tags */

/* Tags account memory per subsystem. Tag 0 (ZM_TAG_DEFAULT, "untagged")
 * always exists. Tags need the header layout (the tag is stored in each
 * block's header): the first zm_tag_new or zm_tags_enable before the first
 * allocation turns them on and asks for that layout. After the first
 * allocation they can still be turned on if the header layout is in force
 * (the blocks already live count as tag 0; do it while no allocation is in
 * flight, as with limits); with the lean layout fixed, both fail with
 * EBUSY. With tags off, the lean layout and its speed are unchanged. With
 * tags on, an allocation or free in a root tag takes a fast path of its own
 * (with no limit set and the built-in allocator); one in a nested tag counts
 * every level of its chain through the general count.
 *
 * Tags may nest: a tag made with zm_tag_new_child counts into its parent, so
 * every figure of a tag (zm_tag_used, zm_tag_stats, its limit) includes its
 * descendants'. The root tags (tag 0 and tags without a parent) partition the
 * memory: their used bytes add up exactly to zm_used_memory(). */
typedef uint32_t zm_tag;
#define ZM_TAG_DEFAULT ((zm_tag)0)
#define ZM_TAG_INVALID ((zm_tag)UINT32_MAX)
/* Most tags a process can have, tag 0 included. */
#define ZM_TAG_MAX 256
/* Deepest nesting: a root tag has depth 1. */
#define ZM_TAG_DEPTH_MAX 8

/* Turns tags on (header layout). 0, or -1 with EBUSY once the lean layout is
 * fixed (zm_last_error says so). Idempotent. Also the option tags=1. */
ZM_API int zm_tags_enable(void);

/* 1 when tags are on, else 0. */
ZM_API int zm_tags_enabled(void);

/* Registers a root tag named `name` (copied; at most 63 bytes are kept) and
 * returns it. Turns tags on if this happens before the first allocation.
 * ZM_TAG_INVALID with errno EINVAL (NULL or empty name), ENOSPC (ZM_TAG_MAX
 * reached) or EBUSY (the lean layout is already fixed). Names need not be
 * unique. Never freed; thread-safe. */
ZM_API zm_tag zm_tag_new(const char *name);

/* Like zm_tag_new, with a parent: the new tag counts into it. EINVAL also
 * for an unknown parent or one at ZM_TAG_DEPTH_MAX. */
ZM_API zm_tag zm_tag_new_child(zm_tag parent, const char *name);

/* Number of tags registered, tag 0 included; tags are 0 .. count-1. */
ZM_API size_t zm_tag_count(void);

/* Sets the calling thread's current tag, used by zm_malloc and every other
 * untagged allocation of this thread, and returns the previous one. An
 * unknown tag is ignored (returns the current one, errno EINVAL). Blocks
 * keep the tag they were allocated with, through realloc; free needs no
 * tag. With tags off the tag is remembered but not recorded. */
ZM_API zm_tag zm_tag_set_current(zm_tag tag);

/* The calling thread's current tag. */
ZM_API zm_tag zm_tag_current(void);

/* Allocate into a given tag. An unknown tag, ZM_TAG_INVALID included,
 * counts as ZM_TAG_DEFAULT (not as the current tag). */
ZM_API ZM_ALLOC ZM_ATTR_ALLOC_SIZE(2) void *zm_malloc_tag(zm_tag tag,
                                                          size_t size);
ZM_API ZM_ALLOC ZM_ATTR_ALLOC_SIZE2(2, 3) void *zm_calloc_tag(zm_tag tag,
                                                              size_t count,
                                                              size_t size);
ZM_API ZM_ALLOC char *zm_strdup_tag(zm_tag tag, const char *s);
/* Try variants of the above: NULL with errno ENOMEM on failure (a limit, the
 * backend, overflow of count * size), never the OOM handler. What adapters
 * for other libraries use (include/zmem/). */
ZM_API ZM_ALLOC ZM_ATTR_ALLOC_SIZE(2) void *zm_try_malloc_tag(zm_tag tag,
                                                              size_t size);
ZM_API ZM_ALLOC ZM_ATTR_ALLOC_SIZE2(2, 3) void *zm_try_calloc_tag(zm_tag tag,
                                                                  size_t count,
                                                                  size_t size);

/* The tag of a live block (ZM_TAG_DEFAULT with tags off, or for NULL). */
ZM_API zm_tag zm_tag_of(const void *ptr);

#define ZM_TAG_INFO_VERSION 1

/* One tag's figures, each including its descendants'. Set `size` first. */
typedef struct zm_tag_info {
  size_t size;         /* in: sizeof(zm_tag_info) */
  unsigned version;    /* out: ZM_TAG_INFO_VERSION */
  zm_tag tag;
  zm_tag parent;       /* ZM_TAG_INVALID for root tags */
  const char *name;    /* valid for the life of the process */
  unsigned depth;      /* 1 for root tags */
  size_t used;         /* live bytes, headers included */
  size_t live_blocks;
  size_t peak;         /* same bound as zm_peak_memory, per tag */
  uint64_t calls;      /* allocation calls, free and realloc, failed ones
                          included (as in zm_stats) */
  uint64_t failures;   /* allocations refused or failed */
  size_t limit;        /* 0: none */
} zm_tag_info;

/* Live bytes of a tag and its descendants; 0 for an unknown tag. */
ZM_API size_t zm_tag_used(zm_tag tag);

/* Fills *info for tag. 0, or -1 with EINVAL (NULL, size too small, unknown
 * tag). */
ZM_API int zm_tag_stats(zm_tag tag, zm_tag_info *info);

/* ----------------------------------------------------------------- limits */

/* Hard limit: an allocation that would take zm_used_memory() above `bytes`
 * fails (try variants: NULL with ENOMEM; checked ones: the OOM handler). Never
 * exceeded, even by threads racing for the last bytes. 0 removes the limit.
 * The limit is held by a shared counter. With the hard limit alone (no soft
 * limit, no tag limits; lean layout), each thread charges the counter in
 * steps of 32 KiB and admits its allocations from what it took, its
 * reserve, so most calls touch no shared memory; frees refill the reserve,
 * which gives anything above 64 KiB back. Near the limit a thread takes only
 * what a call needs, a refused call makes every other thread give its
 * reserve back on its next call, and a thread's own reserve always counts
 * for its own requests: so an allocation is refused only if the memory in
 * use plus the request plus the reserves of the other threads (at most
 * 64 KiB each) exceed the limit; with one thread, exactly when the memory in
 * use plus the request would. Thread exit and fork give reserves back.
 * Otherwise (a soft limit or a tag limit set, or the header or debug
 * layout) every allocation and free updates the shared counter. With no
 * limit set the fast path is unchanged. The counter starts from the memory
 * live at the call, so set limits while no allocation is in flight (at
 * start-up, say). A limit below the memory in
 * use now would fail every allocation until enough is freed: it is refused
 * (-1, EINVAL; nothing changes). Also the option limit=SIZE. */
ZM_API int zm_set_limit(size_t bytes);
/* The hard limit in force: the tighter of the program's and ZMEM_OPTIONS's
 * (see zm_configure); 0 for none. */
ZM_API size_t zm_get_limit(void);

typedef void (*zm_soft_limit_fn)(size_t used, size_t limit, void *arg);

/* Soft limit: when used memory crosses `bytes` upward, fn runs once (in the
 * allocating thread, after the allocation, outside any zmem lock) so the
 * program can free caches; it runs again only after usage has gone back to
 * or below the limit. fn NULL: one line to stderr instead, at most one a
 * second (crossings in between are counted in the next line), so a program
 * that goes back and forth across the limit does not flood stderr. 0
 * removes it.
 * Also the option soft_limit=SIZE. */
ZM_API int zm_set_soft_limit(size_t bytes, zm_soft_limit_fn fn, void *arg);
ZM_API size_t zm_get_soft_limit(void);

/* Hard limit for one tag and its descendants; 0 removes it. EINVAL for an
 * unknown tag, with tags off, or below the tag's memory in use. Same rules
 * as zm_set_limit. */
ZM_API int zm_tag_set_limit(zm_tag tag, size_t bytes);

/* ----------------------------------------------------------- debug layout */

/* The debug layout (zm_debug_enable, zm_set_layout(ZM_LAYOUT_DEBUG), or the
 * options debug=1 / layout=debug, before the first allocation) checks every
 * block:
 *  - each block has a header with a magic word, its size, tag and allocation
 *    site, and 16 or more guard bytes (ZM_DEBUG_FILL_GUARD) on each side;
 *  - new blocks are filled with ZM_DEBUG_FILL_ALLOC (calloc's with zeros),
 *    freed ones with ZM_DEBUG_FILL_FREE;
 *  - realloc always moves the block;
 *  - freed blocks wait in a quarantine of a bounded size (zm_set_quarantine)
 *    before the backend gets them back.
 * zm_free, zm_realloc and zm_debug_check_all find: a write past the end of a
 * block (overflow) or before its start (underflow), a double free (while the
 * first-freed block is still in the quarantine), a pointer zmem did not
 * return (its 96 bytes in front must be readable), and a write into a freed
 * block (when the block leaves the quarantine or is checked). Each is
 * reported in one line on stderr, naming the problem, the block's address,
 * size and allocation site (and where it was freed), and the process aborts.
 * Sites are file:line for code compiled with ZMEM_TRACK_SITES defined before
 * including zmem.h, otherwise the caller's return address, shown with the
 * nearest exported symbol and its object when the report is written.
 * zm_usable_size is the size requested. Each block costs 96 bytes in front
 * and 16 to 31 bytes behind; see docs/debug.md. */
#define ZM_DEBUG_FILL_ALLOC 0xAA /* a new block's bytes, before use */
#define ZM_DEBUG_FILL_FREE 0xDD  /* a freed block's bytes */
#define ZM_DEBUG_FILL_GUARD 0xFD /* guard bytes around each block */
/* Default quarantine size, bytes (the backend's block sizes summed). */
#define ZM_DEBUG_QUARANTINE_DEFAULT ((size_t)4 << 20)

/* zm_set_layout(ZM_LAYOUT_DEBUG): 0, or -1 with EBUSY after the first
 * allocation. Also the option debug=1. */
ZM_API int zm_debug_enable(void);

/* Checks every live block and every quarantined one; reports and aborts at
 * the first problem. Returns how many blocks it checked (0 outside the
 * debug layout). Thread-safe; blocks allocation and free while it runs. */
ZM_API size_t zm_debug_check_all(void);

/* Most bytes the quarantine holds; 0 gives freed blocks back at once (after
 * their check). Any time; a smaller size releases the oldest blocks at once.
 * Default ZM_DEBUG_QUARANTINE_DEFAULT. Always 0. Also the option
 * quarantine=SIZE. */
ZM_API int zm_set_quarantine(size_t bytes);
ZM_API size_t zm_get_quarantine(void);

/* Sets the site the calling thread's next allocation or free records. The
 * ZMEM_TRACK_SITES macros below call it; file must stay valid for the life
 * of the process (a string literal). */
ZM_API void zm_debug_site(const char *file, int line);

/* Writes the blocks still live to out, grouped by allocation site, the
 * largest total first: bytes requested, block count and site per line,
 * after a summary line. Outside the debug layout there are no sites: only
 * the summary line. 0, or -1 with errno EINVAL (NULL out) or the stdio
 * error. May allocate (stdio); the grouping itself uses memory mapped for
 * the call. */
ZM_API int zm_leak_report(FILE *out);

/* Exit status of a process whose leak check (zm_set_leak_check, option
 * leaks=1) found blocks still live at exit. */
#define ZM_LEAK_EXIT_STATUS 23

/* on 1: when the process exits (exit or a return from main; not _exit or
 * abort), after the program's atexit handlers and the destructors of the
 * objects loaded after zmem, zmem writes zm_leak_report(stderr) if any
 * block is still live, reachable or not, and the process then exits with
 * ZM_LEAK_EXIT_STATUS instead of the status it asked for. 0 turns it off.
 * Always 0. Also the option leaks=1. */
ZM_API int zm_set_leak_check(int on);

/* -------------------------------------------------------- fault injection */

/* Injected failures take the path of real ones: try variants return NULL
 * with errno = ENOMEM, checked ones call the OOM handler. An allocation
 * request is any call that would ask the backend for a block: malloc, calloc,
 * aligned_alloc, the strdup family, and realloc except (p, 0). Requests
 * refused by argument checks before that (overflow, a bad alignment) are not
 * numbered. While a setting is active every call takes zmem's general path
 * (as with a limit); with none the fast path is unchanged. Requests are
 * numbered by one shared counter, so with several threads allocating, which
 * thread's request gets number n depends on timing. */

/* From now on, the nth allocation request fails (nth counts from 1), and so
 * do the `repeat` that follow it: repeat 0 fails one request only,
 * UINT64_MAX fails every one from the nth on. nth 0 turns the countdown off.
 * Numbers requests and counts hits afresh. Always 0. Also the option
 * fault=NTH[:REPEAT]. */
ZM_API int zm_fault_set(uint64_t nth, uint64_t repeat);

/* From now on, each allocation request fails with probability p (0 to 1),
 * decided by a hash of `seed` and the request's number: the same seed gives
 * the same failures for the same sequence of requests. p 0 turns random
 * failures off. Numbers requests and counts hits afresh; combines with
 * zm_fault_set (a request fails if either says so). -1 with EINVAL when p is
 * outside [0, 1] or NaN. Also the options fault_p=P and fault_seed=S. */
ZM_API int zm_fault_set_probability(double p, uint64_t seed);

/* Stops injecting failures (both kinds). The counts stay readable. */
ZM_API void zm_fault_clear(void);

/* Failures injected since the last zm_fault_set / zm_fault_set_probability. */
ZM_API uint64_t zm_fault_hits(void);

/* Allocation requests numbered since the last zm_fault_set /
 * zm_fault_set_probability, while a setting was active. */
ZM_API uint64_t zm_fault_requests(void);

/* The out-of-memory sweep: runs fn(arg) once per step, in a forked child
 * process, with allocation request number `step` failing (step 1, 2, 3, ...),
 * until a step completes without an injected failure or max_steps ran. After
 * fn returns, the child compares zm_used_memory() and the live blocks with
 * their values before the call: a difference is a leak on the error path
 * that step took. A child that dies of a signal is a crash (with the default
 * OOM handler, a checked allocation that fails aborts: use try variants or
 * install a handler that returns). A child that exits by itself (exit, _exit)
 * before fn returns counts as a crash with signal 0.
 *
 * The parent allocates nothing through zmem while it sweeps. Call it with no
 * other threads allocating: the child has only the calling thread. */
#define ZM_SWEEP_RECORDS 64

typedef enum zm_sweep_kind {
  ZM_SWEEP_LEAK = 1,  /* fn returned with more memory live than before */
  ZM_SWEEP_CRASH = 2, /* the child died of a signal or exited early */
} zm_sweep_kind;

typedef struct zm_sweep_step {
  uint64_t step;       /* the allocation request that failed */
  zm_sweep_kind kind;
  int signal;          /* ZM_SWEEP_CRASH: the signal, 0 for an early exit */
  int64_t leaked_bytes;  /* ZM_SWEEP_LEAK: used memory above the start */
  int64_t leaked_blocks; /* ZM_SWEEP_LEAK: live blocks above the start */
} zm_sweep_step;

typedef struct zm_sweep_result {
  size_t size;        /* in: sizeof(zm_sweep_result) */
  uint64_t max_steps; /* in: most steps to run; 0 for 100000 */
  uint64_t steps;     /* steps run, the clean last one included */
  int complete;       /* 1 when the last step ran without an injected failure */
  uint64_t leaks;     /* steps that leaked */
  uint64_t crashes;   /* steps that crashed */
  size_t nrecords;    /* the first ZM_SWEEP_RECORDS leaks and crashes */
  zm_sweep_step records[ZM_SWEEP_RECORDS];
} zm_sweep_result;

/* 0 when the sweep ran (whatever it found: read *result), -1 with errno
 * EINVAL (fn or result NULL, result->size too small) or the error of fork or
 * pipe. */
ZM_API int zm_oom_sweep(void (*fn)(void *arg), void *arg,
                        zm_sweep_result *result);

/* ---------------------------------------------------------------- options */

/* Applies "key=value,key=value,...". Keys are matched without regard to
 * case. The run-time keys:
 *   layout=lean|header|debug  as zm_set_layout
 *   debug=0|1            1 as zm_debug_enable; 0 changes nothing
 *   quarantine=SIZE      as zm_set_quarantine
 *   leaks=0|1            as zm_set_leak_check
 *   tags=0|1             1 as zm_tags_enable; 0 changes nothing
 *   limit=SIZE           as zm_set_limit
 *   soft_limit=SIZE      as zm_set_soft_limit(SIZE, NULL, NULL)
 *   fault=NTH[:REPEAT]   as zm_fault_set(NTH, REPEAT); REPEAT 0 if omitted
 *   fault_seed=N         the seed fault_p uses (default 0)
 *   fault_p=P            as zm_fault_set_probability(P, fault_seed); P is
 *                        "0" to "1" in decimal ("0.01", ".5"), no exponent
 * A build option's key is its CMake name without ZMEM_, lowercase: backend,
 * replacement and debug_assert are fixed at build time, and zm_configure
 * refuses them (EINVAL) with a message that says so.
 * SIZE: decimal digits, then directly (no blank) an optional unit: K, M, G
 * or T (powers of 1024), each with an optional i and then an optional B, or
 * B alone, in any case ("64M", "64Mi", "512KiB", "2kb", "100b"); no sign,
 * fraction, hex or blank inside; a value above SIZE_MAX is an error.
 * Booleans: 0/1, true/false, on/off, yes/no. Blanks around keys and values
 * and empty items (",,", a trailing comma, "") are ignored. A repeated key:
 * the last one wins.
 * The whole string is checked before anything is applied: on any error
 * nothing changes and -1 is returned with errno EINVAL (bad syntax, key or
 * value; layout=lean together with tags=1; debug=1 with another layout; a
 * limit below the memory in use), EBUSY (layout or debug, whatever the
 * value, after the first allocation; tags=1 once the lean layout is fixed;
 * layout=lean with tags already on)
 * or ENOTSUP (layout=lean on a backend without usable_size); zm_last_error()
 * then names the bad key or value. Never allocates.
 * The same syntax is read from the environment variable ZMEM_OPTIONS at the
 * first allocation; a bad ZMEM_OPTIONS is reported in one line on stderr
 * and ignored whole. Precedence, in one place: layout and tags from the
 * environment are applied after the program's own set-up calls made before
 * the first allocation (so the environment wins over them); limit and
 * soft_limit from the environment are an operator's ceilings: the limit in
 * force is always the tighter of the environment's and the program's
 * (zm_set_limit, zm_set_soft_limit, zm_configure), whichever was set first
 * and whenever the program sets its own, and zm_get_limit /
 * zm_get_soft_limit return that limit in force. Thread-safe. */
ZM_API int zm_configure(const char *options);

/* The calling thread's last error message from zm_configure, naming what was
 * wrong with the string, or from zm_tags_enable / zm_tag_new refused with
 * EBUSY, or zm_set_backend / zm_set_mem_functions refused with EBUSY (or
 * EINVAL for the lean layout), saying why; "" after a successful
 * zm_configure (or before any call).
 * Valid until the thread's next such call. */
ZM_API const char *zm_last_error(void);

/* ---------------------------------------------------------------- reports */

typedef enum zm_format {
  ZM_FORMAT_TEXT = 0,       /* a readable table */
  ZM_FORMAT_JSON = 1,       /* one JSON object, docs/report-schema.md */
  ZM_FORMAT_PROMETHEUS = 2, /* Prometheus text exposition format 0.0.4 */
} zm_format;

/* Writes the statistics (totals, per-tag tree, layout, backend, limits,
 * system figures) to out. 0, or -1 with errno EINVAL (NULL out, bad format)
 * or the stdio error. May allocate (stdio). */
ZM_API int zm_stats_print(FILE *out, zm_format fmt);

/* --------------------------------------------------------- system figures */

/* Linux reads /proc; elsewhere these return 0 with errno ENOTSUP. */

/* Resident set size of the process, bytes. */
ZM_API size_t zm_rss(void);
/* Physical memory of the machine, bytes. */
ZM_API size_t zm_physical_memory(void);
/* zm_rss() / zm_used_memory(); 0 when nothing is used. */
ZM_API double zm_fragmentation_ratio(void);
/* Sum over the process's mappings of an smaps field, e.g. "Private_Dirty:"
 * (with or without the colon), in bytes. Only fields given in kB are summed
 * (not VmFlags or THPeligible). 0 with errno EINVAL for an unknown field
 * (names are case-sensitive, as the kernel writes them), or ENOTSUP. A
 * field that exists and sums to 0 returns 0 with errno unchanged. Reads
 * smaps_rollup when it has the field, else the whole of smaps; no
 * allocation. */
ZM_API size_t zm_smaps_field(const char *field);

#define ZM_SYS_STATS_VERSION 1

/* System and backend figures in one call. Fields the platform or backend
 * does not report are 0. Set `size` first. */
typedef struct zm_sys_stats {
  size_t size;       /* in: sizeof(zm_sys_stats) */
  unsigned version;  /* out: ZM_SYS_STATS_VERSION */
  size_t rss;        /* as zm_rss() */
  size_t peak_rss;   /* the process's highest RSS */
  size_t physical_memory;
  size_t used;       /* as zm_used_memory() */
  double fragmentation; /* rss / used */
  const char *backend;  /* the compiled-in allocator the figures below are
                           from (also with a user backend installed) */
  size_t backend_allocated; /* bytes in live blocks, as the backend sees it */
  size_t backend_active;    /* bytes in pages holding live blocks */
  size_t backend_resident;  /* bytes the backend keeps resident */
  size_t backend_mapped;    /* bytes the backend has mapped */
} zm_sys_stats;

/* Fills *st. 0, or -1 with EINVAL (NULL or size too small). Fields that
 * cannot be read are 0. */
ZM_API int zm_get_sys_stats(zm_sys_stats *st);

/* ZMEM_TRACK_SITES: defined before including this header, it makes the
 * allocation functions record __FILE__ and __LINE__ as their site in the
 * debug layout (elsewhere the site is ignored). Function names stay usable
 * as pointers (&zm_malloc). */
#ifdef ZMEM_TRACK_SITES
#define ZM__AT(call) (zm_debug_site(__FILE__, __LINE__), call)
#define zm_malloc(n) ZM__AT(zm_malloc(n))
#define zm_calloc(c, n) ZM__AT(zm_calloc(c, n))
#define zm_realloc(p, n) ZM__AT(zm_realloc(p, n))
#define zm_reallocarray(p, c, n) ZM__AT(zm_reallocarray(p, c, n))
#define zm_aligned_alloc(a, n) ZM__AT(zm_aligned_alloc(a, n))
#define zm_strdup(s) ZM__AT(zm_strdup(s))
#define zm_strndup(s, n) ZM__AT(zm_strndup(s, n))
#define zm_memdup(p, n) ZM__AT(zm_memdup(p, n))
#define zm_try_malloc(n) ZM__AT(zm_try_malloc(n))
#define zm_try_calloc(c, n) ZM__AT(zm_try_calloc(c, n))
#define zm_try_realloc(p, n) ZM__AT(zm_try_realloc(p, n))
#define zm_malloc_tag(t, n) ZM__AT(zm_malloc_tag(t, n))
#define zm_calloc_tag(t, c, n) ZM__AT(zm_calloc_tag(t, c, n))
#define zm_strdup_tag(t, s) ZM__AT(zm_strdup_tag(t, s))
#define zm_try_malloc_tag(t, n) ZM__AT(zm_try_malloc_tag(t, n))
#define zm_try_calloc_tag(t, c, n) ZM__AT(zm_try_calloc_tag(t, c, n))
#define zm_free(p) ZM__AT(zm_free(p))
#define zm_free_sized(p, n) ZM__AT(zm_free_sized(p, n))
#endif

#ifdef __cplusplus
}
#endif
#endif /* ZMEM_H */
