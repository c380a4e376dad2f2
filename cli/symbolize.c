/* Symbols through libdwfl: see symbolize.h. */
#define _GNU_SOURCE
#include "symbolize.h"

#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_MODULES 4096
#define MAX_FILE_BYTES ((off_t)8 << 30) /* a module file larger is not read */
#define MAX_HITS 16 /* symbols holding one address; more: libdwfl decides */

/* A symbol of a module, for the search by address. */
typedef struct symx {
  uint64_t lo, size; /* run-time start; size 0: a label */
  uint64_t reach;    /* the highest end of this entry and all before it */
  const char *name;  /* libdwfl's, valid while the module is open */
  uint32_t index;    /* in libdwfl's table: its choice depends on the order */
  int bind;          /* libdwfl's preference: global 3, weak 2, local 1, other 0 */
} symx;

/* Entries sorted by start. */
typedef struct symlist {
  symx *v;
  size_t n;
} symlist;

typedef struct mod {
  zm__sym_module m; /* path copied; build_id NULL: the copy is id */
  char *path;
  uint8_t id[64];   /* m.build_id_len bytes; no pointer to it is kept, the
                       array of modules moves when it grows */
  Dwfl *dwfl;       /* opened on first use */
  Dwfl_Module *dm;
  int state;        /* 0 not tried, 1 open, or a ZM__SYM_ failure */
  int syms;         /* 0 not built, 1 built, -1 failed: libdwfl searches */
  symlist globals;  /* searched first, with the global labels */
  symlist locals;   /* searched when no global symbol holds the address */
} mod;

struct zm__symtab {
  mod *mods;
  size_t n, cap;
};

/* A file named by the record (the program's words) opened only when it is
 * a regular file of a sane size: never blocking (a FIFO would hang the
 * launcher), never a device. The last component is not followed: a
 * symbolic link (libfoo.so.1 -> libfoo.so.1.2) is resolved first and its
 * target opened the same way, so the checks hold for the file opened. */
static int open_regular_at(const char *path) {
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return -1;
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > MAX_FILE_BYTES) {
    close(fd);
    return -1;
  }
  return fd;
}

static int open_regular(const char *path) {
  int fd = open_regular_at(path);
  if (fd >= 0 || errno != ELOOP)
    return fd;
  char real[PATH_MAX];
  return realpath(path, real) ? open_regular_at(real) : -1;
}

/* Separate debug information: by build-id under the system's debug
 * directory, else the debug link beside the module, under .debug/ there,
 * or under /usr/lib/debug, each file opened only as open_regular allows. */
static int find_debuginfo(Dwfl_Module *m, void **ud, const char *modname, Dwarf_Addr base,
                          const char *file, const char *link, GElf_Word crc, char **found) {
  int fd = dwfl_build_id_find_debuginfo(m, ud, modname, base, file, link, crc, found);
  if (fd >= 0 || !file || !link || !*link || strchr(link, '/'))
    return fd;
  const char *slash = strrchr(file, '/');
  int dir = slash ? (int)(slash - file) : 0;
  const char *const fmt[] = {"%.*s/%s", "%.*s/.debug/%s", "/usr/lib/debug%.*s/%s"};
  for (int k = 0; k < 3; k++) {
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, fmt[k], dir, file, link) >= (int)sizeof path ||
        !strcmp(path, file))
      continue;
    fd = open_regular(path);
    if (fd >= 0) {
      *found = strdup(path);
      return fd;
    }
  }
  return -1;
}

static char *debuginfo_path = NULL;
static const Dwfl_Callbacks callbacks = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = find_debuginfo,
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
    free(s->mods[i].globals.v);
    free(s->mods[i].locals.v);
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
  int fd = open_regular(d->path);
  if (fd < 0)
    return ZM__SYM_NO_FILE;
  dwfl_report_begin(d->dwfl);
  d->dm = dwfl_report_elf(d->dwfl, d->path, d->path, fd, d->m.base, false);
  dwfl_report_end(d->dwfl, NULL, NULL);
  if (!d->dm) {
    close(fd); /* consumed only on success */
    return ZM__SYM_NO_FILE;
  }
  if (d->m.build_id_len) {
    const unsigned char *bits;
    GElf_Addr vaddr;
    int n = dwfl_module_build_id(d->dm, &bits, &vaddr);
    if (n != (int)d->m.build_id_len || memcmp(bits, d->id, (size_t)n) != 0)
      return ZM__SYM_WRONG_ID;
  }
  return 1;
}

static bool holds(const mod *d, uint64_t pc) { return pc >= d->m.lo && pc < d->m.hi; }

uint64_t zm__sym_key(const zm__symtab *s, uint64_t pc, uint32_t era) {
  size_t first = s->n, chosen = s->n, holders = 0;
  for (size_t i = 0; i < s->n; i++) {
    if (!holds(&s->mods[i], pc))
      continue;
    holders++;
    first = first < s->n ? first : i;
    if (s->mods[i].m.era <= era)
      chosen = i;
  }
  if (holders < 2 || pc != ZM__SYM_ADDR(pc))
    return pc;
  chosen = chosen < s->n ? chosen : first;
  return pc | (uint64_t)(chosen + 1) << ZM__SYM_KEY_SHIFT;
}

/* The module of an address or key (zm__sym_key), *pc made the address. */
static mod *find_mod(zm__symtab *s, uint64_t *pc) {
  uint64_t load = *pc >> ZM__SYM_KEY_SHIFT;
  if (load && load <= s->n && holds(&s->mods[load - 1], ZM__SYM_ADDR(*pc))) {
    *pc = ZM__SYM_ADDR(*pc);
    return &s->mods[load - 1];
  }
  for (size_t i = s->n; i-- > 0;) /* the latest loaded wins */
    if (holds(&s->mods[i], *pc))
      return &s->mods[i];
  return NULL;
}

int zm__sym_module_at(zm__symtab *s, uint64_t pc, zm__sym_module *out) {
  mod *d = find_mod(s, &pc);
  if (!d)
    return -1;
  *out = d->m;
  out->build_id = d->m.build_id_len ? d->id : NULL;
  return 0;
}

static void copy(char *dst, size_t len, const char *src) {
  snprintf(dst, len, "%s", src ? src : "");
}

/* libdwfl's own search by address, which scans the whole symbol table:
 * the reference that the search below reproduces. A name only from a
 * symbol whose extent holds the address. */
static const char *addrinfo(mod *d, uint64_t a, uint64_t *start) {
  GElf_Off off;
  GElf_Sym sym;
  const char *name = dwfl_module_addrinfo(d->dm, a, &off, &sym, NULL, NULL, NULL);
  if (!name || !name[0] || sym.st_size == 0 || off >= sym.st_size)
    return NULL;
  *start = a - off;
  return name;
}

static int by_start(const void *pa, const void *pb) {
  const symx *a = pa, *b = pb;
  return a->lo < b->lo ? -1 : a->lo > b->lo;
}

static int binding_value(int bind) {
  return bind == STB_GLOBAL ? 3 : bind == STB_WEAK ? 2 : bind == STB_LOCAL ? 1 : 0;
}

static void sort_list(symlist *l) {
  qsort(l->v, l->n, sizeof *l->v, by_start);
  uint64_t reach = 0;
  for (size_t i = 0; i < l->n; i++) {
    symx *x = &l->v[i];
    uint64_t end = x->lo + x->size < x->lo ? UINT64_MAX : x->lo + x->size;
    x->reach = reach = end > reach ? end : reach;
  }
}

/* Whether libdwfl's search by address looks at a symbol at all. */
static bool considered(const char *name, const GElf_Sym *sym) {
  int type = GELF_ST_TYPE(sym->st_info);
  return name && name[0] && sym->st_shndx != SHN_UNDEF && type != STT_SECTION &&
         type != STT_FILE && type != STT_TLS;
}

/* The symbols libdwfl considers, split as it searches them: the global
 * part of the table first (all of it for a bare .dynsym), the locals
 * after. Labels (size 0) matter only in the global part. Sorted once: the
 * table has tens of thousands of entries in large programs. */
static int build_syms(mod *d) {
  int n = dwfl_module_getsymtab(d->dm);
  int first_global = dwfl_module_getsymtab_first_global(d->dm);
  if (n < 0 || first_global < 0)
    return -1;
  d->globals.v = malloc(((size_t)n + 1) * sizeof(symx));
  d->locals.v = malloc(((size_t)n + 1) * sizeof(symx));
  if (!d->globals.v || !d->locals.v)
    return -1;
  for (int i = 1; i < n; i++) { /* 0 is the null symbol */
    GElf_Sym sym;
    GElf_Addr addr;
    const char *name = dwfl_module_getsym_info(d->dm, i, &sym, &addr, NULL, NULL, NULL);
    symlist *l = i >= first_global ? &d->globals : &d->locals;
    if (!considered(name, &sym) || (sym.st_size == 0 && l == &d->locals))
      continue;
    l->v[l->n++] = (symx){addr, sym.st_size, 0, name, (uint32_t)i,
                          binding_value(GELF_ST_BIND(sym.st_info))};
  }
  sort_list(&d->globals);
  sort_list(&d->locals);
  return 1;
}

/* libdwfl's rule, applied in its table order: a later symbol replaces the
 * chosen one if it starts higher, binds better, or, at the same start and
 * binding, is smaller. */
static bool better(const symx *x, const symx *best) {
  return x->lo > best->lo || x->bind > best->bind ||
         (x->lo == best->lo && x->bind == best->bind && x->size < best->size);
}

enum { FOUND, NONE, ASK_LIBDWFL };

/* The symbol of l that libdwfl would choose for a: among the entries that
 * hold a, found by walking down from the last start at or below a until no
 * earlier entry reaches a. ASK_LIBDWFL where libdwfl's choice depends on
 * more: a global label exactly at a when no global symbol holds a (then
 * libdwfl may skip the locals), or more than MAX_HITS symbols. */
static int search(const symlist *l, uint64_t a, const symx **best) {
  size_t lo = 0, hi = l->n; /* to the first entry starting above a */
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (l->v[mid].lo <= a)
      lo = mid + 1;
    else
      hi = mid;
  }
  const symx *hit[MAX_HITS];
  size_t k = 0;
  bool label = false;
  for (size_t i = lo; i-- > 0;) {
    const symx *x = &l->v[i];
    label |= x->size == 0 && x->lo == a;
    if (x->reach <= a)
      break;
    if (a - x->lo < x->size) {
      if (k == MAX_HITS)
        return ASK_LIBDWFL;
      hit[k++] = x;
    }
  }
  if (k == 0)
    return label ? ASK_LIBDWFL : NONE;
  for (size_t i = 1; i < k; i++) /* into table order */
    for (size_t j = i; j > 0 && hit[j - 1]->index > hit[j]->index; j--) {
      const symx *t = hit[j];
      hit[j] = hit[j - 1];
      hit[j - 1] = t;
    }
  *best = hit[0];
  for (size_t i = 1; i < k; i++)
    if (better(hit[i], *best))
      *best = hit[i];
  return FOUND;
}

/* The function: the name dwfl_module_addrinfo gives, found without its
 * linear scan. */
static bool function_name(mod *d, uint64_t a, zm__sym_frame *out) {
  if (d->syms == 0)
    d->syms = build_syms(d);
  const symx *x = NULL;
  int r = d->syms == 1 ? search(&d->globals, a, &x) : ASK_LIBDWFL;
  if (r == NONE)
    r = search(&d->locals, a, &x);
  const char *name = x ? x->name : NULL;
  uint64_t start = x ? x->lo : 0;
  if (r == ASK_LIBDWFL)
    name = addrinfo(d, a, &start);
  if (!name)
    return false;
  copy(out->func, sizeof out->func, name);
  out->func_start = start;
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
  mod *d = find_mod(s, &pc);
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
