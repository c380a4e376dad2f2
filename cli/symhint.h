/* What the report says where the top sites run through modules without
 * symbols (a stripped library, a program without its debug package):
 * which modules, with their build-ids, and how to get their symbols. */
#ifndef ZM_CLI_SYMHINT_H
#define ZM_CLI_SYMHINT_H

#include "profile.h"

/* The hint for the frames the top sites of p show (p symbolised through
 * sym), lines indented for a process's section, in a string to free; NULL
 * when every such frame has a name (or out of memory). */
char *zm__symhint(const zm__prof *p, zm__symtab *sym);

#endif
