/* Cached x86-64 unwind rules from .eh_frame: see cfi.h. */
#include "cfi.h"

#include "modules.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>

static const zm__cfi unsupported = {0, 0, 0, ZM__CFI_UNSUPPORTED, 0};

static _Atomic uint64_t n_computed, n_cached;

void zm__cfi_stats_get(zm__cfi_stats *out) {
  out->computed = atomic_load_explicit(&n_computed, memory_order_relaxed);
  out->cached = atomic_load_explicit(&n_cached, memory_order_relaxed);
}

#if ZM__CFI_WALK

/* ------------------------------------------------------------- reading */

typedef struct rd {
  const uint8_t *p, *end;
  bool bad;
} rd;

static uint64_t u8(rd *r) {
  if (r->p >= r->end) {
    r->bad = true;
    return 0;
  }
  return *r->p++;
}

static uint64_t fixed(rd *r, size_t n) { /* little-endian, n <= 8 */
  if ((size_t)(r->end - r->p) < n) {
    r->bad = true;
    r->p = r->end;
    return 0;
  }
  uint64_t v = 0;
  memcpy(&v, r->p, n);
  r->p += n;
  return v;
}

static uint64_t uleb(rd *r) {
  uint64_t v = 0;
  for (unsigned shift = 0;; shift += 7) {
    uint64_t b = u8(r);
    if (shift < 64)
      v |= (b & 0x7f) << shift;
    if (!(b & 0x80) || r->bad)
      return v;
  }
}

static int64_t sleb(rd *r) {
  uint64_t v = 0, b;
  unsigned shift = 0;
  do {
    b = u8(r);
    if (shift < 64)
      v |= (b & 0x7f) << shift;
    shift += 7;
  } while ((b & 0x80) && !r->bad);
  if (shift < 64 && (b & 0x40))
    v |= ~UINT64_C(0) << shift;
  return (int64_t)v;
}

/* A pointer in DW_EH_PE encoding enc: absolute or pc-relative, of the
 * fixed or LEB128 formats; false for the others (indirect, data- or
 * text-relative, aligned), which .eh_frame on x86-64 does not use for the
 * fields read here. */
static bool pointer(rd *r, uint8_t enc, uintptr_t *out) {
  if (enc == 0xff) { /* DW_EH_PE_omit */
    *out = 0;
    return true;
  }
  uintptr_t at = (uintptr_t)r->p;
  uint64_t v;
  switch (enc & 0x0f) {
  case 0x00: v = fixed(r, 8); break;                       /* absptr */
  case 0x01: v = uleb(r); break;                           /* uleb128 */
  case 0x02: v = fixed(r, 2); break;                       /* udata2 */
  case 0x03: v = fixed(r, 4); break;                       /* udata4 */
  case 0x04: v = fixed(r, 8); break;                       /* udata8 */
  case 0x09: v = (uint64_t)sleb(r); break;                 /* sleb128 */
  case 0x0a: v = (uint64_t)(int64_t)(int16_t)fixed(r, 2); break;
  case 0x0b: v = (uint64_t)(int64_t)(int32_t)fixed(r, 4); break;
  case 0x0c: v = fixed(r, 8); break;
  default: return false;
  }
  switch (enc & 0x70) {
  case 0x00: break;
  case 0x10: v += at; break; /* pcrel */
  default: return false;
  }
  *out = (uintptr_t)v;
  return !r->bad;
}

/* --------------------------------------------------------------- CIE */

typedef struct cie {
  uint64_t code_align;
  int64_t data_align;
  uint64_t ra_reg;
  uint8_t fde_enc;
  bool aug_z;
  const uint8_t *insns, *end;
} cie;

/* Opens the entry (CIE or FDE) at p: *body is past its length, *end its
 * end. */
static bool entry(const uint8_t *p, const uint8_t **body, const uint8_t **end) {
  uint32_t len32;
  memcpy(&len32, p, 4);
  if (len32 == 0 || len32 == 0xffffffffu) /* terminator, 64-bit DWARF */
    return false;
  *body = p + 4;
  *end = p + 4 + len32;
  return true;
}

static bool parse_cie(const uint8_t *p, cie *c) {
  const uint8_t *body, *end;
  if (!entry(p, &body, &end))
    return false;
  rd r = {body, end, false};
  if (fixed(&r, 4) != 0) /* the CIE id */
    return false;
  uint64_t version = u8(&r);
  if (version != 1 && version != 3)
    return false;
  const char *aug = (const char *)r.p;
  size_t alen = strnlen(aug, (size_t)(end - r.p));
  if (alen == (size_t)(end - r.p))
    return false;
  r.p += alen + 1;
  c->code_align = uleb(&r);
  c->data_align = sleb(&r);
  c->ra_reg = version == 1 ? u8(&r) : uleb(&r);
  c->fde_enc = 0; /* absptr */
  c->aug_z = aug[0] == 'z';
  if (c->aug_z) {
    uint64_t n = uleb(&r);
    if (n > (uint64_t)(end - r.p))
      return false;
    rd a = {r.p, r.p + n, false};
    r.p += n;
    for (size_t i = 1; i < alen; i++) {
      uintptr_t ignore;
      switch (aug[i]) {
      case 'R': c->fde_enc = (uint8_t)u8(&a); break;
      case 'L': u8(&a); break;
      case 'P':
        if (!pointer(&a, (uint8_t)u8(&a), &ignore))
          return false;
        break;
      default: return false; /* 'S' (a signal frame) and anything unknown */
      }
    }
    if (a.bad)
      return false;
  } else if (alen != 0)
    return false;
  c->insns = r.p;
  c->end = end;
  return !r.bad;
}

/* -------------------------------------------------------- the rows */

enum how { SAME, UNDEF, OFFSET, OTHER };

typedef struct regrule {
  uint8_t how;
  int64_t off;
} regrule;

typedef struct row {
  uint64_t cfa_reg;
  int64_t cfa_off;
  bool cfa_expr;
  regrule bp, ra;
} row;

#define DW_RBP 6
#define DW_RSP 7
#define STATE_DEPTH 8

typedef struct machine {
  row cur, init, stack[STATE_DEPTH];
  int sp;
  uintptr_t loc, target;
  uint64_t ra_reg;
  const cie *c;
} machine;

static regrule *tracked(machine *m, uint64_t reg) {
  if (reg == DW_RBP)
    return &m->cur.bp;
  if (reg == m->ra_reg)
    return &m->cur.ra;
  return NULL;
}

static void set_rule(machine *m, uint64_t reg, uint8_t how, int64_t off) {
  regrule *x = tracked(m, reg);
  if (x) {
    x->how = how;
    x->off = off;
  } else if (reg == DW_RSP) {
    m->cur.cfa_expr = true; /* a rule for RSP itself: not handled */
  }
}

static void restore(machine *m, uint64_t reg) {
  regrule *x = tracked(m, reg);
  if (x)
    *x = reg == DW_RBP ? m->init.bp : m->init.ra;
}

/* Runs instructions [p, end) until the location passes the target.
 * Returns false on an instruction it cannot follow. */
static bool run(machine *m, const uint8_t *p, const uint8_t *end) {
  rd r = {p, end, false};
  const cie *c = m->c;
  while (r.p < r.end && !r.bad) {
    uint8_t op = (uint8_t)u8(&r);
    uint64_t reg, n;
    uintptr_t adv = 0;
    switch (op & 0xc0) {
    case 0x40: adv = (op & 0x3f) * c->code_align; goto advance;
    case 0x80: set_rule(m, op & 0x3f, OFFSET, (int64_t)uleb(&r) * c->data_align); continue;
    case 0xc0: restore(m, op & 0x3f); continue;
    default: break;
    }
    switch (op) {
    case 0x00: continue; /* nop */
    case 0x01: { /* set_loc */
      uintptr_t to;
      if (!pointer(&r, c->fde_enc, &to))
        return false;
      if (to > m->target)
        return true;
      m->loc = to;
      continue;
    }
    case 0x02: adv = fixed(&r, 1) * c->code_align; goto advance;
    case 0x03: adv = fixed(&r, 2) * c->code_align; goto advance;
    case 0x04: adv = fixed(&r, 4) * c->code_align; goto advance;
    case 0x05: reg = uleb(&r); set_rule(m, reg, OFFSET, (int64_t)uleb(&r) * c->data_align); continue;
    case 0x06: restore(m, uleb(&r)); continue;
    case 0x07: set_rule(m, uleb(&r), UNDEF, 0); continue;
    case 0x08: set_rule(m, uleb(&r), SAME, 0); continue;
    case 0x09: reg = uleb(&r); uleb(&r); set_rule(m, reg, OTHER, 0); continue;
    case 0x0a:
      if (m->sp == STATE_DEPTH)
        return false;
      m->stack[m->sp++] = m->cur;
      continue;
    case 0x0b:
      if (m->sp == 0)
        return false;
      m->cur = m->stack[--m->sp];
      continue;
    case 0x0c: m->cur.cfa_reg = uleb(&r); m->cur.cfa_off = (int64_t)uleb(&r); m->cur.cfa_expr = false; continue;
    case 0x0d: m->cur.cfa_reg = uleb(&r); m->cur.cfa_expr = false; continue;
    case 0x0e: m->cur.cfa_off = (int64_t)uleb(&r); continue;
    case 0x0f: n = uleb(&r); m->cur.cfa_expr = true; goto skip;
    case 0x10: reg = uleb(&r); n = uleb(&r); set_rule(m, reg, OTHER, 0); goto skip;
    case 0x11: reg = uleb(&r); set_rule(m, reg, OFFSET, sleb(&r) * c->data_align); continue;
    case 0x12: m->cur.cfa_reg = uleb(&r); m->cur.cfa_off = sleb(&r) * c->data_align; m->cur.cfa_expr = false; continue;
    case 0x13: m->cur.cfa_off = sleb(&r) * c->data_align; continue;
    case 0x14: case 0x15: reg = uleb(&r); uleb(&r); set_rule(m, reg, OTHER, 0); continue;
    case 0x16: reg = uleb(&r); n = uleb(&r); set_rule(m, reg, OTHER, 0); goto skip;
    case 0x2e: uleb(&r); continue; /* GNU_args_size */
    case 0x2f: reg = uleb(&r); set_rule(m, reg, OFFSET, -(int64_t)uleb(&r) * c->data_align); continue;
    default: return false;
    }
  advance:
    if (m->loc + adv > m->target)
      return true;
    m->loc += adv;
    continue;
  skip:
    if (n > (uint64_t)(r.end - r.p))
      return false;
    r.p += n;
  }
  return !r.bad;
}

/* The rule of row w, or unsupported when it does not fit a zm__cfi. */
static zm__cfi to_rule(const row *w) {
  zm__cfi out = unsupported;
  if (w->ra.how == UNDEF) {
    out.kind = ZM__CFI_END;
    return out;
  }
  if (w->cfa_expr || (w->cfa_reg != DW_RSP && w->cfa_reg != DW_RBP) ||
      w->cfa_off <= 0 || w->cfa_off > INT32_MAX || w->ra.how != OFFSET ||
      w->ra.off != -8)
    return out;
  if (w->bp.how == OFFSET) {
    if (w->bp.off % 8 || w->bp.off / 8 < INT8_MIN || w->bp.off / 8 > -1)
      return out;
    out.bp8 = (int8_t)(w->bp.off / 8);
  } else if (w->bp.how != SAME)
    return out;
  out.cfa_off = (int32_t)w->cfa_off;
  out.ra8 = (int8_t)(w->ra.off / 8);
  out.cfa_reg = w->cfa_reg == DW_RSP ? ZM__CFI_RSP : ZM__CFI_RBP;
  out.kind = ZM__CFI_RULE;
  return out;
}

zm__cfi zm__cfi_compute(uintptr_t at) {
  const zm__module *mod = zm__modules_find(at);
  uintptr_t fstart;
  const uint8_t *fde, *body, *end;
  if (!mod || !zm__modules_eh_find(mod, at, &fstart, &fde) || !entry(fde, &body, &end))
    return unsupported;
  uint32_t cie_ptr;
  memcpy(&cie_ptr, body, 4);
  cie c;
  if (cie_ptr == 0 || !parse_cie(body - cie_ptr, &c))
    return unsupported;
  rd r = {body + 4, end, false};
  uintptr_t start, range;
  if (!pointer(&r, c.fde_enc, &start) || !pointer(&r, c.fde_enc & 0x0f, &range))
    return unsupported;
  if (at < start || at - start >= range)
    return unsupported;
  if (c.aug_z) {
    uint64_t n = uleb(&r);
    if (r.bad || n > (uint64_t)(end - r.p))
      return unsupported;
    r.p += n;
  }
  machine m;
  memset(&m, 0, sizeof m);
  m.c = &c;
  m.ra_reg = c.ra_reg;
  m.loc = start;
  m.cur.ra.how = UNDEF; /* until the CIE says where it is */
  m.target = UINTPTR_MAX; /* the CIE's instructions apply at every address */
  if (!run(&m, c.insns, c.end))
    return unsupported;
  m.init = m.cur;
  m.target = at;
  m.loc = start;
  if (!run(&m, r.p, end))
    return unsupported;
  return to_rule(&m.cur);
}

/* ------------------------------------------------------------- the cache */

#define CACHE_SLOTS ZM__CFI_SLOTS
#define CACHE_FILL (CACHE_SLOTS / 4 * 3)
#define PROBES 16
#define BUSY ((uintptr_t)1)

typedef zm__cfi_slot slot;

static _Atomic(slot *) cache;

slot *zm__cfi_cache(void) {
  slot *c = atomic_load_explicit(&cache, memory_order_acquire);
  if (c)
    return c;
  void *p = mmap(NULL, CACHE_SLOTS * sizeof(slot), PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    return NULL;
  slot *none = NULL;
  if (atomic_compare_exchange_strong_explicit(&cache, &none, (slot *)p,
                                              memory_order_acq_rel, memory_order_acquire))
    return p;
  munmap(p, CACHE_SLOTS * sizeof(slot));
  return none;
}

/* Stores the rule in an empty slot of the probe sequence, if any. */
static void remember(slot *c, uintptr_t at, uint32_t i, zm__cfi rule) {
  if (atomic_load_explicit(&n_cached, memory_order_relaxed) >= CACHE_FILL)
    return;
  for (unsigned n = 0; n < PROBES; n++, i = (i + 1) & (CACHE_SLOTS - 1)) {
    uintptr_t k = 0;
    if (atomic_compare_exchange_strong_explicit(&c[i].key, &k, BUSY, memory_order_acquire,
                                                memory_order_relaxed)) {
      c[i].rule = rule;
      atomic_store_explicit(&c[i].key, at, memory_order_release);
      atomic_fetch_add_explicit(&n_cached, 1, memory_order_relaxed);
      return;
    }
    if (k == at)
      return; /* another thread was first */
  }
}

zm__cfi zm__cfi_find(uintptr_t at) {
  slot *c = zm__cfi_cache();
  uint32_t h = zm__cfi_home(at);
  if (c) {
    uint32_t i = h;
    for (unsigned n = 0; n < PROBES; n++, i = (i + 1) & (CACHE_SLOTS - 1)) {
      uintptr_t k = atomic_load_explicit(&c[i].key, memory_order_acquire);
      if (k == at)
        return c[i].rule;
      if (k == 0)
        break;
    }
  }
  zm__cfi rule = zm__cfi_compute(at);
  atomic_fetch_add_explicit(&n_computed, 1, memory_order_relaxed);
  if (c)
    remember(c, at, h, rule);
  return rule;
}

#else /* not x86-64: the capture keeps its other paths */

zm__cfi zm__cfi_compute(uintptr_t at) {
  (void)at;
  return unsupported;
}

zm__cfi zm__cfi_find(uintptr_t at) {
  (void)at;
  return unsupported;
}

zm__cfi_slot *zm__cfi_cache(void) { return NULL; }

#endif
