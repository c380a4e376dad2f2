/* Limits: a global hard limit, a soft limit with a callback, per-tag hard
 * limits. Each is a shared counter charged by compare-and-swap, so racing
 * threads can never take it past the limit. */
#include "fork.h"
#include "limits.h"
#include "setup.h"
#include "line.h"
#include "prim/prim.h"
#include "stats.h"
#include "tags.h"

#include <errno.h>
#include <pthread.h>

typedef struct counter {
  _Alignas(64) _Atomic int64_t charged; /* bytes held under this limit */
  _Atomic size_t limit;                 /* 0: none */
} counter;

static counter global;
static _Atomic size_t soft;
static _Atomic bool soft_armed = true;
static zm_soft_limit_fn soft_fn;
static void *soft_arg;
static counter tags[ZM_TAG_MAX];
static _Atomic unsigned tag_limits; /* how many tags have a limit */
static pthread_mutex_t limits_mutex = PTHREAD_MUTEX_INITIALIZER;


static bool global_on(void) {
  return atomic_load_explicit(&global.limit, memory_order_relaxed) ||
         atomic_load_explicit(&soft, memory_order_relaxed);
}

bool zm__limits_active(void) {
  return global_on() || atomic_load(&tag_limits) > 0;
}

size_t zm__tag_limit(zm_tag tag) {
  return tag < ZM_TAG_MAX ? atomic_load(&tags[tag].limit) : 0;
}

/* --------------------------------------------------------------- charging */

static bool fits(const counter *c, size_t bytes) {
  size_t limit = atomic_load_explicit(&c->limit, memory_order_relaxed);
  int64_t now = atomic_load_explicit(&c->charged, memory_order_relaxed);
  return !limit || (size_t)(now > 0 ? now : 0) + bytes <= limit;
}

static bool reserve_flush_own(void);

bool zm__limit_admit(size_t bytes, zm_tag tag) {
  if (!fits(&global, bytes) && !(reserve_flush_own() && fits(&global, bytes)))
    return false;
  const zm_tag *chain;
  unsigned n = zm__tag_chain(tag, &chain);
  for (unsigned i = 0; i < n; i++)
    if (!fits(&tags[chain[i]], bytes))
      return false;
  return true;
}

/* Charges one counter; with a limit, only if the result stays within it.
 * false if refused. *before gets the total before the charge, which may be
 * negative: a block that was live when the limit was set but missed by its
 * snapshot is given back all the same when it is freed. */
static bool charge(counter *c, size_t bytes, int64_t *before) {
  size_t limit = atomic_load_explicit(&c->limit, memory_order_relaxed);
  int64_t now = atomic_load_explicit(&c->charged, memory_order_relaxed);
  do {
    if (limit && (size_t)(now > 0 ? now : 0) + bytes > limit)
      return false;
  } while (!atomic_compare_exchange_weak_explicit(
      &c->charged, &now, now + (int64_t)bytes, memory_order_relaxed,
      memory_order_relaxed));
  *before = now;
  return true;
}

/* Adds delta (either sign) without a check: gives back, or records growth
 * that cannot be refused any more. */
static void add(counter *c, int64_t delta) {
  atomic_fetch_add_explicit(&c->charged, delta, memory_order_relaxed);
}

/* The default warning: at most one line a second, so a program that goes
 * back and forth across the limit does not flood stderr; the crossings in
 * between are counted in the next line. */
#define WARN_INTERVAL_NS 1000000000u
static _Atomic uint64_t warned_at; /* monotonic ns + 1 of the last line */
static _Atomic uint64_t unreported; /* crossings since then, not written */

static void soft_warn(size_t used, size_t limit) {
  uint64_t now = zm__prim_monotonic_ns() + 1;
  uint64_t last = atomic_load(&warned_at);
  if ((last && now - last < WARN_INTERVAL_NS) ||
      !atomic_compare_exchange_strong(&warned_at, &last, now)) {
    atomic_fetch_add(&unreported, 1);
    return;
  }
  uint64_t more = atomic_exchange(&unreported, 0);
  zm__line l = {.n = 0};
  zm__line_bytes(&l, "zmem: soft limit of ", limit);
  zm__line_bytes(&l, " crossed (used ", used);
  zm__line_str(&l, ")");
  if (more) {
    zm__line_str(&l, "; ");
    zm__line_num(&l, more);
    zm__line_str(&l, " more crossings since the last such line");
  }
  zm__line_flush(&l);
}

static void soft_crossed(size_t used, size_t limit) {
  pthread_mutex_lock(&limits_mutex);
  zm_soft_limit_fn fn = soft_fn;
  void *arg = soft_arg;
  pthread_mutex_unlock(&limits_mutex);
  if (fn) {
    fn(used, limit, arg);
    return;
  }
  soft_warn(used, limit);
}

/* Re-arms the soft limit once usage is back at or below it. */
static void soft_check(int64_t before, int64_t after) {
  size_t s = atomic_load_explicit(&soft, memory_order_relaxed);
  if (!s)
    return;
  if (after <= (int64_t)s) {
    if (before > (int64_t)s)
      atomic_store(&soft_armed, true);
    return;
  }
  if (before <= (int64_t)s && atomic_exchange(&soft_armed, false))
    soft_crossed((size_t)after, s);
}

static void undo_tags(const zm_tag *chain, unsigned upto, size_t bytes) {
  for (unsigned i = 0; i < upto; i++)
    if (atomic_load(&tags[chain[i]].limit))
      add(&tags[chain[i]], -(int64_t)bytes);
}

bool zm__limit_charge(size_t bytes, zm_tag tag) {
  const zm_tag *chain;
  unsigned n = zm__tag_chain(tag, &chain);
  for (unsigned i = 0; i < n; i++) {
    int64_t before;
    if (atomic_load(&tags[chain[i]].limit) &&
        !charge(&tags[chain[i]], bytes, &before)) {
      undo_tags(chain, i, bytes);
      return false;
    }
  }
  if (!global_on())
    return true;
  int64_t before;
  if (!charge(&global, bytes, &before) &&
      !(reserve_flush_own() && charge(&global, bytes, &before))) {
    undo_tags(chain, n, bytes);
    return false;
  }
  soft_check(before, before + (int64_t)bytes);
  return true;
}

void zm__limit_adjust(int64_t delta, zm_tag tag) {
  const zm_tag *chain;
  unsigned n = zm__tag_chain(tag, &chain);
  for (unsigned i = 0; i < n; i++)
    if (atomic_load(&tags[chain[i]].limit))
      add(&tags[chain[i]], delta);
  if (global_on()) {
    int64_t before = atomic_fetch_add(&global.charged, delta);
    soft_check(before, before + delta);
  }
}

/* --------------------------------------------------------------- reserves */

__thread zm__reserve zm__my_reserve __attribute__((tls_model("initial-exec")));
_Atomic uint64_t zm__reserve_gen = (uint64_t)1 << 32;
_Atomic bool zm__reserve_on;

#define GEN_SET(g) ((g) >> 32)

/* Brings the thread's reserve to the current generation: a reserve taken
 * before the counter was last set is void (the new count does not hold
 * it); one asked back is given back. limits_mutex. */
static void reserve_sync(zm__reserve *r) {
  uint64_t g = atomic_load_explicit(&zm__reserve_gen, memory_order_relaxed);
  if (r->gen == g)
    return;
  if (GEN_SET(r->gen) == GEN_SET(g) && r->left)
    add(&global, -r->left);
  r->left = 0;
  r->gen = g;
}

/* Thread exit gives the reserve back: a key whose destructor runs at exit,
 * set on the thread's first charge. */
static pthread_key_t reserve_key;
static bool reserve_key_ok;
static __thread bool reserve_armed __attribute__((tls_model("initial-exec")));

static void reserve_exit(void *arg) {
  (void)arg;
  pthread_mutex_lock(&limits_mutex);
  reserve_sync(&zm__my_reserve);
  if (zm__my_reserve.left)
    add(&global, -zm__my_reserve.left);
  zm__my_reserve.left = 0;
  pthread_mutex_unlock(&limits_mutex);
  reserve_armed = false; /* a later charge in this thread sets the key again */
}

zm__at_load static void reserve_key_init(void) {
  reserve_key_ok = pthread_key_create(&reserve_key, reserve_exit) == 0;
}

/* Before the lock: setting the key may allocate (glibc, beyond its first
 * 32 keys), and that allocation may come back here. */
static void reserve_arm(void) {
  if (reserve_armed || !reserve_key_ok)
    return;
  reserve_armed = true;
  pthread_setspecific(reserve_key, (void *)1);
}

bool zm__reserve_refill(size_t n) {
  reserve_arm();
  zm__reserve *r = &zm__my_reserve;
  pthread_mutex_lock(&limits_mutex);
  reserve_sync(r);
  bool ok = true;
  int64_t want = (int64_t)n - r->left, before;
  /* no more than the call needs while reserves are not in use (the mode
   * changed under this call) */
  int64_t extra = atomic_load(&zm__reserve_on) ? ZM__RESERVE : 0;
  if (want > 0) {
    if (charge(&global, (size_t)(want + extra), &before))
      r->left += want + extra;
    else if (charge(&global, (size_t)want, &before))
      r->left += want; /* near the limit: no more than the call needs */
    else {
      /* refused: the other threads give their reserves back on their next
       * call (the thread's own reserve stays, counted towards its calls) */
      r->gen = atomic_fetch_add(&zm__reserve_gen, 1) + 1;
      ok = false;
    }
  }
  pthread_mutex_unlock(&limits_mutex);
  return ok;
}

/* The calling thread's reserve back to the shared counter, when the
 * general path (realloc, aligned allocation) finds the counter full: its
 * requests must not be refused for bytes the thread itself holds. True if
 * there was any. */
static bool reserve_flush_own(void) {
  zm__reserve *r = &zm__my_reserve;
  if (!r->left)
    return false;
  pthread_mutex_lock(&limits_mutex);
  reserve_sync(r);
  bool any = r->left > 0;
  if (any)
    add(&global, -r->left);
  r->left = 0;
  pthread_mutex_unlock(&limits_mutex);
  return any;
}

void zm__reserve_trim(void) {
  zm__reserve *r = &zm__my_reserve;
  pthread_mutex_lock(&limits_mutex);
  reserve_sync(r);
  if (r->left > ZM__RESERVE) {
    add(&global, ZM__RESERVE - r->left);
    r->left = ZM__RESERVE;
  }
  pthread_mutex_unlock(&limits_mutex);
}

void zm__reserve_give_slow(size_t bytes) {
  pthread_mutex_lock(&limits_mutex);
  reserve_sync(&zm__my_reserve);
  add(&global, -(int64_t)bytes);
  pthread_mutex_unlock(&limits_mutex);
}

/* Voids every reserve and decides whether reserves are in use. Where they
 * were (`had`), the counter holds them besides the bytes in use, so it is
 * set anew to `live`. limits_mutex. */
static void reserve_reset_locked(bool had, size_t live) {
  if (had && global_on())
    atomic_store(&global.charged, (int64_t)live);
  atomic_store(&zm__reserve_gen,
               (GEN_SET(atomic_load(&zm__reserve_gen)) + 1) << 32);
  atomic_store(&zm__reserve_on, atomic_load(&global.limit) != 0 &&
                                    atomic_load(&soft) == 0);
}

void zm__limits_fork_child(void) {
  if (!atomic_load(&zm__reserve_on))
    return;
  size_t live = zm_used_memory();
  pthread_mutex_lock(&limits_mutex);
  reserve_reset_locked(true, live);
  pthread_mutex_unlock(&limits_mutex);
}

/* ---------------------------------------------------------------- setters */

/* Starts or stops the charging: the counter starts from what is live now. */
static void track(counter *c, bool was_on, bool on, size_t live) {
  if (on && !was_on)
    atomic_store(&c->charged, (int64_t)live);
}

/* The soft flag first: a hard limit's reserves are never in use with a
 * soft limit set (the soft limit is checked against the shared counter). */
static void update_mode(void) {
  zm__mode_set_flag(ZM__MODE_SOFT, atomic_load(&soft) != 0);
  zm__mode_set_limits(zm__limits_active());
}

/* Limits from ZMEM_OPTIONS are an operator's ceilings: the program's own
 * (zm_set_limit, zm_configure) may be tighter, never looser. In force is the
 * tighter of the two, 0 meaning none. limits_mutex. */
static size_t code_hard, env_hard, code_soft, env_soft;

static size_t tighter(size_t a, size_t b) {
  if (!a || !b)
    return a ? a : b;
  return a < b ? a : b;
}

/* A change of the global limits sets the counter anew when reserves were
 * or will be in use (their bytes are in the counter but not in use). */
static void apply_hard_locked(size_t live) {
  bool was = global_on();
  atomic_store(&global.limit, tighter(code_hard, env_hard));
  track(&global, was, global_on(), live);
  reserve_reset_locked(atomic_load(&zm__reserve_on), live);
  update_mode();
}

static void apply_soft_locked(size_t live) {
  bool was = global_on();
  size_t bytes = tighter(code_soft, env_soft);
  atomic_store(&soft, bytes);
  track(&global, was, global_on(), live);
  reserve_reset_locked(atomic_load(&zm__reserve_on), live);
  atomic_store(&soft_armed, atomic_load(&global.charged) <= (int64_t)bytes);
  update_mode();
}

/* The live figure is read before the lock: the limits lock never nests
 * another (see fork.c for the lock order). */
static void set_hard(size_t *which, size_t bytes) {
  size_t live = zm_used_memory();
  pthread_mutex_lock(&limits_mutex);
  *which = bytes;
  apply_hard_locked(live);
  pthread_mutex_unlock(&limits_mutex);
}

/* A limit below the memory in use would fail every allocation until enough
 * is freed: refused instead. */
int zm_set_limit(size_t bytes) {
  if (bytes && bytes < zm_used_memory()) {
    errno = EINVAL;
    return -1;
  }
  set_hard(&code_hard, bytes);
  return 0;
}

void zm__set_limit_env(size_t bytes) { set_hard(&env_hard, bytes); }

size_t zm_get_limit(void) { return atomic_load(&global.limit); }

int zm_set_soft_limit(size_t bytes, zm_soft_limit_fn fn, void *arg) {
  size_t live = zm_used_memory();
  pthread_mutex_lock(&limits_mutex);
  soft_fn = fn;
  soft_arg = arg;
  code_soft = bytes;
  apply_soft_locked(live);
  pthread_mutex_unlock(&limits_mutex);
  return 0;
}

void zm__set_soft_limit_env(size_t bytes) {
  size_t live = zm_used_memory();
  pthread_mutex_lock(&limits_mutex);
  env_soft = bytes;
  apply_soft_locked(live);
  pthread_mutex_unlock(&limits_mutex);
}

size_t zm_get_soft_limit(void) { return atomic_load(&soft); }

int zm_tag_set_limit(zm_tag tag, size_t bytes) {
  if (!zm_tags_enabled() || tag >= zm_tag_count()) {
    errno = EINVAL;
    return -1;
  }
  size_t live = zm_tag_used(tag);
  if (bytes && bytes < live) {
    errno = EINVAL;
    return -1;
  }
  pthread_mutex_lock(&limits_mutex);
  counter *c = &tags[tag];
  bool was = atomic_load(&c->limit) != 0;
  atomic_store(&c->limit, bytes);
  track(c, was, bytes != 0, live);
  atomic_fetch_add(&tag_limits, (unsigned)(bytes != 0) - (unsigned)was);
  update_mode();
  pthread_mutex_unlock(&limits_mutex);
  return 0;
}

void zm__limits_fork_lock(void) { pthread_mutex_lock(&limits_mutex); }
void zm__limits_fork_unlock(void) { pthread_mutex_unlock(&limits_mutex); }

/* A tag's figures and its limit: the policy layer adds the limit to what
 * the accounting layer counted. */
int zm_tag_stats(zm_tag tag, zm_tag_info *info) {
  if (zm__tag_stats_counts(tag, info) != 0)
    return -1;
  info->limit = zm__tag_limit(tag);
  return 0;
}
