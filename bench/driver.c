/* zbench_driver: runs the whole benchmark matrix and writes the results.
 *
 *   zbench_driver [options] BACKEND=DIR...
 *
 * Each BACKEND=DIR names a build of this repository for that backend (DIR
 * holds its zbench, zbench_app and zbench_so). bench/run.sh builds them and
 * calls this program; see bench/README.md.
 *
 * Every figure is a separate process (zbench prints one line of key=value
 * pairs). A repetition runs every (backend, workload, threads) group once, the
 * groups and the contenders inside each group in a fresh random order, so
 * that a contender and its baseline are measured seconds apart. Ratios are
 * paired: the median, over repetitions, of contender / baseline within the
 * same repetition. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <gnu/libc-version.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_BACKENDS 8
#define ZM_HEADER_BYTES 16.0 /* ZM_HEADER_SIZE of include/zmem.h */
#define MAX_THREADS 8
#define MAX_REPS 32
#define LINE 1024

/* ----------------------------------------------------------- the matrix */

enum { W_CHURN, W_MIXED, W_REALLOC, W_PRODCONS, NTIMED };
static const char *const wl_name[NTIMED] = {"churn", "mixed", "realloc",
                                            "prodcons"};
static const char *const wl_title[NTIMED] = {
    "1 churn", "2 mixed", "3 realloc", "4 prod/cons"};

enum {
  C_RAW,
  C_RAW_SIZED,
  C_MUTEX,
  C_ATOMIC,
  C_SLOTS16,
  C_FLOOR,
  C_FLOOR_ZM,
  C_FLOOR_ZM_SIZED,
  C_LEAN,
  C_LEAN_SIZED,
  C_HEADER,
  C_HEADER_SIZED,
  C_TAGS,
  C_LIMIT,
  NCONT
};
static const char *const ct_name[NCONT] = {
    "raw",       "raw-sized",     "mutex",          "atomic",
    "slots16",   "floor",         "floor-zm",       "floor-zm-sized",
    "zm-lean",   "zm-lean-sized", "zm-header",      "zm-header-sized",
    "zm-tags",   "zm-limit"};
static const char *const ct_desc[NCONT] = {
    "the allocator alone: malloc/free/realloc (mi_*, tc_* for mimalloc, "
    "tcmalloc)",
    "the allocator alone, freeing with its sized free (sdallocx, "
    "mi_free_size, tc_free_sized; glibc has none: free)",
    "seed zmalloc design: 8-byte size prefix, global counter under a "
    "pthread mutex",
    "later Redis design: global counter, relaxed atomic add (lock xadd), "
    "size from the usable-size query",
    "Redis 7.4 style: 16 padded slots, one per thread (mod 16), atomic add",
    "not a design, a floor: the allocator, its usable-size query and one "
    "plain thread-local add per call (the least exact lean accounting "
    "must do; nobody could read the total)",
    "the same floor on zmem's own size source (src/builtin.h: the "
    "usable-size query; jemalloc's per-thread byte counters; the size "
    "table on mimalloc and tcmalloc): "
    "floor-zm -> zm-lean is the cost of zmem's features",
    "floor-zm, freeing through the size source's sized free",
    "zmem, lean layout (no header), zm_malloc/zm_free/zm_realloc",
    "zmem, lean layout, freeing with zm_free_sized",
    "zmem, header layout (16 B in front of each block)",
    "zmem, header layout, freeing with zm_free_sized",
    "zmem with tags on (header layout, every block in the default tag)",
    "zmem, lean layout, with a global limit set (never reached)"};

static const int mem_cts[] = {C_RAW, C_MUTEX, C_LEAN, C_HEADER};
#define NMEM ((int)(sizeof mem_cts / sizeof mem_cts[0]))

enum { A_SQLITE, A_LUA, NAPPS };
static const char *const app_name[NAPPS] = {"sqlite", "lua"};
static const int app_cts[] = {C_RAW, C_LEAN, C_LEAN_SIZED, C_HEADER};
#define NAPPCT ((int)(sizeof app_cts / sizeof app_cts[0]))

/* Callgrind rows: the zmem contenders plus the shared-library build. */
enum { CG_SO = NCONT, NCG };

/* ------------------------------------------------------------- options */

static struct {
  int reps, mem_reps;
  double scale, app_scale, cg_scale;
  int threads[MAX_THREADS], nthreads;
  bool callgrind, app, pin, quick, cg_only;
  const char *md, *json, *readme, *analysis, *command, *cg_before;
  int nbe;
  char be_name[MAX_BACKENDS][32];
  char be_dir[MAX_BACKENDS][512];
  char be_version[MAX_BACKENDS][64];
} opt = {.reps = 7, .mem_reps = 3, .scale = 1, .app_scale = 1, .cg_scale = 0.02,
         .callgrind = true, .app = true};

/* ------------------------------------------------------------- records */

typedef struct rec {
  bool ok, exact;
  double ns_op, wall_ns, cpu_ns, timed_cpu_ns;
  double maxrss_kb, rss_base_kb, hwm_kb, used_bytes, usable_bytes;
} rec;

static rec timed[MAX_BACKENDS][NTIMED][MAX_THREADS][NCONT][MAX_REPS];
static rec mem[MAX_BACKENDS][NCONT][MAX_REPS];
static rec app[MAX_BACKENDS][NAPPS][NCONT][MAX_REPS];

typedef struct cg_rec {
  bool ok;
  double total, loop, zmem, libs; /* instructions per alloc/free pair */
} cg_rec;
static cg_rec cg[MAX_BACKENDS][2][NCG]; /* [churn, mixed] */
/* Totals per pair from --cg-before (0: none), as cg. */
static double cg_before[MAX_BACKENDS][2][NCG];

static int failures, inexact;
static char calib[2][LINE]; /* zbench calibrate, before and after */

/* ------------------------------------------------------------ utilities */

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "zbench_driver: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(2);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  if (n == 0)
    return NAN;
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

typedef struct stat3 {
  double med, min, max;
  int n;
} stat3;

static stat3 stats_of(double *v, int n) {
  stat3 s = {NAN, NAN, NAN, n};
  if (n == 0)
    return s;
  s.med = median(v, n); /* sorts v */
  s.min = v[0];
  s.max = v[n - 1];
  return s;
}

/* The value of key in a line of key=value pairs, or NULL. */
static const char *kv(const char *line, const char *key, char *out,
                      size_t len) {
  size_t kl = strlen(key);
  for (const char *p = line; (p = strstr(p, key)) != NULL; p += kl) {
    if ((p != line && p[-1] != ' ') || p[kl] != '=')
      continue;
    p += kl + 1;
    size_t n = strcspn(p, " \n");
    if (n >= len)
      n = len - 1;
    memcpy(out, p, n);
    out[n] = '\0';
    return out;
  }
  return NULL;
}

static double kv_num(const char *line, const char *key) {
  char buf[64];
  return kv(line, key, buf, sizeof buf) ? atof(buf) : NAN;
}

/* Runs argv with a time limit; its first stdout line goes to out. Returns
 * the exit status, or -1 when it did not exit normally. */
static int run_child(char *const argv[], char *out, size_t len,
                     unsigned limit_s, bool quiet) {
  int fd[2];
  if (pipe(fd) != 0)
    die("pipe: %s", strerror(errno));
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0)
    die("fork: %s", strerror(errno));
  if (pid == 0) {
    dup2(fd[1], STDOUT_FILENO);
    if (quiet) {
      int null = open("/dev/null", O_WRONLY);
      if (null >= 0)
        dup2(null, STDERR_FILENO);
    }
    close(fd[0]);
    close(fd[1]);
    alarm(limit_s); /* survives exec: a hung run is killed by SIGALRM */
    execv(argv[0], argv);
    fprintf(stderr, "zbench_driver: exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  close(fd[1]);
  size_t got = 0;
  ssize_t n;
  char buf[4096];
  while ((n = read(fd[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    for (ssize_t i = 0; i < n; i++)
      if (got + 1 < len)
        out[got++] = buf[i];
  out[got] = '\0';
  close(fd[0]);
  char *nl = strchr(out, '\n');
  if (nl)
    *nl = '\0';
  int st;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
    ;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void shuffle(int *v, int n, uint64_t *seed) {
  for (int i = n - 1; i > 0; i--) {
    *seed = *seed * 6364136223846793005ull + 1442695040888963407ull;
    int j = (int)((*seed >> 33) % (uint64_t)(i + 1));
    int t = v[i];
    v[i] = v[j];
    v[j] = t;
  }
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static char *fmt_scale(char *buf, double v) {
  snprintf(buf, 32, "%g", v);
  return buf;
}

/* ------------------------------------------------------------ the runs */

static void path_of(char *buf, size_t len, int be, const char *prog) {
  snprintf(buf, len, "%s/%s", opt.be_dir[be], prog);
}

/* One zbench process; fills r from its line. */
static void run_zbench(int be, int ct, const char *workload, int threads,
                       double scale, rec *r) {
  char prog[600], th[16], sc[32], line[LINE];
  path_of(prog, sizeof prog, be, "zbench");
  snprintf(th, sizeof th, "%d", threads);
  char *argv[8] = {prog, (char *)ct_name[ct], (char *)workload, th,
                   "--scale", fmt_scale(sc, scale), NULL, NULL};
  if (opt.pin)
    argv[6] = "--pin";
  int rc = run_child(argv, line, sizeof line, 300, false);
  memset(r, 0, sizeof *r);
  r->ok = (rc == 0 || rc == 3) && strstr(line, "ns_per_op=") != NULL;
  if (!r->ok) {
    failures++;
    fprintf(stderr, "\nzbench_driver: FAILED (status %d): %s %s %s %d\n", rc,
            opt.be_name[be], ct_name[ct], workload, threads);
    return;
  }
  r->exact = kv_num(line, "exact") == 1;
  if (!r->exact) {
    inexact++;
    fprintf(stderr, "\nzbench_driver: accounting not exact: %s\n", line);
  }
  r->ns_op = kv_num(line, "ns_per_op");
  r->wall_ns = kv_num(line, "wall_ns");
  r->cpu_ns = kv_num(line, "cpu_ns");
  r->timed_cpu_ns = kv_num(line, "timed_cpu_ns");
  r->maxrss_kb = kv_num(line, "maxrss_kb");
  r->rss_base_kb = kv_num(line, "rss_base_kb");
  r->hwm_kb = kv_num(line, "hwm_kb");
  r->used_bytes = kv_num(line, "used_bytes");
  r->usable_bytes = kv_num(line, "usable_bytes");
  char v[64];
  if (!opt.be_version[be][0] && kv(line, "backend_version", v, sizeof v))
    snprintf(opt.be_version[be], sizeof opt.be_version[be], "%s", v);
}

static void run_app(int be, int ct, int a, rec *r) {
  char prog[600], sc[32], line[LINE];
  path_of(prog, sizeof prog, be, "zbench_app");
  char *argv[] = {prog, (char *)ct_name[ct], (char *)app_name[a], "--scale",
                  fmt_scale(sc, opt.app_scale), NULL};
  int rc = run_child(argv, line, sizeof line, 300, false);
  memset(r, 0, sizeof *r);
  r->ok = (rc == 0 || rc == 3) && strstr(line, "wall_ns=") != NULL;
  if (!r->ok) {
    failures++;
    fprintf(stderr, "\nzbench_driver: FAILED (status %d): %s app %s %s\n", rc,
            opt.be_name[be], app_name[a], ct_name[ct]);
    return;
  }
  r->exact = kv_num(line, "exact") == 1;
  if (!r->exact)
    inexact++;
  r->wall_ns = kv_num(line, "wall_ns");
}

static int total_runs, done_runs;
static double started;

static void progress(const char *what) {
  done_runs++;
  double el = now_s() - started;
  double eta = done_runs ? el / done_runs * (total_runs - done_runs) : 0;
  fprintf(stderr, "\r[%4d/%4d] %3.0f s elapsed, ~%3.0f s left  %-40s",
          done_runs, total_runs, el, eta, what);
}

static bool app_applies(int a, int ct) {
  return !(a == A_SQLITE && ct == C_LEAN_SIZED); /* xFree has no size */
}

/* One repetition: every group once, groups and contenders shuffled. */
static void run_rep(int rep, uint64_t *seed) {
  int ngroups = opt.nbe * (NTIMED * opt.nthreads + 1 + (opt.app ? NAPPS : 0));
  int *order = malloc(sizeof(int) * (size_t)ngroups);
  for (int i = 0; i < ngroups; i++)
    order[i] = i;
  shuffle(order, ngroups, seed);
  int per_be = ngroups / opt.nbe;
  for (int gi = 0; gi < ngroups; gi++) {
    int g = order[gi], be = g / per_be, k = g % per_be;
    char what[96];
    if (k < NTIMED * opt.nthreads) {
      int w = k / opt.nthreads, ti = k % opt.nthreads;
      int cts[NCONT];
      for (int c = 0; c < NCONT; c++)
        cts[c] = c;
      shuffle(cts, NCONT, seed);
      for (int c = 0; c < NCONT; c++) {
        snprintf(what, sizeof what, "%s %s %dt %s", opt.be_name[be],
                 wl_name[w], opt.threads[ti], ct_name[cts[c]]);
        progress(what);
        run_zbench(be, cts[c], wl_name[w], opt.threads[ti], opt.scale,
                   &timed[be][w][ti][cts[c]][rep]);
      }
    } else if (k == NTIMED * opt.nthreads) {
      if (rep >= opt.mem_reps)
        continue;
      int cts[NMEM];
      memcpy(cts, mem_cts, sizeof cts);
      shuffle(cts, NMEM, seed);
      for (int c = 0; c < NMEM; c++) {
        snprintf(what, sizeof what, "%s memory %s", opt.be_name[be],
                 ct_name[cts[c]]);
        progress(what);
        run_zbench(be, cts[c], "memory", 1, 1, &mem[be][cts[c]][rep]);
      }
    } else {
      int a = k - NTIMED * opt.nthreads - 1;
      int cts[NAPPCT];
      memcpy(cts, app_cts, sizeof cts);
      shuffle(cts, NAPPCT, seed);
      for (int c = 0; c < NAPPCT; c++) {
        if (!app_applies(a, cts[c]))
          continue;
        snprintf(what, sizeof what, "%s app %s %s", opt.be_name[be],
                 app_name[a], ct_name[cts[c]]);
        progress(what);
        run_app(be, cts[c], a, &app[be][a][cts[c]][rep]);
      }
    }
  }
  free(order);
}

/* ------------------------------------------------------------ callgrind */

/* Self cost of every function in a callgrind file written with
 * --compress-strings=no --compress-pos=no, split into the workload loop
 * (wl_*), the rest of the zbench executable (zmem, inlined designs) and the
 * shared libraries (the allocator, libc, libzmem.so). */
static bool cg_parse(const char *file, const char *exe, cg_rec *out) {
  FILE *f = fopen(file, "r");
  if (!f)
    return false;
  char line[4096], ob[1024] = "", fn[1024] = "";
  bool skip_next = false, in_fn = false;
  memset(out, 0, sizeof *out);
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = '\0';
    if (strncmp(line, "ob=", 3) == 0) {
      snprintf(ob, sizeof ob, "%.1000s", line + 3);
    } else if (strncmp(line, "fn=", 3) == 0) {
      snprintf(fn, sizeof fn, "%.1000s", line + 3);
      in_fn = true;
    } else if (strncmp(line, "calls=", 6) == 0) {
      skip_next = true; /* the next cost line is the call's inclusive cost */
    } else if (in_fn && (line[0] == '+' || line[0] == '-' || line[0] == '*' ||
                         (line[0] >= '0' && line[0] <= '9'))) {
      if (skip_next) {
        skip_next = false;
        continue;
      }
      char *sp = strchr(line, ' ');
      if (!sp)
        continue;
      double v = atof(sp + 1);
      if (strncmp(fn, "wl_", 3) == 0)
        out->loop += v;
      else if (strcmp(ob, exe) == 0)
        out->zmem += v;
      else
        out->libs += v;
    } else if (strncmp(line, "totals:", 7) == 0 ||
               strncmp(line, "summary:", 8) == 0) {
      in_fn = false;
    }
  }
  fclose(f);
  out->total = out->loop + out->zmem + out->libs;
  return out->total > 0;
}

static void run_callgrind(int be, int row, int wi) {
  const char *prog_name = row == CG_SO ? "zbench_so" : "zbench";
  const char *ct = row == CG_SO ? "zm-lean" : ct_name[row];
  char prog[600], exe[1024], sc[32], line[LINE], out_file[600], toggle[64],
      out_arg[700];
  path_of(prog, sizeof prog, be, prog_name);
  if (!realpath(prog, exe))
    snprintf(exe, sizeof exe, "%s", prog);
  snprintf(out_file, sizeof out_file, "%s/callgrind.%s.%s.%s.out",
           opt.be_dir[be], wl_name[wi], ct, prog_name);
  snprintf(out_arg, sizeof out_arg, "--callgrind-out-file=%s", out_file);
  snprintf(toggle, sizeof toggle, "--toggle-collect=wl_*_%s", wl_name[wi]);
  char *argv[] = {"/usr/bin/valgrind",
                  "--tool=callgrind",
                  "-q",
                  "--compress-strings=no",
                  "--compress-pos=no",
                  toggle,
                  out_arg,
                  exe,
                  (char *)ct,
                  (char *)wl_name[wi],
                  "1",
                  "--scale",
                  fmt_scale(sc, opt.cg_scale),
                  NULL};
  int rc = run_child(argv, line, sizeof line, 600, true);
  cg_rec *r = &cg[be][wi][row];
  memset(r, 0, sizeof *r);
  double ops = kv_num(line, "ops");
  if ((rc != 0 && rc != 3) || !(ops > 0) || !cg_parse(out_file, exe, r)) {
    failures++;
    fprintf(stderr, "\nzbench_driver: callgrind FAILED: %s %s %s\n",
            opt.be_name[be], prog_name, ct);
    return;
  }
  /* The mixed loop also fills and empties its window of ZB_WINDOW blocks:
   * as many extra allocations as frees, so count them as pairs. */
  double pairs = wi == W_MIXED ? ops + 1024 : ops;
  r->total /= pairs;
  r->loop /= pairs;
  r->zmem /= pairs;
  r->libs /= pairs;
  r->ok = true;
  unlink(out_file);
}

static void run_calibrate(char *out) {
  char prog[600];
  path_of(prog, sizeof prog, 0, "zbench");
  char *argv[] = {prog, "calibrate", NULL};
  if (run_child(argv, out, LINE, 120, false) != 0)
    snprintf(out, LINE, "calibration failed");
}

/* ---------------------------------------------------------- aggregation */

static int thread_index(int t) {
  for (int i = 0; i < opt.nthreads; i++)
    if (opt.threads[i] == t)
      return i;
  return -1;
}

/* Time per op of one figure over the repetitions. */
static stat3 time_stat(int be, int w, int ti, int ct) {
  double v[MAX_REPS];
  int n = 0;
  for (int r = 0; r < opt.reps; r++)
    if (timed[be][w][ti][ct][r].ok)
      v[n++] = timed[be][w][ti][ct][r].ns_op;
  return stats_of(v, n);
}

/* Paired ratio num/den over the repetitions (both from the same one). */
static stat3 ratio_stat(int be, int w, int ti, int num, int den) {
  double v[MAX_REPS];
  int n = 0;
  for (int r = 0; r < opt.reps; r++) {
    rec *a = &timed[be][w][ti][num][r], *b = &timed[be][w][ti][den][r];
    if (a->ok && b->ok && b->ns_op > 0)
      v[n++] = a->ns_op / b->ns_op;
  }
  return stats_of(v, n);
}

/* The same, on the CPU time of the timed part (all threads): less exposed
 * to the host stealing the CPU, blind to time spent waiting. */
static stat3 cpu_ratio_stat(int be, int w, int ti, int num, int den) {
  double v[MAX_REPS];
  int n = 0;
  for (int r = 0; r < opt.reps; r++) {
    rec *a = &timed[be][w][ti][num][r], *b = &timed[be][w][ti][den][r];
    if (a->ok && b->ok && b->timed_cpu_ns > 0)
      v[n++] = a->timed_cpu_ns / b->timed_cpu_ns;
  }
  return stats_of(v, n);
}

static stat3 mem_stat(int be, int ct, int field) {
  double v[MAX_REPS];
  int n = 0;
  for (int r = 0; r < opt.reps; r++) {
    rec *m = &mem[be][ct][r];
    if (!m->ok)
      continue;
    v[n++] = field == 0   ? m->hwm_kb
             : field == 1 ? (m->hwm_kb - m->rss_base_kb) * 1024.0 / 1e7
             : field == 2 ? m->used_bytes / 1e7
                          : (m->used_bytes - m->usable_bytes) / 1e7;
  }
  return stats_of(v, n);
}

static stat3 mem_ratio(int be, int ct) {
  double v[MAX_REPS];
  int n = 0;
  for (int r = 0; r < opt.reps; r++) {
    rec *a = &mem[be][ct][r], *b = &mem[be][C_RAW][r];
    if (a->ok && b->ok && b->hwm_kb > 0)
      v[n++] = a->hwm_kb / b->hwm_kb;
  }
  return stats_of(v, n);
}

static stat3 app_stat(int be, int a, int ct) {
  double v[MAX_REPS];
  int n = 0;
  for (int r = 0; r < opt.reps; r++)
    if (app[be][a][ct][r].ok)
      v[n++] = app[be][a][ct][r].wall_ns;
  return stats_of(v, n);
}

static stat3 app_ratio(int be, int a, int ct) {
  double v[MAX_REPS];
  int n = 0;
  for (int r = 0; r < opt.reps; r++) {
    rec *x = &app[be][a][ct][r], *y = &app[be][a][C_RAW][r];
    if (x->ok && y->ok && y->wall_ns > 0)
      v[n++] = x->wall_ns / y->wall_ns;
  }
  return stats_of(v, n);
}

/* -------------------------------------------------------------- targets */

typedef struct target {
  char name[96];
  char measured[64], threshold[32];
  stat3 s;
  bool met, valid;
  int be, w, ti, kind; /* kind: 0 ratio vs raw, 1 speedup, 2 memory */
} target;

static target targets[256];
static int ntargets;

static target *add_target(void) {
  if (ntargets == (int)(sizeof targets / sizeof targets[0]))
    die("too many targets");
  target *t = &targets[ntargets++];
  memset(t, 0, sizeof *t);
  return t;
}

static void target_ratio(int be, int w, int ti, int ct, double limit,
                         const char *label) {
  target *t = add_target();
  t->s = ratio_stat(be, w, ti, ct, C_RAW);
  t->be = be, t->w = w, t->ti = ti, t->kind = 0;
  snprintf(t->name, sizeof t->name, "%s %s %s %dt", label, opt.be_name[be],
           wl_name[w], opt.threads[ti]);
  t->valid = t->s.n > 0;
  t->met = t->valid && t->s.med <= limit;
  snprintf(t->measured, sizeof t->measured, "%.3fx raw [%.2f-%.2f]", t->s.med,
           t->s.min, t->s.max);
  snprintf(t->threshold, sizeof t->threshold, "<= %.2fx", limit);
}

/* contender ct's time over contender base's, at most limit. */
static void target_over(int be, int w, int ti, int ct, int base, double limit,
                        const char *label) {
  target *t = add_target();
  t->s = ratio_stat(be, w, ti, ct, base);
  t->be = be, t->w = w, t->ti = ti, t->kind = 0;
  snprintf(t->name, sizeof t->name, "%s %s %s %dt", label, opt.be_name[be],
           wl_name[w], opt.threads[ti]);
  t->valid = t->s.n > 0;
  t->met = t->valid && t->s.med <= limit;
  snprintf(t->measured, sizeof t->measured, "%.3fx %s [%.2f-%.2f]", t->s.med,
           ct_name[base], t->s.min, t->s.max);
  snprintf(t->threshold, sizeof t->threshold, "<= %.2fx", limit);
}

/* zmem lean is `factor` times faster than design ct. */
static void target_speedup(int be, int w, int ti, int ct, double factor) {
  target *t = add_target();
  t->s = ratio_stat(be, w, ti, ct, C_LEAN);
  t->be = be, t->w = w, t->ti = ti, t->kind = 1;
  snprintf(t->name, sizeof t->name, "zm-lean vs %s %s %s %dt", ct_name[ct],
           opt.be_name[be], wl_name[w], opt.threads[ti]);
  t->valid = t->s.n > 0;
  t->met = t->valid && t->s.med >= factor;
  snprintf(t->measured, sizeof t->measured, "%.2fx faster [%.2f-%.2f]",
           t->s.med, t->s.min, t->s.max);
  snprintf(t->threshold, sizeof t->threshold, ">= %.1fx", factor);
}

static void target_memory(int be) {
  target *t = add_target();
  t->s = mem_ratio(be, C_LEAN);
  t->be = be, t->kind = 2;
  snprintf(t->name, sizeof t->name, "lean peak RSS %s memory", opt.be_name[be]);
  t->valid = t->s.n > 0;
  t->met = t->valid && t->s.med <= 1.01;
  snprintf(t->measured, sizeof t->measured, "%.4fx raw", t->s.med);
  snprintf(t->threshold, sizeof t->threshold, "<= 1.01x");

  /* The header layout's own overhead: zm_used_memory minus the sum of
   * zm_usable_size over the live blocks, which must be exactly 16 bytes a
   * block in every repetition (whatever the allocator's size classes). */
  t = add_target();
  stat3 h = mem_stat(be, C_HEADER, 3);
  t->be = be, t->kind = 2;
  t->s = h;
  snprintf(t->name, sizeof t->name, "header overhead %s memory",
           opt.be_name[be]);
  t->valid = h.n > 0;
  t->met = t->valid && h.min == ZM_HEADER_BYTES && h.max == ZM_HEADER_BYTES;
  snprintf(t->measured, sizeof t->measured,
           "%.4f B/block (used - usable) [%.4f-%.4f]", h.med, h.min, h.max);
  snprintf(t->threshold, sizeof t->threshold, "== 16 B exactly");
}

/* The lean path at the floor, per backend (libc, jemalloc, mimalloc,
 * tcmalloc; any other backend gets libc's): zm-lean and zm_free_sized over
 * raw, zm-lean over the floor on its own size source, at least as fast as
 * the 16-slot design, and tags or a limit within 1.3x of the lean path. */
static int backend_kind(int be) {
  static const char *const kinds[] = {"libc", "jemalloc", "mimalloc",
                                      "tcmalloc"};
  for (int k = 0; k < 4; k++)
    if (strcmp(opt.be_name[be], kinds[k]) == 0)
      return k;
  return 0;
}

static void lean_path_targets(int be, int t1, int t2) {
  static const double lean_max[] = {1.15, 1.15, 1.40, 1.40};
  static const double sized_max[] = {1.12, 1.10, 1.25, 1.25};
  int k = backend_kind(be);
  for (int w = W_CHURN; w <= W_MIXED; w++)
    for (int i = 0; i < 2; i++) {
      int ti = i == 0 ? t1 : t2;
      if (ti < 0)
        continue;
      target_ratio(be, w, ti, C_LEAN, lean_max[k], "lean path: zm-lean");
      target_ratio(be, w, ti, C_LEAN_SIZED, sized_max[k],
                   "lean path: zm_free_sized");
      target_over(be, w, ti, C_LEAN, C_FLOOR_ZM, 1.05,
                  "features: zm-lean over floor-zm");
      target_over(be, w, ti, C_TAGS, C_LEAN, 1.30, "tags on over zm-lean");
      target_over(be, w, ti, C_LIMIT, C_LEAN, 1.30, "limit set over zm-lean");
    }
  for (int w = 0; w < NTIMED; w++)
    for (int i = 0; i < 2; i++) {
      int ti = i == 0 ? t1 : t2;
      if (ti >= 0)
        target_speedup(be, w, ti, C_SLOTS16, 1.0);
    }
}

static void evaluate_targets(void) {
  int t1 = thread_index(1), t2 = thread_index(2);
  for (int be = 0; be < opt.nbe; be++) {
    for (int w = 0; w < NTIMED; w++)
      for (int k = 0; k < 2; k++) {
        int ti = k == 0 ? t1 : t2;
        if (ti >= 0)
          target_ratio(be, w, ti, C_LEAN, 1.10, "zm-lean");
      }
    for (int w = 0; w < NTIMED; w++)
      for (int k = 0; k < 2; k++) {
        int ti = k == 0 ? t1 : t2;
        if (ti >= 0)
          target_ratio(be, w, ti, C_LEAN_SIZED, 1.05, "zm_free_sized");
      }
    if (t2 >= 0)
      for (int w = W_CHURN; w <= W_MIXED; w++) {
        target_speedup(be, w, t2, C_MUTEX, 3.0);
        target_speedup(be, w, t2, C_ATOMIC, 1.5);
      }
    lean_path_targets(be, t1, t2);
    target_memory(be);
  }
}

static int targets_met(void) {
  int n = 0;
  for (int i = 0; i < ntargets; i++)
    n += targets[i].met;
  return n;
}

static void print_target(FILE *f, const target *t) {
  fprintf(f, "TARGET %s: %s vs %s -> %s\n", t->name, t->measured,
          t->threshold,
          !t->valid ? "NOT MEASURED" : t->met ? "met" : "NOT MET");
}

/* ------------------------------------------------------------- reports */

static void md_env(FILE *f) {
  struct utsname u;
  uname(&u);
  char model[256] = "?";
  FILE *c = fopen("/proc/cpuinfo", "r");
  if (c) {
    char line[512];
    while (fgets(line, sizeof line, c))
      if (strncmp(line, "model name", 10) == 0) {
        char *p = strchr(line, ':');
        snprintf(model, sizeof model, "%.200s", p ? p + 2 : line);
        model[strcspn(model, "\n")] = '\0';
        break;
      }
    fclose(c);
  }
  time_t now = time(NULL);
  char date[64];
  strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&now));
  fprintf(f, "- Date: %s; machine: %s, %ld online CPUs, Linux %s\n", date,
          model, sysconf(_SC_NPROCESSORS_ONLN), u.release);
  fprintf(f, "- Compiler: gcc %s; benchmarks `-O2 -fno-ipa-icf`, zmem a "
             "CMake Release build linked statically (`libzmem.a`); glibc %s\n",
          __VERSION__, gnu_get_libc_version());
  fprintf(f, "- Allocators:");
  for (int be = 0; be < opt.nbe; be++)
    fprintf(f, " %s %s%s", opt.be_name[be], opt.be_version[be],
            be + 1 < opt.nbe ? ";" : "\n");
  fprintf(f, "- Repetitions: %d per timed figure, %d for memory (median "
             "reported); work scale %g; threads:",
          opt.reps, opt.mem_reps, opt.scale);
  for (int i = 0; i < opt.nthreads; i++)
    fprintf(f, " %d", opt.threads[i]);
  fprintf(f, "%s%s\n", opt.pin ? "; threads pinned" : "",
          opt.quick ? "; **quick mode: not the reference figures**" : "");
  fprintf(f, "- Command: `%s`\n", opt.command ? opt.command : "bench/run.sh");
  fprintf(f, "- Machine calibration (`zbench calibrate`, before and after the "
             "run): throughput of 2 threads of plain arithmetic relative to "
             "1 thread (2.00 on two real cores) %.2f / %.2f; cache-line round "
             "trip between two threads %.0f / %.0f ns; relaxed atomic add on "
             "one line %.1f / %.1f ns from 1 thread, %.1f / %.1f ns per add "
             "per thread from 2 threads\n",
          kv_num(calib[0], "two_thread_throughput"),
          kv_num(calib[1], "two_thread_throughput"),
          kv_num(calib[0], "line_round_trip_ns"),
          kv_num(calib[1], "line_round_trip_ns"),
          kv_num(calib[0], "atomic_add_1t_ns"),
          kv_num(calib[1], "atomic_add_1t_ns"),
          kv_num(calib[0], "atomic_add_2t_ns"),
          kv_num(calib[1], "atomic_add_2t_ns"));
}

static void md_targets(FILE *f) {
  fprintf(f, "## Targets\n\n%d of %d targets met. Ratios are paired medians "
             "(contender / baseline within one repetition), with the range "
             "over repetitions in brackets.\n\n```\n",
          targets_met(), ntargets);
  for (int i = 0; i < ntargets; i++)
    print_target(f, &targets[i]);
  fprintf(f, "```\n\n");
}

/* The headline: zmem lean's time as a multiple of the raw allocator's. */
static void md_headline(FILE *f) {
  int tis[2] = {thread_index(1), thread_index(2)};
  fprintf(f, "| zm-lean time / raw | ");
  for (int w = 0; w < NTIMED; w++)
    for (int k = 0; k < 2; k++)
      if (tis[k] >= 0)
        fprintf(f, "%s %dt | ", wl_title[w], opt.threads[tis[k]]);
  fprintf(f, "memory (RSS) |\n|---|");
  for (int w = 0; w < NTIMED; w++)
    for (int k = 0; k < 2; k++)
      if (tis[k] >= 0)
        fprintf(f, "---|");
  fprintf(f, "---|\n");
  for (int be = 0; be < opt.nbe; be++) {
    fprintf(f, "| %s | ", opt.be_name[be]);
    for (int w = 0; w < NTIMED; w++)
      for (int k = 0; k < 2; k++)
        if (tis[k] >= 0) {
          stat3 s = ratio_stat(be, w, tis[k], C_LEAN, C_RAW);
          fprintf(f, "%.2f× | ", s.med);
        }
    fprintf(f, "%.3f× |\n", mem_ratio(be, C_LEAN).med);
  }
  fprintf(f, "\n");
}

static void md_speedups(FILE *f) {
  int t2 = thread_index(2);
  if (t2 < 0)
    return;
  fprintf(f, "| at 2 threads: zm-lean faster by | ");
  for (int w = W_CHURN; w <= W_MIXED; w++)
    fprintf(f, "vs mutex, %s | vs atomic, %s | vs slots16, %s | ", wl_name[w],
            wl_name[w], wl_name[w]);
  fprintf(f, "\n|---|");
  for (int i = 0; i < 6; i++)
    fprintf(f, "---|");
  fprintf(f, "\n");
  for (int be = 0; be < opt.nbe; be++) {
    fprintf(f, "| %s | ", opt.be_name[be]);
    for (int w = W_CHURN; w <= W_MIXED; w++)
      for (int c = C_MUTEX; c <= C_SLOTS16; c++)
        fprintf(f, "%.2f× | ", ratio_stat(be, w, t2, c, C_LEAN).med);
    fprintf(f, "\n");
  }
  fprintf(f, "\n");
}

static void md_time_table(FILE *f, int be, const int *tis, int nt) {
  fprintf(f, "| contender |");
  for (int w = 0; w < NTIMED; w++)
    for (int k = 0; k < nt; k++)
      fprintf(f, " %s %dt |", wl_title[w], opt.threads[tis[k]]);
  fprintf(f, "\n|---|");
  for (int i = 0; i < NTIMED * nt; i++)
    fprintf(f, "---:|");
  fprintf(f, "\n");
  for (int c = 0; c < NCONT; c++) {
    fprintf(f, "| %s |", ct_name[c]);
    for (int w = 0; w < NTIMED; w++)
      for (int k = 0; k < nt; k++) {
        stat3 s = time_stat(be, w, tis[k], c);
        if (c == C_RAW)
          fprintf(f, " %.1f ns ±%.0f%% |", s.med,
                  50 * (s.max - s.min) / s.med);
        else
          fprintf(f, " %.1f ns (%.2f×) |", s.med,
                  ratio_stat(be, w, tis[k], c, C_RAW).med);
      }
    fprintf(f, "\n");
  }
  fprintf(f, "\n");
}

static void md_times(FILE *f) {
  int base[2], nb = 0, over[MAX_THREADS], no = 0;
  for (int i = 0; i < opt.nthreads; i++) {
    if (opt.threads[i] <= 2)
      base[nb++] = i;
    else
      over[no++] = i;
  }
  fprintf(f, "## Time per operation\n\nWall-clock time per operation (all "
             "threads together: total wall time / total operations), median "
             "of %d. The raw row shows ± half the range over the repetitions "
             "as a share of the median (the noise of the machine the run names); the other "
             "rows show the paired ratio to raw in parentheses. An operation "
             "is one alloc/free pair (churn, mixed), one realloc (realloc) or "
             "one block handed from producer to consumer (prod/cons; `Nt` "
             "there means N producer/consumer pairs, 2N threads).\n\n",
          opt.reps);
  for (int be = 0; be < opt.nbe; be++) {
    fprintf(f, "### %s\n\n", opt.be_name[be]);
    if (nb)
      md_time_table(f, be, base, nb);
    if (no) {
      fprintf(f, "Oversubscribed (more threads than the %ld CPUs):\n\n",
              sysconf(_SC_NPROCESSORS_ONLN));
      md_time_table(f, be, over, no);
    }
  }
}

static void md_memory(FILE *f) {
  fprintf(f,
          "## Memory: 10 million live 32-byte blocks\n\nPeak RSS is VmHWM "
          "of a fresh process after the blocks are allocated and written "
          "(the pointer array, 80 MB, is mmap'd before and counted in every "
          "row), median of %d. *Net* = (VmHWM - VmRSS before the first "
          "block) / 10^7: what each block really costs, the allocator's size "
          "class included. *Accounted* = the contender's own used-memory "
          "counter / 10^7 (zm_used_memory for zmem; the mutex design counts "
          "request + 8-byte prefix). *Own overhead* = (accounted - sum of "
          "the usable sizes the contender reports) / 10^7: zmem's bytes per "
          "block beyond what the block offers, independent of the "
          "allocator's rounding.\n\n",
          opt.mem_reps);
  fprintf(f, "| backend | contender | peak RSS | ratio to raw | net B/block "
             "| accounted B/block | own overhead B/block |\n|---|---|---:|"
             "---:|---:|---:|---:|\n");
  for (int be = 0; be < opt.nbe; be++)
    for (int i = 0; i < NMEM; i++) {
      int c = mem_cts[i];
      stat3 rss = mem_stat(be, c, 0), net = mem_stat(be, c, 1),
            used = mem_stat(be, c, 2), own = mem_stat(be, c, 3);
      fprintf(f, "| %s | %s | %.1f MiB | %.4f× | %.2f | ", opt.be_name[be],
              ct_name[c], rss.med / 1024, mem_ratio(be, c).med, net.med);
      if (c == C_RAW)
        fprintf(f, "— | — |\n");
      else if (c == C_MUTEX)
        fprintf(f, "%.2f | — |\n", used.med);
      else
        fprintf(f, "%.2f | %.4f |\n", used.med, own.med);
    }
  fprintf(f, "\nThe header's real cost per block is the difference of the "
             "net columns of zm-header and zm-lean:");
  for (int be = 0; be < opt.nbe; be++)
    fprintf(f, " %s %+.1f B%s", opt.be_name[be],
            mem_stat(be, C_HEADER, 1).med - mem_stat(be, C_LEAN, 1).med,
            be + 1 < opt.nbe ? ";" : ".");
  fprintf(f, " It equals the 16-byte header wherever the 48-byte request "
             "lands one size class (16 bytes) above the 32-byte one.\n\n");
}

static void md_app(FILE *f) {
  if (!opt.app)
    return;
  fprintf(f, "## Application figure\n\nWhole-program wall time, median of "
             "%d, and the paired ratio to raw. sqlite: an in-memory "
             "database built and queried through `SQLITE_CONFIG_MALLOC` "
             "(inserts, an index, point queries, GROUP BY, ORDER BY, UPDATE, "
             "DELETE). lua: a table- and string-heavy Lua 5.4 script through "
             "`lua_newstate`'s allocator; zm-lean-sized frees with the old "
             "size Lua passes. The hooks are function pointers for every "
             "contender.\n\n",
          opt.reps);
  fprintf(f, "| backend | app | raw | zm-lean | zm-lean-sized | zm-header "
             "|\n|---|---|---:|---:|---:|---:|\n");
  for (int be = 0; be < opt.nbe; be++)
    for (int a = 0; a < NAPPS; a++) {
      fprintf(f, "| %s | %s | %.1f ms | ", opt.be_name[be], app_name[a],
              app_stat(be, a, C_RAW).med / 1e6);
      for (int c = C_LEAN; c <= C_HEADER; c++) {
        if (c == C_LEAN_SIZED && !app_applies(a, c))
          fprintf(f, "— | ");
        else if (c != C_HEADER_SIZED)
          fprintf(f, "%.3f× | ", app_ratio(be, a, c).med);
      }
      fprintf(f, "\n");
    }
  fprintf(f, "\n");
}

static const char *cg_row_name(int row) {
  return row == CG_SO ? "zm-lean (libzmem.so)" : ct_name[row];
}

/* One line per figure, "BACKEND WORKLOAD CONTENDER TOTAL" (what
 * --callgrind-only prints; the row of libzmem.so is "zm-lean.so"). */
static const char *cg_key(int row) {
  return row == CG_SO ? "zm-lean.so" : ct_name[row];
}

static void cg_print(FILE *f) {
  for (int be = 0; be < opt.nbe; be++)
    for (int w = W_CHURN; w <= W_MIXED; w++)
      for (int row = 0; row < NCG; row++)
        if (cg[be][w][row].ok)
          fprintf(f, "%s %s %s %.1f\n", opt.be_name[be], wl_name[w],
                  cg_key(row), cg[be][w][row].total);
}

/* Reads a file cg_print wrote (lines starting with '#' are comments). */
static void cg_load_before(const char *file) {
  FILE *f = fopen(file, "r");
  if (!f)
    die("cannot read %s: %s", file, strerror(errno));
  char line[LINE], b[64], w[64], c[64];
  double v;
  while (fgets(line, sizeof line, f)) {
    if (line[0] == '#' || sscanf(line, "%63s %63s %63s %lf", b, w, c, &v) != 4)
      continue;
    for (int be = 0; be < opt.nbe; be++)
      for (int wi = W_CHURN; wi <= W_MIXED; wi++)
        for (int row = 0; row < NCG; row++)
          if (!strcmp(b, opt.be_name[be]) && !strcmp(w, wl_name[wi]) &&
              !strcmp(c, cg_key(row)))
            cg_before[be][wi][row] = v;
  }
  fclose(f);
}

static void md_before(FILE *f, double v) {
  if (v > 0)
    fprintf(f, " %.1f |", v);
  else
    fprintf(f, " — |");
}

static void md_callgrind(FILE *f) {
  if (!opt.callgrind)
    return;
  fprintf(f,
          "## Instructions per alloc/free pair (callgrind)\n\nInstructions "
          "retired per alloc/free pair, counted by `valgrind "
          "--tool=callgrind` inside the timed loop only (one thread). "
          "Deterministic, so unlike the timings they do not depend on the "
          "noise of the machine. Split: the benchmark loop (with the "
          "Redis-style designs inlined into it), code of the zbench "
          "executable outside the loop (zmem, linked statically), and shared "
          "libraries (the allocator, libc's pthread and errno, libzmem.so "
          "for the last row). +Δ is the difference from raw.\n\n");
  if (opt.cg_before)
    fprintf(f, "*before*: the same count for the code before the lean "
               "path was rebuilt (`%s`, measured with `zbench_driver "
               "--callgrind-only` on that code; — where the contender did "
               "not exist).\n\n",
            opt.cg_before);
  fprintf(f, "| backend | contender | churn: total | +Δ | loop | zmem | "
             "libraries | mixed: total | +Δ |%s\n|---|---|---:|---:|---:|"
             "---:|---:|---:|---:|%s\n",
          opt.cg_before ? " churn before | mixed before |" : "",
          opt.cg_before ? "---:|---:|" : "");
  for (int be = 0; be < opt.nbe; be++)
    for (int row = 0; row < NCG; row++) {
      cg_rec *c = &cg[be][W_CHURN][row], *m = &cg[be][W_MIXED][row];
      if (!c->ok)
        continue;
      cg_rec *rc = &cg[be][W_CHURN][C_RAW], *rm = &cg[be][W_MIXED][C_RAW];
      fprintf(f, "| %s | %s | %.1f | %+.1f | %.1f | %.1f | %.1f | %.1f | "
                 "%+.1f |",
              opt.be_name[be], cg_row_name(row), c->total, c->total - rc->total,
              c->loop, c->zmem, c->libs, m->total, m->total - rm->total);
      if (opt.cg_before) {
        md_before(f, cg_before[be][W_CHURN][row]);
        md_before(f, cg_before[be][W_MIXED][row]);
      }
      fprintf(f, "\n");
    }
  fprintf(f, "\n");
}

/* Where the time of each timed target goes, from this run: raw -> floor is
 * the usable-size queries any exact lean accounting needs, floor -> zm-lean
 * is zmem's own front-end and accounting; atomic / floor bounds the speedup
 * that any exact lean design could show over the global-atomic design. */
static void md_decomposition(FILE *f) {
  int tis[2] = {thread_index(1), thread_index(2)};
  fprintf(f, "Decomposition of the timed targets (paired medians from this "
             "run). *floor* is the raw allocator plus its usable-size query "
             "and one thread-local add per call: the least any exact "
             "accounting in the lean layout must do. So floor / raw is the "
             "price of the size queries alone, zm-lean / floor is what "
             "zmem's front-end and accounting add, and atomic / floor and "
             "mutex / floor are the largest speedups over those designs that "
             "*any* exact lean accounting could show on the machine of the run (the "
             "targets ask for 1.5 and 3).\n\n");
  fprintf(f, "| backend | workload | raw | floor / raw | zm-lean / floor | "
             "zm-lean / raw | same, CPU time | atomic / floor | mutex / floor "
             "|\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
  for (int be = 0; be < opt.nbe; be++)
    for (int w = 0; w < NTIMED; w++)
      for (int k = 0; k < 2; k++) {
        int ti = tis[k];
        if (ti < 0)
          continue;
        fprintf(f, "| %s | %s %dt | %.1f ns | %.2f× | %.2f× | %.2f× | %.2f× | "
                   "%.2f× | %.2f× |\n",
                opt.be_name[be], wl_name[w], opt.threads[ti],
                time_stat(be, w, ti, C_RAW).med,
                ratio_stat(be, w, ti, C_FLOOR, C_RAW).med,
                ratio_stat(be, w, ti, C_LEAN, C_FLOOR).med,
                ratio_stat(be, w, ti, C_LEAN, C_RAW).med,
                cpu_ratio_stat(be, w, ti, C_LEAN, C_RAW).med,
                ratio_stat(be, w, ti, C_ATOMIC, C_FLOOR).med,
                ratio_stat(be, w, ti, C_MUTEX, C_FLOOR).med);
      }
  fprintf(f, "\n");
}

/* How much of a run its threads really ran at once: CPU time of the timed
 * part over its wall time (2.0: both threads of a 2-thread run busy
 * throughout; 1.0: the host ran them one at a time). */
static double concurrency(const rec *r) {
  return r->ok && r->wall_ns > 0 ? r->timed_cpu_ns / r->wall_ns : 0;
}

/* Speedups of zm-lean over design ct at 2 threads (churn, mixed), split by
 * whether the host let the two threads run at once. A mutex run's own CPU
 * time says nothing (its threads sleep when contended), so only zm-lean's
 * run classifies the repetition for it. */
static int split_speedups(int be, int w, int ct, bool together, double *v) {
  int ti = thread_index(2), n = 0;
  if (ti < 0)
    return 0;
  for (int r = 0; r < opt.reps; r++) {
    rec *z = &timed[be][w][ti][C_LEAN][r], *x = &timed[be][w][ti][ct][r];
    if (!z->ok || !x->ok || z->ns_op <= 0)
      continue;
    double cz = concurrency(z), cx = ct == C_MUTEX ? cz : concurrency(x);
    double lo = cz < cx ? cz : cx, hi = cz > cx ? cz : cx;
    if (together ? lo >= 1.5 : hi <= 1.2)
      v[n++] = x->ns_op / z->ns_op;
  }
  return n;
}

static void md_split_cell(FILE *f, double *v, int n) {
  if (n == 0) {
    fprintf(f, " — |");
    return;
  }
  stat3 s = stats_of(v, n);
  fprintf(f, " %.2f× (n=%d, %.2f–%.2f) |", s.med, n, s.min, s.max);
}

static void md_concurrency(FILE *f) {
  if (thread_index(2) < 0)
    return;
  fprintf(f, "Two threads that really ran at once. Each run's *concurrency* "
             "is the CPU time of its timed part over its wall time (2.0: "
             "both threads busy throughout; 1.0: the host ran them one at a "
             "time). The 2-thread speedups of zm-lean over the atomic and "
             "mutex designs (churn and mixed, the target cells), split: "
             "repetitions where both runs had concurrency ≥ 1.5 (for the "
             "mutex design, whose threads sleep when contended, zm-lean's "
             "run decides), and repetitions where both had ≤ 1.2. Medians, "
             "with the number of repetitions and their range.\n\n");
  fprintf(f, "| backend | workload | vs atomic, at once | vs atomic, one at a "
             "time | vs mutex, at once | vs mutex, one at a time |\n|---|---|"
             "---:|---:|---:|---:|\n");
  double pool[4][MAX_BACKENDS * 2 * MAX_REPS];
  int np[4] = {0, 0, 0, 0};
  for (int be = 0; be < opt.nbe; be++)
    for (int w = W_CHURN; w <= W_MIXED; w++) {
      fprintf(f, "| %s | %s 2t |", opt.be_name[be], wl_name[w]);
      for (int k = 0; k < 4; k++) {
        double v[MAX_REPS];
        int n = split_speedups(be, w, k < 2 ? C_ATOMIC : C_MUTEX, k % 2 == 0,
                               v);
        memcpy(pool[k] + np[k], v, sizeof(double) * (size_t)n);
        np[k] += n;
        md_split_cell(f, v, n);
      }
      fprintf(f, "\n");
    }
  fprintf(f, "| all | churn + mixed 2t |");
  for (int k = 0; k < 4; k++)
    md_split_cell(f, pool[k], np[k]);
  fprintf(f, "\n\n");
}

/* For each backend with a missed target, the targets and the measured
 * instruction budget behind them, from this run's callgrind figures. */
static void md_causes(FILE *f) {
  fprintf(f, "## Misses: measured cause in this run\n\n");
  bool any = false;
  for (int be = 0; be < opt.nbe; be++) {
    int miss = 0;
    for (int i = 0; i < ntargets; i++)
      miss += targets[i].be == be && !targets[i].met;
    if (!miss)
      continue;
    any = true;
    fprintf(f, "- **%s**: %d missed:", opt.be_name[be], miss);
    for (int i = 0, k = 0; i < ntargets; i++) {
      target *t = &targets[i];
      if (t->be == be && !t->met)
        fprintf(f, "%s `%s` (%s)", k++ ? "," : "", t->name, t->measured);
    }
    fprintf(f, ".");
    cg_rec *r = &cg[be][W_CHURN][C_RAW], *fl = &cg[be][W_CHURN][C_FLOOR],
           *z = &cg[be][W_CHURN][C_LEAN], *s = &cg[be][W_CHURN][C_LEAN_SIZED],
           *a = &cg[be][W_CHURN][C_ATOMIC];
    if (opt.callgrind && r->ok && z->ok && fl->ok)
      fprintf(f, " Callgrind, churn, instructions per alloc/free pair: raw "
                 "%.1f; floor %.1f (%+.1f: the two usable-size queries); "
                 "zm-lean %.1f (%+.1f over floor: %.1f in zmem's own code — "
                 "front-end, layout and backend dispatch, errno, per-thread "
                 "counters, peak — and %+.1f elsewhere); zm_free_sized %.1f; "
                 "atomic %.1f (floor plus two lock-prefixed adds).",
              r->total, fl->total, fl->total - r->total, z->total,
              z->total - fl->total, z->zmem,
              z->total - fl->total - z->zmem, s->total, a->total);
    fprintf(f, "\n");
  }
  if (!any)
    fprintf(f, "No target was missed.\n");
  fprintf(f, "\n");
  md_decomposition(f);
  md_concurrency(f);
}

static void copy_file(FILE *f, const char *path) {
  FILE *in = path ? fopen(path, "r") : NULL;
  if (!in)
    return;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, in)) > 0)
    fwrite(buf, 1, n, f);
  fclose(in);
  fprintf(f, "\n");
}

static void write_md(const char *path) {
  FILE *f = fopen(path, "w");
  if (!f)
    die("%s: %s", path, strerror(errno));
  fprintf(f, "# zmem benchmark results\n\nGenerated by `bench/run.sh` "
             "(zbench_driver); do not edit by hand. How to reproduce and what "
             "each column means: [README.md](README.md). Raw figures: "
             "[results.json](results.json). What the adapters for SQLite, "
             "libevent, Lua, zlib, OpenSSL, Expat and PCRE2 cost against each "
             "library's own allocator: [ADAPTERS.md](ADAPTERS.md) "
             "(`bench/adapters.sh`). The overhead of `zmem run` on whole "
             "programs: [RUN-OVERHEAD.md](RUN-OVERHEAD.md) "
             "(`bench/run_overhead.sh`); with allocation sites (`--sites`, "
             "`--sample`) beside heaptrack: [sites-results.json]"
             "(sites-results.json) (`bench/sites.sh`, table in "
             "[docs/sites.md](../docs/sites.md#overhead)).\n\n");
  md_env(f);
  fprintf(f, "\n## Headline\n\n");
  md_headline(f);
  md_speedups(f);
  md_targets(f);
  md_causes(f);
  if (opt.analysis) {
    fprintf(f, "## Analysis\n\n");
    copy_file(f, opt.analysis);
  }
  md_times(f);
  md_memory(f);
  md_app(f);
  md_callgrind(f);
  fprintf(f, "## Contenders\n\n");
  for (int c = 0; c < NCONT; c++)
    fprintf(f, "- `%s`: %s\n", ct_name[c], ct_desc[c]);
  fclose(f);
}

/* Replaces the text between the two markers of the README with the headline
 * tables, so that the README shows this run's figures. */
static void write_readme(const char *path) {
  static const char begin[] = "<!-- zbench:begin -->",
                    end[] = "<!-- zbench:end -->";
  FILE *in = fopen(path, "r");
  if (!in)
    return;
  static char text[1 << 20];
  size_t n = fread(text, 1, sizeof text - 1, in);
  fclose(in);
  text[n] = '\0';
  char *b = strstr(text, begin), *e = strstr(text, end);
  if (!b || !e || e < b)
    return;
  FILE *f = fopen(path, "w");
  if (!f)
    die("%s: %s", path, strerror(errno));
  fwrite(text, 1, (size_t)(b - text) + sizeof begin - 1, f);
  fprintf(f, "\n");
  md_headline(f);
  md_speedups(f);
  fprintf(f, "%d of %d targets met in this run; every target line and the "
             "measured cause of each miss: [RESULTS.md](RESULTS.md).\n",
          targets_met(), ntargets);
  fputs(e, f);
  fclose(f);
}

static void json_stat(FILE *f, const char *key, stat3 s) {
  fprintf(f, "\"%s\": {\"median\": %.6g, \"min\": %.6g, \"max\": %.6g, "
             "\"n\": %d}",
          key, isnan(s.med) ? 0 : s.med, isnan(s.min) ? 0 : s.min,
          isnan(s.max) ? 0 : s.max, s.n);
}

static void write_json(const char *path) {
  FILE *f = fopen(path, "w");
  if (!f)
    die("%s: %s", path, strerror(errno));
  fprintf(f, "{\n\"meta\": {\"reps\": %d, \"scale\": %g, \"quick\": %s, "
             "\"cpus\": %ld, \"compiler\": \"gcc %s\", \"glibc\": \"%s\", "
             "\"backends\": {",
          opt.reps, opt.scale, opt.quick ? "true" : "false",
          sysconf(_SC_NPROCESSORS_ONLN), __VERSION__, gnu_get_libc_version());
  for (int be = 0; be < opt.nbe; be++)
    fprintf(f, "%s\"%s\": \"%s\"", be ? ", " : "", opt.be_name[be],
            opt.be_version[be]);
  fprintf(f, "}, \"calibration\": [\"%s\", \"%s\"]},\n\"runs\": [\n",
          calib[0], calib[1]);
  bool first = true;
  for (int be = 0; be < opt.nbe; be++)
    for (int w = 0; w < NTIMED; w++)
      for (int ti = 0; ti < opt.nthreads; ti++)
        for (int c = 0; c < NCONT; c++)
          for (int r = 0; r < opt.reps; r++) {
            rec *x = &timed[be][w][ti][c][r];
            if (!x->ok)
              continue;
            fprintf(f, "%s{\"backend\": \"%s\", \"workload\": \"%s\", "
                       "\"threads\": %d, \"contender\": \"%s\", \"rep\": %d, "
                       "\"ns_per_op\": %.4f, \"wall_ns\": %.0f, \"cpu_ns\": "
                       "%.0f, \"timed_cpu_ns\": %.0f, \"exact\": %s}",
                    first ? "" : ",\n", opt.be_name[be], wl_name[w],
                    opt.threads[ti], ct_name[c], r, x->ns_op, x->wall_ns,
                    x->cpu_ns, x->timed_cpu_ns, x->exact ? "true" : "false");
            first = false;
          }
  fprintf(f, "\n],\n\"figures\": [\n");
  first = true;
  for (int be = 0; be < opt.nbe; be++)
    for (int w = 0; w < NTIMED; w++)
      for (int ti = 0; ti < opt.nthreads; ti++)
        for (int c = 0; c < NCONT; c++) {
          fprintf(f, "%s{\"backend\": \"%s\", \"workload\": \"%s\", "
                     "\"threads\": %d, \"contender\": \"%s\", ",
                  first ? "" : ",\n", opt.be_name[be], wl_name[w],
                  opt.threads[ti], ct_name[c]);
          json_stat(f, "ns_per_op", time_stat(be, w, ti, c));
          fprintf(f, ", ");
          json_stat(f, "ratio_to_raw", ratio_stat(be, w, ti, c, C_RAW));
          fprintf(f, "}");
          first = false;
        }
  fprintf(f, "\n],\n\"memory\": [\n");
  first = true;
  for (int be = 0; be < opt.nbe; be++)
    for (int i = 0; i < NMEM; i++) {
      int c = mem_cts[i];
      fprintf(f, "%s{\"backend\": \"%s\", \"contender\": \"%s\", ",
              first ? "" : ",\n", opt.be_name[be], ct_name[c]);
      json_stat(f, "peak_rss_kb", mem_stat(be, c, 0));
      fprintf(f, ", ");
      json_stat(f, "net_bytes_per_block", mem_stat(be, c, 1));
      fprintf(f, ", ");
      json_stat(f, "accounted_bytes_per_block", mem_stat(be, c, 2));
      fprintf(f, ", ");
      json_stat(f, "own_overhead_bytes_per_block", mem_stat(be, c, 3));
      fprintf(f, ", ");
      json_stat(f, "rss_ratio_to_raw", mem_ratio(be, c));
      fprintf(f, "}");
      first = false;
    }
  fprintf(f, "\n],\n\"app\": [\n");
  first = true;
  for (int be = 0; be < opt.nbe && opt.app; be++)
    for (int a = 0; a < NAPPS; a++)
      for (int i = 0; i < NAPPCT; i++) {
        int c = app_cts[i];
        if (!app_applies(a, c))
          continue;
        fprintf(f, "%s{\"backend\": \"%s\", \"app\": \"%s\", \"contender\": "
                   "\"%s\", ",
                first ? "" : ",\n", opt.be_name[be], app_name[a], ct_name[c]);
        json_stat(f, "wall_ns", app_stat(be, a, c));
        fprintf(f, ", ");
        json_stat(f, "ratio_to_raw", app_ratio(be, a, c));
        fprintf(f, "}");
        first = false;
      }
  fprintf(f, "\n],\n\"callgrind\": [\n");
  first = true;
  for (int be = 0; be < opt.nbe && opt.callgrind; be++)
    for (int w = W_CHURN; w <= W_MIXED; w++)
      for (int row = 0; row < NCG; row++) {
        cg_rec *c = &cg[be][w][row];
        if (!c->ok)
          continue;
        fprintf(f, "%s{\"backend\": \"%s\", \"workload\": \"%s\", "
                   "\"contender\": \"%s\", \"instructions_per_pair\": %.2f, "
                   "\"loop\": %.2f, \"zmem\": %.2f, \"libraries\": %.2f}",
                first ? "" : ",\n", opt.be_name[be], wl_name[w],
                cg_row_name(row), c->total, c->loop, c->zmem, c->libs);
        first = false;
      }
  fprintf(f, "\n],\n\"targets\": [\n");
  for (int i = 0; i < ntargets; i++)
    fprintf(f, "%s{\"name\": \"%s\", \"measured\": \"%s\", \"threshold\": "
               "\"%s\", \"value\": %.6g, \"met\": %s}",
            i ? ",\n" : "", targets[i].name, targets[i].measured,
            targets[i].threshold, targets[i].s.med,
            targets[i].met ? "true" : "false");
  fprintf(f, "\n],\n\"failures\": %d, \"inexact\": %d\n}\n", failures,
          inexact);
  fclose(f);
}

/* ---------------------------------------------------------------- main */

static void parse_threads(const char *s) {
  opt.nthreads = 0;
  char buf[128];
  snprintf(buf, sizeof buf, "%s", s);
  for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
    int t = atoi(tok);
    if (t < 1 || opt.nthreads == MAX_THREADS)
      die("bad --threads %s", s);
    bool dup = false;
    for (int i = 0; i < opt.nthreads; i++)
      dup |= opt.threads[i] == t;
    if (!dup)
      opt.threads[opt.nthreads++] = t;
  }
  for (int i = 1; i < opt.nthreads; i++) /* sort */
    for (int j = i; j > 0 && opt.threads[j] < opt.threads[j - 1]; j--) {
      int t = opt.threads[j];
      opt.threads[j] = opt.threads[j - 1];
      opt.threads[j - 1] = t;
    }
}

static int usage(void) {
  fprintf(stderr,
          "usage: zbench_driver [--quick] [--reps N] [--scale X] "
          "[--threads 1,2,4,8] [--pin]\n"
          "         [--no-callgrind] [--callgrind-only] [--cg-before FILE] "
          "[--no-app]\n         [--md FILE] [--json FILE] "
          "[--readme FILE]\n"
          "         [--analysis FILE] [--command TEXT] BACKEND=DIR...\n");
  return 2;
}

static void run_all_callgrind(void) {
  for (int be = 0; be < opt.nbe; be++)
    for (int w = W_CHURN; w <= W_MIXED; w++)
      for (int row = 0; row < NCG; row++) {
        char what[96];
        snprintf(what, sizeof what, "%s callgrind %s %s", opt.be_name[be],
                 wl_name[w], cg_row_name(row));
        progress(what);
        run_callgrind(be, row, w);
      }
}

int main(int argc, char **argv) {
  char default_threads[64];
  snprintf(default_threads, sizeof default_threads, "1,2,%ld,4,8",
           sysconf(_SC_NPROCESSORS_ONLN));
  parse_threads(default_threads);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *next = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--quick") == 0) {
      opt.quick = true;
      opt.reps = 3;
      opt.mem_reps = 1;
      opt.scale = 0.3;
      opt.app_scale = 0.3;
      opt.cg_scale = 0.01;
      parse_threads("1,2");
    } else if (strcmp(a, "--reps") == 0 && next)
      opt.reps = atoi(argv[++i]);
    else if (strcmp(a, "--scale") == 0 && next)
      opt.scale = atof(argv[++i]);
    else if (strcmp(a, "--threads") == 0 && next)
      parse_threads(argv[++i]);
    else if (strcmp(a, "--pin") == 0)
      opt.pin = true;
    else if (strcmp(a, "--no-callgrind") == 0)
      opt.callgrind = false;
    else if (strcmp(a, "--callgrind-only") == 0)
      opt.cg_only = true;
    else if (strcmp(a, "--cg-before") == 0 && next)
      opt.cg_before = argv[++i];
    else if (strcmp(a, "--no-app") == 0)
      opt.app = false;
    else if (strcmp(a, "--md") == 0 && next)
      opt.md = argv[++i];
    else if (strcmp(a, "--json") == 0 && next)
      opt.json = argv[++i];
    else if (strcmp(a, "--readme") == 0 && next)
      opt.readme = argv[++i];
    else if (strcmp(a, "--analysis") == 0 && next)
      opt.analysis = argv[++i];
    else if (strcmp(a, "--command") == 0 && next)
      opt.command = argv[++i];
    else if (strchr(a, '=') && a[0] != '-') {
      if (opt.nbe == MAX_BACKENDS)
        die("too many backends");
      const char *eq = strchr(a, '=');
      snprintf(opt.be_name[opt.nbe], sizeof opt.be_name[0], "%.*s",
               (int)(eq - a), a);
      snprintf(opt.be_dir[opt.nbe], sizeof opt.be_dir[0], "%.500s", eq + 1);
      opt.nbe++;
    } else
      return usage();
  }
  if (opt.nbe == 0 || opt.reps < 1 || opt.reps > MAX_REPS || !(opt.scale > 0))
    return usage();
  signal(SIGPIPE, SIG_IGN);
  if (opt.cg_before)
    cg_load_before(opt.cg_before);

  int per_rep = 0;
  for (int a = 0; a < NAPPS; a++)
    for (int i = 0; i < NAPPCT; i++)
      per_rep += opt.app && app_applies(a, app_cts[i]);
  per_rep = opt.nbe * (NTIMED * opt.nthreads * NCONT + per_rep);
  total_runs = per_rep * opt.reps + opt.nbe * NMEM * opt.mem_reps +
               (opt.callgrind ? opt.nbe * 2 * NCG : 0);
  started = now_s();
  if (opt.cg_only) {
    total_runs = opt.nbe * 2 * NCG;
    run_all_callgrind();
    cg_print(stdout);
    return failures ? 1 : 0;
  }
  uint64_t seed = (uint64_t)time(NULL);
  run_calibrate(calib[0]);
  fprintf(stderr, "%s\n", calib[0]);
  for (int r = 0; r < opt.reps; r++)
    run_rep(r, &seed);
  if (opt.callgrind)
    run_all_callgrind();
  run_calibrate(calib[1]);
  fprintf(stderr, "\n%s\n", calib[1]);

  evaluate_targets();
  for (int i = 0; i < ntargets; i++)
    print_target(stdout, &targets[i]);
  printf("%d of %d targets met; %d failed runs; %d runs with inexact "
         "accounting\n",
         targets_met(), ntargets, failures, inexact);
  if (opt.md)
    write_md(opt.md);
  if (opt.json)
    write_json(opt.json);
  if (opt.readme)
    write_readme(opt.readme);
  return failures || inexact ? 1 : 0;
}
