/* --plot FILE.svg: heap in use (requested bytes) over time, one step line
 * per process, axes with units, the highest point marked. Plain SVG 1.1
 * that any browser opens. */
#include "render.h"
#include "summary.h"

#include <math.h>
#include <string.h>

#define W 960
#define HGT 480
#define L 90  /* left margin: y labels */
#define R 250 /* right margin: legend */
#define T 50
#define B 60
#define PW (W - L - R)
#define PH (HGT - T - B)
#define MAX_LINES 12

static const char *const colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                     "#9467bd", "#8c564b", "#e377c2", "#17becf",
                                     "#7f7f7f", "#bcbd22", "#393b79", "#637939"};

/* A 1-2-5 step giving about n ticks over [0, max]. */
static double nice_step(double max, int n) {
  double raw = max / n, p = pow(10, floor(log10(raw))), m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

static void escape(FILE *f, const char *s, size_t max) {
  for (size_t i = 0; s[i] && i < max; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '<') fputs("&lt;", f);
    else if (c == '>') fputs("&gt;", f);
    else if (c == '&') fputs("&amp;", f);
    else if (c >= 0x20 && c < 0x7f) fputc(c, f);
  }
}

typedef struct scale {
  double tmax, ymax, unit;
  const char *uname;
} scale;

static double X(const scale *s, double t) { return L + t / s->tmax * PW; }
static double Y(const scale *s, double v) { return T + PH - v / s->ymax * PH; }

static void axes(FILE *f, const scale *s) {
  fprintf(f, "<rect x='%d' y='%d' width='%d' height='%d' fill='none' stroke='#444'/>\n",
          L, T, PW, PH);
  double ys = nice_step(s->ymax / s->unit, 5);
  for (double v = 0; v <= s->ymax / s->unit + 1e-9; v += ys) {
    double y = Y(s, v * s->unit);
    fprintf(f, "<line x1='%d' x2='%d' y1='%.1f' y2='%.1f' stroke='#ddd'/>\n", L, L + PW, y, y);
    fprintf(f, "<text x='%d' y='%.1f' text-anchor='end'>%g %s</text>\n", L - 6, y + 4, v,
            s->uname);
  }
  double ts = nice_step(s->tmax, 8);
  for (double t = 0; t <= s->tmax + 1e-12; t += ts) {
    double x = X(s, t);
    fprintf(f, "<line x1='%.1f' x2='%.1f' y1='%d' y2='%d' stroke='#ddd'/>\n", x, x, T, T + PH);
    fprintf(f, "<text x='%.1f' y='%d' text-anchor='middle'>%g</text>\n", x, T + PH + 18, t);
  }
  fprintf(f, "<text x='%d' y='%d' text-anchor='middle'>time since start (s)</text>\n",
          L + PW / 2, HGT - 15);
  fprintf(f, "<text transform='translate(18,%d) rotate(-90)' text-anchor='middle'>"
             "heap in use (requested bytes)</text>\n", T + PH / 2);
}

/* A sample's time within the process's lifetime [start, end]: the
 * launcher samples every process once more when the run ends, and may
 * first see a short-lived one after it ended. */
static double in_life(double t, double start, double end) {
  return t < start ? start : t > end ? end : t;
}

static void line(FILE *f, const zmc_run *run, const scale *s, uint32_t p, const char *color) {
  fprintf(f, "<polyline fill='none' stroke='%s' stroke-width='1.6' points='", color);
  double last = 0;
  bool any = false;
  double start = run->procs[p].start_s;
  double end = run->procs[p].end_s > 0 ? run->procs[p].end_s : run->wall_s;
  for (size_t k = 0; k < run->nsamples; k++) {
    const zmc_sample *sm = &run->samples[k];
    if (sm->proc != p)
      continue;
    double v = sm->requested > 0 ? (double)sm->requested : 0;
    double x = X(s, in_life(sm->t, start, end));
    if (any)
      fprintf(f, "%.1f,%.1f ", x, Y(s, last));
    fprintf(f, "%.1f,%.1f ", x, Y(s, v));
    last = v;
    any = true;
  }
  if (any)
    fprintf(f, "%.1f,%.1f", X(s, end), Y(s, last));
  fprintf(f, "'/>\n");
}

/* The command without its directory, so the legend shows what ran. */
static const char *short_command(const char *c) {
  const char *end = strchr(c, ' '), *slash = NULL;
  for (const char *q = c; *q && (!end || q < end); q++)
    if (*q == '/')
      slash = q;
  return slash ? slash + 1 : c;
}

static void legend(FILE *f, const zmc_run *run, const uint32_t *pick, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) {
    const zmc_proc *p = &run->procs[pick[i]];
    char peak[32];
    int y = T + 10 + (int)i * 20;
    fprintf(f, "<line x1='%d' x2='%d' y1='%d' y2='%d' stroke='%s' stroke-width='3'/>\n",
            W - R + 15, W - R + 35, y, y, colors[i % MAX_LINES]);
    fprintf(f, "<text x='%d' y='%d'>%s  %d ", W - R + 40, y + 4,
            zmc_human(peak, sizeof peak, (double)p->peak_requested), p->pid);
    escape(f, short_command(p->command), 16);
    fprintf(f, "</text>\n");
  }
  if (run->nprocs > n)
    fprintf(f, "<text x='%d' y='%d'>+%u smaller processes</text>\n", W - R + 15,
            T + 10 + (int)n * 20 + 4, run->nprocs - n);
}

/* Samples of a process whose figures do not hold up neither set the scale
 * nor the marked peak. */
static bool trusted(const zmc_run *run, const zmc_sample *sm) {
  return sm->proc < run->nprocs && !run->procs[sm->proc].untrusted[0];
}

/* The highest sample of all lines, marked with its value and time. */
static void mark_peak(FILE *f, const zmc_run *run, const scale *s) {
  const zmc_sample *best = NULL;
  for (size_t k = 0; k < run->nsamples; k++)
    if (trusted(run, &run->samples[k]) &&
        (!best || run->samples[k].requested > best->requested))
      best = &run->samples[k];
  if (!best || best->requested <= 0)
    return;
  char v[32], exact[32];
  double x = X(s, best->t), y = Y(s, (double)best->requested);
  fprintf(f, "<circle cx='%.1f' cy='%.1f' r='5' fill='none' stroke='#000' stroke-width='2'/>\n",
          x, y);
  /* The exact peak comes from the record; the timeline only samples. */
  fprintf(f, "<text x='%.1f' y='%.1f' text-anchor='%s' font-weight='bold'>peak %s "
             "(highest sample %s at %.3g s)</text>\n",
          x + (x > L + PW / 2 ? -8 : 8), y - 8 < T + 12 ? T + 12.0 : y - 8,
          x > L + PW / 2 ? "end" : "start",
          zmc_human(exact, sizeof exact, (double)run->sum_peak_requested),
          zmc_human(v, sizeof v, (double)best->requested), best->t);
}

static scale make_scale(const zmc_run *run) {
  scale s = {run->wall_s > 0 ? run->wall_s : 1e-3, 1, 1, "B"};
  for (size_t k = 0; k < run->nsamples; k++)
    if (trusted(run, &run->samples[k]) && (double)run->samples[k].requested > s.ymax)
      s.ymax = (double)run->samples[k].requested;
  static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  for (int u = 4; u >= 0; u--)
    if (s.ymax >= pow(1024, u) || u == 0) {
      s.unit = pow(1024, u);
      s.uname = units[u];
      break;
    }
  double step = nice_step(s.ymax / s.unit, 5) * s.unit;
  s.ymax = ceil(s.ymax * 1.05 / step) * step;
  return s;
}

int zmc_write_svg(FILE *f, const zmc_run *run) {
  scale s = make_scale(run);
  fprintf(f, "<?xml version='1.0' encoding='UTF-8'?>\n"
             "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' "
             "viewBox='0 0 %d %d' font-family='sans-serif' font-size='12'>\n"
             "<rect width='100%%' height='100%%' fill='white'/>\n", W, HGT, W, HGT);
  fprintf(f, "<text x='%d' y='24' font-size='15' font-weight='bold'>zmem run: ", L);
  for (int i = 0; i < run->argc && i < 6; i++) {
    escape(f, run->argv[i], 40);
    fputc(' ', f);
  }
  fprintf(f, "</text>\n");
  axes(f, &s);
  uint32_t pick[MAX_LINES], n = zmc_top(run, pick, MAX_LINES);
  for (uint32_t i = 0; i < n; i++)
    line(f, run, &s, pick[i], colors[i % MAX_LINES]);
  mark_peak(f, run, &s);
  legend(f, run, pick, n);
  fprintf(f, "</svg>\n");
  return ferror(f) ? -1 : 0;
}
