/* This process's descendants, from /proc (see proctree.h). */
#define _GNU_SOURCE
#include "proctree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------ from /proc */

typedef struct proc_entry {
  int pid, ppid;
  unsigned long long start; /* start time: a pid and its start name a process */
  char state;
} proc_entry;

long zmc_proc_read(int pid, const char *file, char *buf, size_t cap) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/%s", pid, file);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  ssize_t n = read(fd, buf, cap - 1);
  close(fd);
  if (n < 0)
    return -1;
  buf[n] = 0;
  return (long)n;
}

unsigned long long zmc_status_bytes(const char *status, const char *key) {
  const char *at = strstr(status, key);
  return at ? strtoull(at + strlen(key), NULL, 10) * 1024 : 0;
}

unsigned long long zmc_proc_status_bytes(int pid, const char *key) {
  char buf[4096];
  if (zmc_proc_read(pid, "status", buf, sizeof buf) <= 0)
    return 0;
  return zmc_status_bytes(buf, key);
}

static bool read_stat(int pid, proc_entry *e) {
  char buf[1024];
  if (zmc_proc_read(pid, "stat", buf, sizeof buf) <= 0)
    return false;
  char *rp = strrchr(buf, ')'); /* the command may hold spaces and ')' */
  e->pid = pid;
  return rp && sscanf(rp + 1, " %c %d %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s"
                              " %*s %*s %*s %*s %*s %llu",
                      &e->state, &e->ppid, &e->start) == 3;
}

bool zmc_alive(pid_t pid) {
  proc_entry e;
  return read_stat(pid, &e) && e.state != 'Z' && e.state != 'X';
}

/* Every process on the system, from /proc; *n entries (free the result). */
static proc_entry *all_procs(size_t *n) {
  *n = 0;
  DIR *d = opendir("/proc");
  if (!d)
    return NULL;
  size_t cap = 256;
  proc_entry *v = malloc(cap * sizeof *v);
  struct dirent *de;
  while (v && (de = readdir(d))) {
    char *end;
    long pid = strtol(de->d_name, &end, 10);
    if (*end || pid <= 0)
      continue;
    if (*n == cap) {
      proc_entry *w = realloc(v, (cap *= 2) * sizeof *v);
      if (!w)
        break;
      v = w;
    }
    if (read_stat((int)pid, &v[*n]))
      ++*n;
  }
  closedir(d);
  return v;
}

/* Where the kernel has no children list: every process's parent. */
static long scan_children(pid_t *out, size_t cap) {
  size_t n, got = 0;
  proc_entry *all = all_procs(&n);
  if (!all)
    return -1;
  pid_t self = getpid();
  for (size_t i = 0; i < n && got < cap; i++)
    if (all[i].ppid == self)
      out[got++] = all[i].pid;
  free(all);
  return (long)got;
}

long zmc_children(pid_t *out, size_t cap) {
  char path[64];
  snprintf(path, sizeof path, "/proc/self/task/%d/children", (int)getpid());
  FILE *f = fopen(path, "re");
  if (!f)
    return scan_children(out, cap);
  long n = 0;
  int pid;
  while ((size_t)n < cap && fscanf(f, "%d", &pid) == 1)
    out[n++] = pid;
  fclose(f);
  return n;
}

/* ------------------------------------------------------ killing the tree */

static bool has_bit(const unsigned char *bits, int pid) {
  return bits[pid / 8] >> (pid % 8) & 1;
}

static void set_bit(unsigned char *bits, int pid) {
  bits[pid / 8] |= (unsigned char)(1u << (pid % 8));
}

/* Which of all descend from this process (free the result; NULL: out of
 * memory), in passes that each add a generation; a bitmap by pid serves
 * the parent look-up. */
static bool *descendants(const proc_entry *all, size_t n) {
  int self = getpid(), top = self;
  for (size_t i = 0; i < n; i++)
    top = all[i].pid > top ? all[i].pid : top;
  bool *mine = calloc(n ? n : 1, sizeof *mine);
  unsigned char *bits = calloc((size_t)top / 8 + 1, 1);
  if (bits)
    set_bit(bits, self);
  for (bool grew = mine && bits; grew;) {
    grew = false;
    for (size_t i = 0; i < n; i++) {
      int pp = all[i].ppid;
      if (!mine[i] && pp > 0 && pp <= top && has_bit(bits, pp)) {
        mine[i] = grew = true;
        set_bit(bits, all[i].pid);
      }
    }
  }
  free(bits);
  return mine;
}

typedef struct killed_set {
  proc_entry *v;
  size_t n, cap;
} killed_set;

static bool already_killed(const killed_set *k, const proc_entry *e) {
  for (size_t i = 0; i < k->n; i++)
    if (k->v[i].pid == e->pid && k->v[i].start == e->start)
      return true;
  return false;
}

/* Room for one more in k; false when memory runs out. */
static bool make_room(killed_set *k) {
  if (k->n < k->cap)
    return true;
  size_t cap = k->cap ? k->cap * 2 : 64;
  proc_entry *w = realloc(k->v, cap * sizeof *w);
  if (!w)
    return false;
  k->v = w;
  k->cap = cap;
  return true;
}

/* One pass: SIGKILL to each live descendant not signalled yet; the number
 * signalled. */
static size_t kill_pass(killed_set *k) {
  size_t n, sent = 0;
  proc_entry *all = all_procs(&n);
  if (!all)
    return 0;
  bool *mine = descendants(all, n);
  for (size_t i = 0; mine && i < n; i++) {
    if (!mine[i] || all[i].state == 'Z' || already_killed(k, &all[i]))
      continue;
    if (!make_room(k))
      break;
    if (kill(all[i].pid, SIGKILL) == 0) {
      k->v[k->n++] = all[i];
      sent++;
    }
  }
  free(mine);
  free(all);
  return sent;
}

/* Orphans are included: they reparent to this process, a subreaper. The
 * passes end when one finds no new process, since a process with SIGKILL
 * pending cannot fork. */
unsigned zmc_kill_tree(void) {
  killed_set k = {0};
  for (int pass = 0; pass < 100 && kill_pass(&k) > 0; pass++)
    ;
  free(k.v);
  return (unsigned)k.n;
}

/* ---------------------------------------------------------------- reaping */

static bool spared(pid_t pid, const pid_t *spare, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (spare[i] == pid)
      return true;
  return false;
}

/* SIGKILL to each child not spared, then reaps them; the number ended, or
 * -1 when /proc cannot list them. */
static long end_pass(const pid_t *spare, size_t n) {
  pid_t pids[1024 + 64]; /* above the most spared (zmem sweep --jobs) */
  long got = zmc_children(pids, sizeof pids / sizeof *pids), ended = 0;
  if (got < 0)
    return -1;
  for (long i = 0; i < got; i++)
    if (!spared(pids[i], spare, n) && kill(pids[i], SIGKILL) == 0)
      pids[ended++] = pids[i];
  for (long i = 0; i < ended; i++)
    while (waitpid(pids[i], NULL, 0) < 0 && errno == EINTR)
      ;
  return ended;
}

/* With none spared, every child goes, as wait() confirms: a children list
 * read while children come and go may miss one. */
void zmc_end_children(const pid_t *spare, size_t n) {
  for (int idle = 0; idle < 1000;) {
    long ended = end_pass(spare, n);
    if (ended < 0)
      return;
    if (ended)
      continue;
    if (n) /* a child the list missed goes at the next call */
      return;
    pid_t w = waitpid(-1, NULL, WNOHANG);
    if (w < 0 && errno != EINTR)
      return;
    if (w == 0) { /* a child the list did not show yet */
      idle++;
      nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
  }
}

int zmc_reap(pid_t pid, bool any, int *status, struct rusage *ru) {
  for (;;) {
    int st;
    struct rusage r;
    pid_t got = wait4(any ? -1 : pid, &st, WNOHANG, &r);
    if (got == pid) {
      *status = st;
      *ru = r;
      return 1;
    }
    if (got > 0)
      continue;
    if (got < 0 && errno == EINTR)
      continue;
    return got < 0 ? -1 : 0;
  }
}
