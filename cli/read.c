#include "read.h"

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
    out->live_requested += sl->live_requested;
    out->live_held += sl->live_held;
    out->live_blocks += sl->live_blocks;
    for (int b = 0; b < ZMR_HIST_BUCKETS; b++)
      out->hist[b] += sl->hist[b];
    if (sl->cand_requested > out->peak_requested)
      out->peak_requested = sl->cand_requested;
    if (sl->cand_held > out->peak_held)
      out->peak_held = sl->cand_held;
  }
}

/* The record is large (mostly idle slots): copy only what is used. */
static void copy_record(const void *base, uint32_t i, zmr_proc *r, uint32_t *nslots) {
  const zmr_proc *src = zmr_proc_at((void *)base, i);
  memcpy(r, src, offsetof(zmr_proc, slots));
  uint32_t n = r->nslots < ZMR_MAX_SLOTS ? r->nslots : ZMR_MAX_SLOTS;
  memcpy(r->slots, src->slots, n * sizeof(zmr_slot));
  *nslots = n;
}

static const char *plausible(const zmc_proc *p, uint32_t i) {
  if (p->state < ZMR_STATE_RUNNING || p->state > ZMR_STATE_EXECED)
    return "a process record has an unknown state";
  if (p->pid <= 0 || p->ppid < 0)
    return "a process record has an impossible pid";
  if (p->parent_index != UINT32_MAX && p->parent_index >= i)
    return "a process record names a parent recorded after it";
  if (p->origin > ZMR_ORIGIN_FORK)
    return "a process record has an unknown origin";
  if (p->live_blocks < 0 && p->base_blocks == 0 && p->origin != ZMR_ORIGIN_FORK)
    return "a process record has fewer live blocks than none";
  if (p->peak_requested < 0 || p->peak_held < 0)
    return "a process record has a negative peak";
  return NULL;
}

const char *zmc_read_proc(const void *base, uint32_t i, uint64_t start_ns,
                          zmc_proc *out) {
  static zmr_proc r; /* ~70 KiB: not on the stack */
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
  out->fault_hits = r.ext[ZMR_EXT_FAULT_HITS];
  out->fault_first = r.ext[ZMR_EXT_FAULT_FIRST];
  out->fault_requests = r.ext[ZMR_EXT_FAULT_REQUESTS];
  out->table_peak = r.ext[ZMR_EXT_TABLE_PEAK];
  uint64_t npcs = r.ext[ZMR_EXT_FAULT_NPCS];
  out->fault_npcs = npcs < ZMR_FAULT_MAX_PCS ? (uint32_t)npcs : ZMR_FAULT_MAX_PCS;
  memcpy(out->fault_pcs, &r.ext[ZMR_EXT_FAULT_PCS], sizeof out->fault_pcs);
  out->live_requested += r.base_requested;
  out->live_held += r.base_held;
  out->live_blocks += r.base_blocks;
  for (int b = 0; b < ZMR_HIST_BUCKETS; b++)
    out->allocations += out->hist[b];
  return plausible(out, i);
}

bool zmc_live(const void *base, uint32_t i, int64_t *req, int64_t *held) {
  const zmr_proc *r = zmr_proc_at((void *)base, i);
  if (atomic_load(&r->state) == ZMR_STATE_FREE)
    return false;
  uint32_t n = atomic_load(&r->nslots);
  int64_t q = r->base_requested, h = r->base_held;
  for (uint32_t s = 0; s < n && s < ZMR_MAX_SLOTS; s++) {
    q += atomic_load_explicit(&r->slots[s].live_requested, memory_order_relaxed);
    h += atomic_load_explicit(&r->slots[s].live_held, memory_order_relaxed);
  }
  *req = q;
  *held = h;
  return true;
}
