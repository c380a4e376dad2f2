/* Reports: zm_stats_print in three formats, and the OOM summary. Built on
 * the public getters only, so a report shows exactly what a program could
 * read itself. The JSON schema and the Prometheus names are documented in
 * docs/report-schema.md; keep the three in step. */
#include "report.h"
#include "line.h"
#include "prim/prim.h"
#include "zmem.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#define SCHEMA_VERSION 1

/* -------------------------------------------------------- the figures */

typedef struct snapshot {
  zm_stats st;
  zm_sys_stats sys;
  size_t limit, soft_limit;
  bool tags_on;
  size_t ntags;
  zm_tag parent[ZM_TAG_MAX]; /* of each tag, to walk the tree */
} snapshot;

static bool tag_info(zm_tag t, zm_tag_info *ti) {
  memset(ti, 0, sizeof *ti);
  ti->size = sizeof *ti;
  return zm_tag_stats(t, ti) == 0;
}

/* Tags registered while the report is written are left out: the count and
 * the parents are read once, here. */
static void read_tags(snapshot *s) {
  s->tags_on = zm_tags_enabled() != 0;
  s->ntags = s->tags_on ? zm_tag_count() : 0;
  s->ntags = s->ntags < ZM_TAG_MAX ? s->ntags : ZM_TAG_MAX;
  for (size_t t = 0; t < s->ntags; t++) {
    zm_tag_info ti;
    s->parent[t] = tag_info((zm_tag)t, &ti) ? ti.parent : ZM_TAG_INVALID;
  }
}

static void take(snapshot *s) {
  memset(s, 0, sizeof *s);
  s->st.size = sizeof s->st;
  s->sys.size = sizeof s->sys;
  (void)zm_get_stats(&s->st);
  (void)zm_get_sys_stats(&s->sys);
  s->limit = zm_get_limit();
  s->soft_limit = zm_get_soft_limit();
  read_tags(s);
}

static const char *layout_name(zm_layout l) {
  return l == ZM_LAYOUT_LEAN     ? "lean"
         : l == ZM_LAYOUT_HEADER ? "header"
         : l == ZM_LAYOUT_DEBUG  ? "debug"
                                 : "?";
}

static const char *version_string(void) {
#define ZM__STR2(x) #x
#define ZM__STR(x) ZM__STR2(x)
  return ZM__STR(ZMEM_VERSION_MAJOR) "." ZM__STR(
      ZMEM_VERSION_MINOR) "." ZM__STR(ZMEM_VERSION_PATCH);
}

/* One row per call counter, in this order in every format. */
typedef struct call_row {
  const char *name;
  uint64_t value;
} call_row;

static void call_rows(const zm_stats *st, call_row rows[5]) {
  rows[0] = (call_row){"malloc", st->malloc_calls};
  rows[1] = (call_row){"calloc", st->calloc_calls};
  rows[2] = (call_row){"realloc", st->realloc_calls};
  rows[3] = (call_row){"aligned_alloc", st->aligned_calls};
  rows[4] = (call_row){"free", st->free_calls};
}

/* ------------------------------------------------------- shared output */

/* A non-negative double with 6 decimals, locale-independent (a program
 * that set LC_NUMERIC must not break the JSON). */
static void ratio_str(double d, char buf[32]) {
  if (!isfinite(d) || d < 0 || d > 1e12)
    d = 0;
  uint64_t micro = (uint64_t)(d * 1e6 + 0.5);
  snprintf(buf, 32, "%" PRIu64 ".%06" PRIu64, micro / 1000000,
           micro % 1000000);
}

static void put_ratio(FILE *out, double d) {
  char buf[32];
  ratio_str(d, buf);
  fputs(buf, out);
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n) {
  unsigned c = s[0];
  size_t len = 0;
  if (c < 0x80)
    return 1;
  if (c >= 0xc2 && c < 0xe0)
    len = 2;
  else if (c >= 0xe0 && c < 0xf0)
    len = 3;
  else if (c >= 0xf0 && c < 0xf5)
    len = 4;
  if (len == 0 || len > n)
    return 0;
  for (size_t i = 1; i < len; i++)
    if ((s[i] & 0xc0) != 0x80)
      return 0;
  if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0) ||
      (c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90))
    return 0; /* overlong, surrogate, above U+10FFFF */
  return len;
}

/* Writes s with each byte that starts no valid UTF-8 sequence replaced by
 * U+FFFD, and escape(c) for the ASCII bytes that need it (NULL: none). */
static void put_utf8(FILE *out, const char *s,
                     const char *(*escape)(unsigned char c, char buf[8])) {
  const unsigned char *p = (const unsigned char *)s;
  size_t n = strlen(s);
  while (n) {
    size_t len = utf8_len(p, n);
    char buf[8];
    const char *e = len == 1 && escape ? escape(p[0], buf) : NULL;
    if (e)
      fputs(e, out);
    else if (len)
      fwrite(p, 1, len, out);
    else
      fputs("\xef\xbf\xbd", out);
    len = len ? len : 1;
    p += len, n -= len;
  }
}

/* ---------------------------------------------------------------- text */

static void human(size_t v, char buf[32]) {
  static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (v < 1024) {
    snprintf(buf, 32, "%zu B", v);
    return;
  }
  double d = (double)v / 1024;
  int u = 0;
  while (d >= 1024 && u < 5)
    d /= 1024, u++;
  unsigned tenths = (unsigned)(d * 10 + 0.5);
  snprintf(buf, 32, "%u.%u %s", tenths / 10, tenths % 10, units[u]);
}

static void t_bytes(FILE *out, const char *label, size_t v) {
  char h[32];
  human(v, h);
  fprintf(out, "  %-18s %12s  (%zu bytes)\n", label, h, v);
}

static void t_limit(FILE *out, const char *label, size_t v) {
  if (v)
    t_bytes(out, label, v);
  else
    fprintf(out, "  %-18s %12s\n", label, "none");
}

static void t_count(FILE *out, const char *label, uint64_t v) {
  fprintf(out, "  %-18s %12" PRIu64 "\n", label, v);
}

static void text_totals(FILE *out, const snapshot *s) {
  call_row rows[5];
  call_rows(&s->st, rows);
  fprintf(out, "memory\n");
  t_bytes(out, "used", s->st.used);
  t_bytes(out, "peak", s->st.peak);
  t_count(out, "live blocks", s->st.live_blocks);
  fprintf(out, "calls\n");
  for (int i = 0; i < 5; i++)
    t_count(out, rows[i].name, rows[i].value);
  t_count(out, "failures", s->st.failures);
  t_count(out, "realloc moved", s->st.realloc_moved);
  fprintf(out, "limits\n");
  t_limit(out, "hard", s->limit);
  t_limit(out, "soft", s->soft_limit);
}

static void text_system(FILE *out, const zm_sys_stats *y) {
  fprintf(out, "system\n");
  t_bytes(out, "rss", y->rss);
  t_bytes(out, "peak rss", y->peak_rss);
  t_bytes(out, "physical memory", y->physical_memory);
  char ratio[32] = "n/a"; /* nothing in use: no ratio */
  if (y->used)
    ratio_str(y->fragmentation, ratio);
  fprintf(out, "  %-18s %12s  (rss / used)\n", "fragmentation", ratio);
  fprintf(out, "backend %s\n", y->backend ? y->backend : "?");
  t_bytes(out, "allocated", y->backend_allocated);
  t_bytes(out, "active", y->backend_active);
  t_bytes(out, "resident", y->backend_resident);
  t_bytes(out, "mapped", y->backend_mapped);
}

#define NAME_WIDTH_MAX 40

/* The name indented by depth and cut to width columns (one per code
 * point); control bytes and invalid UTF-8 shown as '?'. */
static void t_name(FILE *out, const zm_tag_info *ti, int width) {
  int col = 2 * (int)(ti->depth ? ti->depth - 1 : 0);
  fprintf(out, "  %*s", col, "");
  const unsigned char *p = (const unsigned char *)(ti->name ? ti->name : "");
  for (size_t n = strlen((const char *)p); n && col < width; col++) {
    size_t len = utf8_len(p, n);
    if (len > 1)
      fwrite(p, 1, len, out);
    else
      fputc(len && p[0] >= 0x20 && p[0] != 0x7f ? p[0] : '?', out);
    len = len ? len : 1;
    p += len, n -= len;
  }
  fprintf(out, "%*s", width - col, "");
}

static void text_tag_row(FILE *out, const zm_tag_info *ti, int width) {
  char used[32], peak[32], limit[32];
  human(ti->used, used);
  human(ti->peak, peak);
  if (ti->limit)
    human(ti->limit, limit);
  else
    strcpy(limit, "none");
  t_name(out, ti, width);
  fprintf(out, " %11s %9zu %11s %10" PRIu64 " %9" PRIu64 " %11s\n", used,
          ti->live_blocks, peak, ti->calls, ti->failures, limit);
}

/* Depth-first: each tag, then its children, in registration order. */
static void text_subtree(FILE *out, const snapshot *s, zm_tag parent,
                         int width) {
  for (size_t t = 0; t < s->ntags; t++) {
    zm_tag_info ti;
    if (s->parent[t] != parent || !tag_info((zm_tag)t, &ti))
      continue;
    text_tag_row(out, &ti, width);
    if (ti.depth < ZM_TAG_DEPTH_MAX)
      text_subtree(out, s, (zm_tag)t, width);
  }
}

static int name_width(const snapshot *s) {
  int w = 3;
  for (size_t t = 0; t < s->ntags; t++) {
    zm_tag_info ti;
    if (!tag_info((zm_tag)t, &ti) || !ti.name)
      continue;
    int need = 2 * (int)(ti.depth ? ti.depth - 1 : 0) + (int)strlen(ti.name);
    w = need > w ? need : w;
  }
  return w < NAME_WIDTH_MAX ? w : NAME_WIDTH_MAX;
}

static void text_tags(FILE *out, const snapshot *s) {
  if (!s->tags_on) {
    fprintf(out, "tags: off\n");
    return;
  }
  int width = name_width(s);
  fprintf(out, "tags\n  %-*s %11s %9s %11s %10s %9s %11s\n", width, "tag",
          "used", "blocks", "peak", "calls", "failures", "limit");
  text_subtree(out, s, ZM_TAG_INVALID, width);
}

static void print_text(FILE *out, const snapshot *s) {
  fprintf(out, "zmem %s: backend %s, layout %s, tags %s\n", version_string(),
          s->st.backend ? s->st.backend : "?", layout_name(s->st.layout),
          s->tags_on ? "on" : "off");
  text_totals(out, s);
  text_system(out, &s->sys);
  text_tags(out, s);
}

/* ---------------------------------------------------------------- JSON */

static const char *json_escape(unsigned char c, char buf[8]) {
  switch (c) {
  case '"': return "\\\"";
  case '\\': return "\\\\";
  case '\n': return "\\n";
  case '\r': return "\\r";
  case '\t': return "\\t";
  case '\b': return "\\b";
  case '\f': return "\\f";
  }
  if (c >= 0x20 && c != 0x7f)
    return NULL;
  snprintf(buf, 8, "\\u%04x", c);
  return buf;
}

static void j_str(FILE *out, const char *s) {
  fputc('"', out);
  put_utf8(out, s ? s : "", json_escape);
  fputc('"', out);
}

static void j_key(FILE *out, const char *key) { fprintf(out, "\"%s\": ", key); }

static void j_uint(FILE *out, const char *key, uint64_t v, bool last) {
  j_key(out, key);
  fprintf(out, "%" PRIu64 "%s", v, last ? "" : ", ");
}

static void json_calls(FILE *out, const zm_stats *st) {
  call_row rows[5];
  call_rows(st, rows);
  j_key(out, "calls");
  fputc('{', out);
  for (int i = 0; i < 5; i++)
    j_uint(out, rows[i].name, rows[i].value, i == 4);
  fprintf(out, "},\n  ");
}

static void json_totals(FILE *out, const snapshot *s) {
  fprintf(out, "  \"memory\": {");
  j_uint(out, "used_bytes", s->st.used, false);
  j_uint(out, "peak_bytes", s->st.peak, false);
  j_uint(out, "live_blocks", s->st.live_blocks, true);
  fprintf(out, "},\n  ");
  json_calls(out, &s->st);
  j_uint(out, "failures", s->st.failures, false);
  j_uint(out, "realloc_moved", s->st.realloc_moved, true);
  fprintf(out, ",\n  \"limits\": {");
  j_uint(out, "hard_bytes", s->limit, false);
  j_uint(out, "soft_bytes", s->soft_limit, true);
  fprintf(out, "},\n");
}

static void json_system(FILE *out, const zm_sys_stats *y) {
  fprintf(out, "  \"system\": {");
  j_uint(out, "rss_bytes", y->rss, false);
  j_uint(out, "peak_rss_bytes", y->peak_rss, false);
  j_uint(out, "physical_memory_bytes", y->physical_memory, false);
  j_key(out, "fragmentation_ratio");
  put_ratio(out, y->fragmentation);
  fprintf(out, ",\n    \"backend\": {\"name\": ");
  j_str(out, y->backend);
  fprintf(out, ", ");
  j_uint(out, "allocated_bytes", y->backend_allocated, false);
  j_uint(out, "active_bytes", y->backend_active, false);
  j_uint(out, "resident_bytes", y->backend_resident, false);
  j_uint(out, "mapped_bytes", y->backend_mapped, true);
  fprintf(out, "}},\n");
}

static void json_tag(FILE *out, const zm_tag_info *ti) {
  fprintf(out, "{\"id\": %" PRIu32 ", \"name\": ", ti->tag);
  j_str(out, ti->name);
  if (ti->parent == ZM_TAG_INVALID)
    fprintf(out, ", \"parent\": null, ");
  else
    fprintf(out, ", \"parent\": %" PRIu32 ", ", ti->parent);
  j_uint(out, "depth", ti->depth, false);
  j_uint(out, "used_bytes", ti->used, false);
  j_uint(out, "live_blocks", ti->live_blocks, false);
  j_uint(out, "peak_bytes", ti->peak, false);
  j_uint(out, "calls", ti->calls, false);
  j_uint(out, "failures", ti->failures, false);
  j_uint(out, "limit_bytes", ti->limit, true);
  fputc('}', out);
}

static void json_tags(FILE *out, const snapshot *s) {
  fprintf(out, "  \"tags\": [");
  const char *sep = "\n    ";
  for (size_t t = 0; t < s->ntags; t++) {
    zm_tag_info ti;
    if (!tag_info((zm_tag)t, &ti))
      continue;
    fputs(sep, out);
    json_tag(out, &ti);
    sep = ",\n    ";
  }
  fprintf(out, "%s]\n", s->ntags ? "\n  " : "");
}

static void print_json(FILE *out, const snapshot *s) {
  fprintf(out, "{\n  \"schema\": %d,\n  \"version\": ", SCHEMA_VERSION);
  j_str(out, version_string());
  fprintf(out, ",\n  \"backend\": ");
  j_str(out, s->st.backend);
  fprintf(out, ",\n  \"layout\": ");
  j_str(out, layout_name(s->st.layout));
  fprintf(out, ",\n  \"tags_enabled\": %s,\n", s->tags_on ? "true" : "false");
  json_totals(out, s);
  json_system(out, &s->sys);
  json_tags(out, s);
  fprintf(out, "}\n");
}

/* ---------------------------------------------------------- Prometheus */

static const char *label_escape(unsigned char c, char buf[8]) {
  (void)buf;
  return c == '\\' ? "\\\\" : c == '"' ? "\\\"" : c == '\n' ? "\\n" : NULL;
}

static void p_label(FILE *out, const char *name, const char *value,
                    bool first) {
  fprintf(out, "%s%s=\"", first ? "" : ",", name);
  put_utf8(out, value ? value : "", label_escape);
  fputc('"', out);
}

static void p_family(FILE *out, const char *name, const char *type,
                     const char *help) {
  fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void p_gauge(FILE *out, const char *name, const char *help,
                    uint64_t v) {
  p_family(out, name, "gauge", help);
  fprintf(out, "%s %" PRIu64 "\n", name, v);
}

static void p_counter(FILE *out, const char *name, const char *help,
                      uint64_t v) {
  p_family(out, name, "counter", help);
  fprintf(out, "%s %" PRIu64 "\n", name, v);
}

static void prom_info(FILE *out, const snapshot *s) {
  p_family(out, "zmem_build_info", "gauge",
           "zmem version and configuration; the value is always 1.");
  fprintf(out, "zmem_build_info{");
  p_label(out, "version", version_string(), true);
  p_label(out, "backend", s->st.backend, false);
  p_label(out, "layout", layout_name(s->st.layout), false);
  p_label(out, "tags", s->tags_on ? "on" : "off", false);
  fprintf(out, "} 1\n");
}

static void prom_calls(FILE *out, const zm_stats *st) {
  call_row rows[5];
  call_rows(st, rows);
  p_family(out, "zmem_calls_total", "counter", "Calls by function family.");
  for (int i = 0; i < 5; i++)
    fprintf(out, "zmem_calls_total{function=\"%s\"} %" PRIu64 "\n",
            rows[i].name, rows[i].value);
}

static void prom_totals(FILE *out, const snapshot *s) {
  p_gauge(out, "zmem_used_bytes",
          "Bytes the backend holds for live blocks, zmem headers included.",
          s->st.used);
  p_gauge(out, "zmem_peak_bytes",
          "Highest used bytes since start or the last zm_reset_peak.",
          s->st.peak);
  p_gauge(out, "zmem_live_blocks", "Blocks allocated and not yet freed.",
          s->st.live_blocks);
  prom_calls(out, &s->st);
  p_counter(out, "zmem_failures_total", "Allocations that returned NULL.",
            s->st.failures);
  p_counter(out, "zmem_realloc_moved_total",
            "Reallocations that returned a different pointer.",
            s->st.realloc_moved);
  p_gauge(out, "zmem_limit_bytes", "Hard limit on used bytes; 0 for none.",
          s->limit);
  p_gauge(out, "zmem_soft_limit_bytes",
          "Soft limit on used bytes; 0 for none.", s->soft_limit);
}

static void p_backend(FILE *out, const char *name, const char *help,
                      const zm_sys_stats *y, size_t v) {
  p_family(out, name, "gauge", help);
  fprintf(out, "%s{", name);
  p_label(out, "backend", y->backend, true);
  fprintf(out, "} %zu\n", v);
}

static void prom_system(FILE *out, const zm_sys_stats *y) {
  p_gauge(out, "zmem_rss_bytes", "Resident set size of the process.", y->rss);
  p_gauge(out, "zmem_peak_rss_bytes", "Highest resident set size.",
          y->peak_rss);
  p_gauge(out, "zmem_physical_memory_bytes", "Physical memory of the machine.",
          y->physical_memory);
  p_family(out, "zmem_fragmentation_ratio", "gauge",
           "Resident set size divided by used bytes; 0 when nothing is used.");
  fprintf(out, "zmem_fragmentation_ratio ");
  put_ratio(out, y->fragmentation);
  fputc('\n', out);
  p_backend(out, "zmem_backend_allocated_bytes",
            "Bytes in live blocks, as the backend counts them.", y,
            y->backend_allocated);
  p_backend(out, "zmem_backend_active_bytes",
            "Bytes in pages that hold live blocks.", y, y->backend_active);
  p_backend(out, "zmem_backend_resident_bytes",
            "Bytes the backend keeps resident.", y, y->backend_resident);
  p_backend(out, "zmem_backend_mapped_bytes", "Bytes the backend has mapped.",
            y, y->backend_mapped);
}

/* One per-tag metric family: field picks the figure from a zm_tag_info. */
typedef struct tag_metric {
  const char *name, *type, *help;
  uint64_t (*field)(const zm_tag_info *ti);
} tag_metric;

static uint64_t f_used(const zm_tag_info *ti) { return ti->used; }
static uint64_t f_blocks(const zm_tag_info *ti) { return ti->live_blocks; }
static uint64_t f_peak(const zm_tag_info *ti) { return ti->peak; }
static uint64_t f_calls(const zm_tag_info *ti) { return ti->calls; }
static uint64_t f_failures(const zm_tag_info *ti) { return ti->failures; }
static uint64_t f_limit(const zm_tag_info *ti) { return ti->limit; }

static const tag_metric tag_metrics[] = {
    {"zmem_tag_used_bytes", "gauge",
     "Live bytes of a tag and its descendants, headers included.", f_used},
    {"zmem_tag_live_blocks", "gauge", "Live blocks of a tag and its descendants.",
     f_blocks},
    {"zmem_tag_peak_bytes", "gauge", "Highest used bytes of a tag.", f_peak},
    {"zmem_tag_calls_total", "counter",
     "Allocation, reallocation and free calls of a tag.", f_calls},
    {"zmem_tag_failures_total", "counter",
     "Allocations of a tag refused or failed.", f_failures},
    {"zmem_tag_limit_bytes", "gauge", "Hard limit of a tag; 0 for none.",
     f_limit},
};

static void tag_labels(FILE *out, const zm_tag_info *ti) {
  char id[21];
  id[zm__utoa(ti->tag, id)] = '\0';
  zm_tag_info pi;
  bool has_parent =
      ti->parent != ZM_TAG_INVALID && tag_info(ti->parent, &pi);
  fputc('{', out);
  p_label(out, "tag_id", id, true);
  p_label(out, "tag", ti->name, false);
  p_label(out, "parent", has_parent ? pi.name : "", false);
  fputc('}', out);
}

static void prom_tags(FILE *out, const snapshot *s) {
  if (!s->tags_on)
    return;
  for (size_t m = 0; m < sizeof tag_metrics / sizeof *tag_metrics; m++) {
    const tag_metric *tm = &tag_metrics[m];
    p_family(out, tm->name, tm->type, tm->help);
    for (size_t t = 0; t < s->ntags; t++) {
      zm_tag_info ti;
      if (!tag_info((zm_tag)t, &ti))
        continue;
      fputs(tm->name, out);
      tag_labels(out, &ti);
      fprintf(out, " %" PRIu64 "\n", tm->field(&ti));
    }
  }
}

static void print_prometheus(FILE *out, const snapshot *s) {
  prom_info(out, s);
  prom_totals(out, s);
  prom_system(out, &s->sys);
  prom_tags(out, s);
}

/* ------------------------------------------------------------ zm_stats_print */

int zm_stats_print(FILE *out, zm_format fmt) {
  if (!out || (fmt != ZM_FORMAT_TEXT && fmt != ZM_FORMAT_JSON &&
               fmt != ZM_FORMAT_PROMETHEUS)) {
    errno = EINVAL;
    return -1;
  }
  snapshot s;
  take(&s);
  errno = 0;
  if (fmt == ZM_FORMAT_TEXT)
    print_text(out, &s);
  else if (fmt == ZM_FORMAT_JSON)
    print_json(out, &s);
  else
    print_prometheus(out, &s);
  if (fflush(out) != 0 || ferror(out)) {
    errno = errno ? errno : EIO;
    return -1;
  }
  return 0;
}

/* --------------------------------------------------------- OOM summary */

/* Inserts tag t into top[] (sorted by used, descending) if it ranks. */
static void rank(zm_tag top[], size_t used[], size_t *n, zm_tag t, size_t u) {
  size_t i = *n;
  if (i == ZM__OOM_TOP_TAGS && used[i - 1] >= u)
    return;
  if (i == ZM__OOM_TOP_TAGS)
    i--; /* the last one drops out */
  else
    (*n)++;
  for (; i > 0 && used[i - 1] < u; i--)
    top[i] = top[i - 1], used[i] = used[i - 1];
  top[i] = t, used[i] = u;
}

static void oom_tags(zm__line *l) {
  zm_tag top[ZM__OOM_TOP_TAGS];
  size_t used[ZM__OOM_TOP_TAGS], n = 0, count = zm_tag_count();
  for (size_t t = 0; t < count && t < ZM_TAG_MAX; t++) {
    size_t u = zm_tag_used((zm_tag)t);
    if (u)
      rank(top, used, &n, (zm_tag)t, u);
  }
  zm__line_str(l, "zmem: top tags:");
  for (size_t i = 0; i < n; i++) {
    zm_tag_info ti;
    zm__line_str(l, i ? ", " : " ");
    zm__line_name(l, tag_info(top[i], &ti) ? ti.name : "?");
    zm__line_bytes(l, " ", used[i]);
  }
  zm__line_flush(l);
}

void zm__report_oom_summary(void) {
  int saved = errno;
  zm_stats st = {.size = sizeof st};
  zm__line l = {.n = 0};
  if (zm_get_stats(&st) == 0) {
    zm__line_bytes(&l, "zmem: used ", st.used);
    zm__line_bytes(&l, ", peak ", st.peak);
    zm__line_str(&l, ", ");
    zm__line_num(&l, st.live_blocks);
    zm__line_str(&l, " live blocks, ");
    size_t limit = zm_get_limit();
    if (limit)
      zm__line_bytes(&l, "limit ", limit);
    else
      zm__line_str(&l, "no limit");
    zm__line_flush(&l);
  }
  if (zm_tags_enabled())
    oom_tags(&l);
  errno = saved;
}
