/* Fork safety. Each module that owns a lock lends it to fork.c, which takes
 * every zmem lock before fork() and releases them after it, in parent and
 * child, so that no child inherits a lock another thread held. */
#ifndef ZM_FORK_H
#define ZM_FORK_H

void zm__setup_fork_lock(void);
void zm__setup_fork_unlock(void);
void zm__limits_fork_lock(void);
void zm__limits_fork_unlock(void);
void zm__tags_fork_lock(void);
void zm__tags_fork_unlock(void);
void zm__oom_fork_lock(void);
void zm__oom_fork_unlock(void);
void zm__registry_fork_lock(void);
void zm__registry_fork_unlock(void);
void zm__debug_fork_lock(void);
void zm__debug_fork_unlock(void);
/* The child's part of fork, before the locks are released: drops the other
 * threads' per-thread state (stats.c). */
void zm__registry_fork_child(void);
/* The child's part after the locks are released: the other threads'
 * reserves of the hard limit are gone with them (limits.c). */
void zm__limits_fork_child(void);

#endif
