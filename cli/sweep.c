/* `zmem sweep`: the baseline run, then one run per step under the preload
 * with request `step` made to fail, several at a time, each in a runner
 * process that leads a process group of its own (so a step past the
 * timeout, and whatever it started, dies with one kill), classified when
 * it ends. The runners and the sweep itself are child subreapers: what a
 * step started and left (a daemon in a session of its own included) comes
 * to its runner, or to the sweep once the runner is killed, which kill it.
 * See sweep.h and docs/sweep.md. */
#define _GNU_SOURCE
#include "sweep.h"

#include "args.h"
#include "faultopt.h"
#include "launch.h"
#include "proctree.h"
#include "sites_run.h"
#include "summary.h"
#include "unwind.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { EXIT_FOUND = 1, EXIT_USAGE = ZMC_EXIT_USAGE, EXIT_NOT_REPRODUCIBLE = 3,
       EXIT_ZMEM = 125, EXIT_INTERRUPTED = 130 };

#define BASELINE_TIMEOUT_S 300.0
#define NEVER "fault=18446744073709551615:0" /* numbers requests, fails none */
#define ALWAYS "18446744073709551615"          /* --persistent: every one from N */

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

_Static_assert(sizeof(zmc_step) <= PIPE_BUF, "a step's result is one write");

typedef struct job {
  pid_t pid; /* the runner, leader of the step's process group; 0: free */
  uint64_t step, index; /* index: in the steps (baselines: the run) */
  int rfd, outfd, errfd; /* errfd: the program's stderr */
  double start;
  bool killed, cancelled; /* cancelled: killed and not recorded */
  size_t got;
  zmc_step res;
} job;

typedef struct ctx {
  zmc_sweep *s;
  char path[PATH_MAX], preload[PATH_MAX];
  char census[PATH_MAX]; /* the site census's file; "" none */
  int input; /* the copy of stdin, or -1 */
  int logs;  /* --logs DIR, made by zmem, or -1 */
  zmc_sites_opts sites;
  bool baseline; /* running the baseline: job steps are run indexes */
  uint64_t next, started, done;
  double timeout;
} ctx;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ----------------------------------------------------- what steps left */

/* Kills and reaps what the steps left: this process's children other
 * than the runners of live jobs. */
static void end_strays(const job *jobs, unsigned n) {
  pid_t runners[1024]; /* the most jobs (--jobs) */
  size_t k = 0;
  for (unsigned i = 0; i < n && k < sizeof runners / sizeof *runners; i++)
    if (jobs[i].pid)
      runners[k++] = jobs[i].pid;
  zmc_end_children(runners, k);
}

/* ---------------------------------------------------------- the runner */

static void redirect(const ctx *c, int outfd, int errfd) {
  int in = -1;
  if (c->input >= 0) {
    char p[64]; /* an open file of its own: each step reads from the start */
    snprintf(p, sizeof p, "/proc/self/fd/%d", c->input);
    in = open(p, O_RDONLY);
  }
  if (in < 0)
    in = open("/dev/null", O_RDONLY);
  if (in >= 0 && in != 0) {
    dup2(in, 0);
    close(in);
  }
  dup2(outfd, 1);
  dup2(errfd, 2);
}

/* FNV-1a over what the program wrote to fd: outputs are compared by hash. */
static uint64_t hash_output(int fd) {
  uint64_t h = UINT64_C(0xcbf29ce484222325);
  char buf[65536];
  ssize_t n;
  for (off_t at = 0; (n = pread(fd, buf, sizeof buf, at)) > 0; at += n)
    for (ssize_t i = 0; i < n; i++)
      h = (h ^ (unsigned char)buf[i]) * UINT64_C(0x100000001b3);
  return h;
}

/* The step's figures from the run, all processes together. */
static void fill(zmc_step *r, zmc_run *run) {
  zmc_summarize(run);
  r->exit_status = run->exit_status;
  r->signal = run->signal;
  r->live_blocks = run->leaked_blocks;
  r->live_bytes = run->leaked_requested;
  r->wall_s = run->wall_s;
  r->requests_exact = !run->lost_procs;
  for (uint32_t i = 0; i < run->nprocs; i++) {
    const zmc_proc *p = &run->procs[i];
    /* A process killed, or replaced by exec, numbered requests unseen. */
    if (p->state != ZMR_STATE_EXITED)
      r->requests_exact = false;
    r->injected += p->fault_hits;
    if (p->fault_requests > r->requests)
      r->requests = p->fault_requests;
    if (p->fault_hits && !r->first_request) {
      r->first_request = p->fault_first;
      memcpy(r->site, p->fault_site, sizeof r->site);
    }
  }
}

static _Noreturn void runner(const ctx *c, uint64_t step, bool census, int wfd, int outfd,
                             int errfd) {
  setpgid(0, 0);
  /* Orphans of the step come here, not to init, and end with it. */
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  redirect(c, outfd, errfd);
  char setting[64];
  if (step)
    snprintf(setting, sizeof setting, "fault=%llu:%s", (unsigned long long)step,
             c->s->persistent ? ALWAYS : "0");
  static zmc_sites_opts census_sites;
  census_sites = c->sites;
  census_sites.on = true; /* the census hashes each request's stack */
  char census_env[PATH_MAX + 16];
  snprintf(census_env, sizeof census_env, "%u:%s", c->s->site_frames, c->census);
  if (census)
    setenv(ZMR_ENV_CENSUS, census_env, 1);
  zmc_launch_opts o = {.interval_ms = 100, .children = true,
                       .sites = census ? &census_sites : c->s->sites ? &c->sites : NULL,
                       .fault = step ? setting : NEVER};
  static zmc_run run;
  static zmc_step r;
  run.argv = c->s->argv;
  run.argc = c->s->argc;
  r.step = step;
  r.launch_rc = zmc_launch(c->path, c->s->argv, c->preload, &o, &run);
  if (!r.launch_rc)
    fill(&r, &run);
  r.out_hash = hash_output(outfd);
  r.err_hash = hash_output(errfd);
  (void)!write(wfd, &r, sizeof r); /* below PIPE_BUF: one piece */
  zmc_end_children(NULL, 0);
  _exit(0);
}

/* ------------------------------------------------------------ the jobs */

/* A new file in --logs DIR: never one that exists, nor a link a step
 * planted there; then the output is not kept, and the step still runs. */
static int step_output(const ctx *c, uint64_t step, const char *ext) {
  if (c->logs < 0)
    return open(P_tmpdir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  char name[64];
  if (!c->baseline)
    snprintf(name, sizeof name, "step-%llu.%s", (unsigned long long)step, ext);
  else if (step)
    snprintf(name, sizeof name, "baseline-%llu.%s", (unsigned long long)step + 1, ext);
  else
    snprintf(name, sizeof name, "baseline.%s", ext);
  int fd = openat(c->logs, name, O_CREAT | O_EXCL | O_NOFOLLOW | O_RDWR | O_CLOEXEC, 0644);
  if (fd >= 0)
    return fd;
  fprintf(stderr, "zmem: sweep: cannot create %s/%s (%s); its output is not kept\n",
          c->s->logs, name, strerror(errno));
  return open(P_tmpdir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
}

static uint64_t step_at(const zmc_sweep *s, uint64_t index) {
  return s->plan ? s->plan[index] : s->from + index;
}

static int start(ctx *c, job *j, uint64_t index) {
  uint64_t step = c->baseline ? index : step_at(c->s, index);
  int fds[2];
  int out = step_output(c, step, "log"), err = step_output(c, step, "err");
  if (out < 0 || err < 0 || pipe2(fds, O_CLOEXEC) != 0) {
    fprintf(stderr, "zmem: sweep: step %llu: %s\n", (unsigned long long)step,
            strerror(errno));
    if (out >= 0)
      close(out);
    if (err >= 0)
      close(err);
    return -1;
  }
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0)
    runner(c, c->baseline ? 0 : step, c->baseline && !index && c->census[0], fds[1], out,
           err);
  close(fds[1]);
  if (pid < 0) {
    fprintf(stderr, "zmem: sweep: fork: %s\n", strerror(errno));
    close(fds[0]);
    close(out);
    close(err);
    return -1;
  }
  setpgid(pid, pid); /* also here: no kill may miss the group */
  *j = (job){.pid = pid, .step = step, .index = index, .rfd = fds[0], .outfd = out,
             .errfd = err, .start = now_s()};
  c->started++;
  return 0;
}

/* The last lines of the step's output, at most ZMC_TAIL_BYTES - 1 bytes. */
static void tail(int fd, char *buf) {
  struct stat st;
  buf[0] = 0;
  if (fstat(fd, &st) != 0 || st.st_size <= 0)
    return;
  off_t n = st.st_size < ZMC_TAIL_BYTES - 1 ? st.st_size : ZMC_TAIL_BYTES - 1;
  ssize_t got = pread(fd, buf, (size_t)n, st.st_size - n);
  buf[got > 0 ? got : 0] = 0;
  char *nl = n < st.st_size ? strchr(buf, '\n') : NULL;
  if (nl)
    memmove(buf, nl + 1, strlen(nl + 1) + 1);
}

static int classify(const zmc_sweep *s, const zmc_step *r) {
  const zmc_step *b = &s->baseline;
  if (r->launch_rc)
    return ZMC_ERROR;
  if (r->signal)
    return ZMC_CRASH;
  if (!r->step)
    return ZMC_CLEAN; /* a baseline run: nothing to compare it with yet */
  /* An exit with another status than the baseline's is the program giving
   * up on the failure: what it still holds then is not a leak. */
  if (r->exit_status != b->exit_status)
    return ZMC_HANDLED;
  if (r->live_blocks > b->live_blocks)
    return ZMC_LEAK;
  if (s->ignore_output || s->output_varies)
    return ZMC_CLEAN;
  /* A message on stderr is the program telling of the failure; the same
   * status and no word, with another stdout, is a silent wrong result. */
  if (r->err_hash != b->err_hash)
    return ZMC_HANDLED;
  return r->out_hash != b->out_hash ? ZMC_CHANGED : ZMC_CLEAN;
}

/* See enum zmc_repro. A step that could not be read tells nothing. */
static int reproducibility(const zmc_sweep *s, const zmc_step *r) {
  bool reached = r->injected > 0;
  if (r->kind == ZMC_ERROR)
    return ZMC_REPRO_OK;
  if (r->step > s->base_lo && r->step <= s->base_hi)
    return ZMC_REPRO_DISAGREE;
  if (!reached && r->step <= s->base_lo)
    return ZMC_REPRO_MISSED;
  if (reached && r->step > s->base_hi && s->base_exact)
    return ZMC_REPRO_EXTRA;
  return ZMC_REPRO_OK;
}

static zmc_step *slot_for(zmc_sweep *s, uint64_t i) {
  if (i >= s->cap) {
    uint64_t cap = s->cap ? s->cap * 2 : 256;
    while (cap <= i)
      cap *= 2;
    zmc_step *n = realloc(s->steps, cap * sizeof *n);
    if (!n)
      return NULL;
    memset(n + s->cap, 0, (cap - s->cap) * sizeof *n);
    s->steps = n;
    s->cap = cap;
  }
  if (i >= s->nsteps)
    s->nsteps = i + 1;
  return &s->steps[i];
}

static void record(ctx *c, job *j, bool ok) {
  zmc_sweep *s = c->s;
  zmc_step *r = c->baseline ? &s->baselines[j->index] : slot_for(s, j->index);
  if (!r)
    return;
  if (ok)
    *r = j->res;
  else
    *r = (zmc_step){.step = c->baseline ? 0 : j->step, .wall_s = now_s() - j->start};
  r->check = NULL; /* a pointer from the runner would mean nothing here */
  r->kind = j->killed ? ZMC_HANG : ok ? classify(s, r) : ZMC_ERROR;
  if (r->kind == ZMC_CRASH || r->kind == ZMC_ERROR) {
    tail(j->errfd, r->tail); /* its messages; what it printed if none */
    if (!r->tail[0])
      tail(j->outfd, r->tail);
  }
  r->ran = true;
  c->done++;
  if (c->baseline)
    return;
  r->repro = reproducibility(s, r);
  s->counts[r->kind]++; /* for the progress line; count() recounts at the end */
  /* The end: a step past every baseline run's requests that had none to
   * fail. One before it that had none is not reproducible, not the end. */
  bool no_failure = ok && !j->killed && !r->signal && !r->launch_rc && !r->injected;
  if (!s->plan && no_failure && j->step > s->base_hi && (!s->last || j->step < s->last)) {
    s->last = j->step;
    s->ended = true;
  }
}

/* The runner ended (its pipe closed): the step's result, then the group. */
static void finish(ctx *c, job *j) {
  int st;
  /* What the program left running; before the reaping, while the
   * runner's pid still names its group. */
  kill(-j->pid, SIGKILL);
  while (waitpid(j->pid, &st, 0) < 0 && errno == EINTR)
    ;
  record(c, j, j->got == sizeof j->res && !j->killed);
  close(j->rfd);
  close(j->outfd);
  close(j->errfd);
  j->pid = 0;
}

static void drain(ctx *c, job *j) {
  ssize_t n = read(j->rfd, (char *)&j->res + j->got, sizeof j->res - j->got);
  if (n > 0)
    j->got += (size_t)n;
  else if (n == 0 || errno != EINTR)
    finish(c, j);
}

/* ------------------------------------------------------- the scheduler */

static bool more(const ctx *c) {
  const zmc_sweep *s = c->s;
  if (c->baseline)
    return c->next < s->nbaselines;
  if (s->plan)
    return c->next < s->nplan;
  uint64_t step = step_at(s, c->next);
  return !(s->to && step > s->to) && !(s->last && step > s->last);
}

static void kill_job(job *j) {
  if (j->pid && !j->killed) {
    kill(-j->pid, SIGKILL);
    j->killed = true;
  }
}

static void cancel(job *j) {
  kill_job(j);
  j->cancelled = true;
}

/* Steps past the end of the sweep, once it is known, are not needed. */
static void cancel_beyond(ctx *c, job *jobs, unsigned n) {
  for (unsigned k = 0; k < n; k++)
    if (jobs[k].pid && c->s->last && jobs[k].step > c->s->last)
      cancel(&jobs[k]);
}

static void check_timeouts(ctx *c, job *jobs, unsigned n) {
  double t = now_s();
  for (unsigned k = 0; k < n; k++)
    if (jobs[k].pid && t - jobs[k].start > c->timeout)
      kill_job(&jobs[k]);
}

static unsigned fill_slots(ctx *c, job *jobs, unsigned n) {
  unsigned running = 0;
  for (unsigned k = 0; k < n; k++) {
    if (!jobs[k].pid && more(c) && !stop && start(c, &jobs[k], c->next) == 0)
      c->next++;
    else if (!jobs[k].pid && more(c) && !stop)
      stop = 2; /* cannot start steps: give up with what was found */
    running += jobs[k].pid != 0;
  }
  return running;
}

static void wait_some(ctx *c, job *jobs, struct pollfd *p, unsigned n) {
  for (unsigned k = 0; k < n; k++)
    p[k] = (struct pollfd){jobs[k].pid ? jobs[k].rfd : -1, POLLIN, 0};
  if (poll(p, n, 100) <= 0)
    return;
  bool ended = false;
  for (unsigned k = 0; k < n; k++)
    if (jobs[k].pid && (p[k].revents & (POLLIN | POLLHUP | POLLERR))) {
      if (jobs[k].cancelled) {
        int st;
        waitpid(jobs[k].pid, &st, 0);
        close(jobs[k].rfd);
        close(jobs[k].outfd);
        close(jobs[k].errfd);
        jobs[k].pid = 0;
      } else
        drain(c, &jobs[k]);
      ended = ended || !jobs[k].pid;
    }
  if (ended) /* what a killed runner's step left is this process's now */
    end_strays(jobs, n);
}

static void schedule(ctx *c, unsigned n) {
  job *jobs = calloc(n, sizeof *jobs);
  struct pollfd *p = calloc(n, sizeof *p);
  if (!jobs || !p) {
    free(jobs);
    free(p);
    stop = 2;
    return;
  }
  for (;;) {
    unsigned running = fill_slots(c, jobs, n);
    if (!running)
      break;
    if (stop)
      for (unsigned k = 0; k < n; k++)
        cancel(&jobs[k]);
    wait_some(c, jobs, p, n);
    cancel_beyond(c, jobs, n);
    check_timeouts(c, jobs, n);
    if (!c->baseline)
      zmc_sweep_progress(c->s, (int64_t)c->done, now_s());
  }
  free(jobs);
  free(p);
}

/* ------------------------------------------------------------- options */

void zmc_sweep_usage(FILE *f) {
  fprintf(f,
          "usage: zmem sweep [options] [--] program [args...]\n"
          "Runs program once without failures (the baseline), then once per step,\n"
          "making allocation request 1, 2, 3, ... fail, until a step runs with no\n"
          "injected failure; reports the steps that crashed, hung, leaked or\n"
          "changed their output silently (same exit status, other stdout, nothing\n"
          "new on stderr).\n"
          "  --from A         first step (default 1)\n"
          "  --to B           last step (default: until the program makes fewer\n"
          "                   requests than the step's number)\n"
          "  --timeout S      seconds before a step counts as a hang and is killed\n"
          "                   (default: 10, or 10 times the baseline's time if longer)\n"
          "  --jobs J         steps run at once (default: one per online CPU)\n"
          "  --output FILE    the table to FILE instead of stderr (stdout is the\n"
          "                   program's, as with zmem run)\n"
          "  --json FILE      the results as JSON, '-' for stdout\n"
          "  --sites          name the call site of each reported step's failure\n"
          "  --ignore-output  do not compare stdout and stderr with the baseline's\n"
          "                   (no 'changed' step): for output that varies by run\n"
          "  --check valgrind run each step that crashed, hung or leaked once more\n"
          "                   under valgrind's memcheck; its first error is shown\n"
          "  --by-site        one step per call site instead of per request: the\n"
          "                   site's first request fails (the first baseline run\n"
          "                   finds each request's site: its innermost frames)\n"
          "  --per-site K     with --by-site, K requests per site, 1 to 10: its first,\n"
          "                   its last, then its calls 2, 4, 8, ... (default 1)\n"
          "  --site-frames N  frames that make a site, 1 to 16 (default 3)\n"
          "  --persistent     every request from the step's on fails, not only it\n"
          "  --shallow N      only N steps, drawn at random from those the sweep\n"
          "                   would run (with --by-site: from its steps)\n"
          "  --seed S         the draw of --shallow (default 0): the same seed\n"
          "                   gives the same steps\n"
          "  --logs DIR       keep each step's stdout in DIR/step-N.log and its\n"
          "                   stderr in DIR/step-N.err; DIR must not exist\n"
          "  --baselines N    runs of the baseline, 2 to 100 (default 2): a program\n"
          "                   whose requests differ between runs is not reproducible\n"
          "stdin is read once and every step gets the same bytes (a terminal: none).\n"
          "The table goes to stderr, with the coverage: the call sites of the\n"
          "baseline that had a request failed (a lower bound), of all.\n"
          "Exit status:\n"
          "    0  every step was clean or handled, and reproducible\n"
          "    1  a step crashed, hung, leaked, changed its output or could not be run\n"
          "    2  bad command line\n"
          "    3  no step failed, but some were not reproducible: the program's\n"
          "       requests differ from run to run (threads, time, randomness), so\n"
          "       the sweep is incomplete (the steps are named in the table)\n"
          "  125  zmem failed\n"
          "  130  interrupted (what was found so far is reported)\n"
          "The manual: man zmem-sweep.\n");
}

static int bad(const char *fmt, const char *arg) {
  return zmc_usage_error("sweep", fmt, arg);
}


static int value(zmc_sweep *s, const char *a, const char *v) {
  uint64_t n;
  if (zmc_is_opt(a, "--from") || zmc_is_opt(a, "--to")) {
    if (!zmc_parse_count(v, &n) || n == 0)
      return bad(zmc_is_opt(a, "--from") ? "--from wants a step from 1, not '%s'"
                                 : "--to wants a step from 1, not '%s'", v);
    *(zmc_is_opt(a, "--from") ? &s->from : &s->to) = n;
  } else if (zmc_is_opt(a, "--timeout")) {
    char *end;
    errno = 0;
    double t = strtod(v, &end);
    if (!*v || *end || errno || !(t > 0 && t <= 86400) || *v == '-')
      return bad("--timeout wants seconds above 0 (at most 86400), not '%s'", v);
    s->timeout_s = t;
    s->timeout_given = true;
  } else if (zmc_is_opt(a, "--jobs")) {
    if (!zmc_parse_count(v, &n) || n == 0 || n > 1024)
      return bad("--jobs wants a number from 1 to 1024, not '%s'", v);
    s->jobs = (unsigned)n;
  } else if (zmc_is_opt(a, "--baselines")) {
    if (!zmc_parse_count(v, &n) || n < 2 || n > ZMC_MAX_BASELINES)
      return bad("--baselines wants a number from 2 to 100, not '%s'", v);
    s->nbaselines = (unsigned)n;
  } else if (zmc_is_opt(a, "--per-site")) {
    if (!zmc_parse_count(v, &n) || n == 0 || n > 2 + ZMR_CENSUS_SAMPLES)
      return bad("--per-site wants a number from 1 to 10, not '%s'", v);
    s->per_site = (unsigned)n;
  } else if (zmc_is_opt(a, "--site-frames")) {
    if (!zmc_parse_count(v, &n) || n == 0 || n > ZMR_CENSUS_MAX_FRAMES)
      return bad("--site-frames wants a number from 1 to 16, not '%s'", v);
    s->site_frames = (unsigned)n;
  } else if (zmc_is_opt(a, "--shallow")) {
    if (!zmc_parse_count(v, &n) || n == 0)
      return bad("--shallow wants a number of steps from 1, not '%s'", v);
    s->shallow = n;
  } else if (zmc_is_opt(a, "--seed")) {
    if (!zmc_parse_count(v, &n))
      return bad("--seed wants a number, not '%s'", v);
    s->seed = n;
    s->seed_given = true;
  } else if (zmc_is_opt(a, "--check")) {
    if (strcmp(v, "valgrind"))
      return bad("--check wants 'valgrind', not '%s'", v);
    s->check = true;
  } else if (zmc_is_opt(a, "--json"))
    s->json = v;
  else if (zmc_is_opt(a, "--logs"))
    s->logs = v;
  else if (zmc_is_opt(a, "--output"))
    s->output = v;
  else
    return bad("unknown option '%s'", a);
  return 0;
}

static const char *const valued[] = {"--from", "--to", "--timeout", "--jobs",
                                     "--json", "--logs", "--baselines", "--output",
                                     "--per-site", "--shallow", "--seed",
                                     "--site-frames", "--check", NULL};

/* The option's flag, or NULL when it takes a value (or is unknown). */
static bool *flag_option(zmc_sweep *s, const char *a) {
  return !strcmp(a, "--sites")           ? &s->sites
         : !strcmp(a, "--ignore-output") ? &s->ignore_output
         : !strcmp(a, "--by-site")       ? &s->by_site
         : !strcmp(a, "--persistent")    ? &s->persistent
                                         : NULL;
}

/* 0 with *first the program's index, -1 after --help, or an exit status. */
static int parse(int argc, char **argv, zmc_sweep *s, int *first) {
  int i = 1, kind;
  while ((kind = zmc_opt_next(argc, argv, &i)) == ZMC_OPT) {
    const char *a = argv[i], *v;
    bool *flag = flag_option(s, a);
    if (flag) {
      *flag = true;
      continue;
    }
    int r = zmc_opt_value("sweep", argc, argv, &i, valued, &v);
    if (!r)
      r = value(s, a, v);
    if (r)
      return r;
  }
  if (kind == ZMC_OPT_HELP) {
    zmc_sweep_usage(stdout);
    return -1;
  }
  if (i >= argc)
    return bad("%s", "no program given: zmem sweep [options] -- program [args...]");
  if (s->to && s->to < s->from)
    return bad("%s", "--to is below --from");
  if (s->per_site && !s->by_site)
    return bad("%s", "--per-site goes with --by-site");
  if (s->seed_given && !s->shallow)
    return bad("%s", "--seed goes with --shallow");
  s->per_site = s->per_site ? s->per_site : 1;
  if (zmc_fault_env_key())
    return bad("ZMEM_OPTIONS sets %s, which would override the sweep's failures; "
               "unset it", zmc_fault_env_key());
  *first = i;
  return 0;
}

/* ------------------------------------------------------------ the sweep */

/* stdin, read once into an unlinked file that every step reopens. */
static int copy_stdin(void) {
  if (isatty(0))
    return -1;
  int fd = open(P_tmpdir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0)
    return -2;
  char buf[65536];
  for (;;) {
    ssize_t n = read(0, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && errno == EBADF)
      break; /* no stdin at all: the steps get none either */
    if (n <= 0)
      return n == 0 ? fd : (close(fd), -2);
    if (write(fd, buf, (size_t)n) != n)
      return close(fd), -2;
  }
  return fd;
}

/* --logs DIR: a directory made here, so that no file or link in it was
 * there before; files are then made in it only through c->logs. */
static int make_logs(ctx *c) {
  const char *dir = c->s->logs;
  c->logs = -1;
  if (!dir)
    return 0;
  if (mkdir(dir, 0777) != 0) {
    if (errno == EEXIST)
      fprintf(stderr, "zmem: --logs %s exists; zmem makes the directory itself, so "
                      "that nothing in it comes from elsewhere: name a new one\n", dir);
    else
      fprintf(stderr, "zmem: --logs %s: %s\n", dir, strerror(errno));
    return EXIT_USAGE;
  }
  c->logs = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (c->logs < 0) {
    fprintf(stderr, "zmem: --logs %s: %s\n", dir, strerror(errno));
    return EXIT_ZMEM;
  }
  return 0;
}

/* The census's file: made here, empty, for the baseline's processes to
 * append to; "" when it cannot be made (no coverage then). */
static void make_census(ctx *c) {
  snprintf(c->census, sizeof c->census, "%s/zmem-census-XXXXXX", P_tmpdir);
  int fd = mkostemp(c->census, O_CLOEXEC);
  if (fd < 0)
    c->census[0] = 0;
  else
    close(fd);
}

static int prepare(ctx *c, char **argv, int first) {
  int r = zmc_check_program(argv[first], c->path, sizeof c->path);
  if (r)
    return r;
  if (zmc_find_preload(c->preload, sizeof c->preload) != 0)
    return EXIT_ZMEM;
  if ((r = make_logs(c)) != 0)
    return r;
  make_census(c);
  c->input = copy_stdin();
  if (c->input == -2) {
    fprintf(stderr, "zmem: cannot keep a copy of stdin: %s\n", strerror(errno));
    return EXIT_ZMEM;
  }
  return 0;
}

static const char *why_baseline(const zmc_step *b) {
  static char why[128];
  if (b->kind == ZMC_HANG)
    return "did not end before the timeout";
  if (b->launch_rc || b->kind == ZMC_ERROR)
    return "could not be run";
  if (b->signal) {
    snprintf(why, sizeof why, "was killed by signal %d", b->signal);
    return why;
  }
  return NULL;
}

/* What the baseline runs agree on: their fewest and most requests. */
static void compare_baselines(zmc_sweep *s) {
  s->base_lo = UINT64_MAX;
  s->base_exact = true;
  for (unsigned i = 0; i < s->nbaselines; i++) {
    const zmc_step *b = &s->baselines[i];
    s->base_lo = b->requests < s->base_lo ? b->requests : s->base_lo;
    s->base_hi = b->requests > s->base_hi ? b->requests : s->base_hi;
    s->base_exact = s->base_exact && b->requests_exact;
    s->output_varies = s->output_varies || b->out_hash != s->baselines[0].out_hash ||
                       b->err_hash != s->baselines[0].err_hash;
  }
}

/* The baseline, run --baselines times (at once, up to --jobs). */
static int run_baseline(ctx *c) {
  zmc_sweep *s = c->s;
  s->baselines = calloc(s->nbaselines, sizeof *s->baselines);
  if (!s->baselines) {
    fprintf(stderr, "zmem: sweep: out of memory\n");
    return EXIT_ZMEM;
  }
  c->baseline = true;
  c->timeout = s->timeout_given ? s->timeout_s : BASELINE_TIMEOUT_S;
  schedule(c, s->jobs < s->nbaselines ? s->jobs : s->nbaselines);
  c->baseline = false;
  if (stop) {
    fprintf(stderr, "zmem: sweep interrupted during the baseline run: no step ran\n");
    return EXIT_INTERRUPTED;
  }
  double wall = 0;
  for (unsigned i = 0; i < s->nbaselines; i++) {
    const zmc_step *b = &s->baselines[i];
    const char *why = why_baseline(b);
    if (why) {
      fprintf(stderr, "zmem: sweep: baseline run %u of %u (no failure injected) %s;\n"
                      "      a sweep needs a program that runs to its end first.\n",
              i + 1, s->nbaselines, why);
      if (b->tail[0])
        fprintf(stderr, "its last output:\n%s\n", b->tail);
      return EXIT_FOUND;
    }
    wall = b->wall_s > wall ? b->wall_s : wall;
  }
  s->baseline = s->baselines[0];
  compare_baselines(s);
  if (s->output_varies && !s->ignore_output)
    fprintf(stderr, "zmem: sweep: the baseline runs' outputs differ: outputs are not "
                    "compared (as with --ignore-output)\n");
  if (!s->timeout_given)
    s->timeout_s = wall * 10 > 10 ? wall * 10 : 10;
  return 0;
}

/* The census that baseline run 1 wrote, then the steps to run. */
static int plan_steps(ctx *c) {
  zmc_sweep *s = c->s;
  int fd = c->census[0] ? open(c->census, O_RDONLY | O_CLOEXEC) : -1;
  if (c->census[0])
    unlink(c->census);
  if (fd < 0 || zmc_census_read(s, fd) != 0) {
    s->nsites = 0;
    if (s->by_site) {
      fprintf(stderr, "zmem: sweep: the baseline run recorded no call sites, which "
                      "--by-site needs\n");
      if (fd >= 0)
        close(fd);
      return EXIT_ZMEM;
    }
  }
  if (fd >= 0)
    close(fd);
  if (zmc_sweep_plan(s) != 0) {
    fprintf(stderr, "zmem: sweep: out of memory\n");
    return EXIT_ZMEM;
  }
  return 0;
}

static void count(zmc_sweep *s) {
  if (s->last && s->last - s->from + 1 < s->nsteps)
    s->nsteps = s->last - s->from + 1;
  memset(s->counts, 0, sizeof s->counts);
  s->unreproducible = 0;
  for (uint64_t i = 0; i < s->nsteps; i++)
    if (s->steps[i].ran) {
      s->counts[s->steps[i].kind]++;
      s->unreproducible += s->steps[i].repro != ZMC_REPRO_OK;
    }
  s->incomplete = s->interrupted      ? "interrupted"
                  : s->stuck          ? "steps could not be started"
                  : s->plan && s->nsteps < s->nplan ? "steps could not be started"
                  : s->shallow && s->nplan < s->candidates ? "shallow"
                  : !s->plan && !s->ended ? "stopped at --to"
                  : s->unreproducible ? "not reproducible"
                                      : NULL;
  s->complete = !s->incomplete;
}

/* The table to stderr (stdout is the program's, as with zmem run) or to
 * --output FILE; then --json. */
static int report(zmc_sweep *s) {
  FILE *table = s->output ? fopen(s->output, "w") : stderr;
  if (table)
    zmc_sweep_table(table, s);
  if (!table || (table != stderr && fclose(table) != 0)) {
    fprintf(stderr, "zmem: writing %s failed: %s\n", s->output, strerror(errno));
    return -1;
  }
  if (!s->json)
    return 0;
  FILE *f = strcmp(s->json, "-") ? fopen(s->json, "w") : stdout;
  int r = f ? zmc_sweep_json(f, s) : -1;
  if (f && f != stdout && fclose(f) != 0)
    r = -1;
  if (r)
    fprintf(stderr, "zmem: writing %s failed: %s\n", s->json, strerror(errno));
  return r;
}

/* A path that cannot be written is told before the sweep, not after it. */
static bool writable(const char *path) {
  if (access(path, F_OK) == 0)
    return access(path, W_OK) == 0;
  FILE *f = fopen(path, "w");
  if (!f)
    return false;
  fclose(f);
  unlink(path);
  return true;
}

static int outcome(const zmc_sweep *s) {
  if (s->interrupted)
    return EXIT_INTERRUPTED;
  for (int k = 0; k < ZMC_NKINDS; k++)
    if (s->counts[k] && zmc_is_finding(k))
      return EXIT_FOUND;
  return s->unreproducible ? EXIT_NOT_REPRODUCIBLE : 0;
}

static void catch_signals(void) {
  struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART */
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
}

int zmc_sweep_main(int argc, char **argv) {
  static zmc_sweep s;
  static ctx c;
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  s.from = 1;
  s.nbaselines = 2;
  s.site_frames = ZMC_SITE_FRAMES;
  s.jobs = cpus > 0 ? (unsigned)cpus : 1;
  int first = 0, r = parse(argc, argv, &s, &first);
  if (r)
    return r < 0 ? 0 : r;
  s.argv = argv + first;
  s.argc = argc - first;
  c.s = &s;
  c.sites = (zmc_sites_opts){.on = s.sites, .depth = ZM__UNWIND_DEFAULT_DEPTH,
                             .mode = ZM__UNWIND_AUTO};
  if ((r = prepare(&c, argv, first)) != 0)
    return r;
  if (s.json && strcmp(s.json, "-") && !writable(s.json))
    return bad("cannot write --json %s", s.json);
  if (s.output && !writable(s.output))
    return bad("cannot write --output %s", s.output);
  catch_signals();
  /* What a step started outlives a runner killed at the timeout: it comes
   * here then, to be killed (end_strays). */
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  double t0 = now_s();
  if ((r = run_baseline(&c)) != 0)
    return r;
  if ((r = plan_steps(&c)) != 0)
    return r;
  c.next = 0;
  c.done = 0; /* steps only, for the progress line */
  c.timeout = s.timeout_s;
  schedule(&c, s.jobs);
  zmc_sweep_progress(&s, -1, now_s());
  s.stuck = stop == 2;
  s.interrupted = stop == 1;
  s.wall_s = now_s() - t0;
  if (s.check && !s.interrupted && !s.stuck && !stop) {
    zmc_check_env e = {.preload = c.preload, .input = c.input};
    s.check_ran = zmc_sweep_check(&s, &e) == 0;
  }
  count(&s);
  zmc_sweep_coverage(&s);
  if (s.stuck)
    fprintf(stderr, "zmem: sweep: steps could not be started; results so far:\n");
  r = report(&s);
  for (uint64_t i = 0; i < s.nsteps; i++)
    free(s.steps[i].check);
  free(s.steps);
  free(s.baselines);
  free(s.plan);
  free(s.census);
  return r || s.stuck ? EXIT_ZMEM : outcome(&s);
}
