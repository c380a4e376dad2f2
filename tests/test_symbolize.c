/* Symbols for addresses (cli/symbolize.c): the test program, the C
 * library, a dlopened library with and without debug information, and the
 * cases where no name may be given. */
#define _GNU_SOURCE
#include "modules.h"
#include "symbolize.h"

#include <criterion/criterion.h>
#include <dlfcn.h>
#include <stdio.h>
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
                         m->base, m->lo, m->hi};
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
  zm__sym_module m = {exe, wrong, sizeof wrong, self->base, self->lo, self->hi};
  cr_assert_eq(zm__sym_add_module(s, &m), 0);
  /* A module whose file is gone. */
  zm__sym_module gone = {"/nonexistent/libgone.so", NULL, 0, 0x10000000, 0x10000000,
                         0x10001000};
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
  zm__sym_module bad = {"", NULL, 0, 0, 1, 2};
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
                      self->hi};
  cr_assert_eq(zm__sym_add_module(s, &m), 0);
  for (uint64_t i = 0; i < 200; i++) {
    uint8_t id[20];
    memset(id, (int)i, sizeof id);
    uint64_t lo = 0x10000000 + i * 0x10000;
    zm__sym_module other = {"/nonexistent/libother.so", id, sizeof id, lo, lo, lo + 0x1000};
    cr_assert_eq(zm__sym_add_module(s, &other), 0);
  }
  int line;
  zm__sym_frame f;
  cr_assert_eq(zm__sym_lookup(s, zt_caller(&line), &f), ZM__SYM_OK, "status %d", f.status);
  cr_assert_str_eq(f.func, "zt_caller");
  zm__sym_close(s);
}
