/* Allocators that bypass the preload: see bypass.h. */
#define _GNU_SOURCE
#include "bypass.h"

#include <dlfcn.h>
#include <link.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static const char self_marker = 0; /* an address inside this library */

/* The global lookup finds another object's malloc before this library's:
 * only the executable comes before the first LD_PRELOAD library. An
 * executable that takes malloc's address without defining it has an
 * undefined symbol with a value (its PLT stub), which dlsym also returns:
 * that one calls the preload's. */
static bool exe_defines_malloc(void) {
  void *found = dlsym(RTLD_DEFAULT, "malloc");
  Dl_info mine, theirs;
  void *extra = NULL;
  if (!found || !dladdr(&self_marker, &mine) ||
      !dladdr1(found, &theirs, &extra, RTLD_DL_SYMENT))
    return false;
  const ElfW(Sym) *sym = extra;
  return theirs.dli_fbase != mine.dli_fbase && sym && sym->st_shndx != SHN_UNDEF;
}

/* CPython serves objects up to 512 bytes from its own arenas unless
 * PYTHONMALLOC names the C library's malloc ("malloc", "malloc_debug"). */
static bool pymalloc_on(void) {
  if (!dlsym(RTLD_DEFAULT, "PyObject_Malloc"))
    return false;
  const char *v = getenv("PYTHONMALLOC");
  return !v || strncmp(v, "malloc", 6) != 0;
}

void zmp_bypass_note(zmr_proc *p) {
  if (!p)
    return;
  p->bypass = (exe_defines_malloc() ? ZMR_BYPASS_EXE_MALLOC : 0) |
              (pymalloc_on() ? ZMR_BYPASS_PYMALLOC : 0);
}
