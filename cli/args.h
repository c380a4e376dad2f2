/* Command-line pieces shared by the `zmem` subcommands. */
#ifndef ZMC_ARGS_H
#define ZMC_ARGS_H

#include <stdbool.h>

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

/* Writes "zmem: " + fmt (with arg) and a hint naming `zmem cmd --help` to
 * stderr; returns ZMC_EXIT_USAGE. */
int zmc_usage_error(const char *cmd, const char *fmt, const char *arg);

#endif
