/* This process's part of the record: attaching to the shared memory that
 * `zmem run` created, claiming a process record (at start, after exec and
 * in a fork child), the per-thread slots, and the exit status. */
#ifndef ZMP_PROC_H
#define ZMP_PROC_H

#include "record.h"

#include <stdbool.h>
#include <stddef.h>

/* The record of this process; NULL when not profiling (no launcher, a bad
 * token, children off, or the run's process table is full). */
extern zmr_proc *zmp_proc;
/* Bumped in a fork child, so that threads claim slots in the new record. */
extern unsigned zmp_generation;

/* Attaches and claims this process's record. Called once, early. */
void zmp_proc_init(void);

/* Notes the parent's live figures (from the atfork prepare handler). */
void zmp_proc_prepare_fork(void);

/* Claims a record for a fork child (from the atfork child handler). */
void zmp_proc_forked(void);

/* Records that the process is ending with status code. */
void zmp_proc_exit(int code);

/* The calling thread's slot in zmp_proc (claims one on first use). shared
 * says the slot is the shared overflow slot (atomic updates needed). */
zmr_slot *zmp_slot_claim(bool *shared);

/* Adds to a slot's live figures and peak; owner only unless shared. */
void zmp_slot_move(zmr_slot *s, bool shared, int64_t req, int64_t held,
                   int64_t blocks);

#endif
