/* A small strict JSON reader: it checks the whole file's syntax and picks
 * out the three members --baseline needs. */
#include "baseline.h"

#include "summary.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct reader {
  const char *at, *end;
  int depth;
  char format[32];
  bool have_schema, have_peak;
  double schema, peak;
} reader;

static bool value(reader *r, const char *key, const char *parent);

static void ws(reader *r) {
  while (r->at < r->end && strchr(" \t\r\n", *r->at))
    r->at++;
}

static bool lit(reader *r, const char *s) {
  size_t n = strlen(s);
  if ((size_t)(r->end - r->at) < n || memcmp(r->at, s, n))
    return false;
  r->at += n;
  return true;
}

/* A string; its first bytes (without escapes decoded) into out. */
static bool string(reader *r, char *out, size_t cap) {
  size_t k = 0;
  if (r->at >= r->end || *r->at++ != '"')
    return false;
  while (r->at < r->end && *r->at != '"') {
    if ((unsigned char)*r->at < 0x20)
      return false;
    if (*r->at == '\\') {
      if (++r->at >= r->end || !strchr("\"\\/bfnrtu", *r->at))
        return false;
    }
    if (out && k + 1 < cap)
      out[k++] = *r->at;
    r->at++;
  }
  if (out)
    out[k] = 0;
  return r->at++ < r->end;
}

static bool number(reader *r, double *out) {
  char buf[64];
  size_t n = 0;
  while (r->at + n < r->end && strchr("+-0123456789.eE", r->at[n]) && n < sizeof buf - 1)
    n++;
  memcpy(buf, r->at, n);
  buf[n] = 0;
  char *end;
  double v = strtod(buf, &end);
  if (!n || end != buf + n)
    return false;
  r->at += n;
  *out = v;
  return true;
}

static bool object(reader *r, const char *self) {
  r->at++;
  ws(r);
  if (r->at < r->end && *r->at == '}')
    return r->at++, true;
  for (;;) {
    char key[64];
    ws(r);
    if (!string(r, key, sizeof key))
      return false;
    ws(r);
    if (r->at >= r->end || *r->at++ != ':')
      return false;
    if (!value(r, key, self))
      return false;
    ws(r);
    if (r->at < r->end && *r->at == ',') {
      r->at++;
      continue;
    }
    return r->at < r->end && *r->at++ == '}';
  }
}

static bool array(reader *r) {
  r->at++;
  ws(r);
  if (r->at < r->end && *r->at == ']')
    return r->at++, true;
  for (;;) {
    if (!value(r, "", "[]"))
      return false;
    ws(r);
    if (r->at < r->end && *r->at == ',') {
      r->at++;
      continue;
    }
    return r->at < r->end && *r->at++ == ']';
  }
}

static bool value(reader *r, const char *key, const char *parent) {
  ws(r);
  if (r->at >= r->end || ++r->depth > 64)
    return false;
  bool top = r->depth == 2 && !strcmp(parent, "");
  bool ok;
  char c = *r->at;
  if (c == '{')
    ok = object(r, r->depth == 1 ? "" : r->depth == 2 ? key : "-");
  else if (c == '[')
    ok = array(r);
  else if (c == '"')
    ok = string(r, top && !strcmp(key, "format") ? r->format : NULL, sizeof r->format);
  else if (c == 't' || c == 'f' || c == 'n')
    ok = lit(r, "true") || lit(r, "false") || lit(r, "null");
  else {
    double v;
    ok = number(r, &v);
    if (ok && top && !strcmp(key, "schema"))
      r->schema = v, r->have_schema = true;
    if (ok && r->depth == 3 && !strcmp(parent, "summary") &&
        !strcmp(key, "peak_requested_bytes"))
      r->peak = v, r->have_peak = true;
  }
  r->depth--;
  return ok;
}

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rbe");
  if (!f)
    return NULL;
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  while (buf) {
    n += fread(buf + n, 1, cap - n, f);
    if (n < cap)
      break;
    char *b = cap < ((size_t)1 << 30) ? realloc(buf, cap *= 2) : NULL;
    if (!b)
      free(buf);
    buf = b;
  }
  fclose(f);
  *len = n;
  return buf;
}

int zmc_read_baseline(const char *path, uint64_t *peak) {
  size_t len;
  char *buf = slurp(path, &len);
  if (!buf) {
    fprintf(stderr, "zmem: --baseline %s: %s\n", path, strerror(errno ? errno : ENOMEM));
    return -1;
  }
  reader r = {.at = buf, .end = buf + len};
  ws(&r);
  bool ok = r.at < r.end && *r.at == '{' && value(&r, "", "root");
  ws(&r);
  ok = ok && r.at == r.end;
  free(buf);
  if (!ok || strcmp(r.format, "zmem-run") || !r.have_schema) {
    fprintf(stderr, "zmem: --baseline %s is not a zmem run report (%s)\n", path,
            !ok ? "not valid JSON" : "no \"format\": \"zmem-run\" and \"schema\"");
    return -1;
  }
  if (r.schema != 1 || !r.have_peak || r.peak < 0) {
    fprintf(stderr, "zmem: --baseline %s: unsupported schema %g or no summary peak\n",
            path, r.schema);
    return -1;
  }
  *peak = (uint64_t)r.peak;
  return 0;
}

bool zmc_gate_increase(const char *what, uint64_t now, uint64_t base, const char *path,
                       double max_pct) {
  char a[32], b[32];
  double grew = base ? ((double)now / (double)base - 1) * 100 : (now ? 1e9 : 0);
  if (grew <= max_pct)
    return false;
  fprintf(stderr, "zmem: gate --max-increase: %s %s against %s in %s: +%.1f%%, allowed +%g%%\n",
          what, zmc_human(a, 32, (double)now), zmc_human(b, 32, (double)base), path, grew,
          max_pct);
  return true;
}
