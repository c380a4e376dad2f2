/* `zmem report FILE.json`: see report_cmd.h. The report is read back into
 * the model and handed to the renderers `zmem run` uses. */
#include "report_cmd.h"

#include "args.h"
#include "render.h"
#include "report_load.h"
#include "sites_run.h"
#include "subcmd.h"

#include <string.h>

enum { R_OUTPUT, R_PLOT, R_TRACE, R_HTML, R_PPROF, R_COLLAPSED, R_FLAME, R_N };
static const char *const valued[] = {"--output", "--plot", "--trace", "--html", "--pprof",
                                     "--collapsed", "--flame", NULL};

void zmc_report_usage(FILE *f) {
  fprintf(f,
          "usage: zmem report [options] FILE.json\n"
          "Renders a report saved by `zmem run --json FILE.json` again (stdout).\n"
          "  --output FILE        the text report to FILE instead of stdout\n"
          "  --quiet              no text report\n"
          "  --plot FILE.svg      heap in use over time, one line per process\n"
          "  --trace FILE.json    the timeline as Chrome trace-event counters\n"
          "  --html FILE.html     one interactive page: timeline, tables, flame graphs\n"
          "  --pprof F.pb.gz, --collapsed F, --flame F.svg\n"
          "                       the sites (the report must come from `zmem run --sites`)\n"
          "Exit status: 0; 2 for a bad command line or a file that is not a zmem run\n"
          "report; 125 when an output cannot be written. See zmem-report(1).\n");
}

typedef struct job {
  int (*write)(FILE *, const zmc_run *);
  const zmc_run *run;
} job;

static int run_job(FILE *f, const void *arg) {
  const job *j = arg;
  return j->write(f, j->run);
}

static int text(FILE *f, const zmc_run *run) {
  return zmc_write_text(f, run) | zmc_sites_write_text(f, run);
}

static int (*const writers[R_N])(FILE *, const zmc_run *) = {
    text, zmc_write_svg, zmc_write_trace, zmc_write_html, zmc_sites_write_pprof,
    zmc_sites_write_collapsed, zmc_sites_write_flame};

static int set_path(const char *a, const char *v, void *arg) {
  const char **paths = arg;
  for (int k = 0; valued[k]; k++)
    if (zmc_is_opt(a, valued[k]))
      paths[k] = v;
  return 0;
}

/* The outputs asked for, or the usage error when the report lacks what
 * one of them needs. */
static int render(const char *const *paths, bool quiet, const char *file, const zmc_run *run) {
  for (int k = R_PPROF; k < R_N; k++)
    if (paths[k] && !run->sites) {
      fprintf(stderr, "zmem: %s has no allocation sites, which %s needs: save it with "
                      "`zmem run --sites --json FILE`\n", file, valued[k]);
      return ZMC_EXIT_USAGE;
    }
  int failed = 0;
  if (!paths[R_OUTPUT] && !quiet)
    failed |= text(stdout, run) != 0 || fflush(stdout) != 0;
  for (int k = 0; k < R_N; k++) {
    job j = {writers[k], run};
    if (paths[k])
      failed |= zmc_subcmd_write(paths[k], run_job, &j) != 0;
  }
  return failed ? 125 : 0;
}

int zmc_report_main(int argc, char **argv) {
  const char *paths[R_N] = {NULL}, *files[1];
  static const char *const flag_names[] = {"--quiet", "-q", NULL};
  bool flags[2] = {false, false};
  int nfiles, r = zmc_subcmd_parse("report", argc, argv, valued, set_path, paths, flag_names,
                                   flags, files, 1, &nfiles);
  if (r < 0)
    zmc_report_usage(stdout);
  if (r)
    return r < 0 ? 0 : r;
  if (nfiles != 1)
    return zmc_usage_error("report", "%s", "no report given: zmem report [options] FILE.json");
  zmc_run run;
  memset(&run, 0, sizeof run);
  char err[512];
  if (zmc_report_load(files[0], &run, err, sizeof err) != 0) {
    fprintf(stderr, "zmem: %s: %s\n", files[0], err);
    zmc_report_free(&run);
    return ZMC_EXIT_USAGE;
  }
  r = render(paths, flags[0] || flags[1], files[0], &run);
  zmc_report_free(&run);
  return r;
}
