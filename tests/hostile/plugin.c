/* A library that fork_threads loads and unloads over and over: each load
 * takes the loader's lock. */
#include <stdlib.h>

void *plugin_alloc(size_t n) { return malloc(n); }
