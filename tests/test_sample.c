/* Poisson byte sampling (preload/sample.c): exact weights at rate 0, the
 * sampling probability, unbiased estimates, and the precision bound that
 * docs/sites.md states, on a known workload. */
#include "sample.h"

#include <criterion/criterion.h>
#include <math.h>

#define R (512 * 1024)

Test(sample, rate_zero_is_exact) {
  zm__sampler s;
  zm__sample_init(&s, 0, 1);
  zm__weight w;
  for (size_t n = 0; n < 5000; n += 7) {
    cr_assert(zm__sample(&s, n, &w));
    cr_assert_eq(w.count, 1);
    cr_assert_eq(w.bytes, n);
  }
}

Test(sample, probability_is_one_minus_exp) {
  size_t sizes[] = {64, 4096, 100000, R, 4 * (size_t)R};
  for (int k = 0; k < 5; k++) {
    zm__sampler s;
    zm__sample_init(&s, R, 99 + (uint64_t)k);
    int n = 400000, hit = 0;
    zm__weight w;
    for (int i = 0; i < n; i++)
      hit += zm__sample(&s, sizes[k], &w);
    double p = -expm1(-(double)sizes[k] / R);
    double sd = sqrt(n * p * (1 - p));
    cr_assert(fabs(hit - n * p) <= 5 * sd + 1, "size %zu: %d hits, expected %.1f",
              sizes[k], hit, n * p);
  }
}

Test(sample, huge_blocks_always_sampled_with_their_size) {
  zm__sampler s;
  zm__sample_init(&s, R, 5);
  zm__weight w;
  for (int i = 0; i < 1000; i++) {
    cr_assert(zm__sample(&s, 40 * (size_t)R, &w));
    cr_assert_eq(w.count, 1);
    cr_assert_eq(w.bytes, 40 * (uint64_t)R);
  }
}

/* The known workload: five sites, interleaved as a program would. */
typedef struct site {
  size_t size; /* 0: sizes drawn from 1..200000 */
  long calls;
  double est_bytes, est_count, true_bytes, var_bytes, var_count;
} site;

static void workload(site *st, int nsites, uint64_t seed) {
  zm__sampler s;
  zm__sample_init(&s, R, seed);
  uint64_t x = 12345; /* the sizes of site 4: the same in every run */
  long left[8];
  for (int k = 0; k < nsites; k++) {
    left[k] = st[k].calls;
    st[k].est_bytes = st[k].est_count = st[k].true_bytes = 0;
    st[k].var_bytes = st[k].var_count = 0;
  }
  for (int busy = 1; busy;) {
    busy = 0;
    for (int k = 0; k < nsites; k++) {
      for (int j = 0; j < 64 && left[k] > 0; j++, left[k]--) {
        size_t n = st[k].size;
        if (!n) {
          x ^= x << 13, x ^= x >> 7, x ^= x << 17;
          n = 1 + (size_t)(x % 200000);
        }
        zm__weight w;
        if (zm__sample(&s, n, &w)) {
          st[k].est_bytes += (double)w.bytes;
          st[k].est_count += (double)w.count;
        }
        double p = -expm1(-(double)n / R);
        st[k].true_bytes += (double)n;
        st[k].var_bytes += (double)n * (double)n * (1 - p) / p + 0.25;
        st[k].var_count += (1 - p) / p + 0.25;
      }
      busy |= left[k] > 0;
    }
  }
}

static site sites[] = {
    {32, 300000, 0, 0, 0, 0, 0},     /* 9.6 MB of small blocks */
    {4096, 10000, 0, 0, 0, 0, 0},    /* 40 MB of pages */
    {1 << 20, 100, 0, 0, 0, 0, 0},   /* 100 MB of 1 MiB blocks */
    {10 << 20, 3, 0, 0, 0, 0, 0},    /* 30 MB of 10 MiB blocks */
    {0, 2000, 0, 0, 0, 0, 0},        /* 200 MB of mixed sizes */
};
#define NS (int)(sizeof sites / sizeof sites[0])

Test(sample, each_site_within_the_stated_bound) {
  workload(sites, NS, 2024);
  for (int k = 0; k < NS; k++) {
    double b = sites[k].true_bytes;
    double bound = 4 * sqrt((double)R * b); /* docs/sites.md */
    cr_assert(sqrt(sites[k].var_bytes) <= sqrt((double)R * b) + 1,
              "the bound holds the variance");
    cr_assert(fabs(sites[k].est_bytes - b) <= bound,
              "site %d: estimate %.0f for %.0f bytes, bound %.0f", k,
              sites[k].est_bytes, b, bound);
    double c = (double)sites[k].calls;
    cr_assert(fabs(sites[k].est_count - c) <= 4 * sqrt(sites[k].var_count),
              "site %d: %.0f calls estimated for %.0f", k, sites[k].est_count, c);
  }
}

Test(sample, estimates_are_unbiased) {
  enum { RUNS = 100 };
  double sum_b[NS] = {0}, sum_c[NS] = {0};
  for (int r = 0; r < RUNS; r++) {
    workload(sites, NS, 1000 + (uint64_t)r);
    for (int k = 0; k < NS; k++) {
      sum_b[k] += sites[k].est_bytes;
      sum_c[k] += sites[k].est_count;
    }
  }
  for (int k = 0; k < NS; k++) {
    double mb = sum_b[k] / RUNS, b = sites[k].true_bytes;
    double mc = sum_c[k] / RUNS, c = (double)sites[k].calls;
    cr_assert(fabs(mb - b) <= 4 * sqrt(sites[k].var_bytes / RUNS),
              "site %d: mean %.0f for %.0f bytes", k, mb, b);
    cr_assert(fabs(mc - c) <= 4 * sqrt(sites[k].var_count / RUNS),
              "site %d: mean %.1f for %.0f calls", k, mc, c);
  }
}
