/* The first call's set-up: the call-backs that modules below run into the
 * modules above (ZMEM_OPTIONS, the tags' counters, the OOM summary) are
 * registered here, at the top, on the path every first allocation takes, so
 * that every include runs down. Not from a constructor: another library's
 * constructor may allocate first, and a static link keeps this module
 * because the allocation functions call it. */
#ifndef ZM_WIRING_H
#define ZM_WIRING_H

#include "layout.h"

/* Registers the call-backs; the same values each time, from any thread. */
void zm__register_upcalls(void);

/* Registers the call-backs, then fixes the layout (zm__freeze); returns the
 * mode. */
zm__cold int zm__first_call(void);

static inline int zm__mode_get(void) {
  int m = atomic_load_explicit(&zm__mode, memory_order_acquire);
  return zm__likely(m & ZM__MODE_LAYOUT) ? m : zm__first_call();
}

static inline int zm__layout(void) { return zm__mode_get() & ZM__MODE_LAYOUT; }

#endif
