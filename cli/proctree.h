/* This process's descendants, found in /proc: its children, the whole
 * tree below it, SIGKILL of it, and reaping. `zmem run` and the runners and
 * sweep of `zmem sweep` are child subreapers, so what their programs leave
 * running (orphans, daemons in a session of their own) is theirs to find
 * and end here. */
#ifndef ZMC_PROCTREE_H
#define ZMC_PROCTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/types.h>

/* Whether pid is a running process (not a zombie). */
bool zmc_alive(pid_t pid);

/* /proc/PID/FILE into buf, NUL-terminated, at most cap - 1 bytes (one
 * read: the kernel's files this reads are made whole); the length, or -1. */
long zmc_proc_read(int pid, const char *file, char *buf, size_t cap);

/* A "Key:  N kB" line of /proc/PID/status (key with its colon), in bytes;
 * 0 when the process or the line is not there. */
unsigned long long zmc_proc_status_bytes(int pid, const char *key);

/* The same line of status, text of /proc/PID/status read before (for
 * several lines of one reading). */
unsigned long long zmc_status_bytes(const char *status, const char *key);

/* This process's children (its one thread's) into out, at most cap; the
 * number, or -1 when /proc cannot say. */
long zmc_children(pid_t *out, size_t cap);

/* SIGKILL to every descendant of this process, in passes until one finds
 * no new process; the number killed. Reaps none of them. */
unsigned zmc_kill_tree(void);

/* Kills and reaps this process's children other than the n in spare,
 * until none is left; their children come here in turn (a child
 * subreaper). With none spared, until wait() finds no child. */
void zmc_end_children(const pid_t *spare, size_t n);

/* Reaps without blocking: 1 when pid ended (*status, *ru), 0 when it
 * runs, -1 when it cannot be waited for. With any, also the orphans that
 * reparented here. */
int zmc_reap(pid_t pid, bool any, int *status, struct rusage *ru);

#endif
