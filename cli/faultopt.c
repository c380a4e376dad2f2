/* Fault-injection options: see faultopt.h. */
#include "faultopt.h"
#include "args.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool zmc_parse_fail(const char *s, uint64_t *nth, uint64_t *repeat) {
  char head[32];
  const char *colon = strchr(s, ':');
  size_t n = colon ? (size_t)(colon - s) : strlen(s);
  if (n >= sizeof head)
    return false;
  memcpy(head, s, n);
  head[n] = 0;
  *repeat = 0;
  return zmc_parse_count(head, nth) && *nth > 0 &&
         (!colon || zmc_parse_count(colon + 1, repeat));
}

bool zmc_parse_prob(const char *s, double *p) {
  char *end;
  if (!s || !((*s >= '0' && *s <= '9') || *s == '.'))
    return false;
  errno = 0;
  double v = strtod(s, &end);
  if (*end || errno || !(v >= 0.0 && v <= 1.0))
    return false;
  *p = v;
  return true;
}

const char *zmc_fault_setting(const zmc_fault_opts *o, char *buf, size_t cap) {
  if (!o->nth && !o->p_set)
    return NULL;
  int n = 0;
  buf[0] = 0;
  if (o->nth)
    n = snprintf(buf, cap, "fault=%llu:%llu%s", (unsigned long long)o->nth,
                 (unsigned long long)o->repeat, o->p_set ? "," : "");
  if (o->p_set && n >= 0 && (size_t)n < cap)
    /* Fixed notation: the library's parser takes no exponent. */
    snprintf(buf + n, cap - (size_t)n, "fault_seed=%llu,fault_p=%.17f",
             (unsigned long long)o->seed, o->p);
  return buf;
}

const char *zmc_fault_env_key(void) {
  static const char *const keys[] = {"fault", "fault_p", "fault_seed"};
  const char *s = getenv("ZMEM_OPTIONS");
  while (s && *s) {
    s += strspn(s, " \t,");
    size_t len = strcspn(s, "=, \t");
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
      if (len == strlen(keys[k]) && strncmp(s, keys[k], len) == 0)
        return keys[k];
    s += strcspn(s, ",");
  }
  return NULL;
}
