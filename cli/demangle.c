#define _GNU_SOURCE /* RTLD_DEFAULT */
/* C++ names through __cxa_demangle: see demangle.h. */
#include "demangle.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

typedef char *(*cxa_demangle_fn)(const char *, char *, size_t *, int *);

static cxa_demangle_fn demangler(void) {
  static int tried;
  static cxa_demangle_fn f;
  if (tried)
    return f;
  tried = 1;
  /* Already there when the command itself was linked with it. */
  void *p = dlsym(RTLD_DEFAULT, "__cxa_demangle");
  if (!p) {
    void *lib = dlopen("libstdc++.so.6", RTLD_LAZY | RTLD_LOCAL);
    p = lib ? dlsym(lib, "__cxa_demangle") : NULL;
  }
  memcpy(&f, &p, sizeof f); /* object to function pointer, as POSIX allows */
  return f;
}

char *zm__demangle(const char *name) {
  /* Itanium ABI names (_Z...), and the versioned ones the symbol tables
   * give ("_Z...@@GLIBCXX_3.4"): the version is kept after the name. */
  if (!name || strncmp(name, "_Z", 2) != 0 || !demangler())
    return NULL;
  char plain[1024];
  const char *at = strchr(name, '@');
  size_t len = at ? (size_t)(at - name) : strlen(name);
  if (len >= sizeof plain)
    return NULL;
  memcpy(plain, name, len);
  plain[len] = '\0';
  int status = -1;
  char *d = demangler()(plain, NULL, NULL, &status);
  if (status != 0 || !d) {
    free(d);
    return NULL;
  }
  if (!at)
    return d;
  size_t dl = strlen(d), vl = strlen(at);
  char *out = realloc(d, dl + vl + 1);
  if (!out) {
    free(d);
    return NULL;
  }
  memcpy(out + dl, at, vl + 1);
  return out;
}
