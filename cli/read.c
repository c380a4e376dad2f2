#include "read.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *const zmc_fn_names[ZMR_NFN] = {
    "malloc",  "calloc",        "realloc",  "reallocarray",
    "free",    "posix_memalign", "aligned_alloc", "memalign",
    "valloc",  "pvalloc",       "malloc_usable_size"};

const char *zmc_check_header(const void *base, const zmr_header *wrote) {
  zmr_header h;
  memcpy(&h, base, sizeof h);
  if (h.magic != wrote->magic || h.version != wrote->version)
    return "its header (magic, version) was overwritten";
  if (h.token != wrote->token || h.total_size != wrote->total_size ||
      h.header_size != wrote->header_size || h.proc_size != wrote->proc_size ||
      h.slot_size != wrote->slot_size || h.max_procs != wrote->max_procs ||
      h.max_slots != wrote->max_slots || h.flags != wrote->flags)
    return "its header (sizes, token) was overwritten";
  return NULL;
}

uint32_t zmc_claimed(const void *base, uint32_t *lost) {
  uint32_t n = atomic_load(&((zmr_header *)base)->nprocs);
  *lost = n > ZMR_MAX_PROCS ? n - ZMR_MAX_PROCS : 0;
  return n > ZMR_MAX_PROCS ? ZMR_MAX_PROCS : n;
}

static double secs(uint64_t ns, uint64_t start) {
  return ns > start ? (double)(ns - start) / 1e9 : 0.0;
}

/* Sums the slots of a copied record into out. */
/* a + b as the record's counters add: modulo 2^64 (garbage must not be
 * undefined behaviour; the checks below judge the result). */
static int64_t wrap_add(int64_t a, int64_t b) {
  return (int64_t)((uint64_t)a + (uint64_t)b);
}

static void sum_slots(const zmr_proc *r, uint32_t nslots, zmc_proc *out) {
  for (uint32_t s = 0; s < nslots; s++) {
    const zmr_slot *sl = &r->slots[s];
    for (int f = 0; f < ZMR_NFN; f++) {
      out->calls[f] += sl->calls[f];
      out->bytes[f] += sl->bytes[f];
      out->failures[f] += sl->failures[f];
    }
    out->realloc_in_place += sl->realloc_in_place;
    out->realloc_moved += sl->realloc_moved;
    out->realloc_shrunk += sl->realloc_shrunk;
    out->total_requested += sl->total_requested;
    out->total_held += sl->total_held;
    out->live_requested = wrap_add(out->live_requested, sl->live_requested);
    out->live_held = wrap_add(out->live_held, sl->live_held);
    out->live_blocks = wrap_add(out->live_blocks, sl->live_blocks);
    for (int b = 0; b < ZMR_HIST_BUCKETS; b++)
      out->hist[b] += sl->hist[b];
    out->unseen_frees += sl->unseen_frees;
    if (sl->cand_requested > out->peak_requested)
      out->peak_requested = sl->cand_requested;
    if (sl->cand_held > out->peak_held)
      out->peak_held = sl->cand_held;
  }
}

/* The record is large (mostly idle slots): copy only what is used. A
 * process still running goes on counting while its slots are copied, so
 * one copy can hold counters from before and after several calls; the
 * copy is taken again until two in a row agree (a bounded number of
 * times), and then it is at most the one half-counted call per thread the
 * checks below allow. */
static void copy_once(const zmr_proc *src, zmr_proc *r, uint32_t *nslots) {
  memcpy(r, src, offsetof(zmr_proc, slots));
  uint32_t n = r->nslots < ZMR_MAX_SLOTS ? r->nslots : ZMR_MAX_SLOTS;
  memcpy(r->slots, src->slots, n * sizeof(zmr_slot));
  *nslots = n;
}

static void copy_record(const void *base, uint32_t i, zmr_proc *r, uint32_t *nslots) {
  static _Thread_local zmr_proc again; /* as large as r: not on the stack */
  const zmr_proc *src = zmr_proc_at((void *)base, i);
  copy_once(src, r, nslots);
  for (int tries = 0; tries < 64; tries++) {
    uint32_t n2;
    copy_once(src, &again, &n2);
    size_t used = offsetof(zmr_proc, slots) + n2 * sizeof(zmr_slot);
    bool same = n2 == *nslots && memcmp(r, &again, used) == 0;
    memcpy(r, &again, used);
    *nslots = n2;
    if (same)
      return;
  }
}

/* ------------------------------------------------------------- checking
 *
 * The invariants below hold for any record the preload wrote, read at any
 * moment: counters only grow, and within one call a slot's counters are
 * bumped in a fixed order (calls, bytes, failures, histogram, totals, live
 * figures), so a reader that meets a call half-counted sees it in the
 * earlier counters only. `slack` allows one such call per thread. A
 * process that shared its record with others (clone without CLONE_VM) lost
 * updates to their plain stores, so only its structural fields are checked.
 * Frees of blocks zmem never saw take live figures below what was
 * allocated: the lower bounds allow for them. */

/* No block, and no process's live heap, can be larger than the address
 * space (57 bits with five-level paging): a bound for byte figures. */
#define MAX_BLOCK ((unsigned __int128)1 << 57)

typedef unsigned __int128 u128;

static bool allocating(int f) { return f != ZMR_FREE && f != ZMR_USABLE_SIZE; }

/* Calls of f that, when they did not fail, always made one allocation. */
static bool always_allocates(int f) {
  return allocating(f) && f != ZMR_REALLOC && f != ZMR_REALLOCARRAY;
}

static bool untrusted(zmc_proc *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static bool untrusted(zmc_proc *p, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(p->untrusted, sizeof p->untrusted, fmt, ap);
  va_end(ap);
  return true;
}

#define ULL(x) ((unsigned long long)(x))
#define LL(x) ((long long)(x))

static bool check_identity(zmc_proc *p, uint32_t i) {
  if (p->state == ZMR_STATE_FREE)
    return untrusted(p, "its record was claimed but not filled in (the process was starting)");
  if (p->state > ZMR_STATE_EXECED)
    return untrusted(p, "unknown state %u", p->state);
  if (p->pid <= 0 || p->ppid < 0)
    return untrusted(p, "impossible pid %d (parent %d)", p->pid, p->ppid);
  if (p->parent_index != UINT32_MAX && p->parent_index >= i)
    return untrusted(p, "names parent record %u, not one before its own (%u)",
                     p->parent_index, i);
  if (p->origin > ZMR_ORIGIN_FORK)
    return untrusted(p, "unknown origin %u", p->origin);
  return false;
}

static bool check_calls(zmc_proc *p, u128 slack) {
  u128 alloc_calls = 0, direct = 0;
  int worst = ZMR_MALLOC;
  for (int f = 0; f < ZMR_NFN; f++) {
    if (p->failures[f] > p->calls[f] + slack)
      return untrusted(p, "%s: %llu failures in %llu calls", zmc_fn_names[f],
                       ULL(p->failures[f]), ULL(p->calls[f]));
    if (allocating(f))
      alloc_calls += p->calls[f];
    if (always_allocates(f) && p->calls[f] > p->failures[f]) {
      direct += p->calls[f] - p->failures[f];
      if (p->calls[f] > p->calls[worst])
        worst = f;
    }
  }
  if (direct > (u128)p->allocations + slack)
    return untrusted(p, "%s: %llu calls beside %llu allocations", zmc_fn_names[worst],
                     ULL(p->calls[worst]), ULL(p->allocations));
  if ((u128)p->allocations > alloc_calls + slack)
    return untrusted(p, "%llu allocations from %llu calls that allocate",
                     ULL(p->allocations), ULL(alloc_calls));
  u128 resizes = (u128)p->calls[ZMR_REALLOC] + p->calls[ZMR_REALLOCARRAY];
  if ((u128)p->realloc_in_place + p->realloc_moved + p->realloc_shrunk > resizes + slack)
    return untrusted(p, "more reallocs resolved than the %llu made", ULL(resizes));
  if (p->unseen_frees > resizes + p->calls[ZMR_FREE] + slack)
    return untrusted(p, "%llu frees zmem never saw, out of %llu calls that free",
                     ULL(p->unseen_frees), ULL(resizes + p->calls[ZMR_FREE]));
  return false;
}

/* Live and peak bytes of one process are bounded by its address space. */
static bool in_space(int64_t v) {
  return v >= -(int64_t)MAX_BLOCK && v <= (int64_t)MAX_BLOCK;
}

static bool check_bytes(zmc_proc *p, u128 slack) {
  if ((u128)p->total_requested > ((u128)p->allocations + slack) * MAX_BLOCK)
    return untrusted(p, "%llu bytes requested in %llu allocations",
                     ULL(p->total_requested), ULL(p->allocations));
  if (!in_space(p->base_requested) || !in_space(p->base_held) ||
      !in_space(p->base_blocks))
    return untrusted(p, "inherited %lld bytes in %lld blocks", LL(p->base_requested),
                     LL(p->base_blocks));
  if (p->peak_requested < 0 || p->peak_held < 0 || !in_space(p->peak_requested) ||
      !in_space(p->peak_held))
    return untrusted(p, "a peak of %lld bytes requested, %lld held",
                     LL(p->peak_requested), LL(p->peak_held));
  /* In-flight calls of all threads together move at most the address
   * space; frees of unseen blocks may take live figures below zero. */
  __int128 ceiling = (__int128)p->base_requested + (__int128)p->total_requested + MAX_BLOCK;
  bool low = p->unseen_frees == 0 && (p->live_requested < -(int64_t)MAX_BLOCK ||
                                      p->live_held < -(int64_t)MAX_BLOCK);
  if (p->live_requested > ceiling || p->live_requested > (int64_t)MAX_BLOCK ||
      p->live_held > (int64_t)MAX_BLOCK || low)
    return untrusted(p, "%lld bytes live (%lld held), from %llu allocated",
                     LL(p->live_requested), LL(p->live_held), ULL(p->total_requested));
  __int128 unseen = (__int128)p->unseen_frees + (__int128)slack;
  if (p->live_blocks < -unseen ||
      (__int128)p->live_blocks > (__int128)p->base_blocks + (__int128)p->allocations +
                                     (__int128)slack)
    return untrusted(p, "%lld live blocks from %llu allocations (%lld inherited)",
                     LL(p->live_blocks), ULL(p->allocations), LL(p->base_blocks));
  return false;
}

/* Fills p->untrusted when the copy breaks an invariant; true then. */
static bool check(zmc_proc *p, uint32_t i) {
  if (check_identity(p, i)) {
    if (p->parent_index != UINT32_MAX && p->parent_index >= i)
      p->parent_index = UINT32_MAX; /* never followed */
    return true;
  }
  if (p->sharers)
    return false;
  u128 slack = (u128)(p->threads < 65536 ? p->threads : 65536) + 1;
  return check_calls(p, slack) || check_bytes(p, slack);
}

const char *zmc_read_proc(const void *base, uint32_t i, uint64_t start_ns,
                          zmc_proc *out) {
  /* ~70 KiB: not on the stack; one per thread (the live view reads from
   * a thread of its own) */
  static _Thread_local zmr_proc r;
  uint32_t nslots;
  copy_record(base, i, &r, &nslots);
  memset(out, 0, sizeof *out);
  out->index = i;
  out->parent_index = r.parent_index;
  out->origin = r.origin;
  out->state = atomic_load(&r.state);
  out->pid = r.pid;
  out->ppid = r.ppid;
  out->threads = r.nslots;
  out->start_s = secs(r.start_ns, start_ns);
  out->end_s = r.end_ns ? secs(r.end_ns, start_ns) : 0;
  out->rss_peak = r.rss_peak;
  if (out->state == ZMR_STATE_EXITED) {
    out->exit_known = true;
    out->exit_status = r.exit_code & 0xff;
  }
  memcpy(out->command, r.command, sizeof out->command);
  out->command[sizeof out->command - 1] = 0;
  out->base_requested = r.base_requested;
  out->base_held = r.base_held;
  out->base_blocks = r.base_blocks;
  out->peak_requested = r.peak_requested;
  out->peak_held = r.peak_held;
  sum_slots(&r, nslots, out);
  out->sharers = r.shared_by;
  out->bypass = r.bypass & ZMR_BYPASS_KNOWN;
  out->fault_hits = r.ext[ZMR_EXT_FAULT_HITS];
  out->fault_first = r.ext[ZMR_EXT_FAULT_FIRST];
  out->fault_requests = r.ext[ZMR_EXT_FAULT_REQUESTS];
  out->table_peak = r.ext[ZMR_EXT_TABLE_PEAK];
  memcpy(out->heap_rss_words, r.heap_rss, sizeof out->heap_rss_words);
  uint64_t npcs = r.ext[ZMR_EXT_FAULT_NPCS];
  out->fault_npcs = npcs < ZMR_FAULT_MAX_PCS ? (uint32_t)npcs : ZMR_FAULT_MAX_PCS;
  memcpy(out->fault_pcs, &r.ext[ZMR_EXT_FAULT_PCS], sizeof out->fault_pcs);
  out->live_requested = wrap_add(out->live_requested, r.base_requested);
  out->live_held = wrap_add(out->live_held, r.base_held);
  out->live_blocks = wrap_add(out->live_blocks, r.base_blocks);
  for (int b = 0; b < ZMR_HIST_BUCKETS; b++)
    out->allocations += out->hist[b];
  return check(out, i) ? out->untrusted : NULL;
}

uint64_t zmc_reattached(const void *base) {
  return atomic_load(&((zmr_header *)base)->reattached);
}

bool zmc_live(const void *base, uint32_t i, int64_t *req, int64_t *held,
              int *running_pid) {
  zmr_proc *r = zmr_proc_at((void *)base, i);
  uint32_t state = atomic_load(&r->state);
  if (state == ZMR_STATE_FREE)
    return false;
  int pid = ((volatile zmr_proc *)r)->pid;
  *running_pid = state == ZMR_STATE_RUNNING && pid > 0 ? pid : 0;
  uint32_t n = atomic_load(&r->nslots);
  int64_t q = ((volatile zmr_proc *)r)->base_requested;
  int64_t h = ((volatile zmr_proc *)r)->base_held;
  for (uint32_t s = 0; s < n && s < ZMR_MAX_SLOTS; s++) {
    q = wrap_add(q, atomic_load_explicit(&r->slots[s].live_requested, memory_order_relaxed));
    h = wrap_add(h, atomic_load_explicit(&r->slots[s].live_held, memory_order_relaxed));
  }
  *req = q;
  *held = h;
  return true;
}
