/* Pieces shared by the subcommands that read saved reports (`zmem report`,
 * `zmem diff`): their command lines, where options and file names may
 * come in any order, and their output files. */
#ifndef ZMC_SUBCMD_H
#define ZMC_SUBCMD_H

#include "model.h"

#include <stdio.h>

/* One option with a value: handle(a, v, arg) returns 0 or an exit status. */
typedef int (*zmc_opt_fn)(const char *a, const char *v, void *arg);

/* Parses argv[2..]: the options named in valued (through handle), flags
 * (bools, NULL-ended names in flag_names, set in flags) and up to max file
 * names (into files, *nfiles). 0, -1 when --help was asked, or the usage
 * error's status. */
int zmc_subcmd_parse(const char *cmd, int argc, char **argv, const char *const *valued,
                     zmc_opt_fn handle, void *arg, const char *const *flag_names,
                     bool *flags, const char **files, int max, int *nfiles);

/* Writes path through write (to a temporary file in its directory, renamed
 * into place when complete). 0, or -1 after saying why on stderr. */
int zmc_subcmd_write(const char *path, int (*write)(FILE *, const void *), const void *what);

#endif
