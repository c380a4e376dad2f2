/* The kernel's OOM killer named. A process it kills dies of SIGKILL like
 * any other; what tells them apart is the kill counter of the memory
 * cgroup the program runs in (v2 memory.events, v1 memory.oom_control:
 * "oom_kill N") and the system's (/proc/vmstat "oom_kill N"), read before
 * and after the run. A SIGKILL while a counter rose is the OOM killer's. */
#define _GNU_SOURCE
#include "oomkill.h"
#include "escape.h"
#include "summary.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The number after "key " in a file of "key value" lines. */
static bool counter(const char *path, const char *key, unsigned long long *out) {
  FILE *f = fopen(path, "re");
  if (!f)
    return false;
  char line[256];
  size_t k = strlen(key);
  bool found = false;
  while (!found && fgets(line, sizeof line, f))
    if (!strncmp(line, key, k) && line[k] == ' ') {
      *out = strtoull(line + k + 1, NULL, 10);
      found = true;
    }
  fclose(f);
  return found;
}

static const char *events_file(const zmc_oom_watch *w) {
  static char path[PATH_MAX + 32];
  snprintf(path, sizeof path, "%s/memory.events", w->cgroup);
  if (access(path, R_OK) == 0)
    return path;
  snprintf(path, sizeof path, "%s/memory.oom_control", w->cgroup);
  return path;
}

/* The memory cgroup of this process: v1's memory hierarchy, else v2's. */
static void find_cgroup(zmc_oom_watch *w) {
  FILE *f = fopen("/proc/self/cgroup", "re");
  if (!f)
    return;
  char line[PATH_MAX], v1[PATH_MAX] = "", v2[PATH_MAX] = "";
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = 0;
    char *a = strchr(line, ':'), *b = a ? strchr(a + 1, ':') : NULL;
    if (!b)
      continue;
    if (!strncmp(a, ":memory:", 8))
      snprintf(v1, sizeof v1, "/sys/fs/cgroup/memory%s", b + 1);
    else if (!strncmp(line, "0::", 3))
      snprintf(v2, sizeof v2, "/sys/fs/cgroup%s", b + 1);
  }
  fclose(f);
  snprintf(w->cgroup, sizeof w->cgroup, "%s", v1[0] ? v1 : v2);
}

void zmc_oom_begin(zmc_oom_watch *w) {
  memset(w, 0, sizeof *w);
  find_cgroup(w);
  w->cgroup_ok = w->cgroup[0] && counter(events_file(w), "oom_kill", &w->cgroup_kills);
  w->system_ok = counter("/proc/vmstat", "oom_kill", &w->system_kills);
}

/* The cgroup's limit, or the nearest ancestor's: 0 when none. */
static unsigned long long cgroup_limit(const char *dir) {
  char d[PATH_MAX], path[PATH_MAX + 32], buf[64];
  snprintf(d, sizeof d, "%s", dir);
  for (;;) {
    static const char *const files[] = {"memory.max", "memory.limit_in_bytes"};
    for (int i = 0; i < 2; i++) {
      snprintf(path, sizeof path, "%s/%s", d, files[i]);
      FILE *f = fopen(path, "re");
      if (!f)
        continue;
      unsigned long long v = fgets(buf, sizeof buf, f) ? strtoull(buf, NULL, 10) : 0;
      fclose(f);
      if (v && v < (1ULL << 62))
        return v;
    }
    char *slash = strrchr(d, '/');
    if (!slash || slash - d <= (ptrdiff_t)strlen("/sys/fs/cgroup"))
      return 0;
    *slash = 0;
  }
}

static bool rose(bool ok, const char *path, const char *key, unsigned long long before) {
  unsigned long long now = 0;
  return ok && counter(path, key, &now) && now > before;
}

void zmc_oom_end(const zmc_oom_watch *w, zmc_run *run) {
  bool in_cgroup = rose(w->cgroup_ok, events_file(w), "oom_kill", w->cgroup_kills);
  bool system = rose(w->system_ok, "/proc/vmstat", "oom_kill", w->system_kills);
  if (!in_cgroup && !system)
    return;
  unsigned long long limit = in_cgroup ? cgroup_limit(w->cgroup) : 0;
  char h[32];
  if (limit)
    snprintf(run->oom_cause, sizeof run->oom_cause, "memory cgroup limit %s",
             zmc_human(h, sizeof h, (double)limit));
  else
    snprintf(run->oom_cause, sizeof run->oom_cause, "%s",
             in_cgroup ? "memory cgroup limit" : "the system ran out of memory");
  bool marked = false;
  for (uint32_t i = 0; i < run->nprocs; i++) {
    zmc_proc *p = &run->procs[i];
    /* Ended without exit (a daemon still running is not). */
    bool vanished = p->state == ZMR_STATE_RUNNING && !p->exit_known &&
                    kill(p->pid, 0) != 0 && errno == ESRCH;
    if ((p->exit_known && p->signal == SIGKILL) || vanished)
      marked = p->oom_killed = true;
  }
  if (!marked && run->signal != SIGKILL)
    run->oom_cause[0] = 0; /* the counters rose for someone else */
}

void zmc_oom_text(FILE *f, const zmc_run *run) {
  for (uint32_t i = 0; i < run->nprocs; i++) {
    const zmc_proc *p = &run->procs[i];
    /* The first process's is in the report's header line. */
    char cmd[61];
    if (p->oom_killed && (i || run->signal != SIGKILL))
      fprintf(f, "pid %d (%s) was killed by the kernel's OOM killer (%s)\n", p->pid,
              zmc_escaped(cmd, sizeof cmd, p->command), run->oom_cause);
  }
  if (!run->nprocs && run->oom_cause[0])
    fprintf(f, "the program was killed by the kernel's OOM killer (%s)\n", run->oom_cause);
}
