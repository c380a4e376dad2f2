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

typedef struct mod {
  zm__sym_module m; /* path copied; build_id NULL: the copy is id */
  char *path;
  uint8_t id[64];   /* m.build_id_len bytes; no pointer to it is kept, the
                       array of modules moves when it grows */
  Dwfl *dwfl;       /* opened on first use */
  Dwfl_Module *dm;
  int state;        /* 0 not tried, 1 open, or a ZM__SYM_ failure */
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
  d->m.build_id = NULL;
  if (m->build_id && m->build_id_len)
    memcpy(d->id, m->build_id, m->build_id_len);
  else
    d->m.build_id_len = 0;
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
    if (n != (int)d->m.build_id_len || memcmp(bits, d->id, (size_t)n) != 0)
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

/* The function: only a symbol whose extent holds the address. */
static bool function_name(mod *d, uint64_t a, zm__sym_frame *out) {
  GElf_Off off;
  GElf_Sym sym;
  const char *name = dwfl_module_addrinfo(d->dm, a, &off, &sym, NULL, NULL, NULL);
  if (!name || !name[0] || sym.st_size == 0 || off >= sym.st_size)
    return false;
  copy(out->func, sizeof out->func, name);
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
