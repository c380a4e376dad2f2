/* Hard and soft limits. While any limit is set, the mode word carries
 * ZM__MODE_LIMITS and every allocation and free goes through the general
 * path, which charges a shared counter per limit (the global one and one per
 * limited tag in the block's chain). With no limit set none of this runs. */
#ifndef ZM_LIMITS_H
#define ZM_LIMITS_H

#include "internal.h"
#include "zmem.h"

/* False when a request of about `bytes` would already exceed a limit, so the
 * backend need not be asked. Changes nothing. */
bool zm__limit_admit(size_t bytes, zm_tag tag);

/* Charges bytes to every limit of tag's chain and the global ones; false,
 * with nothing charged, if that would exceed a hard limit. Runs the soft
 * limit callback on an upward crossing. */
bool zm__limit_charge(size_t bytes, zm_tag tag);

/* Gives back bytes (a free), or charges a realloc's change without a check. */
void zm__limit_adjust(int64_t delta, zm_tag tag);

/* Limits from ZMEM_OPTIONS: ceilings over the program's own (see zmem.h). */
void zm__set_limit_env(size_t bytes);
void zm__set_soft_limit_env(size_t bytes);

/* A tag's hard limit, 0 for none. */
size_t zm__tag_limit(zm_tag tag);

/* Whether any limit is set; read when the layout is fixed. */
bool zm__limits_active(void);

#endif
