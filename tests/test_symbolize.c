/* Symbols for addresses (cli/symbolize.c): the test program, the C
 * library, a dlopened library with and without debug information, and the
 * cases where no name may be given. */
#define _GNU_SOURCE
#include "modules.h"
#include "symbolize.h"

#include <criterion/criterion.h>
#include <dlfcn.h>
#include <elfutils/libdwfl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static zm__symtab *table_of_this_process(void) {
  zm__modules_refresh();
  zm__symtab *s = zm__sym_open();
  cr_assert_not_null(s);
  char exe[512];
  cr_assert_gt(zm__modules_main_path(exe, sizeof exe), 0);
  for (size_t i = 0; i < zm__modules_count(); i++) {
    const zm__module *m = zm__modules_get(i);
    zm__sym_module sm = {m->path[0] ? m->path : exe, m->build_id, m->build_id_len,
                         m->base, m->lo, m->hi, 0};
    if (strstr(sm.path, "linux-vdso"))
      continue;
    cr_assert_eq(zm__sym_add_module(s, &sm), 0, "%s", sm.path);
  }
  return s;
}

__attribute__((noinline)) static uintptr_t ret_addr(void) {
  uintptr_t r = (uintptr_t)__builtin_return_address(0);
  __asm__ volatile("" ::: "memory");
  return r;
}

uintptr_t zt_caller(int *line);
__attribute__((noinline)) uintptr_t zt_caller(int *line) {
  uintptr_t ra = ret_addr(); *line = __LINE__;
  __asm__ volatile("" ::: "memory");
  return ra;
}

Test(symbolize, function_file_and_line_in_the_program) {
  zm__symtab *s = table_of_this_process();
  int line;
  uintptr_t ra = zt_caller(&line);
  zm__sym_frame f;
  cr_assert_eq(zm__sym_lookup(s, ra, &f), ZM__SYM_OK);
  cr_assert_str_eq(f.func, "zt_caller");
  cr_assert(strstr(f.file, "test_symbolize.c") != NULL, "%s", f.file);
  cr_assert_eq(f.line, line);
  cr_assert(strstr(f.module, "test_symbolize") != NULL);
  char buf[600];
  zm__sym_format(&f, buf, sizeof buf);
  char want[64];
  snprintf(want, sizeof want, "zt_caller test_symbolize.c:%d", line);
  cr_assert_str_eq(buf, want);
  zm__sym_close(s);
}

Test(symbolize, the_c_library) {
  zm__symtab *s = table_of_this_process();
  void *p = dlsym(RTLD_DEFAULT, "getenv");
  zm__sym_frame f;
  int st = zm__sym_lookup(s, (uintptr_t)p + 9, &f);
  cr_assert_eq(st, ZM__SYM_OK, "status %d func %s module %s", st, f.func, f.module);
  cr_assert(strstr(f.func, "getenv") != NULL, "%s", f.func);
  cr_assert(strstr(f.module, "libc.so") != NULL);
  zm__sym_close(s);
}

static void check_lib(const char *path, bool debug) {
  void *h = dlopen(path, RTLD_NOW);
  cr_assert_not_null(h, "%s", dlerror());
  uintptr_t (*addr)(void) = (uintptr_t(*)(void))dlsym(h, "site_hidden_addr");
  void *exported = dlsym(h, "site_exported");
  cr_assert_not_null(addr);
  zm__symtab *s = table_of_this_process(); /* after dlopen: it is listed */
  zm__sym_frame f;
  cr_assert_eq(zm__sym_lookup(s, (uintptr_t)exported + 2, &f), ZM__SYM_OK);
  cr_assert_str_eq(f.func, "site_exported");
  int st = zm__sym_lookup(s, addr() + 2, &f);
  if (debug) {
    cr_assert_eq(st, ZM__SYM_OK);
    cr_assert_str_eq(f.func, "site_hidden");
    cr_assert(strstr(f.file, "libsite.c") != NULL, "%s", f.file);
    cr_assert_gt(f.line, 0);
  } else {
    /* Stripped: the static function has no symbol left, and the exported
     * one next to it must not lend it its name. */
    cr_assert_eq(st, ZM__SYM_NO_SYMBOL, "named %s", f.func);
    cr_assert_str_eq(f.func, "");
    cr_assert_eq(f.line, 0);
    char buf[600], want[300];
    snprintf(want, sizeof want, "%s+0x", strrchr(path, '/') + 1);
    cr_assert(strncmp(zm__sym_format(&f, buf, sizeof buf), want, strlen(want)) == 0,
              "%s", buf);
  }
  zm__sym_close(s);
}

Test(symbolize, dlopened_library_with_debug_info) { check_lib(ZT_SITE_LIB, true); }
Test(symbolize, stripped_library_gives_module_and_offset) {
  check_lib(ZT_SITE_LIB_STRIPPED, false);
}

Test(symbolize, no_name_without_the_right_file) {
  zm__symtab *s = zm__sym_open();
  zm__modules_refresh();
  const zm__module *self = zm__modules_find((uintptr_t)zt_caller);
  char exe[512];
  zm__modules_main_path(exe, sizeof exe);
  /* The right file with another build-id: as if rebuilt since the run. */
  uint8_t wrong[20];
  memset(wrong, 0xab, sizeof wrong);
  zm__sym_module m = {exe, wrong, sizeof wrong, self->base, self->lo, self->hi, 0};
  cr_assert_eq(zm__sym_add_module(s, &m), 0);
  /* A module whose file is gone. */
  zm__sym_module gone = {"/nonexistent/libgone.so", NULL, 0, 0x10000000, 0x10000000,
                         0x10001000, 0};
  cr_assert_eq(zm__sym_add_module(s, &gone), 0);
  int line;
  zm__sym_frame f;
  cr_assert_eq(zm__sym_lookup(s, zt_caller(&line), &f), ZM__SYM_WRONG_ID);
  cr_assert_str_eq(f.func, "");
  cr_assert_eq(zm__sym_lookup(s, 0x10000100, &f), ZM__SYM_NO_FILE);
  cr_assert_str_eq(f.module, "libgone.so");
  cr_assert_eq(f.offset, 0x100);
  char buf[600];
  cr_assert_str_eq(zm__sym_format(&f, buf, sizeof buf), "libgone.so+0x100");
  cr_assert_eq(zm__sym_lookup(s, 0x42, &f), ZM__SYM_NO_MODULE);
  cr_assert_str_eq(zm__sym_format(&f, buf, sizeof buf), "0x42");
  zm__sym_module bad = {"", NULL, 0, 0, 1, 2, 0};
  cr_assert_eq(zm__sym_add_module(s, &bad), -1);
  zm__sym_close(s);
}

/* The table's array of modules moves as it grows: the first module's
 * build-id must still be the one recorded (ASan sees a stale copy). */
Test(symbolize, build_id_checked_after_the_table_grew) {
  zm__modules_refresh();
  const zm__module *self = zm__modules_find((uintptr_t)zt_caller);
  cr_assert_not_null(self);
  cr_assert_gt(self->build_id_len, 0);
  char exe[512];
  cr_assert_gt(zm__modules_main_path(exe, sizeof exe), 0);
  zm__symtab *s = zm__sym_open();
  zm__sym_module m = {exe, self->build_id, self->build_id_len, self->base, self->lo,
                      self->hi, 0};
  cr_assert_eq(zm__sym_add_module(s, &m), 0);
  for (uint64_t i = 0; i < 200; i++) {
    uint8_t id[20];
    memset(id, (int)i, sizeof id);
    uint64_t lo = 0x10000000 + i * 0x10000;
    zm__sym_module other = {"/nonexistent/libother.so", id, sizeof id, lo, lo,
                            lo + 0x1000, 0};
    cr_assert_eq(zm__sym_add_module(s, &other), 0);
  }
  int line;
  zm__sym_frame f;
  cr_assert_eq(zm__sym_lookup(s, zt_caller(&line), &f), ZM__SYM_OK, "status %d",
               f.status);
  cr_assert_str_eq(f.func, "zt_caller");
  zm__sym_close(s);
}

/* Symbols laid out as libdwfl's rules must decide: a local function
 * inside the extent of a global one (the global is searched first and
 * wins), and a global label without size inside a local function (at the
 * label's own address libdwfl gives no sized name; a byte after it, the
 * local function). */
__asm__(".pushsection .text\n"
        ".globl zt_outer\n.type zt_outer, @function\nzt_outer:\n nop\n"
        ".type zt_inner, @function\nzt_inner:\n nop\n nop\n ret\n"
        ".size zt_inner, .-zt_inner\n.size zt_outer, .-zt_outer\n"
        ".type zt_local, @function\nzt_local:\n nop\n"
        ".globl zt_label\nzt_label:\n nop\n nop\n ret\n"
        ".size zt_local, .-zt_local\n.popsection\n");
extern char zt_outer[], zt_inner[], zt_local[], zt_label[];

Test(symbolize, libdwfl_rules_for_nested_symbols_and_labels) {
  zm__symtab *s = table_of_this_process();
  zm__sym_frame f;
  cr_assert_eq(zm__sym_lookup(s, (uintptr_t)zt_inner + 2, &f), ZM__SYM_OK);
  cr_assert_str_eq(f.func, "zt_outer");
  cr_assert_eq(f.func_start, (uintptr_t)zt_outer);
  cr_assert_eq(zm__sym_lookup(s, (uintptr_t)zt_label + 1, &f), ZM__SYM_NO_SYMBOL, "%s",
               f.func);
  cr_assert_eq(zm__sym_lookup(s, (uintptr_t)zt_label + 2, &f), ZM__SYM_OK);
  cr_assert_str_eq(f.func, "zt_local");
  cr_assert_eq(f.func_start, (uintptr_t)zt_local);
  zm__sym_close(s);
}

/* The search by address against libdwfl's own dwfl_module_addrinfo, the
 * reference: the same function name and start, or no name, at addresses
 * around the symbols of the module that holds `inside` (each symbol's start
 * and the bytes either side, its middle, its last byte and its end, which
 * covers the gaps), and at every address of a small module's code.
 * Symbols taken at a stride that leaves about 300 per module; all of them
 * with ZT_SYMBOLIZE_ALL=1 in the environment. */
static char *no_path = NULL;
static const Dwfl_Callbacks ref_callbacks = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = &no_path,
};

typedef struct probe_count {
  int addresses, named, wrong;
} probe_count;

static void probe(zm__symtab *s, Dwfl_Module *ref, const zm__sym_module *m, uint64_t a,
                  probe_count *c) {
  if (a < m->lo || a >= m->hi - 1) /* looked up as a return address, a + 1 */
    return;
  GElf_Off off;
  GElf_Sym sym;
  const char *want = dwfl_module_addrinfo(ref, a, &off, &sym, NULL, NULL, NULL);
  if (!want || !want[0] || sym.st_size == 0 || off >= sym.st_size)
    want = NULL;
  zm__sym_frame f;
  int st = zm__sym_lookup(s, a + 1, &f);
  bool same = want ? st == ZM__SYM_OK && strncmp(f.func, want, sizeof f.func - 1) == 0 &&
                         f.func_start == a - off
                   : st == ZM__SYM_NO_SYMBOL && f.func[0] == 0;
  c->addresses++;
  c->named += want != NULL;
  if (!same && c->wrong++ < 10)
    fprintf(stderr, "%s+0x%llx: libdwfl %s+0x%llx, search %s (status %d) start 0x%llx\n",
            f.module, (unsigned long long)(a - m->base), want ? want : "(none)",
            (unsigned long long)off, f.func, st, (unsigned long long)f.func_start);
}

/* The module that holds `inside`, alone in a table, over all of its
 * addresses (data too), not only its code. */
static probe_count search_matches_libdwfl(const void *inside) {
  zm__modules_refresh();
  const zm__module *pm = zm__modules_find((uintptr_t)inside);
  cr_assert_not_null(pm);
  char exe[512];
  zm__modules_main_path(exe, sizeof exe);
  uint64_t lo = pm->base ? pm->base : 1;
  zm__sym_module m = {pm->path[0] ? pm->path : exe, pm->build_id, pm->build_id_len,
                      pm->base, lo, lo + (1ull << 32), 0};
  zm__symtab *s = zm__sym_open();
  cr_assert_eq(zm__sym_add_module(s, &m), 0);
  Dwfl *dwfl = dwfl_begin(&ref_callbacks);
  dwfl_report_begin(dwfl);
  Dwfl_Module *ref = dwfl_report_elf(dwfl, m.path, m.path, -1, m.base, false);
  dwfl_report_end(dwfl, NULL, NULL);
  cr_assert_not_null(ref, "%s", m.path);
  int n = dwfl_module_getsymtab(ref);
  cr_assert_gt(n, 1, "%s", m.path);
  int stride = getenv("ZT_SYMBOLIZE_ALL") || n < 300 ? 1 : n / 300;
  probe_count c = {0};
  for (int i = 1; i < n; i += stride) {
    GElf_Sym sym;
    GElf_Addr a;
    if (!dwfl_module_getsym_info(ref, i, &sym, &a, NULL, NULL, NULL))
      continue;
    uint64_t end = a + sym.st_size;
    uint64_t at[] = {a - 1, a, a + 1, a + sym.st_size / 2, end - 1, end};
    for (size_t j = 0; j < sizeof at / sizeof at[0]; j++)
      probe(s, ref, &m, at[j], &c);
  }
  if (pm->hi - pm->lo <= 0x4000) /* small code: every address of it */
    for (uint64_t a = pm->lo; a < pm->hi; a++)
      probe(s, ref, &m, a, &c);
  dwfl_end(dwfl);
  zm__sym_close(s);
  fprintf(stderr, "%s: %d addresses, %d named by libdwfl\n", m.path, c.addresses, c.named);
  cr_assert_eq(c.wrong, 0, "%s: %d of %d addresses differ from libdwfl", m.path, c.wrong,
               c.addresses);
  return c;
}

Test(symbolize, search_matches_libdwfl_in_the_program) {
  probe_count c = search_matches_libdwfl((const void *)zt_caller);
  cr_assert_gt(c.named, 20);
  cr_assert_gt(c.addresses - c.named, 5);
}

Test(symbolize, search_matches_libdwfl_in_the_c_library) {
  probe_count c = search_matches_libdwfl(dlsym(RTLD_DEFAULT, "getenv"));
  cr_assert_gt(c.named, 200);
}

static void check_lib_search(const char *path) {
  void *h = dlopen(path, RTLD_NOW);
  cr_assert_not_null(h, "%s", dlerror());
  probe_count c = search_matches_libdwfl(dlsym(h, "site_exported"));
  cr_assert_gt(c.named, 5);
  cr_assert_gt(c.addresses - c.named, 5);
}

Test(symbolize, search_matches_libdwfl_in_a_dlopened_library) {
  check_lib_search(ZT_SITE_LIB);
}
Test(symbolize, search_matches_libdwfl_in_a_stripped_library) {
  check_lib_search(ZT_SITE_LIB_STRIPPED);
}
