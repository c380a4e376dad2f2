/* The fault-injection options of `zmem run` and `zmem sweep`: their
 * values checked here, then handed to the preload as a setting in the
 * ZMEM_OPTIONS syntax (ZMR_ENV_FAULT), which the library's own option
 * parser applies inside the program. */
#ifndef ZMC_FAULTOPT_H
#define ZMC_FAULTOPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct zmc_fault_opts {
  uint64_t nth, repeat; /* --fail N[:REPEAT]; nth 0: not given */
  bool p_set, seed_set;
  double p;             /* --fail-p P */
  uint64_t seed;        /* --seed S */
} zmc_fault_opts;

/* "N" or "N:REPEAT", N from 1, REPEAT from 0, decimal. */
bool zmc_parse_fail(const char *s, uint64_t *nth, uint64_t *repeat);
/* A decimal probability from 0 to 1 ("0.01", ".5", "1e-3"). */
bool zmc_parse_prob(const char *s, double *p);

/* The setting for ZMR_ENV_FAULT into buf; NULL when no failure is asked
 * for. */
const char *zmc_fault_setting(const zmc_fault_opts *o, char *buf, size_t cap);

/* The fault key ("fault", "fault_p" or "fault_seed") that the caller's
 * ZMEM_OPTIONS sets, or NULL. Inside the program the library would apply
 * it over the setting above, so the commands refuse to run with both. */
const char *zmc_fault_env_key(void);

#endif
