/* The out-of-memory handler. */
#ifndef ZM_OOM_H
#define ZM_OOM_H

#include <stddef.h>

/* Runs the installed handler for a failed request of `size` bytes. Returns
 * only if the handler does. */
void zm__oom(size_t size);


#endif
