/* One fork handler for all of zmem's locks, taken in THE lock order:
 *
 *   set-up (layout.c) -> limits -> tag registration -> OOM handler ->
 *   thread registry (stats.c) -> debug blocks (debug.c)
 *
 * Code that holds one of these locks only ever takes locks to its right
 * (the set-up lock applies ZMEM_OPTIONS, which sets limits; nothing else
 * nests). Registering per module would leave the order to the order in which
 * constructors happen to run. Registered at load: a handler registered while
 * another thread forks would not run for that fork. */
#include "fork.h"
#include "internal.h"
#include "prim/prim.h"

static void lock_all(void) {
  zm__setup_fork_lock();
  zm__limits_fork_lock();
  zm__tags_fork_lock();
  zm__oom_fork_lock();
  zm__registry_fork_lock();
  zm__debug_fork_lock();
}

static void unlock_all(void) {
  zm__debug_fork_unlock();
  zm__registry_fork_unlock();
  zm__oom_fork_unlock();
  zm__tags_fork_unlock();
  zm__limits_fork_unlock();
  zm__setup_fork_unlock();
}

/* The child has one thread: the one that forked. */
static void child(void) {
  zm__registry_fork_child();
  unlock_all();
  zm__limits_fork_child();
}

zm__at_load static void watch_fork(void) {
  zm__prim_atfork(lock_all, unlock_all, child);
}
