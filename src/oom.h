/* The out-of-memory handler. */
#ifndef ZM_OOM_H
#define ZM_OOM_H

#include <stddef.h>

/* Runs the installed handler for a failed request of `size` bytes. Returns
 * only if the handler does. */
void zm__oom(size_t size);

/* Registers what the default handler writes before its verdict (report.c's
 * summary; wiring.c registers it at set-up, before any request can fail). */
void zm__oom_set_summary(void (*write_summary)(void));


#endif
