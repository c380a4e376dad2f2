/* libFuzzer target: random sequences of zmem's public API, with the
 * invariants checked after every step:
 *  - used memory changes by exactly what each block costs, and comes back
 *    to its starting value once every block is freed; live blocks likewise;
 *  - every block keeps its contents (a pattern from its seed) through
 *    realloc, up to the smaller size;
 *  - every block is aligned to alignof(max_align_t), aligned ones to their
 *    alignment;
 *  - a hard limit is never exceeded; tags' used bytes add up to the total.
 * The layout comes from ZMEM_OPTIONS (the test runs it as lean, header with
 * tags, and debug with tags). Each input starts from no limit, no fault and
 * a small quarantine (zm_debug_check_all scans it), and frees everything it
 * allocated. */
#include <zmem.h>

#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 16
#define MAX_SIZE 5000
#define QUARANTINE ((size_t)4 << 10)

typedef struct slot {
  unsigned char *p;
  size_t size;  /* requested */
  size_t cost;  /* what used memory grew by for it */
  size_t align; /* 0: default */
  uint8_t seed;
} slot;

typedef struct input {
  const uint8_t *d;
  size_t n;
} input;

static slot slots[SLOTS];
static zm_tag tags[4];
static size_t ntags;

static uint8_t take(input *in) {
  if (!in->n)
    return 0;
  in->n--;
  return *in->d++;
}

static size_t take_size(input *in) {
  size_t v = take(in);
  return take(in) & 1 ? v * 19 % MAX_SIZE : v % 64;
}

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "fuzz_api: invariant failed: %s (line %d)\n", #cond,     \
              __LINE__);                                                       \
      abort();                                                                 \
    }                                                                          \
  } while (0)

static void fill(slot *s, size_t from) {
  for (size_t i = from; i < s->size; i++)
    s->p[i] = (unsigned char)(s->seed + i * 7);
}

static void check_contents(const slot *s, size_t upto) {
  for (size_t i = 0; i < upto; i++)
    CHECK(s->p[i] == (unsigned char)(s->seed + i * 7));
}

static void check_alignment(const slot *s) {
  CHECK((uintptr_t)s->p % alignof(max_align_t) == 0);
  if (s->align)
    CHECK((uintptr_t)s->p % s->align == 0);
}

static size_t live_blocks(void) {
  zm_stats st = {.size = sizeof st};
  CHECK(zm_get_stats(&st) == 0);
  return st.live_blocks;
}

/* A new block in slot s from `make`, or nothing when it failed (fault,
 * limit): then used memory did not move. */
static void adopt(slot *s, unsigned char *p, size_t size, size_t align,
                  size_t used_before, uint8_t seed) {
  size_t used = zm_used_memory();
  if (!p) {
    CHECK(used == used_before);
    return;
  }
  *s = (slot){p, size, used - used_before, align, seed};
  CHECK(used > used_before);
  CHECK(zm_usable_size(p) >= size);
  check_alignment(s);
  fill(s, 0);
}

static void op_alloc(slot *s, input *in) {
  uint8_t kind = take(in) % 6, seed = take(in);
  size_t size = take_size(in), align = 0, before = zm_used_memory();
  unsigned char *p = NULL;
  switch (kind) {
  case 0: p = zm_try_malloc(size); break;
  case 1: p = zm_try_calloc(size, 1); break;
  case 2: p = zm_malloc(size); break; /* the OOM handler returns */
  case 3:
    align = (size_t)32 << (take(in) % 8);
    p = zm_aligned_alloc(align, size);
    break;
  case 4: p = ntags ? zm_malloc_tag(tags[take(in) % ntags], size) : NULL; break;
  default: p = zm_try_realloc(NULL, size); break;
  }
  if (kind == 1 && p)
    for (size_t i = 0; i < size; i++)
      CHECK(p[i] == 0);
  adopt(s, p, size, align, before, seed);
}

static void op_free(slot *s) {
  size_t before = zm_used_memory();
  zm_free(s->p);
  CHECK(zm_used_memory() == before - s->cost);
  *s = (slot){0};
}

static void op_realloc(slot *s, input *in) {
  size_t size = take_size(in) + 1, before = zm_used_memory();
  unsigned char *q = zm_try_realloc(s->p, size);
  size_t used = zm_used_memory();
  if (!q) {
    CHECK(used == before);
    check_contents(s, s->size);
    return;
  }
  size_t old = s->size;
  s->p = q;
  s->size = size;
  s->cost = s->cost + used - before; /* wraps correctly for a shrink */
  s->align = 0;                      /* realloc keeps only the minimum */
  check_alignment(s);
  check_contents(s, old < size ? old : size);
  fill(s, old < size ? old : size);
}

static void op_policy(input *in) {
  uint8_t kind = take(in) % 6, v = take(in);
  switch (kind) {
  case 0: zm_set_limit(v ? zm_used_memory() + (size_t)v * 64 : 0); break;
  case 1: zm_fault_set(v % 8, v / 64); break;
  case 2: zm_fault_set_probability((v % 5) / 4.0, v); break;
  case 3: zm_fault_clear(); break;
  case 4:
    if (ntags < 4 && zm_tags_enabled()) {
      zm_tag t = zm_tag_new("fuzz");
      CHECK(t != ZM_TAG_INVALID);
      tags[ntags++] = t;
    }
    break;
  default: zm_set_quarantine((size_t)v * 256); break;
  }
}

static void check_totals(size_t base_used, size_t base_blocks) {
  size_t sum = 0, n = 0;
  for (int i = 0; i < SLOTS; i++)
    if (slots[i].p)
      sum += slots[i].cost, n++;
  CHECK(zm_used_memory() == base_used + sum);
  CHECK(live_blocks() == base_blocks + n);
  size_t limit = zm_get_limit();
  CHECK(!limit || zm_used_memory() <= limit || n == 0);
  if (zm_tags_enabled()) {
    size_t roots = zm_tag_used(ZM_TAG_DEFAULT);
    for (size_t i = 0; i < ntags; i++)
      roots += zm_tag_used(tags[i]);
    CHECK(roots == zm_used_memory());
  }
}

static void returning_handler(size_t size, void *arg) {
  (void)size;
  (void)arg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
  static bool ready;
  if (!ready) {
    zm_set_oom_handler(returning_handler, NULL);
    zm_free(zm_malloc(1)); /* fixes the layout from ZMEM_OPTIONS */
    ready = true;
  }
  zm_set_limit(0);
  zm_fault_clear();
  zm_set_quarantine(QUARANTINE);
  size_t base_used = zm_used_memory(), base_blocks = live_blocks();
  input in = {data, n};
  while (in.n) {
    uint8_t op = take(&in);
    slot *s = &slots[op % SLOTS];
    switch (op / SLOTS % 4) {
    case 0: if (!s->p) op_alloc(s, &in); else op_free(s); break;
    case 1: if (s->p) op_realloc(s, &in); break;
    case 2: op_policy(&in); break;
    default: zm_debug_check_all(); break;
    }
    check_totals(base_used, base_blocks);
  }
  zm_set_limit(0);
  for (int i = 0; i < SLOTS; i++)
    if (slots[i].p)
      op_free(&slots[i]);
  CHECK(zm_used_memory() == base_used);
  CHECK(live_blocks() == base_blocks);
  return 0;
}
