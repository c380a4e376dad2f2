/* The preload's table of live blocks (preload/sizes.c): requested sizes,
 * the sites kept beside them, growth and backward-shift deletion moving
 * both together, and a fork child forgetting the sites but not the sizes.
 * The addresses are never dereferenced. */
#include "sizes.h"

#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdint.h>

static void *addr(uintptr_t i) { return (void *)(0x7f0000000000u + i * 48); }

/* Scattered addresses in a 64 MiB heap, all different (an odd multiplier
 * is a bijection modulo 2^22), so that the sites' entries collide and
 * deletions shift them back. */
static void *scattered(uintptr_t i) {
  return (void *)(0x7e0000000000u +
                  ((((i + 1) * 0x9e3779b97f4a7c15u) & ((UINT64_C(1) << 22) - 1)) << 4));
}

static zmp_site site_of(uintptr_t i) {
  return (zmp_site){(uint32_t)(i * 7 % 1000), (uint32_t)(1 + i % 5), 100 + i};
}

static bool same_site(zmp_site a, zmp_site b) {
  return a.entry == b.entry && a.count == b.count && a.bytes == b.bytes;
}

Test(sizes, requested_size_and_no_site) {
  zmp_site s = {9, 9, 9};
  cr_assert(zmp_sizes_put(addr(1), 100, 112, NULL));
  cr_assert_eq(zmp_sizes_take(addr(1), 112, &s), 100);
  cr_assert_eq(s.count, 0);
  /* Gone now: the usable size, no site. */
  cr_assert_eq(zmp_sizes_take(addr(1), 112, &s), 112);
  cr_assert_eq(s.count, 0);
  /* A slack too wide for the entry counts as requested = usable. */
  cr_assert(zmp_sizes_put(addr(2), 10, 10 + (4u << 20), NULL));
  cr_assert_eq(zmp_sizes_take(addr(2), 10 + (4u << 20), &s), 10 + (4u << 20));
}

/* A slack too wide for a block's cell (16 KiB and more) is kept aside,
 * exactly, with or without a site, and through a fork child. */
Test(sizes, wide_slacks_are_exact) {
  zmp_site s = {4, 1, 70000}, got;
  cr_assert(zmp_sizes_put(addr(60), 70000, 70000 + 40000, NULL));
  cr_assert(zmp_sizes_put(addr(61), 70000, 70000 + 16383, &s));
  cr_assert(zmp_sizes_put(addr(62), 100, 100 + 16382, NULL));
  cr_assert_eq(zmp_sizes_take(addr(61), 70000 + 16383, &got), 70000);
  cr_assert(same_site(got, s));
  cr_assert_eq(zmp_sizes_take(addr(62), 100 + 16382, &got), 100);
  zmp_sizes_prepare_fork();
  zmp_sizes_after_fork(true);
  cr_assert_eq(zmp_sizes_take(addr(60), 70000 + 40000, &got), 70000);
  cr_assert_eq(got.count, 0);
}

/* A block the table never saw is told apart (a double free, a foreign
 * pointer); the slack comes back as stored, unknown when it was too wide. */
Test(sizes, remove_tells_unseen_blocks) {
  zmp_site s = {9, 9, 9};
  cr_assert_eq(zmp_sizes_remove(addr(30), &s), ZMP_UNSEEN);
  cr_assert_eq(s.count, 0);
  cr_assert(zmp_sizes_put(addr(30), 100, 120, NULL));
  cr_assert_eq(zmp_sizes_remove(addr(30), &s), 20);
  cr_assert_eq(zmp_sizes_remove(addr(30), &s), ZMP_UNSEEN); /* the second free */
  cr_assert(zmp_sizes_put(addr(31), 10, 10 + (4u << 20), NULL));
  size_t slack = zmp_sizes_remove(addr(31), &s);
  cr_assert_eq(slack, ZMP_SLACK_UNKNOWN);
  cr_assert_eq(zmp_sizes_requested(64, slack), 64);
}

Test(sizes, site_kept_with_the_block) {
  zmp_site want = {42, 3, 3000}, got;
  cr_assert(zmp_sizes_put(addr(5), 1000, 1016, &want));
  /* A block without a site in the same shard, whose values now exist. */
  cr_assert(zmp_sizes_put(addr(6), 10, 24, NULL));
  cr_assert_eq(zmp_sizes_take(addr(5), 1016, &got), 1000);
  cr_assert(same_site(got, want));
  cr_assert_eq(zmp_sizes_take(addr(6), 24, &got), 10);
  cr_assert_eq(got.count, 0);
  /* A site of count 0 is no site. */
  zmp_site none = {7, 0, 7};
  cr_assert(zmp_sizes_put(addr(7), 10, 24, &none));
  cr_assert_eq(zmp_sizes_take(addr(7), 24, &got), 10);
  cr_assert_eq(got.count, 0);
}

/* Blocks the map has no leaf for, or that lie outside the 47-bit address
 * space, are unseen; a neighbour in the same leaf is unseen too. */
Test(sizes, unmapped_and_foreign_addresses_are_unseen) {
  zmp_site s;
  cr_assert_eq(zmp_sizes_remove((void *)0x100000000000u, &s), ZMP_UNSEEN);
  cr_assert_eq(zmp_sizes_remove((void *)0xffff800000001000u, &s), ZMP_UNSEEN);
  cr_assert(!zmp_sizes_put((void *)0xffff800000001000u, 10, 16, NULL));
  cr_assert_eq(zmp_sizes_remove((void *)0xffff800000001000u, &s), ZMP_UNSEEN);
  cr_assert(zmp_sizes_put(addr(40), 10, 24, NULL));
  cr_assert_eq(zmp_sizes_remove(addr(41), &s), ZMP_UNSEEN);
  cr_assert_eq(zmp_sizes_take(addr(40), 24, &s), 10);
}

/* A block stored over a live one (the old one freed past zmem) replaces
 * its size and drops its site. */
Test(sizes, a_block_over_a_live_one_drops_its_site) {
  zmp_site s = {3, 1, 100}, got;
  cr_assert(zmp_sizes_put(addr(50), 100, 104, &s));
  cr_assert(zmp_sizes_put(addr(50), 60, 72, NULL));
  cr_assert_eq(zmp_sizes_take(addr(50), 72, &got), 60);
  cr_assert_eq(got.count, 0);
}

/* Enough blocks to grow every shard several times, neighbouring ones and
 * scattered ones, taken out in another order: each size and site must
 * follow its entry through growth and backward shifts. */
static void many_blocks(void *(*at)(uintptr_t)) {
  enum { N = 200000 };
  for (uintptr_t i = 0; i < N; i++) {
    zmp_site s = site_of(i);
    cr_assert(zmp_sizes_put(at(i), i % 4000, i % 4000 + i % 17, i % 3 ? &s : NULL));
  }
  for (uintptr_t k = 0; k < N; k++) {
    uintptr_t i = k * 7919 % N; /* 7919 is prime: every i once */
    zmp_site got;
    size_t req = zmp_sizes_take(at(i), i % 4000 + i % 17, &got);
    cr_assert_eq(req, i % 4000, "block %zu: %zu", (size_t)i, req);
    if (i % 3) {
      cr_assert(same_site(got, site_of(i)), "block %zu: site %u/%u/%llu", (size_t)i,
                got.entry, got.count, (unsigned long long)got.bytes);
    } else
      cr_assert_eq(got.count, 0, "block %zu", (size_t)i);
  }
}

Test(sizes, neighbouring_blocks_keep_their_sites) { many_blocks(addr); }
Test(sizes, scattered_blocks_keep_their_sites) { many_blocks(scattered); }

Test(sizes, fork_child_forgets_sites_not_sizes) {
  zmp_site s = {11, 1, 500}, got;
  cr_assert(zmp_sizes_put(addr(20), 500, 512, &s));
  cr_assert(zmp_sizes_put(addr(21), 300, 320, &s));
  cr_assert(zmp_sizes_put(addr(23), 200, 208, &s));
  zmp_sizes_prepare_fork();
  zmp_sizes_after_fork(false); /* the parent keeps both */
  cr_assert_eq(zmp_sizes_take(addr(21), 320, &got), 300);
  cr_assert(same_site(got, s));
  zmp_sizes_prepare_fork();
  zmp_sizes_after_fork(true);
  cr_assert_eq(zmp_sizes_take(addr(20), 512, &got), 500);
  cr_assert_eq(got.count, 0);
  /* The child's own blocks get sites again. */
  zmp_site c = {12, 2, 64};
  cr_assert(zmp_sizes_put(addr(22), 60, 64, &c));
  cr_assert_eq(zmp_sizes_take(addr(22), 64, &got), 60);
  cr_assert(same_site(got, c));
  /* An inherited block in a shard that stores sites again: still none. */
  cr_assert_eq(zmp_sizes_take(addr(23), 208, &got), 200);
  cr_assert_eq(got.count, 0);
}

/* What the table maps is reported: at least 2 bytes per 16 bytes of heap
 * (6 for blocks 48 bytes apart), 36 more per block with a site (24 a
 * slot, at most 2/3 full), and never less than before. */
Test(sizes, mapped_bytes_reported) {
  uint64_t peak = UINT64_MAX;
  zmp_sizes_report_to(&peak);
  cr_assert_lt(peak, UINT64_MAX, "the current figure is reported at once");
  uint64_t start = peak;
  enum { N = 100000 };
  for (uintptr_t i = 0; i < N; i++)
    cr_assert(zmp_sizes_put(addr(i), 20, 32, NULL));
  cr_assert_geq(peak, start + 6 * (uint64_t)N, "%llu bytes", (unsigned long long)peak);
  for (uintptr_t i = 0; i < N; i++) {
    zmp_site s = site_of(i);
    cr_assert(zmp_sizes_put(addr(N + i), 20, 32, &s));
  }
  cr_assert_geq(peak, start + 36 * (uint64_t)N + 12 * (uint64_t)N,
                "%llu bytes", (unsigned long long)peak);
  uint64_t high = peak;
  zmp_site got;
  for (uintptr_t i = 0; i < 2 * N; i++)
    zmp_sizes_take(addr(i), 32, &got);
  cr_assert_eq(peak, high, "a peak does not go down");
  zmp_sizes_report_to(NULL);
}

/* A usable size below the request (a query that answers 0) is not
 * believed: the free gets the difference back, and the block no site. */
Test(sizes, usable_below_request) {
  zmp_site site = {4, 1, 5000}, got;
  cr_assert(!zmp_sizes_put(addr(70), 5000, 0, &site)); /* the site is not kept */
  size_t slack = zmp_sizes_remove(addr(70), &got);
  cr_assert_eq(got.count, 0);
  cr_assert_eq(zmp_sizes_held(0, slack), 5000);
  cr_assert_eq(zmp_sizes_requested(zmp_sizes_held(0, slack), slack), 5000);
  cr_assert(zmp_sizes_put(addr(71), 3 << 20, 100, NULL));
  cr_assert_eq(zmp_sizes_take(addr(71), 100, &got), 3 << 20);
  cr_assert_eq(zmp_sizes_take(addr(71), 100, &got), 100); /* gone */
}
