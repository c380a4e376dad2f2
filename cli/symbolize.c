/* Symbols through libdwfl: see symbolize.h. */
#define _GNU_SOURCE
#include "symbolize.h"

#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MODULES 4096

/* A sized symbol of a module, for the search by address. */
typedef struct symx {
  uint64_t lo, hi; /* [lo, hi) in the module's run-time addresses */
  const char *name; /* libdwfl's, valid while the module is open */
  int rank;         /* binding: global 2, weak 1, local 0 */
  uint32_t order;   /* position in the symbol table */
} symx;

typedef struct mod {
  zm__sym_module m; /* path and build-id copied */
  char *path;
  uint8_t id[64];
  Dwfl *dwfl;       /* opened on first use */
  Dwfl_Module *dm;
  int state;        /* 0 not tried, 1 open, or a ZM__SYM_ failure */
  symx *syms;       /* sorted by lo, then rank (best first), then order */
  size_t nsyms;
  uint64_t max_size;
  bool syms_built;
} mod;

struct zm__symtab {
  mod *mods;
  size_t n, cap;
};

static char *debuginfo_path = NULL;
static const Dwfl_Callbacks callbacks = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = &debuginfo_path,
};

zm__symtab *zm__sym_open(void) {
  zm__symtab *s = calloc(1, sizeof *s);
  if (!s)
    errno = ENOMEM;
  return s;
}

void zm__sym_close(zm__symtab *s) {
  if (!s)
    return;
  for (size_t i = 0; i < s->n; i++) {
    if (s->mods[i].dwfl)
      dwfl_end(s->mods[i].dwfl);
    free(s->mods[i].syms);
    free(s->mods[i].path);
  }
  free(s->mods);
  free(s);
}

int zm__sym_add_module(zm__symtab *s, const zm__sym_module *m) {
  if (!m->path || !m->path[0] || m->lo >= m->hi || m->build_id_len > 64) {
    errno = EINVAL;
    return -1;
  }
  if (s->n == MAX_MODULES) {
    errno = ENOSPC;
    return -1;
  }
  if (s->n == s->cap) {
    size_t cap = s->cap ? 2 * s->cap : 32;
    mod *p = realloc(s->mods, cap * sizeof *p);
    if (!p)
      return -1;
    s->mods = p;
    s->cap = cap;
  }
  mod *d = &s->mods[s->n];
  memset(d, 0, sizeof *d);
  d->m = *m;
  d->path = strdup(m->path);
  if (!d->path)
    return -1;
  d->m.path = d->path;
  if (m->build_id && m->build_id_len) {
    memcpy(d->id, m->build_id, m->build_id_len);
    d->m.build_id = d->id;
  } else {
    d->m.build_id = NULL;
    d->m.build_id_len = 0;
  }
  s->n++;
  return 0;
}

/* Opens a module's file at its run-time bias; checks the build-id. */
static int open_mod(mod *d) {
  d->dwfl = dwfl_begin(&callbacks);
  if (!d->dwfl)
    return ZM__SYM_NO_FILE;
  dwfl_report_begin(d->dwfl);
  d->dm = dwfl_report_elf(d->dwfl, d->path, d->path, -1, d->m.base, false);
  dwfl_report_end(d->dwfl, NULL, NULL);
  if (!d->dm)
    return ZM__SYM_NO_FILE;
  if (d->m.build_id_len) {
    const unsigned char *bits;
    GElf_Addr vaddr;
    int n = dwfl_module_build_id(d->dm, &bits, &vaddr);
    if (n != (int)d->m.build_id_len || memcmp(bits, d->m.build_id, (size_t)n) != 0)
      return ZM__SYM_WRONG_ID;
  }
  return 1;
}

static mod *find_mod(zm__symtab *s, uint64_t pc) {
  for (size_t i = s->n; i-- > 0;) /* the latest loaded wins */
    if (pc >= s->mods[i].m.lo && pc < s->mods[i].m.hi)
      return &s->mods[i];
  return NULL;
}

static void copy(char *dst, size_t len, const char *src) {
  snprintf(dst, len, "%s", src ? src : "");
}

static int symx_cmp(const void *pa, const void *pb) {
  const symx *a = pa, *b = pb;
  if (a->lo != b->lo)
    return a->lo < b->lo ? -1 : 1;
  if (a->rank != b->rank)
    return b->rank - a->rank;
  return a->order < b->order ? -1 : a->order > b->order;
}

static int rank_of(int bind) {
  return bind == STB_GLOBAL ? 2 : bind == STB_WEAK ? 1 : 0;
}

/* The module's sized symbols, sorted once: libdwfl's own search by address
 * scans the whole symbol table on every call, which for a program with
 * tens of thousands of symbols costs far more than the run it profiles. */
static void build_syms(mod *d) {
  d->syms_built = true;
  int n = dwfl_module_getsymtab(d->dm);
  if (n <= 0 || !(d->syms = malloc((size_t)n * sizeof *d->syms)))
    return;
  for (int i = 0; i < n; i++) {
    GElf_Sym sym;
    GElf_Addr addr;
    GElf_Word shndx;
    const char *name = dwfl_module_getsym_info(d->dm, i, &sym, &addr, &shndx, NULL, NULL);
    int type = GELF_ST_TYPE(sym.st_info);
    if (!name || !name[0] || sym.st_size == 0 || shndx == SHN_UNDEF ||
        type == STT_SECTION || type == STT_FILE || type == STT_TLS)
      continue;
    symx *x = &d->syms[d->nsyms++];
    *x = (symx){addr, addr + sym.st_size, name, rank_of(GELF_ST_BIND(sym.st_info)),
                (uint32_t)i};
    if (sym.st_size > d->max_size)
      d->max_size = sym.st_size;
  }
  qsort(d->syms, d->nsyms, sizeof *d->syms, symx_cmp);
}

/* The symbol that holds a with the highest start; at one start, the best
 * binding, then the first in the table (libdwfl's choice). */
static const symx *symbol_at(mod *d, uint64_t a) {
  if (!d->syms_built)
    build_syms(d);
  size_t lo = 0, hi = d->nsyms; /* first entry with start > a */
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (d->syms[mid].lo <= a)
      lo = mid + 1;
    else
      hi = mid;
  }
  const symx *best = NULL;
  for (size_t i = lo; i-- > 0;) {
    const symx *x = &d->syms[i];
    if (best && x->lo != best->lo)
      break;
    if (a - x->lo > d->max_size)
      break;
    if (a < x->hi && (!best || symx_cmp(x, best) < 0))
      best = x;
  }
  return best;
}

/* The function: only a symbol whose extent holds the address. */
static bool function_name(mod *d, uint64_t a, zm__sym_frame *out) {
  const symx *x = symbol_at(d, a);
  if (!x)
    return false;
  copy(out->func, sizeof out->func, x->name);
  return true;
}

/* The line table of the compile unit that holds a, by a walk over the
 * units: for modules without .debug_aranges (clang does not write them),
 * where dwfl_module_getsrc finds nothing. */
static void source_line_by_units(mod *d, uint64_t a, zm__sym_frame *out) {
  Dwarf_Die *cu = NULL;
  Dwarf_Addr bias;
  while ((cu = dwfl_module_nextcu(d->dm, cu, &bias)) != NULL) {
    if (dwarf_haspc(cu, a - bias) != 1)
      continue;
    Dwarf_Line *l = dwarf_getsrc_die(cu, a - bias);
    int line = 0;
    const char *file = l ? dwarf_linesrc(l, NULL, NULL) : NULL;
    if (file && dwarf_lineno(l, &line) == 0 && line > 0) {
      copy(out->file, sizeof out->file, file);
      out->line = line;
    }
    return;
  }
}

static void source_line(mod *d, uint64_t a, zm__sym_frame *out) {
  Dwfl_Line *l = dwfl_module_getsrc(d->dm, a);
  if (!l) {
    source_line_by_units(d, a, out);
    return;
  }
  int line = 0;
  const char *file = dwfl_lineinfo(l, NULL, &line, NULL, NULL, NULL);
  if (file && line > 0) {
    copy(out->file, sizeof out->file, file);
    out->line = line;
  }
}

int zm__sym_lookup(zm__symtab *s, uint64_t pc, zm__sym_frame *out) {
  memset(out, 0, sizeof *out);
  mod *d = find_mod(s, pc);
  if (!d) {
    out->offset = pc;
    return out->status = ZM__SYM_NO_MODULE;
  }
  const char *slash = strrchr(d->path, '/');
  copy(out->module, sizeof out->module, slash ? slash + 1 : d->path);
  out->offset = pc - d->m.base;
  if (d->state == 0)
    d->state = open_mod(d);
  if (d->state != 1)
    return out->status = d->state;
  uint64_t a = pc - 1; /* inside the call instruction */
  if (!function_name(d, a, out))
    return out->status = ZM__SYM_NO_SYMBOL;
  source_line(d, a, out);
  return out->status = ZM__SYM_OK;
}

char *zm__sym_format(const zm__sym_frame *f, char *buf, size_t len) {
  if (f->func[0] && f->line > 0) {
    const char *base = strrchr(f->file, '/');
    snprintf(buf, len, "%s %s:%d", f->func, base ? base + 1 : f->file, f->line);
  } else if (f->func[0])
    snprintf(buf, len, "%s (%s+0x%" PRIx64 ")", f->func, f->module, f->offset);
  else if (f->module[0])
    snprintf(buf, len, "%s+0x%" PRIx64, f->module, f->offset);
  else
    snprintf(buf, len, "0x%" PRIx64, f->offset);
  return buf;
}
