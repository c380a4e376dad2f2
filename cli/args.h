/* Command-line pieces shared by the `zmem` subcommands. */
#ifndef ZMC_ARGS_H
#define ZMC_ARGS_H

#include <stdbool.h>
#include <stdint.h>

enum { ZMC_EXIT_USAGE = 2 }; /* a bad command line, for every subcommand */

enum { ZMC_OPT, ZMC_OPT_END, ZMC_OPT_HELP };

/* Steps *i to the next argument (start with *i at the subcommand's name).
 * ZMC_OPT: argv[*i] is an option; ZMC_OPT_END: *i is the program's index
 * (past "--"; argc when none is given); ZMC_OPT_HELP: --help or -h. */
int zmc_opt_next(int argc, char **argv, int *i);

/* a is the option name, alone or followed by "=value". */
bool zmc_is_opt(const char *a, const char *name);

/* The value of option argv[*i], which must be one of the NULL-ended list
 * valued: after '=' in argv[*i], else argv[*i + 1] (consumed). 0, or, for
 * an unknown option or a missing value, the usage error for subcommand
 * cmd (written to stderr). */
int zmc_opt_value(const char *cmd, int argc, char **argv, int *i,
                  const char *const *valued, const char **v);

/* The largest count of requests or steps an option takes: counting on
 * past it (step + 1) stays inside 64 bits. */
#define ZMC_COUNT_MAX ((uint64_t)INT64_MAX)

/* A decimal number from 0 to max: digits only (no sign, blank, base or
 * exponent), so that a value out of range is refused, never wrapped. */
bool zmc_parse_uint(const char *s, uint64_t max, uint64_t *out);

/* A count (a request or step number, a repeat): from 0 to ZMC_COUNT_MAX. */
bool zmc_parse_count(const char *s, uint64_t *out);

/* Writes "zmem: " + fmt (with arg) and a hint naming `zmem cmd --help` to
 * stderr; returns ZMC_EXIT_USAGE. */
int zmc_usage_error(const char *cmd, const char *fmt, const char *arg);

#endif
