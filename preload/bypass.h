/* Allocators that serve a program's requests without calling the preload,
 * found once at start so that the report can say why its figures are low
 * and what to do: an executable that defines malloc itself (it comes
 * before the preload in the loader's lookup order), a CPython whose
 * small-object allocator (pymalloc) carves objects out of arenas. */
#ifndef ZMP_BYPASS_H
#define ZMP_BYPASS_H

#include "record.h"

/* Writes the ZMR_BYPASS_* bits that hold for this process into p (NULL:
 * not profiling). Calls dlsym, which may allocate: from the preload's
 * initialisation only, inside its guard. */
void zmp_bypass_note(zmr_proc *p);

#endif
