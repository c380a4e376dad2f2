#ifndef ZM_TEST_NOFP_H
#define ZM_TEST_NOFP_H
#include <stddef.h>
size_t nofp_inner(size_t (*cb)(void *), void *arg);
size_t nofp_outer(size_t (*cb)(void *), void *arg);
size_t nofp_recurse(int depth, size_t (*cb)(void *), void *arg);
#endif
