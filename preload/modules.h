/* The loaded modules (main program, shared libraries, dlopened ones) as the
 * stack capture sees them: the address range of each module's executable
 * segments, its path, its build-id, and whether its code keeps frame
 * pointers. The table is filled from dl_iterate_phdr, first on demand and
 * again whenever a return address falls outside every known module (a
 * library was dlopened), so lookups on the allocation path take no lock.
 *
 * Frame pointers are detected per function, from the code itself: the
 * function holding an address is found in the module's .eh_frame_hdr
 * search table (sorted function starts), and it keeps a frame pointer when
 * its first bytes set one up (x86-64: mov %rsp,%rbp within the first 32
 * bytes, where gcc's scheduling and shrink-wrapping may put it; AArch64:
 * stp x29, x30, [sp, #-N]!). */
#ifndef ZM_PRELOAD_MODULES_H
#define ZM_PRELOAD_MODULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZM__MOD_MAX 512     /* modules kept; more are ignored (unknown) */
#define ZM__MOD_PATH 256    /* path bytes kept, NUL included */
#define ZM__MOD_BUILDID 20  /* build-id bytes kept (GNU build-ids are 20) */

typedef struct zm__module {
  uintptr_t base;  /* load bias: file offset addresses + base = run time */
  uintptr_t lo, hi; /* [lo, hi): executable segments, run-time addresses */
  const int32_t *eh_table; /* .eh_frame_hdr search table, or NULL */
  uintptr_t eh_base;       /* what its entries are relative to */
  uint32_t eh_count;       /* entries (pairs of int32) */
  uint8_t build_id_len;
  uint8_t build_id[ZM__MOD_BUILDID];
  char path[ZM__MOD_PATH]; /* "" for the main program: see zm__modules_main_path */
} zm__module;

/* The entry of module m's .eh_frame_hdr search table for the function
 * that holds pc (the last one starting at or below pc): its start and its
 * FDE. 0 when there is none (no table, pc before the first function). */
int zm__modules_eh_find(const zm__module *m, uintptr_t pc, uintptr_t *start,
                        const uint8_t **fde);

/* 1 when the function of module m that holds pc sets up a frame pointer,
 * 0 when it does not or cannot be told (no .eh_frame_hdr, an unusual
 * encoding, another architecture). */
int zm__modules_func_has_fp(const zm__module *m, uintptr_t pc);

/* Rescans the loaded modules. Takes the loader's lock through
 * dl_iterate_phdr and a mutex of its own; does not allocate. Returns the
 * number of modules known. In a frozen process (below) it only returns
 * the number known. */
size_t zm__modules_refresh(void);

/* Around fork (atfork handlers): the refresh mutex is taken before and
 * released after in the parent, made anew in the child. A child whose
 * parent had other threads is frozen until it execs: one of those threads
 * may have held the loader's lock at the fork (in dlopen, dlclose or
 * dl_iterate_phdr), which the C library does not release in the child, so
 * dl_iterate_phdr, and libunwind which calls it, would block forever. A
 * frozen process keeps the module list it inherited. */
void zm__modules_prepare_fork(void);
void zm__modules_after_fork(bool child);
bool zm__modules_frozen(void);

/* The module holding address pc, or NULL. Lock-free; refreshes once when pc
 * is in no known module. */
const zm__module *zm__modules_find(uintptr_t pc);

/* Number of modules and the i-th, for publishing the list. The entries stay
 * valid until the next refresh. */
size_t zm__modules_count(void);
const zm__module *zm__modules_get(size_t i);

/* Modules the loader has removed since the process started (dlpi_subs);
 * takes the loader's lock. 0 in a frozen process. */
unsigned long long zm__modules_unloads(void);

/* Fills buf with the absolute path of the file mapped at address a, as
 * /proc/self/maps names it (the file the loader opened, whatever the
 * working directory is now); 0, or -1 when no file is mapped there. Reads
 * with a buffer on the stack: never allocates. */
int zm__modules_mapped_path(uintptr_t a, char *buf, size_t len);

/* Fills buf with the main program's path (readlink of /proc/self/exe);
 * returns its length or -1. */
int zm__modules_main_path(char *buf, size_t len);

#endif
