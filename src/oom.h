/* The out-of-memory handler. */
#ifndef ZM_OOM_H
#define ZM_OOM_H

#include <stddef.h>

/* Runs the installed handler for a failed request of `size` bytes. Returns
 * only if the handler does. */
void zm__oom(size_t size);

/* Formats v in decimal into buf (at least 21 bytes); returns the length. No
 * allocation, no locale: safe in the OOM path and in signal handlers. */
size_t zm__utoa(unsigned long long v, char *buf);

#endif
