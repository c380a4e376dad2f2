/* Fault injection: the nth-request countdown and seeded random failures.
 *
 * One shared counter numbers the allocation requests since the last setting;
 * request k fails when nth <= k <= nth + repeat, or when a hash of (seed, k)
 * falls below the probability. The hash of the request number, rather than
 * a shared random state, keeps a run reproducible from its seed whatever
 * order threads take numbers in. */
#include "fault.h"
#include "layout.h"
#include "zmem.h"

#include <errno.h>
#include <stdatomic.h>

#define P_ONE ((uint64_t)1 << 53)

static _Atomic uint64_t requests; /* numbered since the last setting */
static _Atomic uint64_t nth;      /* 0: no countdown */
static _Atomic uint64_t repeat;
static _Atomic uint64_t p53;      /* probability in parts of 2^53 */
static _Atomic uint64_t seed;
static _Atomic uint64_t next_seed;
static _Atomic uint64_t hits;

/* splitmix64's finaliser: every bit of x moves every bit of the result. */
static uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15u;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
  return x ^ (x >> 31);
}

static bool countdown_hit(uint64_t k) {
  uint64_t n = atomic_load_explicit(&nth, memory_order_relaxed);
  return n && k >= n &&
         k - n <= atomic_load_explicit(&repeat, memory_order_relaxed);
}

static bool random_hit(uint64_t k) {
  uint64_t p = atomic_load_explicit(&p53, memory_order_relaxed);
  return p && (mix(atomic_load_explicit(&seed, memory_order_relaxed) ^
                   mix(k)) >> 11) < p;
}

static void (*observer)(uint64_t k);

void zm__fault_observe(void (*fn)(uint64_t k)) { observer = fn; }

bool zm__fault_refuse(void) {
  uint64_t k = atomic_fetch_add_explicit(&requests, 1, memory_order_relaxed);
  k += 1;
  if (observer)
    observer(k);
  if (!countdown_hit(k) && !random_hit(k))
    return false;
  atomic_fetch_add_explicit(&hits, 1, memory_order_relaxed);
  return true;
}

static void update_mode(void) {
  zm__mode_set_flag(ZM__MODE_FAULT, atomic_load(&nth) || atomic_load(&p53));
}

/* A new setting numbers requests and counts hits afresh. */
static void restart(void) {
  atomic_store(&requests, 0);
  atomic_store(&hits, 0);
}

int zm_fault_set(uint64_t n, uint64_t rep) {
  restart();
  atomic_store(&repeat, rep);
  atomic_store(&nth, n);
  update_mode();
  return 0;
}

void zm__fault_seed(uint64_t s) { atomic_store(&next_seed, s); }

void zm__fault_set_p53(uint64_t p) {
  restart();
  atomic_store(&seed, atomic_load(&next_seed));
  atomic_store(&p53, p > P_ONE ? P_ONE : p);
  update_mode();
}

int zm_fault_set_probability(double p, uint64_t s) {
  if (!(p >= 0.0 && p <= 1.0)) { /* NaN too */
    errno = EINVAL;
    return -1;
  }
  zm__fault_seed(s);
  zm__fault_set_p53((uint64_t)(p * (double)P_ONE));
  return 0;
}

void zm_fault_clear(void) {
  atomic_store(&nth, 0);
  atomic_store(&p53, 0);
  update_mode();
}

uint64_t zm_fault_hits(void) { return atomic_load(&hits); }

uint64_t zm_fault_requests(void) { return atomic_load(&requests); }
