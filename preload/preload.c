/* libzmem-preload.so: the C allocation functions, interposed.
 *
 * Each entry point hands the request to zmem's core (through the public API,
 * with the functions found by dlsym(RTLD_NEXT) installed as its backend, in
 * the lean layout) and counts the call in this thread's slot of the record
 * that `zmem run` reads. The requested size of each live block is kept in
 * sizes.c, the usable (held) size comes from the allocator.
 *
 * Before the real functions are known, and inside a call that re-enters the
 * allocator (the thread-local guard), requests go to the bootstrap arena or
 * straight to the real functions, uncounted. */
#define _GNU_SOURCE
#include "bypass.h"
#include "heaprss.h"
#include "inject.h"
#include "proc.h"
#include "real.h"
#include "sites.h"
#include "sizes.h"

#include <zmem.h>

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <dlfcn.h>
#include <sys/syscall.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

enum { UNINIT, INITING, READY, FAILED };
static _Atomic int state = UNINIT;

#define TLS __thread __attribute__((tls_model("initial-exec")))
/* The thread's state, in one block: one address computed per call. */
typedef struct thread_state {
  zmr_slot *slot;   /* this thread's slot in zmp_proc */
  int guard;        /* inside one of our entry points */
  unsigned gen;     /* zmp_generation when the slot was claimed */
  bool shared;      /* the slot is the shared overflow slot */
} thread_state;
static TLS thread_state me;
/* Its destructor publishes an exiting thread's unpublished bytes. */
static pthread_key_t slot_key;
static bool slot_key_ok;

/* ------------------------------------------------------------- the core */

static void *be_malloc(void *ud, size_t n) { (void)ud; return zmp_next.malloc(n); }
static void *be_realloc(void *ud, void *p, size_t n) {
  (void)ud;
  return zmp_next.realloc(p, n);
}
static void be_free(void *ud, void *p) { (void)ud; zmp_next.free(p); }
static size_t be_usable(void *ud, const void *p) {
  (void)ud;
  return zmp_next.usable_size((void *)p);
}
static void *be_aligned(void *ud, size_t a, size_t n) {
  (void)ud;
  return zmp_next.memalign(a, n);
}

/* A failed checked call returns NULL with ENOMEM, as the C functions do. */
static void oom_returns(size_t size, void *arg) { (void)size; (void)arg; }

static void fork_prepare(void) {
  zmp_proc_prepare_fork();
  zmp_sizes_prepare_fork();
}
static void fork_parent(void) { zmp_sizes_after_fork(false); }
/* The table's own memory is reported in the process's record. */
static void report_table(void) {
  zmp_sizes_report_to(zmp_proc ? &zmp_proc->ext[ZMR_EXT_TABLE_PEAK] : NULL);
}

/* The child has one thread, this one: its slot was in the parent's
 * record. */
static void fork_child(void) {
  me.slot = NULL;
  zmp_sizes_after_fork(true);
  zmp_proc_forked();
  report_table();
}

static void on_exit_hook(int code, void *arg);

static void slot_gone(void *arg) {
  if (arg == me.slot && me.gen == zmp_generation)
    zmp_slot_flush(arg);
}

static void init(void) {
  int expected = UNINIT;
  if (!atomic_compare_exchange_strong(&state, &expected, INITING))
    return; /* another thread is at it: it uses the arena meanwhile */
  me.guard++;
  bool ok = zmp_real_init();
  if (ok) {
    static const zm_backend be = {"preload-next", be_malloc, be_realloc,
                                  be_free, be_usable, NULL, be_aligned};
    ok = zm_set_backend(&be) == 0 && zm_set_layout(ZM_LAYOUT_LEAN) == 0;
    zm_set_oom_handler(oom_returns, NULL);
    zmp_inject_init();
  }
  if (ok) {
    slot_key_ok = pthread_key_create(&slot_key, slot_gone) == 0;
    zmp_proc_init();
    zmp_bypass_note(zmp_proc);
    report_table();
    pthread_atfork(fork_prepare, fork_parent, fork_child);
    zmp_sites_init(); /* after: its fork handlers run after those above */
    on_exit(on_exit_hook, NULL);
  }
  me.guard--;
  atomic_store(&state, ok ? READY : FAILED);
}

__attribute__((constructor)) static void preload_ctor(void) { init(); }

/* ------------------------------------------------- the allocator below */

static bool pow2(size_t a) { return a && !(a & (a - 1)); }

/* The allocator's calls: straight to the real allocator, or, under fault
 * injection, through zmem's core (lean layout over that same allocator, so
 * blocks are the same either way), which numbers each request and fails
 * the chosen ones. The core is kept off the common path: its own
 * accounting would only repeat the slots'. */
static inline void *below_malloc(size_t n) {
  return unlikely(zmp_inject_on) ? zm_try_malloc(n) : zmp_next.malloc(n);
}
/* aligned_alloc keeps the allocator's own rules for the alignments it
 * accepts (glibc 2.36 takes 0 and 24; later ones refuse them); under
 * fault injection the core takes the powers of two. */
static inline void *below_aligned(int fn, size_t align, size_t n) {
  if (unlikely(zmp_inject_on) && (fn != ZMR_ALIGNED_ALLOC || pow2(align)))
    return zm_aligned_alloc(align, n);
  return fn == ZMR_ALIGNED_ALLOC ? zmp_next.aligned_alloc(align, n)
                                 : zmp_next.memalign(align, n);
}
static inline void *below_realloc(void *p, size_t n) {
  return unlikely(zmp_inject_on) ? zm_try_realloc(p, n) : zmp_next.realloc(p, n);
}
static inline void below_free(void *p) {
  if (unlikely(zmp_inject_on)) {
    int saved = errno; /* the core's own work is not the program's */
    zm_free(p);
    errno = saved;
  } else
    zmp_next.free(p);
}
/* What the allocator holds for a live block. */
static inline size_t held_size(void *p) { return zmp_usable(p); }

/* ------------------------------------------------------------- counting */

/* The slot is set before the key: pthread_setspecific may allocate, and
 * that allocation then finds the slot in place. */
__attribute__((noinline)) static zmr_slot *claim_slot(void) {
  me.slot = zmp_slot_claim(&me.shared);
  me.gen = zmp_generation;
  if (slot_key_ok && !me.shared)
    (void)pthread_setspecific(slot_key, me.slot);
  return me.slot;
}

/* The calling thread's slot (NULL when not profiling). A fork child
 * forgets its one thread's slot (fork_child), so that it claims one in its
 * own record. Claiming keeps errno (pthread_setspecific may allocate), so
 * that the entry points need not. */
__attribute__((noinline)) static zmr_slot *find_slot(void) {
  if (!zmp_proc)
    return NULL;
  int saved = errno;
  zmr_slot *s = claim_slot();
  errno = saved;
  return s;
}

static inline zmr_slot *my_slot(void) {
  if (likely(me.slot != NULL))
    return me.slot;
  return find_slot();
}

/* The counters take `shared` (the slot is the shared overflow slot, which
 * needs atomic adds) as a parameter, read once per call: the functions
 * below are specialised for each value (ALWAYS_INLINE with a constant), so
 * that the common case is plain loads and stores the compiler schedules
 * freely. */
#define ALWAYS_INLINE inline __attribute__((always_inline))

static ALWAYS_INLINE void bump(_Atomic uint64_t *c, uint64_t v, bool shared) {
  if (shared)
    atomic_fetch_add_explicit(c, v, memory_order_relaxed);
  else
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
                          memory_order_relaxed);
}

static ALWAYS_INLINE void count_call(zmr_slot *s, bool shared, int fn, size_t bytes,
                                     bool failed) {
  bump(&s->calls[fn], 1, shared);
  bump(&s->bytes[fn], bytes, shared);
  if (failed)
    bump(&s->failures[fn], 1, shared);
}

/* A call that allocates nothing and frees nothing (failed, free(NULL),
 * malloc_usable_size). A failed request adds no bytes: it is counted as
 * a failure only. */
__attribute__((noinline)) static void count_other(zmr_slot *s, int fn, size_t bytes,
                                                  bool failed) {
  if (me.shared)
    count_call(s, true, fn, bytes, failed);
  else
    count_call(s, false, fn, bytes, failed);
}

static ALWAYS_INLINE void count_hist(zmr_slot *s, size_t n, bool shared) {
  unsigned b = zmr_bucket(n);
  bump(&s->hist[b < ZMR_HIST_BUCKETS ? b : ZMR_HIST_BUCKETS - 1], 1, shared);
}

/* A new block of n requested bytes, held bytes held. */
static ALWAYS_INLINE void count_alloc_as(zmr_slot *s, bool shared, int fn, size_t n,
                                         size_t held) {
  count_call(s, shared, fn, n, false);
  count_hist(s, n, shared);
  bump(&s->total_requested, n, shared);
  bump(&s->total_held, held, shared);
  zmp_slot_move(s, shared, (int64_t)n, (int64_t)held, 1);
}

static ALWAYS_INLINE void count_alloc(zmr_slot *s, int fn, size_t n, size_t held) {
  if (likely(!me.shared))
    count_alloc_as(s, false, fn, n, held);
  else
    count_alloc_as(s, true, fn, n, held);
}

/* A freed block of req requested bytes, held bytes held. */
static ALWAYS_INLINE void count_free_as(zmr_slot *s, bool shared, int fn, size_t req,
                                        size_t held) {
  count_call(s, shared, fn, req, false);
  zmp_slot_move(s, shared, -(int64_t)req, -(int64_t)held, -1);
}

static ALWAYS_INLINE void count_free(zmr_slot *s, int fn, size_t req, size_t held) {
  if (likely(!me.shared))
    count_free_as(s, false, fn, req, held);
  else
    count_free_as(s, true, fn, req, held);
}

/* Stores block p's requested size n and, when the run records sites and
 * the block gets one, its site, which is then counted. */
static inline void remember(void *p, size_t n, size_t held) {
  zmp_site site;
  if (unlikely(zmp_sites_table != NULL) && zmp_sites_pick(n, &site)) {
    if (zmp_sizes_put(p, n, held, &site))
      zmp_sites_add(&site);
  } else
    zmp_sizes_put(p, n, held, NULL);
}

/* Releases a block's site, if it had one (keeping errno, for free). */
static inline void release(const zmp_site *site) {
  if (unlikely(site->count != 0)) {
    int saved = errno;
    zmp_sites_sub(site);
    errno = saved;
  }
}

/* The bytes a block of n requested bytes holds when the allocator says
 * usable: a usable size below the request is not believed (tcmalloc's
 * query answers 0 for a block it did not allocate). */
static inline size_t held_of(size_t usable, size_t n) { return usable < n ? n : usable; }

/* A new block p of n requested bytes. */
static ALWAYS_INLINE void count_new(zmr_slot *s, int fn, void *p, size_t n) {
  size_t usable = zmp_usable_new(p);
  remember(p, n, usable);
  count_alloc(s, fn, n, held_of(usable, n));
}

/* A free or realloc of a block zmem never saw allocated (see
 * zmr_slot.unseen_frees): counted as such, never in the live figures. */
__attribute__((noinline, cold)) static void count_unseen(zmr_slot *s) {
  bump(&s->unseen_frees, 1, me.shared);
}

/* ---------------------------------------------------------- entry points */

/* The start keeps errno: the program sees none of it. */
__attribute__((noinline)) static bool bypass_starting(int s) {
  if (s == UNINIT && !me.guard) {
    int saved = errno;
    init();
    errno = saved;
  }
  return atomic_load(&state) != READY || me.guard != 0;
}

static inline bool bypass(void) {
  int s = atomic_load_explicit(&state, memory_order_acquire);
  if (likely(s == READY))
    return me.guard != 0;
  return bypass_starting(s);
}

static void *raw_malloc(size_t n) {
  return atomic_load(&state) == READY ? zmp_next.malloc(n) : zmp_arena_alloc(n);
}

/* A failed request: fault injection notes the ones it caused. */
static inline void failed_request(void) {
  if (unlikely(zmp_inject_on))
    zmp_inject_failed();
}

/* A request refused before the allocator is asked (a size that overflows,
 * an alignment no allocator takes): counted as a failure. */
static void count_refused(int fn) {
  if (!bypass() && my_slot()) {
    me.guard++;
    count_other(me.slot, fn, 0, true);
    me.guard--;
  }
}

/* Compiled into malloc with its constants; do_alloc for the others. */
static ALWAYS_INLINE void *alloc_as(int fn, size_t n, size_t align) {
  me.guard++;
  void *p = align || fn == ZMR_ALIGNED_ALLOC ? below_aligned(fn, align, n) : below_malloc(n);
  if (!p)
    failed_request();
  zmr_slot *s = my_slot();
  if (s) {
    if (likely(p != NULL))
      count_new(s, fn, p, n);
    else
      count_other(s, fn, 0, true);
  }
  me.guard--;
  return p;
}

static void *do_alloc(int fn, size_t n, size_t align) { return alloc_as(fn, n, align); }

EXPORT void *malloc(size_t n) {
  if (unlikely(bypass()))
    return raw_malloc(n);
  return alloc_as(ZMR_MALLOC, n, 0);
}

/* calloc goes to the real calloc, not through the core: a user backend has
 * no calloc, and malloc + memset would touch every page of a large block
 * that the real calloc gets already zeroed from the kernel. Under fault
 * injection it goes through the core, so that the core numbers it (and
 * may refuse it) like every other request. */
static void *zeroed(size_t n) {
  if (unlikely(zmp_inject_on)) {
    void *p = zm_try_calloc(n ? n : 1, 1);
    if (!p)
      failed_request();
    return p;
  }
  return zmp_next.calloc(n ? n : 1, 1);
}

EXPORT void *calloc(size_t count, size_t size) {
  size_t n;
  if (__builtin_mul_overflow(count, size, &n)) {
    count_refused(ZMR_CALLOC);
    errno = ENOMEM;
    return NULL;
  }
  if (unlikely(bypass())) {
    if (atomic_load(&state) == READY)
      return zmp_next.calloc(count, size);
    return zmp_arena_alloc(n); /* static storage: already zero */
  }
  me.guard++;
  void *p = zeroed(n);
  zmr_slot *s = my_slot();
  if (s) {
    if (p)
      count_new(s, ZMR_CALLOC, p, n);
    else
      count_other(s, ZMR_CALLOC, 0, true);
  }
  me.guard--;
  return p;
}

/* The table is asked first: a block it does not know (a double free, a
 * block allocated past zmem, a pointer that is no block) is not touched,
 * not even for its size, and goes to the C library, which fails as it
 * would without zmem. */
static void free_counted(int fn, void *p) {
  zmr_slot *s = my_slot();
  if (unlikely(!s)) {
    below_free(p);
    return;
  }
  zmp_site site;
  size_t slack = zmp_sizes_remove(p, &site);
  if (unlikely(slack == ZMP_UNSEEN)) {
    count_other(s, fn, 0, false);
    count_unseen(s);
    zmp_next.free(p);
    return;
  }
  size_t held = zmp_sizes_held(held_size(p), slack);
  release(&site);
  count_free(s, fn, zmp_sizes_requested(held, slack), held);
  below_free(p);
}

EXPORT void free(void *p) {
  if (!p) {
    /* Counted (memusage counts it too), nothing else. */
    if (likely(!bypass()) && my_slot()) {
      me.guard++;
      count_other(me.slot, ZMR_FREE, 0, false);
      me.guard--;
    }
    return;
  }
  if (zmp_in_arena(p))
    return;
  /* errno is the allocator's to keep or not, as without zmem: zmem's own
   * work that may set it (the start, claiming a slot, sites) keeps it. */
  if (unlikely(bypass())) {
    zmp_next.free(p);
  } else {
    me.guard++;
    free_counted(ZMR_FREE, p);
    me.guard--;
  }
}

static void *arena_realloc(void *p, size_t n) {
  void *q = malloc(n);
  if (q) {
    size_t old = zmp_arena_size(p);
    memcpy(q, p, old < n ? old : n);
  }
  return q;
}

/* A realloc that gave q (p's block, now n requested bytes, held bytes
 * held) for p (old_req requested, old_held held). */
static ALWAYS_INLINE void count_resized_as(zmr_slot *s, bool shared, int fn, void *p,
                                           void *q, size_t n, size_t held, size_t old_req,
                                           size_t old_held) {
  count_call(s, shared, fn, n, false);
  count_hist(s, n, shared);
  /* The total counts what a realloc added, as memusage does. */
  bump(&s->total_requested, n > old_req ? n - old_req : 0, shared);
  bump(&s->total_held, held > old_held ? held - old_held : 0, shared);
  if (q != p)
    bump(&s->realloc_moved, 1, shared);
  else if (n < old_req)
    bump(&s->realloc_shrunk, 1, shared);
  else
    bump(&s->realloc_in_place, 1, shared);
  zmp_slot_move(s, shared, (int64_t)n - (int64_t)old_req,
                (int64_t)held - (int64_t)old_held, 0);
}

static void count_realloc(zmr_slot *s, int fn, void *p, void *q, size_t n,
                          size_t old_req, size_t old_held, const zmp_site *old_site) {
  if (!q) {
    count_other(s, fn, 0, n != 0);
    if (!n) { /* realloc(p, 0) freed p */
      zmp_slot_move(s, me.shared, -(int64_t)old_req, -(int64_t)old_held, -1);
      release(old_site);
    } else if (!zmp_sizes_put(p, old_req, held_size(p), old_site)) /* p is intact */
      release(old_site); /* its site could not be kept */
    return;
  }
  size_t usable = zmp_usable_new(q), held = held_of(usable, n);
  release(old_site); /* the block's site is the realloc's from now on */
  remember(q, n, usable);
  if (likely(!me.shared))
    count_resized_as(s, false, fn, p, q, n, held, old_req, old_held);
  else
    count_resized_as(s, true, fn, p, q, n, held, old_req, old_held);
}

/* A realloc of a block zmem never saw: the C library's own, untouched;
 * the block it gives is a new allocation. */
__attribute__((noinline, cold)) static void *realloc_unseen(zmr_slot *s, int fn, void *p,
                                                            size_t n) {
  count_unseen(s);
  void *q = zmp_next.realloc(p, n);
  if (q)
    count_new(s, fn, q, n);
  else
    count_other(s, fn, 0, n != 0);
  return q;
}

static void *do_realloc(int fn, void *p, size_t n) {
  if (!p)
    return do_alloc(fn, n, 0);
  me.guard++;
  zmr_slot *s = my_slot();
  size_t old_held = 0, old_req = 0;
  zmp_site old_site = {0};
  if (s) {
    size_t slack = zmp_sizes_remove(p, &old_site);
    if (unlikely(slack == ZMP_UNSEEN)) {
      void *q = realloc_unseen(s, fn, p, n);
      me.guard--;
      return q;
    }
    old_held = zmp_sizes_held(held_size(p), slack);
    old_req = zmp_sizes_requested(old_held, slack);
  }
  void *q = below_realloc(p, n);
  if (!q && n)
    failed_request();
  if (s)
    count_realloc(s, fn, p, q, n, old_req, old_held, &old_site);
  me.guard--;
  return q;
}

EXPORT void *realloc(void *p, size_t n) {
  if (p && zmp_in_arena(p))
    return arena_realloc(p, n);
  if (unlikely(bypass()))
    return atomic_load(&state) == READY ? zmp_next.realloc(p, n)
                                        : (p ? NULL : zmp_arena_alloc(n));
  return do_realloc(ZMR_REALLOC, p, n);
}

EXPORT void *reallocarray(void *p, size_t count, size_t size) {
  size_t n;
  if (__builtin_mul_overflow(count, size, &n)) {
    count_refused(ZMR_REALLOCARRAY);
    errno = ENOMEM;
    return NULL;
  }
  if ((p && zmp_in_arena(p)) || unlikely(bypass()))
    return realloc(p, n);
  return do_realloc(ZMR_REALLOCARRAY, p, n);
}

/* ----------------------------------------------------- aligned allocation */

/* An alignment of 16 or less is malloc's, except for aligned_alloc,
 * which the allocator's own function answers (see below_aligned). */
static void *aligned(int fn, size_t align, size_t n) {
  if (unlikely(bypass())) {
    if (atomic_load(&state) != READY)
      return NULL;
    return fn == ZMR_ALIGNED_ALLOC ? zmp_next.aligned_alloc(align, n)
                                   : zmp_next.memalign(align, n);
  }
  return do_alloc(fn, n, align > 16 || fn == ZMR_ALIGNED_ALLOC ? align : 0);
}

EXPORT int posix_memalign(void **out, size_t align, size_t n) {
  int saved = errno;
  if (!pow2(align) || align % sizeof(void *)) {
    count_refused(ZMR_POSIX_MEMALIGN);
    errno = saved;
    return EINVAL;
  }
  void *p = aligned(ZMR_POSIX_MEMALIGN, align, n);
  int err = p ? 0 : ENOMEM;
  errno = saved;
  if (p)
    *out = p;
  return err;
}

EXPORT void *aligned_alloc(size_t align, size_t n) {
  return aligned(ZMR_ALIGNED_ALLOC, align, n);
}

/* memalign rounds an alignment that is not a power of two up to one. */
static size_t round_align(size_t a) {
  if (a <= 1)
    return 1;
  if (a > (SIZE_MAX >> 1) + 1)
    return 0;
  size_t r = 1;
  while (r < a)
    r <<= 1;
  return r;
}

EXPORT void *memalign(size_t align, size_t n) {
  size_t a = round_align(align);
  if (!a) {
    count_refused(ZMR_MEMALIGN);
    errno = EINVAL;
    return NULL;
  }
  return aligned(ZMR_MEMALIGN, a, n);
}

EXPORT void *valloc(size_t n) {
  return aligned(ZMR_VALLOC, (size_t)sysconf(_SC_PAGESIZE), n);
}

EXPORT void *pvalloc(size_t n) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  if (n > SIZE_MAX - page) {
    count_refused(ZMR_PVALLOC);
    errno = ENOMEM;
    return NULL;
  }
  return aligned(ZMR_PVALLOC, page, n ? (n + page - 1) & ~(page - 1) : page);
}

EXPORT size_t malloc_usable_size(void *p) {
  if (!p)
    return 0;
  if (zmp_in_arena(p))
    return zmp_arena_size(p);
  if (unlikely(bypass()))
    return atomic_load(&state) == READY ? zmp_next.usable_size(p) : 0;
  me.guard++;
  size_t n = held_size(p);
  zmr_slot *s = my_slot();
  if (s)
    count_other(s, ZMR_USABLE_SIZE, 0, false);
  me.guard--;
  return n;
}

/* ------------------------------------------------------------------ exit */

/* The status a process exits with, for its row in the report: on_exit
 * sees the status of exit() and of a return from main (which calls exit
 * inside the C library, past any interposition); _exit and _Exit are
 * interposed. A process killed by a signal never gets here; the launcher
 * tells it from waitpid (the first process) or reports it as unknown. */
static void at_exit(int code) {
  if (!zmp_proc_owned())
    return;
  zmp_inject_exit();
  zmp_heap_rss_exit();
  zmp_proc_exit(code);
}

static void on_exit_hook(int code, void *arg) {
  (void)arg;
  at_exit(code);
}

EXPORT void _exit(int code) {
  at_exit(code);
  syscall(SYS_exit_group, code);
  __builtin_unreachable();
}

EXPORT void _Exit(int code) { _exit(code); }
