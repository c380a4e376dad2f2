/* zmem run's signals while the program runs: SIGTERM, SIGINT, SIGHUP and
 * SIGQUIT sent to zmem go to the program; a second one, or the end of the
 * grace period, kills the program's tree (docs/run.md, "Signals"). */
#ifndef ZMC_SIGNALS_H
#define ZMC_SIGNALS_H

#include "model.h"

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* The launcher's signal state while the program runs. With forwarding,
 * the signals (and SIGCHLD) are blocked and read from a signalfd in the
 * watch loop: no work in a handler. Without (a sweep's steps), SIGINT and
 * SIGQUIT are ignored while waiting, as a shell does. */
typedef struct zmc_guard {
  bool forward;
  int sfd; /* the signalfd, or -1 */
  sigset_t set, old_mask;
  struct sigaction old_int, old_quit, old_chld;
  uint64_t deadline; /* the grace period's end, 0: none */
  uint32_t first_sender; /* pid that sent the first forwarded signal */
  uint64_t first_ns;     /* when it came */
} zmc_guard;

/* Before the fork; with forward, zmem becomes a child subreaper. */
void zmc_guard_start(zmc_guard *g, bool forward);

/* In the child before exec: the dispositions and mask zmem started with. */
void zmc_guard_child(const zmc_guard *g, pid_t launcher);

/* After the program ended. The forwarded signals stay blocked: one that
 * comes now is dropped, and zmem finishes the report. */
void zmc_guard_end(zmc_guard *g);

/* Reads the signals that came (g->sfd); pid is the program. */
void zmc_guard_read(zmc_guard *g, pid_t pid, zmc_run *run);

/* Kills the tree when the grace period has run out. */
void zmc_guard_check(zmc_guard *g, zmc_run *run);

/* Milliseconds to wait in poll: the interval, or less up to the deadline. */
int zmc_guard_wait_ms(const zmc_guard *g, unsigned interval_ms);

#endif
