/* Poisson byte sampling (the method of tcmalloc and jemalloc's profilers):
 * the bytes a thread allocates are seen as one line, with sample points
 * placed on it by a Poisson process of mean spacing R bytes (the rate). An
 * allocation of s bytes is sampled when a point falls inside it, which
 * happens with probability p = 1 - exp(-s/R). Only sampled allocations
 * have their stack taken; the common case is one subtraction and one
 * comparison.
 *
 * A sampled allocation stands for 1/p allocations and s/p bytes, so every
 * estimate built by adding these weights (per stack: allocated, live now,
 * live at the peak) has exactly the true figure as expected value. The
 * weights are whole numbers, rounded up or down at random in proportion,
 * which keeps the expected value exact.
 *
 * Precision: for a stack whose allocations add up to B bytes, the estimate
 * of B has a standard deviation of at most sqrt(R * B) (each allocation
 * adds s^2 (1-p)/p <= s * R to the variance; the rounding adds at most 1/4
 * per sample). So an estimate is within 4 * sqrt(R * B) of B with
 * probability above 99.99% (in the normal approximation), e.g. R = 512 KiB
 * and B = 100 MiB: within 28%; B = 1 GiB: within 9%. Allocations of R bytes
 * or more are sampled with probability 63% and more and weigh at most 1.6
 * times their size; an allocation of 20 R bytes or more is always sampled
 * in practice (p > 1 - 2e-9). */
#ifndef ZM_PRELOAD_SAMPLE_H
#define ZM_PRELOAD_SAMPLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One thread's sampler. rate 0 samples every allocation with its exact
 * figures. */
typedef struct zm__sampler {
  uint64_t rate;  /* R, mean bytes between sample points */
  int64_t until;  /* bytes to the next sample point */
  uint64_t rng;   /* xorshift state, never 0 */
} zm__sampler;

/* Starts a sampler; seed may be anything (0 is replaced). */
void zm__sample_init(zm__sampler *s, uint64_t rate, uint64_t seed);

/* The weights of a sampled allocation. */
typedef struct zm__weight {
  uint64_t count, bytes;
} zm__weight;

/* The rare path of zm__sample: a sample point fell in the allocation. */
bool zm__sample_slow(zm__sampler *s, size_t size, zm__weight *w);

/* Whether an allocation of size bytes is sampled; if so, *w gets its
 * weights. */
static inline bool zm__sample(zm__sampler *s, size_t size, zm__weight *w) {
  if (s->rate == 0) {
    w->count = 1;
    w->bytes = size;
    return true;
  }
  s->until -= (int64_t)size;
  if (s->until > 0)
    return false;
  return zm__sample_slow(s, size, w);
}

/* The unrounded weights of an allocation of size bytes at rate R: 1/p and
 * size/p. */
double zm__sample_inverse_p(uint64_t rate, size_t size);

#endif
