/* Processes zmem could not profile to their end, named on their rows: an
 * exec into a program the preload cannot enter (static, set-user-ID, or
 * with LD_PRELOAD dropped from its environment), and a process still
 * running when the first one ended. The launcher watches each running
 * process's executable while it samples, and looks at what is left when
 * the first process ends. */
#ifndef ZMC_UNPROFILED_H
#define ZMC_UNPROFILED_H

#include "model.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

/* 1: an ELF with an interpreter, 0: an ELF without one (static), -1: not
 * an ELF or not readable. */
int zmc_elf_interp(const char *path);

/* "set-user-ID USER" / "set-group-ID GROUP" when running the file st
 * describes would change the user or group (the loader's secure mode,
 * which ignores LD_PRELOAD), else NULL. */
const char *zmc_privileged(const struct stat *st);

/* What the launcher saw of one record's process: its executable when
 * first seen, and the ZMC_LEFT_* it has seen it leave for. */
typedef struct zmc_exe_seen {
  dev_t dev;
  ino_t ino;
  bool seen;
  uint32_t left;
} zmc_exe_seen;

/* A sample of the running process pid of a record: notes an exec into a
 * program that cannot be profiled (the record stays running): one whose
 * memory map lacks the preload (path). */
void zmc_exe_watch(zmc_exe_seen *w, int pid, const char *preload);

/* When the first process (first_pid, wait status) has ended: marks each
 * record still running with why (zmc_proc.left) from seen[i], what is
 * alive now and waitpid's status. */
void zmc_mark_unprofiled(zmc_run *run, const zmc_exe_seen *seen, int first_pid,
                         int status);

/* The row's words for p->left ("exec'd a static program: not profiled"),
 * or NULL. */
const char *zmc_left_words(const zmc_proc *p);

/* For one ZMR_BYPASS_* bit: what serves the allocations instead of the
 * preload, and the remedy, in a line; NULL for another bit. */
const char *zmc_bypass_words(uint32_t bit);

/* Whether some row has a line from zmc_left_words or zmc_bypass_words. */
bool zmc_any_unprofiled(const zmc_run *run);

#endif
