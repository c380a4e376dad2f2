/* zmem: the command. `zmem run [options] -- program args...` profiles the
 * heap of any dynamically linked program (docs/run.md). */
#define _GNU_SOURCE
#include "args.h"
#include "baseline.h"
#include "diff.h"
#include "report_cmd.h"
#include "faultopt.h"
#include "launch.h"
#include "sites_run.h"
#include "sweep.h"
#include "unwind.h"
#include "render.h"
#include "summary.h"

#include <zmem.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Exit statuses of zmem itself (the program's own status otherwise). */
enum {
  EXIT_USAGE = 2,    /* bad command line */
  EXIT_GATE = 99,    /* a --max-* budget was exceeded */
  EXIT_ZMEM = 125,   /* zmem failed (record, outputs) */
};

typedef struct output {
  const char *path;
  char tmp[PATH_MAX]; /* the temporary name, once the file has one */
  int fd;             /* the unnamed file (O_TMPFILE) when opened */
  bool opened, named;
  int (*write)(FILE *, const zmc_run *);
} output;

enum { OUT_TEXT, OUT_JSON, OUT_PLOT, OUT_TRACE, OUT_PPROF, OUT_COLLAPSED, OUT_FLAME,
       OUT_HTML, NOUT };

typedef struct options {
  output out[NOUT];
  zmc_launch_opts launch;
  bool quiet;
  bool max_peak_set, max_leaked_set, max_increase_set;
  uint64_t max_peak, max_leaked;
  const char *baseline;
  double max_increase;
  zmc_sites_opts sites;
  zmc_fault_opts fault;
  char fault_setting[128];
} options;

static void usage(FILE *f) {
  fprintf(f,
          "usage: zmem run [options] [--] program [args...]\n"
          "Runs program and reports its heap use (and that of its children).\n"
          "  --output FILE        the text report to FILE instead of stderr\n"
          "  --quiet              no text report (outputs and gates only)\n"
          "  --json FILE          everything, as JSON\n"
          "  --plot FILE.svg      heap in use over time, one line per process\n"
          "  --trace FILE.json    the timeline as Chrome trace-event counters\n"
          "  --html FILE.html     one interactive page: timeline, tables, flame graphs\n"
          "  --interval MS        sampling interval for the timeline (default 10)\n"
          "  --no-children        profile the first process only\n"
          "  --live               a terminal view, each second, while it runs (q: leave it)\n"
          "  --max-peak SIZE      exit 99 when the heap peak (requested) is above SIZE\n"
          "  --max-leaked SIZE    exit 99 when more than SIZE is live at exit\n"
          "  --baseline OLD.json  compare with an earlier --json report ...\n"
          "  --max-increase PCT   ... and exit 99 when the peak grew by more than PCT\n"
          "  --sites              call stacks: top sites in the report;\n"
          "    --depth N (32), --sample BYTES (Poisson, e.g. 512K), --unwind auto|fp|dwarf,\n"
          "    --pprof F.pb.gz, --collapsed F, --flame F.svg (each implies --sites)\n"
          "  --fail N[:REPEAT]    allocation request N fails (ENOMEM), and the REPEAT\n"
          "                       after it; the report names it (zmem-sweep(1))\n"
          "  --fail-p P           each request fails with probability P (0 to 1) ...\n"
          "  --seed S             ... reproducibly from seed S (default 0)\n"
          "SIZE: bytes, or with K, M, G, T (powers of 1024), e.g. 64M, 1.5G.\n"
          "Signals: SIGTERM, SIGINT, SIGHUP, SIGQUIT sent to zmem go on to the program\n"
          "(^C on a terminal reaches it directly); zmem waits and reports. A second\n"
          "signal, or 10 s, kills the program's tree with SIGKILL.\n"
          "Exit status: the program's own (128+N when killed by signal N); 99 when a\n"
          "gate tripped; 2 for a bad command line; 125 when zmem itself failed;\n"
          "126 when the program cannot be run or profiled (one line says why);\n"
          "127 when it is not found.\n"
          "The manual: man zmem-run.\n");
}

static void commands(FILE *f) {
  fprintf(f, "usage: zmem run [options] [--] program [args...]    (zmem run --help)\n"
             "       zmem sweep [options] [--] program [args...]  (zmem sweep --help)\n"
             "       zmem report [options] FILE.json              (zmem report --help)\n"
             "       zmem diff [options] OLD.json NEW.json        (zmem diff --help)\n"
             "       zmem --version\n"
             "run: reports the program's heap use; sweep: runs it once per allocation\n"
             "request, making request 1, 2, 3, ... fail, and reports crashes, hangs, leaks;\n"
             "report: renders a saved `zmem run --json` report again; diff: compares two.\n"
             "The manual: man zmem, and man zmem-COMMAND for each command.\n");
}

static int bad(const char *fmt, const char *arg) {
  return zmc_usage_error("run", fmt, arg);
}

/* The output's directory (of path), into dir. */
static void output_dir(const output *o, char *dir, size_t cap) {
  char copy[PATH_MAX];
  snprintf(copy, sizeof copy, "%s", o->path);
  snprintf(dir, cap, "%s", dirname(copy));
}

/* o->tmp: dir + "/.zmem-" + suffix; false when the path is too long. */
static bool tmp_name(output *o, const char *dir, const char *suffix) {
  int n = snprintf(o->tmp, sizeof o->tmp, "%s/.zmem-%s", dir, suffix);
  if (n < 0 || (size_t)n >= sizeof o->tmp) {
    errno = ENAMETOOLONG;
    return false;
  }
  return true;
}

/* Opens the output before the program starts, so that an unwritable path
 * fails at once: an unnamed file in its directory (O_TMPFILE), given a
 * name only when the report is complete, so that no temporary file is
 * left whatever ends zmem, SIGKILL included. On a file system without
 * O_TMPFILE, a probe file made and removed now; the temporary file is then
 * made when the report is written. The descriptor is close-on-exec: the
 * program cannot write into the report. */
static int open_output(output *o) {
  char dir[PATH_MAX];
  output_dir(o, dir, sizeof dir);
  o->fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666); /* 0666 & ~umask */
  if (o->fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
    int fd = tmp_name(o, dir, "XXXXXX") ? mkostemp(o->tmp, O_CLOEXEC) : -1;
    if (fd >= 0) {
      unlink(o->tmp);
      close(fd);
      return 0;
    }
  }
  if (o->fd < 0) {
    fprintf(stderr, "zmem: cannot write %s: %s\n", o->path, strerror(errno));
    return -1;
  }
  o->opened = true;
  return 0;
}

static void drop_outputs(options *op) {
  for (int i = 0; i < NOUT; i++)
    if (op->out[i].opened) {
      close(op->out[i].fd);
      op->out[i].opened = false;
    }
}

/* Names the unnamed file o->fd as a fresh temporary file in its directory
 * (o->tmp); 0 or -1. */
static int name_tmpfile(output *o) {
  char dir[PATH_MAX], fdpath[64];
  output_dir(o, dir, sizeof dir);
  snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d", o->fd);
  for (unsigned k = 0; k < 100; k++) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    char suffix[16];
    snprintf(suffix, sizeof suffix, "%08x",
             (unsigned)ts.tv_nsec ^ ((unsigned)getpid() << 12) ^ (k * 2654435761u));
    if (!tmp_name(o, dir, suffix))
      return -1;
    if (linkat(o->fd, "", AT_FDCWD, o->tmp, AT_EMPTY_PATH) == 0 ||
        linkat(AT_FDCWD, fdpath, AT_FDCWD, o->tmp, AT_SYMLINK_FOLLOW) == 0)
      return 0;
    if (errno != EEXIST)
      return -1;
  }
  return -1;
}

/* The stream the report is written to: the unnamed file, or (without
 * O_TMPFILE) a temporary file made now. */
static FILE *output_stream(output *o) {
  if (o->opened) {
    o->opened = false;
    return fdopen(o->fd, "w");
  }
  char dir[PATH_MAX];
  output_dir(o, dir, sizeof dir);
  int fd = tmp_name(o, dir, "XXXXXX") ? mkostemp(o->tmp, O_CLOEXEC) : -1;
  if (fd < 0)
    return NULL;
  mode_t mask = umask(0); /* mkostemp makes 0600; a report is 0666 & ~umask */
  umask(mask);
  (void)fchmod(fd, 0666 & ~mask);
  o->named = true;
  return fdopen(fd, "w");
}

/* Writes the report and renames it into place. */
static int finish_output(output *o, const zmc_run *run) {
  bool unnamed = o->opened;
  FILE *f = output_stream(o);
  int r = f ? o->write(f, run) : -1;
  if (f && fflush(f) != 0)
    r = -1;
  if (r == 0 && unnamed && name_tmpfile(o) == 0)
    o->named = true;
  else if (unnamed)
    r = -1;
  if (f && fclose(f) != 0)
    r = -1;
  else if (!f && unnamed)
    close(o->fd);
  if (r == 0 && rename(o->tmp, o->path) != 0)
    r = -1;
  if (r != 0) {
    fprintf(stderr, "zmem: writing %s failed: %s\n", o->path, strerror(errno));
    if (o->named)
      unlink(o->tmp);
  }
  return r;
}

static int parse_value(options *op, const char *a, const char *v) {
  if (zmc_is_opt(a, "--output")) op->out[OUT_TEXT].path = v;
  else if (zmc_is_opt(a, "--json")) op->out[OUT_JSON].path = v;
  else if (zmc_is_opt(a, "--plot")) op->out[OUT_PLOT].path = v;
  else if (zmc_is_opt(a, "--trace")) op->out[OUT_TRACE].path = v;
  else if (zmc_is_opt(a, "--baseline")) op->baseline = v;
  else if (zmc_is_opt(a, "--pprof")) op->out[OUT_PPROF].path = v;
  else if (zmc_is_opt(a, "--collapsed")) op->out[OUT_COLLAPSED].path = v;
  else if (zmc_is_opt(a, "--flame")) op->out[OUT_FLAME].path = v;
  else if (zmc_is_opt(a, "--html")) op->out[OUT_HTML].path = v;
  else if (zmc_is_opt(a, "--depth")) {
    uint64_t d;
    if (!zmc_parse_uint(v, ZM__UNWIND_MAX_DEPTH, &d) || d < 1)
      return bad("--depth wants a number of frames from 1 to 128, not '%s'", v);
    op->sites.depth = (int)d;
  } else if (zmc_is_opt(a, "--sample")) {
    uint64_t b;
    if (!zmc_parse_size(v, &b) || b == 0)
      return bad("--sample wants a size above 0 such as 512K, not '%s'", v);
    op->sites.sample = b;
  } else if (zmc_is_opt(a, "--unwind")) {
    int m = zm__unwind_parse_mode(v);
    if (m < 0)
      return bad("--unwind wants auto, fp or dwarf, not '%s'", v);
    op->sites.mode = m;
  }
  else if (zmc_is_opt(a, "--fail")) {
    if (!zmc_parse_fail(v, &op->fault.nth, &op->fault.repeat))
      return bad("--fail wants N or N:REPEAT (N from 1, REPEAT from 0), not '%s'", v);
  } else if (zmc_is_opt(a, "--fail-p")) {
    if (!zmc_parse_prob(v, &op->fault.p))
      return bad("--fail-p wants a probability from 0 to 1 such as 0.01, not '%s'", v);
    op->fault.p_set = true;
  } else if (zmc_is_opt(a, "--seed")) {
    if (!zmc_parse_uint(v, UINT64_MAX, &op->fault.seed))
      return bad("--seed wants a number from 0, not '%s'", v);
    op->fault.seed_set = true;
  } else if (zmc_is_opt(a, "--interval")) {
    uint64_t ms;
    if (!zmc_parse_uint(v, 3600000, &ms) || ms < 1)
      return bad("--interval wants milliseconds from 1 to 3600000, not '%s'", v);
    op->launch.interval_ms = (unsigned)ms;
  } else if (zmc_is_opt(a, "--max-peak")) {
    if (!zmc_parse_size(v, &op->max_peak))
      return bad("--max-peak wants a size such as 64M or 1.5G, not '%s'", v);
    op->max_peak_set = true;
  } else if (zmc_is_opt(a, "--max-leaked")) {
    if (!zmc_parse_size(v, &op->max_leaked))
      return bad("--max-leaked wants a size such as 0, 4K or 10M, not '%s'", v);
    op->max_leaked_set = true;
  } else if (zmc_is_opt(a, "--max-increase")) {
    if (!zmc_parse_pct(v, &op->max_increase))
      return bad("--max-increase wants a percentage such as 5 or 2.5%%, not '%s'", v);
    op->max_increase_set = true;
  } else
    return bad("unknown option '%s'", a);
  return 0;
}

static const char *const valued[] = {"--output", "--json", "--plot", "--trace",
                                     "--baseline", "--interval", "--max-peak",
                                     "--max-leaked", "--max-increase", "--depth",
                                     "--sample", "--unwind", "--pprof", "--collapsed",
                                     "--flame", "--fail", "--fail-p", "--seed", "--html",
                                     NULL};
/* Options that turn allocation sites on by themselves. */
static const char *const want_sites[] = {"--depth", "--sample", "--unwind", "--pprof",
                                         "--collapsed", "--flame", NULL};

/* Parses options; *first is the program's index. 0, -1 (help shown) or an
 * exit status. */
static int parse(int argc, char **argv, options *op, int *first) {
  int i = 1, kind;
  while ((kind = zmc_opt_next(argc, argv, &i)) == ZMC_OPT) {
    const char *a = argv[i];
    if (!strcmp(a, "--no-children")) { op->launch.children = false; continue; }
    if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) { op->quiet = true; continue; }
    if (!strcmp(a, "--sites")) { op->sites.on = true; continue; }
    if (!strcmp(a, "--live")) { op->launch.live = true; continue; }
    for (int k = 0; want_sites[k]; k++)
      if (zmc_is_opt(a, want_sites[k]))
        op->sites.on = true;
    const char *v;
    int r = zmc_opt_value("run", argc, argv, &i, valued, &v);
    if (!r)
      r = parse_value(op, a, v);
    if (r)
      return r;
  }
  if (kind == ZMC_OPT_HELP) {
    usage(stdout);
    return -1;
  }
  if (i >= argc)
    return bad("%s", "no program given: zmem run [options] -- program [args...]");
  if (op->max_increase_set != (op->baseline != NULL))
    return bad("%s", "--baseline and --max-increase go together");
  if (op->fault.seed_set && !op->fault.p_set)
    return bad("%s", "--seed goes with --fail-p");
  if ((op->fault.nth || op->fault.p_set) && zmc_fault_env_key())
    return bad("ZMEM_OPTIONS sets %s, which would override --fail and --fail-p; "
               "unset it or leave those out", zmc_fault_env_key());
  *first = i;
  return 0;
}

/* ---------------------------------------------------------------- gates */

/* Where a tripped gate's reader finds more: the text report only when one
 * was written (--quiet without --output leaves it out). */
static void gate_hint(const options *op, bool sites) {
  const char *text = op->out[OUT_TEXT].path, *json = op->out[OUT_JSON].path;
  if (!text && !op->quiet)
    text = "the report";
  if (text && sites)
    fprintf(stderr, "zmem: full stacks under \"top sites\" in %s (or --pprof)\n", text);
  else if (text)
    fprintf(stderr, "zmem: see \"calls\" and \"allocation sizes\" in %s (or --json) "
                    "for where the bytes go; --sites names the code\n", text);
  else if (sites && op->out[OUT_PPROF].path)
    fprintf(stderr, "zmem: full stacks in %s\n", op->out[OUT_PPROF].path);
  else if (sites)
    fprintf(stderr, "zmem: full stacks: --quiet left the report out; --output FILE "
                    "or --pprof FILE keeps them\n");
  else if (json)
    fprintf(stderr, "zmem: where the bytes go: %s; --sites names the code\n", json);
  else
    fprintf(stderr, "zmem: --quiet left the report out: --output FILE or --json FILE "
                    "keeps it; --sites names the code\n");
}

static int gates(const options *op, const zmc_run *run, uint64_t base_peak) {
  char a[32], b[32], c[32];
  int tripped = 0;
  uint64_t peak = (uint64_t)run->sum_peak_requested;
  if (op->max_peak_set && peak > op->max_peak) {
    fprintf(stderr, "zmem: gate --max-peak: heap peak %s is %s over the budget of %s\n",
            zmc_human(a, 32, (double)peak), zmc_human(b, 32, (double)(peak - op->max_peak)),
            zmc_human(c, 32, (double)op->max_peak));
    zmc_sites_gate(stderr, run, 0);
    tripped++;
  }
  uint64_t leaked = (uint64_t)run->leaked_requested;
  if (op->max_leaked_set && leaked > op->max_leaked) {
    fprintf(stderr, "zmem: gate --max-leaked: %s in %lld blocks live at exit, %s over %s\n",
            zmc_human(a, 32, (double)leaked), (long long)run->leaked_blocks,
            zmc_human(b, 32, (double)(leaked - op->max_leaked)),
            zmc_human(c, 32, (double)op->max_leaked));
    zmc_sites_gate(stderr, run, 1);
    tripped++;
  }
  if (op->baseline &&
      zmc_gate_increase("heap peak", peak, base_peak, op->baseline, op->max_increase))
    tripped++;
  if (tripped)
    gate_hint(op, run->sites != NULL);
  return tripped ? EXIT_GATE : 0;
}

/* ------------------------------------------------------------------ run */

static int prepare(options *op, uint64_t *base_peak) {
  if (op->baseline && zmc_read_baseline(op->baseline, base_peak) != 0)
    return EXIT_USAGE;
  for (int k = 0; k < NOUT; k++)
    if (op->out[k].path && open_output(&op->out[k]) != 0) {
      drop_outputs(op);
      return EXIT_USAGE;
    }
  return 0;
}

/* The text report, with its top sites when sites are on. */
static int write_text(FILE *f, const zmc_run *run) {
  int r = zmc_write_text(f, run);
  return r | zmc_sites_write_text(f, run);
}

static int report(options *op, zmc_run *run) {
  int failed = 0;
  if (!op->out[OUT_TEXT].path && !op->quiet)
    failed |= write_text(stderr, run);
  for (int k = 0; k < NOUT; k++)
    if (op->out[k].path)
      failed |= finish_output(&op->out[k], run);
  return failed;
}

static int cmd_run(int argc, char **argv) {
  static options op;
  op.launch.interval_ms = 10;
  op.launch.children = true;
  op.launch.forward_signals = true;
  op.out[OUT_TEXT].write = write_text;
  op.out[OUT_PPROF].write = zmc_sites_write_pprof;
  op.out[OUT_COLLAPSED].write = zmc_sites_write_collapsed;
  op.out[OUT_FLAME].write = zmc_sites_write_flame;
  op.sites.depth = ZM__UNWIND_DEFAULT_DEPTH;
  op.sites.mode = ZM__UNWIND_AUTO;
  op.launch.sites = &op.sites;
  op.out[OUT_JSON].write = zmc_write_json;
  op.out[OUT_PLOT].write = zmc_write_svg;
  op.out[OUT_TRACE].write = zmc_write_trace;
  op.out[OUT_HTML].write = zmc_write_html;
  int first = 0, r = parse(argc, argv, &op, &first);
  if (r)
    return r < 0 ? 0 : r;
  char path[PATH_MAX], preload[PATH_MAX];
  if ((r = zmc_check_program(argv[first], path, sizeof path)) != 0)
    return r;
  if (zmc_find_preload(preload, sizeof preload) != 0)
    return EXIT_ZMEM;
  if (strpbrk(preload, " :")) {
    fprintf(stderr, "zmem: the preload's path has a space or colon, which LD_PRELOAD "
                    "cannot hold: %s\n", preload);
    return EXIT_ZMEM;
  }
  uint64_t base_peak = 0;
  if ((r = prepare(&op, &base_peak)) != 0)
    return r;
  static zmc_run run;
  op.launch.fault = zmc_fault_setting(&op.fault, op.fault_setting, sizeof op.fault_setting);
  run.fault = op.launch.fault;
  run.argv = argv + first;
  run.argc = argc - first;
  run.interval_ms = op.launch.interval_ms;
  run.children = op.launch.children;
  r = zmc_launch(path, argv + first, preload, &op.launch, &run);
  if (r != 0) {
    drop_outputs(&op);
  } else {
    zmc_summarize(&run);
    if (report(&op, &run) != 0)
      r = EXIT_ZMEM;
    else
      r = gates(&op, &run, base_peak);
    if (!r)
      r = run.exit_status;
  }
  zmc_sites_free(&run);
  free(run.procs);
  free(run.samples);
  return r;
}

int main(int argc, char **argv) {
  if (argc >= 2 && !strcmp(argv[1], "run"))
    return cmd_run(argc, argv);
  if (argc >= 2 && !strcmp(argv[1], "sweep"))
    return zmc_sweep_main(argc, argv);
  if (argc >= 2 && !strcmp(argv[1], "report"))
    return zmc_report_main(argc, argv);
  if (argc >= 2 && !strcmp(argv[1], "diff"))
    return zmc_diff_main(argc, argv);
  if (argc >= 2 && (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version"))) {
    printf("zmem %d.%d.%d\n", ZMEM_VERSION_MAJOR, ZMEM_VERSION_MINOR, ZMEM_VERSION_PATCH);
    return 0;
  }
  if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
                    !strcmp(argv[1], "help"))) {
    commands(stdout);
    fputc('\n', stdout);
    usage(stdout);
    fputc('\n', stdout);
    zmc_sweep_usage(stdout);
    fputc('\n', stdout);
    zmc_report_usage(stdout);
    fputc('\n', stdout);
    zmc_diff_usage(stdout);
    return 0;
  }
  if (argc < 2)
    fprintf(stderr, "zmem: no command given\n");
  else
    fprintf(stderr, "zmem: unknown command '%s'\n", argv[1]);
  commands(stderr);
  return EXIT_USAGE;
}
