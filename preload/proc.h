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

/* The whole shared record (header first), or NULL when not profiling. */
zmr_header *zmp_record(void);

/* Attaches and claims this process's record. Called once, early. */
void zmp_proc_init(void);

/* Notes the parent's live figures (from the atfork prepare handler). */
void zmp_proc_prepare_fork(void);

/* Claims a record for a fork child (from the atfork child handler). */
void zmp_proc_forked(void);

/* Whether zmp_proc is this process's record: false when not profiling,
 * and false, counted in the record's shared_by, for a process that holds
 * another's (a child made by clone() without CLONE_VM, which runs no fork
 * handlers). Called once, as the process exits: never per call. */
bool zmp_proc_owned(void);

/* Records that the process is ending with status code; only when
 * zmp_proc_owned. */
void zmp_proc_exit(int code);

/* The calling thread's slot in zmp_proc (claims one on first use). shared
 * says the slot is the shared overflow slot (atomic updates needed). */
zmr_slot *zmp_slot_claim(bool *shared);

/* A thread is exiting: publishes its slot's unpublished bytes, so that the
 * process's shared totals (and so the peaks other threads note) include
 * them. The slot stays the thread's if it allocates again. Owner only. */
void zmp_slot_flush(zmr_slot *s);

/* Adds u to a process's shared total and raises its peak: once per
 * ZMR_GRANULE bytes a thread moves (every call for the shared slot). */
void zmp_publish(_Atomic int64_t *published, _Atomic int64_t *peak, int64_t u);

static inline __attribute__((always_inline)) void zmp__add(_Atomic int64_t *c, int64_t v, bool shared) {
  if (shared)
    atomic_fetch_add_explicit(c, v, memory_order_relaxed);
  else
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
                          memory_order_relaxed);
}

/* One of the two figures (requested, held): the slot's live figure moves
 * by d; past the granule from the figure last published (the mark), the
 * difference is published, otherwise the candidate "published + mine" is
 * noted (exact with one thread, low by at most ZMR_GRANULE per other
 * thread). rises/falls: d is known to be >= 0 / <= 0 (an allocation, a
 * free), so that the sign test compiles away. */
static inline __attribute__((always_inline)) void zmp__move_one(
    _Atomic int64_t *live, _Atomic int64_t *mark, _Atomic int64_t *cand,
    _Atomic int64_t *published, _Atomic int64_t *peak, int64_t d, bool shared, bool rises,
    bool falls) {
  if (__builtin_expect(shared, 0)) {
    atomic_fetch_add_explicit(live, d, memory_order_relaxed);
    zmp_publish(published, peak, d);
    return;
  }
  int64_t now = atomic_load_explicit(live, memory_order_relaxed) + d;
  atomic_store_explicit(live, now, memory_order_relaxed);
  int64_t u = now - atomic_load_explicit(mark, memory_order_relaxed);
  if (__builtin_expect(u > ZMR_GRANULE || u < -ZMR_GRANULE, 0)) {
    atomic_store_explicit(mark, now, memory_order_relaxed);
    zmp_publish(published, peak, u);
    return;
  }
  if (rises || (!falls && d > 0)) {
    int64_t c = atomic_load_explicit(published, memory_order_relaxed) + u;
    if (c > atomic_load_explicit(cand, memory_order_relaxed))
      atomic_store_explicit(cand, c, memory_order_relaxed);
  }
}

/* Adds to a slot's live figures and peak; owner only unless shared.
 * blocks: 1 (an allocation), -1 (a free) or 0. */
static inline __attribute__((always_inline)) void zmp_slot_move(zmr_slot *s, bool shared, int64_t req,
                                 int64_t held, int64_t blocks) {
  zmr_proc *p = zmp_proc;
  zmp__add(&s->live_blocks, blocks, shared);
  zmp__move_one(&s->live_requested, &s->mark_requested, &s->cand_requested,
                &p->published_requested, &p->peak_requested, req, shared, blocks > 0,
                blocks < 0);
  zmp__move_one(&s->live_held, &s->mark_held, &s->cand_held, &p->published_held,
                &p->peak_held, held, shared, blocks > 0, blocks < 0);
}

#endif
