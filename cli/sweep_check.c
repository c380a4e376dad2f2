/* `zmem sweep --check valgrind`: each step that crashed, hung or leaked is
 * run once more under valgrind's memcheck, with the same failure injected
 * by the preload, and the first error valgrind reports (its kind and
 * stack) is kept with the step. memcheck's own tool binary is started
 * directly (with the variables its launcher would set), so that only the
 * program, not valgrind's launcher, runs under the preload: the requests
 * are numbered as in the step. See sweep.h and docs/sweep.md. */
#define _GNU_SOURCE
#include "sweep.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHECK_LINES 8     /* of valgrind's first error kept: kind, frames, address */
#define CHECK_SLOWDOWN 20 /* memcheck's time against a plain run, roughly */

/* memcheck's tool binary, in the directories valgrind is installed to. */
static bool find_memcheck(char *tool, size_t cap, char *lib, size_t libcap) {
  const char *dirs[] = {getenv("VALGRIND_LIB"), "/usr/libexec/valgrind",
                        "/usr/lib/x86_64-linux-gnu/valgrind", "/usr/lib/valgrind",
                        "/usr/lib64/valgrind", "/usr/local/libexec/valgrind",
                        "/usr/local/lib/valgrind"};
  for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
    if (!dirs[i] || !*dirs[i])
      continue;
    char pattern[PATH_MAX];
    snprintf(pattern, sizeof pattern, "%s/memcheck-*-linux", dirs[i]);
    glob_t g;
    if (glob(pattern, 0, NULL, &g) != 0)
      continue;
    bool found = g.gl_pathc > 0 && access(g.gl_pathv[0], X_OK) == 0;
    if (found) {
      snprintf(tool, cap, "%s", g.gl_pathv[0]);
      snprintf(lib, libcap, "%s", dirs[i]);
    }
    globfree(&g);
    if (found)
      return true;
  }
  return false;
}

static bool find_launcher(char *out, size_t cap) {
  const char *path = getenv("PATH");
  for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
    size_t n = strcspn(p, ":");
    snprintf(out, cap, "%.*s/valgrind", (int)n, p);
    if (n && access(out, X_OK) == 0)
      return true;
    p += n + (p[n] == ':');
  }
  return false;
}

static _Noreturn void exec_memcheck(const zmc_check_env *e, const zmc_step *r, int log) {
  char fault[64], logfd[32], preload[2 * PATH_MAX];
  snprintf(fault, sizeof fault, "fault=%llu:%s", (unsigned long long)r->step,
           e->persistent ? "18446744073709551615" : "0");
  snprintf(logfd, sizeof logfd, "--log-fd=%d", log);
  const char *old = getenv("LD_PRELOAD");
  snprintf(preload, sizeof preload, "%s%s%s", e->preload, old && *old ? ":" : "",
           old ? old : "");
  setenv("LD_PRELOAD", preload, 1);
  setenv(ZMR_ENV_FAULT, fault, 1);
  setenv("VALGRIND_LAUNCHER", e->launcher, 1);
  setenv("VALGRIND_LIB", e->lib, 1);
  const char *head[] = {e->tool, "-q", "--soname-synonyms=somalloc=nouserintercepts",
                        "--leak-check=full", "--show-leak-kinds=definite",
                        "--num-callers=6", logfd};
  enum { NHEAD = sizeof head / sizeof *head };
  char **argv = calloc(NHEAD + (size_t)e->argc + 1, sizeof *argv);
  if (!argv)
    _exit(127);
  memcpy(argv, head, sizeof head);
  memcpy(argv + NHEAD, e->argv, (size_t)e->argc * sizeof *argv);
  execv(e->tool, argv);
  _exit(127);
}

/* Waits for the run, killing its group past the timeout. */
static void wait_bounded(pid_t pid, double timeout_s) {
  struct timespec tick = {0, 50 * 1000 * 1000};
  int st;
  for (double waited = 0; waitpid(pid, &st, WNOHANG) == 0; waited += 0.05) {
    if (waited > timeout_s) {
      kill(-pid, SIGKILL);
      waitpid(pid, &st, 0);
      return;
    }
    nanosleep(&tick, NULL);
  }
  kill(-pid, SIGKILL); /* what it left */
}

/* The first error in memcheck's log: its kind and first frames, with the
 * "==PID== " prefixes left out. NULL when it reported none. */
static char *first_error(int log) {
  char buf[16384];
  ssize_t n = pread(log, buf, sizeof buf - 1, 0);
  if (n <= 0)
    return NULL;
  buf[n] = 0;
  char *out = calloc(1, sizeof buf), *o = out;
  int lines = 0;
  for (char *line = strtok(buf, "\n"); out && line && lines < CHECK_LINES;
       line = strtok(NULL, "\n")) {
    /* Errors are "==PID== ..." lines; "--PID--" and "###" lines are
     * valgrind's own warnings (debug information it cannot read). */
    char *text = !strncmp(line, "==", 2) ? strstr(line + 2, "==") : NULL;
    if (!text)
      continue;
    text += 2 + (text[2] == ' ');
    if (!*text && lines)
      break; /* the blank line that ends the error */
    if (!*text)
      continue;
    o += sprintf(o, "%s%s", lines++ ? "\n" : "", text);
  }
  if (out && !lines) {
    free(out);
    return NULL;
  }
  return out;
}

static void check_step(const zmc_check_env *e, zmc_step *r) {
  int log = open(P_tmpdir, O_TMPFILE | O_RDWR, 0600); /* inherited: --log-fd */
  if (log < 0)
    return;
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    int in = e->input >= 0 ? dup(e->input) : open("/dev/null", O_RDONLY);
    if (in >= 0) {
      lseek(in, 0, SEEK_SET);
      dup2(in, 0);
    }
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    exec_memcheck(e, r, log);
  }
  if (pid > 0) {
    setpgid(pid, pid);
    wait_bounded(pid, e->timeout_s);
    r->check = first_error(log);
  }
  close(log);
}

int zmc_sweep_check(zmc_sweep *s, zmc_check_env *e) {
  if (!find_memcheck(e->tool, sizeof e->tool, e->lib, sizeof e->lib) ||
      !find_launcher(e->launcher, sizeof e->launcher)) {
    fprintf(stderr, "zmem: sweep: --check valgrind: valgrind is not installed; no step "
                    "was checked\n");
    return -1;
  }
  e->persistent = s->persistent;
  e->argv = s->argv;
  e->argc = s->argc;
  e->timeout_s = s->timeout_s * CHECK_SLOWDOWN;
  for (uint64_t i = 0; i < s->nsteps; i++) {
    zmc_step *r = &s->steps[i];
    bool found = r->kind == ZMC_CRASH || r->kind == ZMC_HANG || r->kind == ZMC_LEAK;
    if (r->ran && found) {
      check_step(e, r);
      s->checked++;
    }
  }
  return 0;
}
