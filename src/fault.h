/* Fault injection: a policy that refuses allocation requests before the
 * backend sees them. While a setting is active the mode word carries
 * ZM__MODE_FAULT, so every call takes the general path, which asks
 * zm__fault_refuse once per allocation request; with none set nothing here
 * runs. A refused request fails exactly like one the backend refused. */
#ifndef ZM_FAULT_H
#define ZM_FAULT_H

#include "internal.h"

/* Counts one allocation request; true when it must fail. */
bool zm__fault_refuse(void);

/* Calls fn(k) with the number of each request numbered from now on, before
 * it is refused or not (the preload's site census); NULL: none. Set it
 * before other threads allocate. */
void zm__fault_observe(void (*fn)(uint64_t k));

/* Remembers the seed the next probability setting uses (option fault_seed). */
void zm__fault_seed(uint64_t seed);

/* Sets the probability in parts of 2^53 with the remembered seed (option
 * fault_p); 0 turns random failures off. */
void zm__fault_set_p53(uint64_t p53);

#endif
