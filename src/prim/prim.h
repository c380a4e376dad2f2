/* Platform primitives: the only place that knows which OS it runs on. The
 * core calls these and never tests platform macros itself. */
#ifndef ZM_PRIM_H
#define ZM_PRIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Writes all of buf to stderr with the raw system call: no allocation, no
 * stdio buffering. Errors are ignored (there is nobody left to tell). */
void zm__prim_write_stderr(const char *buf, size_t len);

/* Registers fn to run when a thread that called zm__prim_thread_watch exits,
 * with the pointer given there. Called once, before any watch. 0 or -1. */
int zm__prim_thread_exit_init(void (*fn)(void *));

/* Arms the exit hook for the calling thread. May allocate (through zmem). */
void zm__prim_thread_watch(void *arg);

/* Runs prepare before fork() and after in parent and child, so that locks
 * held by other threads cannot be inherited locked. */
void zm__prim_atfork(void (*prepare)(void), void (*parent)(void),
                     void (*child)(void));

/* True when both functions are defined in the same loaded object (the
 * executable or one shared library); false when that cannot be told. */
bool zm__prim_same_object(void *f, void *g);

/* What the dynamic loader knows about a code address. */
typedef struct zm__prim_symbol {
  const char *object; /* path of the executable or library */
  const char *name;   /* nearest exported symbol below, or NULL */
  uintptr_t offset;   /* from that symbol, or from the object's base */
} zm__prim_symbol;

/* Looks pc up with the loader's tables (dladdr): no allocation, no debug
 * information. False when no loaded object contains pc. */
bool zm__prim_symbolize(const void *pc, zm__prim_symbol *out);

/* A monotonic clock, nanoseconds (vDSO on Linux: no allocation, no lock). */
uint64_t zm__prim_monotonic_ns(void);

/* Zeroed memory straight from the OS (never through malloc), rounded up to
 * pages; NULL on failure. For zmem's own bookkeeping. */
void *zm__prim_map(size_t size);
void zm__prim_unmap(void *p, size_t size);

/* ---------------------------------------------- process and machine figures
 * Implemented per platform (linux.c reads /proc; other.c answers 0 with errno
 * ENOTSUP). None of them allocates or uses stdio: they may run inside a
 * process whose malloc is zmem. On failure they return 0 with errno set. */

/* Resident set size of the process, bytes. */
size_t zm__prim_rss(void);

/* Highest resident set size the process has had, bytes. */
size_t zm__prim_peak_rss(void);

/* Physical memory of the machine, bytes. */
size_t zm__prim_physical_memory(void);

/* Sum over the process's mappings of the per-mapping field `name` (n bytes,
 * no colon; letters, digits and '_' only), whose values are in kB; in bytes.
 * 0 with errno EINVAL when no mapping has such a field. A field that exists
 * and sums to 0 gives 0 with errno unchanged. */
size_t zm__prim_smaps_field(const char *name, size_t n);

#endif
