/* `zmem run --live`: a view of the running program on the terminal, redrawn
 * about once a second by the launcher's sampling loop: heap (requested,
 * held) and RSS per running process, the tree's total and, with sites, the
 * top sites now. The view owns /dev/tty (opened by zmem, never the
 * program's stdin or stdout) only while it is shown: non-canonical, no
 * echo, the alternate screen; `q` hands the terminal back as it was and the
 * program runs on. The terminal is restored on every way out of zmem that
 * returns through zmc_view_end or exit(). */
#ifndef ZMC_LIVE_H
#define ZMC_LIVE_H

#include <stdint.h>

struct zmc_sites_opts;
typedef struct zmc_view zmc_view;

/* Opens the terminal and shows the view. NULL, after one line on stderr,
 * when there is no terminal or zmem is not in its foreground: the run goes
 * on without the view. sites: the run's sites options (NULL or off: none). */
zmc_view *zmc_view_start(const struct zmc_sites_opts *sites, uint64_t start_ns);

/* The descriptor to poll for keys while the view is shown, else -1. */
int zmc_view_fd(const zmc_view *v);

/* Reads the keys typed (q leaves the view) and redraws when a second has
 * passed since the last frame; base is the shared record. NULL: nothing. */
void zmc_view_update(zmc_view *v, const void *base);

/* Leaves the view (terminal restored) and frees it. NULL: nothing. */
void zmc_view_end(zmc_view *v);

#endif
