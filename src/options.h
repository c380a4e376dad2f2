/* Run-time options: zm_configure and ZMEM_OPTIONS share one parser and one
 * descriptor table (options.c). */
#ifndef ZM_OPTIONS_H
#define ZM_OPTIONS_H

#include <stddef.h>

/* Applies ZMEM_OPTIONS. Run once, by the first allocation (wiring.c hands it
 * to zm__freeze), with the set-up lock held and before the layout is chosen;
 * must not allocate. */
void zm__options_from_env(void);

/* One row of the option table, for listings (`zmem --help`, the README's
 * options table): the key, the syntax of its value and what it does. */
typedef struct zm__option_doc {
  const char *name;   /* key, also the CMake option ZMEM_<NAME> */
  const char *syntax; /* e.g. "SIZE", "0|1", "lean|header" */
  const char *doc;    /* one sentence */
} zm__option_doc;

/* The i-th option (0-based), or NULL past the end. */
const zm__option_doc *zm__option_doc_at(size_t i);


#endif
