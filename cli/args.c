/* Command-line pieces: see args.h. */
#include "args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool zmc_is_opt(const char *a, const char *name) {
  size_t n = strlen(name);
  return !strncmp(a, name, n) && (a[n] == 0 || a[n] == '=');
}

int zmc_opt_next(int argc, char **argv, int *i) {
  if (++*i >= argc)
    return ZMC_OPT_END;
  const char *a = argv[*i];
  if (!strcmp(a, "--")) {
    ++*i;
    return ZMC_OPT_END;
  }
  if (a[0] != '-' || !a[1])
    return ZMC_OPT_END;
  if (!strcmp(a, "--help") || !strcmp(a, "-h"))
    return ZMC_OPT_HELP;
  return ZMC_OPT;
}

int zmc_opt_value(const char *cmd, int argc, char **argv, int *i,
                  const char *const *valued, const char **v) {
  const char *a = argv[*i];
  bool known = false;
  for (int k = 0; valued[k]; k++)
    known = known || zmc_is_opt(a, valued[k]);
  if (!known)
    return zmc_usage_error(cmd, "unknown option '%s'", a);
  const char *eq = strchr(a, '=');
  if (eq) {
    *v = eq + 1;
    return 0;
  }
  if (*i + 1 >= argc)
    return zmc_usage_error(cmd, "%s needs a value", a);
  *v = argv[++*i];
  return 0;
}

bool zmc_parse_uint(const char *s, uint64_t max, uint64_t *out) {
  if (!s || *s < '0' || *s > '9')
    return false; /* no sign, blank or empty string */
  if (strspn(s, "0123456789") != strlen(s))
    return false;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (*end || errno == ERANGE || v > max)
    return false;
  *out = v;
  return true;
}

bool zmc_parse_count(const char *s, uint64_t *out) {
  return zmc_parse_uint(s, ZMC_COUNT_MAX, out);
}

int zmc_usage_error(const char *cmd, const char *fmt, const char *arg) {
  fprintf(stderr, "zmem: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n(zmem %s --help for the options)\n", cmd);
  return ZMC_EXIT_USAGE;
}
