/* Poisson byte sampling: see sample.h. */
#include "sample.h"

#include <math.h>

static uint64_t next(zm__sampler *s) {
  uint64_t x = s->rng; /* xorshift64* */
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  s->rng = x;
  return x * UINT64_C(0x2545f4914f6cdd1d);
}

/* Uniform in (0, 1]. */
static double uniform(zm__sampler *s) {
  return ((double)(next(s) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
}

/* A gap of the Poisson process: exponential with mean R, at least 1. */
static int64_t gap(zm__sampler *s) {
  double g = -log(uniform(s)) * (double)s->rate;
  if (g > 9.0e18)
    g = 9.0e18;
  return g < 1.0 ? 1 : (int64_t)g;
}

void zm__sample_init(zm__sampler *s, uint64_t rate, uint64_t seed) {
  s->rate = rate;
  s->rng = seed ? seed : UINT64_C(0x853c49e6748fea9b);
  s->until = rate ? gap(s) : 0;
}

double zm__sample_inverse_p(uint64_t rate, size_t size) {
  if (rate == 0 || size == 0)
    return 1.0;
  return -1.0 / expm1(-(double)size / (double)rate);
}

/* x rounded down or up at random, up with probability frac(x). */
static uint64_t round_random(zm__sampler *s, double x) {
  double f = floor(x);
  uint64_t r = (uint64_t)f;
  return uniform(s) <= x - f ? r + 1 : r;
}

bool zm__sample_slow(zm__sampler *s, size_t size, zm__weight *w) {
  /* A point fell inside this allocation: place the next ones past its end. */
  while (s->until <= 0)
    s->until += gap(s);
  if (size == 0) {
    w->count = 1;
    w->bytes = 0;
    return true;
  }
  double inv = zm__sample_inverse_p(s->rate, size);
  w->count = round_random(s, inv);
  w->bytes = round_random(s, inv * (double)size);
  return true;
}
