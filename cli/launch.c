#define _GNU_SOURCE /* memfd_create, pidfd */
#include "launch.h"
#include "live.h"
#include "proctree.h"
#include "sites_run.h"
#include "oomkill.h"
#include "read.h"
#include "rss.h"
#include "signals.h"
#include "unprofiled.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef ZMC_PRELOAD_REL
#define ZMC_PRELOAD_REL "../lib"
#endif

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------- finding things */

int zmc_find_preload(char *out, size_t cap) {
  const char *env = getenv("ZMEM_PRELOAD");
  if (env && *env) {
    snprintf(out, cap, "%s", env);
    return 0;
  }
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) {
    fprintf(stderr, "zmem: cannot find my own location (/proc/self/exe)\n");
    return -1;
  }
  self[n] = 0;
  *strrchr(self, '/') = 0;
  const char *rel[] = {ZMC_PRELOAD_REL, "../lib"};
  for (size_t i = 0; i < 2; i++) {
    snprintf(out, cap, "%s/%s/libzmem-preload.so", self, rel[i]);
    if (access(out, R_OK) == 0)
      return 0;
  }
  fprintf(stderr, "zmem: libzmem-preload.so not found next to %s (looked in %s/%s)\n",
          self, self, ZMC_PRELOAD_REL);
  return -1;
}

static bool search_path(const char *name, char *out, size_t cap) {
  const char *path = getenv("PATH");
  if (!path || !*path)
    path = "/usr/local/bin:/usr/bin:/bin";
  while (*path) {
    size_t len = strcspn(path, ":");
    snprintf(out, cap, "%.*s/%s", (int)(len ? len : 1), len ? path : ".", name);
    if (access(out, F_OK) == 0)
      return true;
    path += len + (path[len] == ':');
  }
  return false;
}

int zmc_check_program(const char *name, char *out, size_t cap) {
  if (strchr(name, '/'))
    snprintf(out, cap, "%s", name);
  else if (!search_path(name, out, cap)) {
    fprintf(stderr, "zmem: %s: command not found\n", name);
    return 127;
  }
  struct stat st;
  if (stat(out, &st) != 0) {
    fprintf(stderr, "zmem: %s: %s\n", out, strerror(errno));
    return 127;
  }
  if (S_ISDIR(st.st_mode) || access(out, X_OK) != 0) {
    fprintf(stderr, "zmem: %s: not an executable file\n", out);
    return 126;
  }
  if (zmc_elf_interp(out) == 0) {
    fprintf(stderr,
            "zmem: %s is statically linked (no ELF interpreter), so no preloaded\n"
            "      library can see its allocations. Profile a dynamically linked\n"
            "      build of it (without -static), or link zmem into it directly.\n",
            out);
    return 126;
  }
  const char *gains = zmc_privileged(&st);
  if (gains) {
    fprintf(stderr, "zmem: %s is %s, so the loader ignores LD_PRELOAD for it and zmem "
                    "cannot profile it: run zmem as that user, or profile a copy without "
                    "the bit\n", out, gains);
    return 126;
  }
  return 0;
}

/* ------------------------------------------------------- shared memory */

static int make_shm(size_t size) {
  int fd = memfd_create("zmem-run", MFD_ALLOW_SEALING);
  if (fd < 0)
    return -1;
  /* The program inherits the descriptor; seals stop it from shrinking the
   * object under the launcher's mapping (which would make reads fault). */
  if (ftruncate(fd, (off_t)size) != 0 ||
      fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static uint64_t random_token(void) {
  uint64_t t = 0;
  int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    (void)!read(fd, &t, sizeof t);
    close(fd);
  }
  return t ^ now_ns() ^ ((uint64_t)getpid() << 32);
}

static void fill_header(zmr_header *h, const zmc_launch_opts *o) {
  zmr_header_init(h, random_token());
  h->flags = o->children ? 0 : ZMR_FLAG_NO_CHILDREN;
  h->launcher_pid = getpid();
}

/* ---------------------------------------------------------------- child */

static char *env_entry(const char *key, const char *value) {
  size_t n = strlen(key) + strlen(value) + 2;
  char *e = malloc(n);
  if (e)
    snprintf(e, n, "%s=%s", key, value);
  return e;
}

/* Frees what child_env allocated: the array and its last `own` entries. */
static void free_env(char **env, size_t own) {
  size_t n = 0;
  while (env[n])
    n++;
  for (size_t i = n >= own ? n - own : 0; i < n; i++)
    free(env[i]);
  free(env);
}

/* Entries the launcher sets itself, left out of the inherited ones. */
static bool ours(const char *e) {
  static const char *const keys[] = {"LD_PRELOAD=", ZMR_ENV_FD "=", ZMR_ENV_TOKEN "=",
                                     ZMR_ENV_ID "=", ZMR_ENV_FAULT "=", NULL};
  for (int k = 0; keys[k]; k++)
    if (!strncmp(e, keys[k], strlen(keys[k])))
      return true;
  return false;
}

/* The record's identity for ZMR_ENV_ID: this pid, the memfd's device and
 * inode. */
static bool record_id(int fd, char *buf, size_t cap) {
  struct stat st;
  if (fstat(fd, &st) != 0)
    return false;
  snprintf(buf, cap, "%d:%llx:%llx", (int)getpid(), (unsigned long long)st.st_dev,
           (unsigned long long)st.st_ino);
  return true;
}

/* The environment with LD_PRELOAD (ours first), the record's fd, token and
 * identity, and the fault setting; *own: the entries allocated here (the
 * last ones). */
static char **child_env(const char *preload, int fd, uint64_t token, const char *fault,
                        size_t *own) {
  extern char **environ;
  size_t n = 0;
  while (environ[n])
    n++;
  char **env = calloc(n + 6, sizeof *env);
  if (!env)
    return NULL;
  size_t k = 0;
  const char *old = getenv("LD_PRELOAD");
  char buf[64];
  for (size_t i = 0; i < n; i++)
    if (!ours(environ[i]))
      env[k++] = environ[i];
  size_t first = k;
  size_t plen = strlen(preload) + (old ? strlen(old) + 1 : 0) + 1;
  char *pl = malloc(plen);
  if (!pl) {
    free(env);
    return NULL;
  }
  snprintf(pl, plen, "%s%s%s", preload, old && *old ? " " : "", old ? old : "");
  env[k++] = env_entry("LD_PRELOAD", pl);
  free(pl);
  snprintf(buf, sizeof buf, "%d", fd);
  env[k++] = env_entry(ZMR_ENV_FD, buf);
  snprintf(buf, sizeof buf, "%llx", (unsigned long long)token);
  env[k++] = env_entry(ZMR_ENV_TOKEN, buf);
  env[k++] = record_id(fd, buf, sizeof buf) ? env_entry(ZMR_ENV_ID, buf) : NULL;
  if (fault)
    env[k++] = env_entry(ZMR_ENV_FAULT, fault);
  env[k] = NULL;
  *own = k - first;
  bool ok = true;
  for (size_t i = first; i < k; i++)
    ok = ok && env[i];
  if (!ok) {
    for (size_t i = first; i < k; i++)
      free(env[i]);
    free(env);
    return NULL;
  }
  return env;
}

/* The errno of the child's failed execve, written into the close-on-exec
 * pipe fd; 0 when exec succeeded (the pipe closed empty). */
static int exec_error(int fd) {
  int e = 0;
  ssize_t n;
  while ((n = read(fd, &e, sizeof e)) < 0 && errno == EINTR)
    ;
  close(fd);
  return n == (ssize_t)sizeof e ? e : 0;
}

/* ------------------------------------------------------------- sampling */

typedef struct sampler {
  int64_t last_req[ZMR_MAX_PROCS], last_held[ZMR_MAX_PROCS];
  bool seen[ZMR_MAX_PROCS];
  zmc_rss_track rss[ZMR_MAX_PROCS];
  uint64_t last_rss[ZMR_MAX_PROCS];
  zmc_exe_seen exe[ZMR_MAX_PROCS];
  const char *preload; /* the preload's path, as in LD_PRELOAD */
} sampler;

static void sample(const void *base, sampler *sp, zmc_run *run, uint64_t start,
                   bool last) {
  uint32_t lost, n = zmc_claimed(base, &lost);
  double t = (double)(now_ns() - start) / 1e9;
  for (uint32_t i = 0; i < n; i++) {
    int64_t q, h;
    int running;
    if (!zmc_live(base, i, &q, &h, &running))
      continue;
    if (running) {
      zmc_rss_read(&sp->rss[i], running, t, q, h);
      zmc_exe_watch(&sp->exe[i], running, sp->preload);
    }
    uint64_t rss = (uint64_t)sp->rss[i].last.rss; /* a process gone keeps its last */
    if (sp->seen[i] && q == sp->last_req[i] && h == sp->last_held[i] &&
        rss == sp->last_rss[i] && !last)
      continue;
    sp->seen[i] = true;
    sp->last_req[i] = q;
    sp->last_held[i] = h;
    sp->last_rss[i] = rss;
    (void)zmc_add_sample(run, (zmc_sample){t, i, q, h, rss});
  }
}

/* ------------------------------------------------------------- waiting */

static int pidfd_for(pid_t pid) {
#ifdef SYS_pidfd_open
  return (int)syscall(SYS_pidfd_open, pid, 0);
#else
  (void)pid;
  return -1;
#endif
}

/* Waits for pid, sampling every interval and handling zmem's own signals;
 * returns its wait status. */
static int watch(pid_t pid, zmc_guard *g, const void *base, sampler *sp, zmc_run *run,
                 uint64_t start, unsigned interval_ms, struct rusage *ru, zmc_view *view) {
  int pfd = pidfd_for(pid), status = 0;
  for (;;) {
    sample(base, sp, run, start, false);
    zmc_view_update(view, base);
    int r = zmc_reap(pid, g->forward, &status, ru);
    if (r != 0) {
      if (r < 0)
        status = 0;
      break;
    }
    zmc_guard_check(g, run);
    struct pollfd p[3] = {{pfd, POLLIN, 0}, {g->sfd, POLLIN, 0},
                          {zmc_view_fd(view), POLLIN, 0}};
    if (pfd >= 0 || g->sfd >= 0) {
      (void)poll(p, 3, zmc_guard_wait_ms(g, interval_ms));
    } else {
      struct timespec ts = {interval_ms / 1000, (long)(interval_ms % 1000) * 1000000};
      nanosleep(&ts, NULL);
    }
    if (g->sfd >= 0)
      zmc_guard_read(g, pid, run);
  }
  if (pfd >= 0)
    close(pfd);
  return status;
}

/* ----------------------------------------------------------- the result */

/* Every claimed record, copied and checked: a row whose figures fail the
 * checks is marked (zmc_proc.untrusted), never the end of the report. */
static const char *collect(const void *base, const sampler *sp, zmc_run *run,
                           uint64_t start) {
  uint32_t lost, n = zmc_claimed(base, &lost);
  run->lost_procs = lost;
  run->reattached = zmc_reattached(base);
  run->procs = calloc(n ? n : 1, sizeof *run->procs);
  if (!run->procs)
    return "out of memory";
  for (uint32_t i = 0; i < n; i++) {
    (void)zmc_read_proc(base, i, start, &run->procs[i]);
    zmc_rss_finish(&run->procs[i], &sp->rss[i]);
  }
  run->nprocs = n;
  return NULL;
}

int zmc_launch(const char *path, char *const argv[], const char *preload,
               const zmc_launch_opts *o, zmc_run *run) {
  uint64_t size = ZMR_PROCS_END + zmc_sites_bytes(o->sites);
  int fd = make_shm(size);
  void *base = fd < 0 ? MAP_FAILED
                      : mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  static sampler sp;
  static char real_preload[PATH_MAX]; /* as /proc/PID/maps names it */
  sp.preload = realpath(preload, real_preload) ? real_preload : preload;
  if (base == MAP_FAILED) {
    fprintf(stderr, "zmem: cannot create the shared record: %s\n", strerror(errno));
    return 125;
  }
  zmr_header wrote;
  fill_header(&wrote, o);
  if (o->sites && o->sites->on)
    zmc_sites_layout(base, &wrote, ZMR_PROCS_END, o->sites);
  size_t own = 0;
  char **env = child_env(preload, fd, wrote.token, o->fault, &own);
  if (!env) {
    fprintf(stderr, "zmem: out of memory\n");
    return 125;
  }
  uint64_t start = now_ns();
  wrote.start_ns = start;
  memcpy(base, &wrote, sizeof wrote);
  static zmc_guard g;
  zmc_guard_start(&g, o->forward_signals);
  static zmc_oom_watch oom;
  zmc_oom_begin(&oom);
  pid_t launcher = getpid();
  fflush(NULL);
  int errpipe[2];
  pid_t pid = pipe2(errpipe, O_CLOEXEC) == 0 ? fork() : -1;
  if (pid < 0) {
    fprintf(stderr, "zmem: fork: %s\n", strerror(errno));
    zmc_guard_end(&g);
    free_env(env, own);
    return 125;
  }
  if (pid == 0) {
    close(errpipe[0]);
    zmc_guard_child(&g, launcher);
    execve(path, argv, env);
    int e = errno;
    fprintf(stderr, "zmem: %s: %s\n", path, strerror(e));
    (void)!write(errpipe[1], &e, sizeof e);
    _exit(e == ENOENT ? 127 : 126);
  }
  close(errpipe[1]);
  free_env(env, own);
  int e = exec_error(errpipe[0]);
  if (e) { /* nothing ran: the line above says why, no report of zeros */
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
      ;
    zmc_guard_end(&g);
    munmap(base, size);
    close(fd);
    return e == ENOENT ? 127 : 126;
  }
  struct rusage ru;
  memset(&ru, 0, sizeof ru);
  zmc_view *view = o->live ? zmc_view_start(o->sites, start) : NULL;
  int status = watch(pid, &g, base, &sp, run, start, o->interval_ms, &ru, view);
  zmc_view_end(view);
  run->wall_s = (double)(now_ns() - start) / 1e9;
  zmc_guard_end(&g);
  /* Descendants may still run (daemons, orphans); the figures are what the
   * record holds when the first process ends. */
  sample(base, &sp, run, start, true);
  if (WIFSIGNALED(status)) {
    run->signal = WTERMSIG(status);
    run->exit_status = 128 + run->signal;
  } else {
    run->exit_status = WEXITSTATUS(status);
  }
  run->launcher_rss_peak = (uint64_t)ru.ru_maxrss * 1024;
  /* Only a destroyed header loses the figures; the report still says
   * what the launcher saw itself. */
  const char *why = zmc_check_header(base, &wrote);
  if (why) {
    run->record_lost = why;
    run->nsamples = 0; /* sampled from a record that was being destroyed */
  } else if ((why = collect(base, &sp, run, start)) ||
             (why = zmc_sites_collect(base, ZMR_PROCS_END, o->sites, run))) {
    fprintf(stderr, "zmem: %s\n", why); /* out of memory */
    return 125;
  }
  for (uint32_t i = 0; i < run->nprocs; i++) {
    zmc_proc *p = &run->procs[i];
    if (p->pid == pid && p->state == ZMR_STATE_RUNNING) {
      p->exit_known = true; /* killed: waitpid knows how */
      p->exit_status = run->exit_status;
      p->signal = run->signal;
      p->end_s = run->wall_s;
    }
  }
  zmc_rss_from_wait(run, pid, (uint64_t)ru.ru_maxrss * 1024);
  zmc_oom_end(&oom, run);
  zmc_mark_unprofiled(run, sp.exe, pid, status);
  munmap(base, size);
  close(fd);
  return 0;
}
