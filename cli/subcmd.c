/* Command lines and output files of `zmem report` and `zmem diff`: see
 * subcmd.h. */
#define _GNU_SOURCE
#include "subcmd.h"

#include "args.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int flag(const char *a, const char *const *names, bool *flags) {
  for (int k = 0; names && names[k]; k++)
    if (!strcmp(a, names[k]))
      return flags[k] = true, 1;
  return 0;
}

int zmc_subcmd_parse(const char *cmd, int argc, char **argv, const char *const *valued,
                     zmc_opt_fn handle, void *arg, const char *const *flag_names,
                     bool *flags, const char **files, int max, int *nfiles) {
  bool options = true;
  *nfiles = 0;
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i], *v;
    if (options && !strcmp(a, "--")) {
      options = false;
    } else if (options && (!strcmp(a, "--help") || !strcmp(a, "-h"))) {
      return -1;
    } else if (options && a[0] == '-' && a[1]) {
      if (flag(a, flag_names, flags))
        continue;
      int r = zmc_opt_value(cmd, argc, argv, &i, valued, &v);
      if (r || (r = handle(a, v, arg)))
        return r;
    } else if (*nfiles >= max) {
      return zmc_usage_error(cmd, "one file name too many: '%s'", a);
    } else {
      files[(*nfiles)++] = a;
    }
  }
  return 0;
}

int zmc_subcmd_write(const char *path, int (*write)(FILE *, const void *), const void *what) {
  size_t n = strlen(path);
  char *tmp = malloc(n + 16);
  if (!tmp) {
    fprintf(stderr, "zmem: writing %s failed: %s\n", path, strerror(ENOMEM));
    return -1;
  }
  snprintf(tmp, n + 16, "%s.zmem-XXXXXX", path);
  int fd = mkostemp(tmp, O_CLOEXEC);
  FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
  int r = f ? write(f, what) : -1;
  if (f && fflush(f) != 0)
    r = -1;
  if (fd >= 0) {
    mode_t mask = umask(0); /* mkostemp makes 0600; a report is 0666 & ~umask */
    umask(mask);
    (void)fchmod(fd, 0666 & ~mask);
  }
  if (f ? fclose(f) != 0 : (fd >= 0 && close(fd) != 0))
    r = -1;
  if (r == 0 && rename(tmp, path) != 0)
    r = -1;
  if (r != 0) {
    fprintf(stderr, "zmem: writing %s failed: %s\n", path, strerror(errno));
    if (fd >= 0)
      unlink(tmp);
  }
  free(tmp);
  return r;
}
