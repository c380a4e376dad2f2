/* dlclose, interposed for the allocation sites: once the loader has
 * removed a library, another may be loaded at its addresses, and the
 * stacks counted from then on must say so (zmp_sites_unloaded). The
 * program's call is passed on unchanged, its result and errno kept. */
#define _GNU_SOURCE /* RTLD_NEXT */
#include "sites.h"

#include <dlfcn.h>
#include <errno.h>
#include <string.h>

typedef int (*dlclose_fn)(void *);

int dlclose(void *handle);
__attribute__((visibility("default"))) int dlclose(void *handle) {
  static _Atomic(dlclose_fn) next_dlclose;
  dlclose_fn f = next_dlclose;
  if (!f) {
    void *p = dlsym(RTLD_NEXT, "dlclose");
    memcpy(&f, &p, sizeof f); /* object to function pointer, as POSIX allows */
    next_dlclose = f;
  }
  if (!f)
    return -1;
  int r = f(handle);
  int saved = errno;
  zmp_sites_unloaded();
  errno = saved;
  return r;
}
