/* Run-time options: zm_configure and ZMEM_OPTIONS share one parser and one
 * descriptor table (options.c). zm__options_from_env is declared in layout.h,
 * beside the set-up lock it runs under. */
#ifndef ZM_OPTIONS_H
#define ZM_OPTIONS_H

#include <stddef.h>

/* One row of the option table, for listings (`zmem --help`, the README's
 * options table): the key, the syntax of its value and what it does. */
typedef struct zm__option_doc {
  const char *name;   /* key, also the CMake option ZMEM_<NAME> */
  const char *syntax; /* e.g. "SIZE", "0|1", "lean|header" */
  const char *doc;    /* one sentence */
} zm__option_doc;

/* The i-th option (0-based), or NULL past the end. */
const zm__option_doc *zm__option_doc_at(size_t i);

/* Sets the calling thread's zm_last_error message (cut to fit). */
void zm__set_last_error(const char *msg);

/* Longest message zm_last_error can return, NUL included. */
#define ZM__ERROR_MAX 160

#endif
