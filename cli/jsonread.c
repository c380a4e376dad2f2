/* The strict JSON reader: see jsonread.h. */
#include "jsonread.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser {
  const char *start, *at, *end;
  int depth;
  char *err;
  size_t errlen;
} parser;

/* Records the first failure, with its place; returns false. */
static bool fail(parser *p, const char *what) {
  if (p->err[0])
    return false;
  unsigned line = 1, col = 1;
  for (const char *c = p->start; c < p->at && c < p->end; c++, col++)
    if (*c == '\n')
      line++, col = 0;
  snprintf(p->err, p->errlen, "line %u, column %u: %s", line, col, what);
  return false;
}

static void ws(parser *p) {
  while (p->at < p->end && (*p->at == ' ' || *p->at == '\t' || *p->at == '\n' ||
                            *p->at == '\r'))
    p->at++;
}

static bool grow(parser *p, zmc_jv *v, bool keys) {
  if (v->n < v->cap)
    return true;
  uint32_t cap = v->cap ? v->cap * 2 : 4;
  zmc_jv *nv = cap < UINT32_MAX / 2 ? realloc(v->v, cap * sizeof *nv) : NULL;
  if (nv)
    v->v = nv;
  char **nk = keys && nv ? realloc(v->keys, cap * sizeof *nk) : NULL;
  if (nk)
    v->keys = nk;
  if (!nv || (keys && !nk))
    return fail(p, "out of memory");
  v->cap = cap;
  return true;
}

static int hex4(const char *s) {
  int v = 0;
  for (int i = 0; i < 4; i++) {
    char c = s[i];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
          : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (d < 0)
      return -1;
    v = v * 16 + d;
  }
  return v;
}

/* Code point cp in out: one byte up to 0xff (the writer's Latin-1 bytes
 * come back as they were), UTF-8 above. */
static size_t put_cp(char *out, uint32_t cp) {
  if (cp <= 0xff)
    return out[0] = (char)cp, 1;
  if (cp < 0x800)
    return out[0] = (char)(0xc0 | cp >> 6), out[1] = (char)(0x80 | (cp & 0x3f)), 2;
  if (cp < 0x10000) {
    out[0] = (char)(0xe0 | cp >> 12);
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
  }
  out[0] = (char)(0xf0 | cp >> 18);
  out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
  out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
  out[3] = (char)(0x80 | (cp & 0x3f));
  return 4;
}

/* After "\u": the code point (a surrogate pair taken whole), or -1. */
static long escaped_cp(parser *p) {
  if (p->end - p->at < 4)
    return -1;
  long cp = hex4(p->at);
  p->at += 4;
  if (cp >= 0xdc00 && cp <= 0xdfff)
    return -1;
  if (cp >= 0xd800 && cp <= 0xdbff) {
    if (p->end - p->at < 6 || p->at[0] != '\\' || p->at[1] != 'u')
      return -1;
    long lo = hex4(p->at + 2);
    if (lo < 0xdc00 || lo > 0xdfff)
      return -1;
    p->at += 6;
    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
  }
  return cp;
}

static bool escape(parser *p, char *out, size_t *k) {
  static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
  char c = *p->at++;
  const char *e = c ? strchr(from, c) : NULL;
  if (e) {
    out[(*k)++] = to[e - from];
    return true;
  }
  if (c != 'u')
    return fail(p, "unknown escape in a string");
  long cp = escaped_cp(p);
  if (cp < 0)
    return fail(p, "bad \\u escape in a string");
  if (cp == 0)
    return fail(p, "\\u0000 in a string");
  *k += put_cp(out + *k, (uint32_t)cp);
  return true;
}

/* A string at p->at (on its opening quote), decoded into a new buffer:
 * escapes never make it longer than its source. */
static char *string(parser *p) {
  const char *q = ++p->at;
  while (q < p->end && *q != '"')
    q += *q == '\\' && q + 1 < p->end ? 2 : 1;
  if (q >= p->end)
    return fail(p, "unterminated string"), NULL;
  char *out = malloc((size_t)(q - p->at) + 1);
  if (!out)
    return fail(p, "out of memory"), NULL;
  size_t k = 0;
  while (p->at < q) {
    unsigned char c = (unsigned char)*p->at;
    bool ok = c >= 0x20 || fail(p, "control character in a string");
    if (ok && c == '\\') {
      p->at++;
      ok = escape(p, out, &k);
    } else if (ok) {
      out[k++] = (char)c;
      p->at++;
    }
    if (!ok) {
      free(out);
      return NULL;
    }
  }
  p->at++;
  out[k] = 0;
  return out;
}

static size_t digits(const char *s, const char *end) {
  size_t n = 0;
  while (s + n < end && s[n] >= '0' && s[n] <= '9')
    n++;
  return n;
}

/* The integer part's magnitude, when it fits 64 bits. */
static bool magnitude(const char *s, size_t n, uint64_t *out) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    uint64_t d = (uint64_t)(s[i] - '0');
    if (v > (UINT64_MAX - d) / 10)
      return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

static bool number(parser *p, zmc_jv *v) {
  const char *s = p->at;
  bool neg = s < p->end && *s == '-';
  const char *q = s + neg;
  size_t n = digits(q, p->end);
  if (!n || (n > 1 && *q == '0'))
    return fail(p, n ? "number with a leading zero" : "unexpected character");
  const char *ip = q;
  q += n;
  bool frac = q < p->end && *q == '.';
  if (frac && !(n = digits(++q, p->end)))
    return fail(p, "number without digits after '.'");
  q += frac ? n : 0;
  bool ex = q < p->end && (*q == 'e' || *q == 'E');
  if (ex) {
    q += 1 + (q + 1 < p->end && (q[1] == '+' || q[1] == '-'));
    if (!(n = digits(q, p->end)))
      return fail(p, "number without digits in its exponent");
    q += n;
  }
  char buf[400];
  if ((size_t)(q - s) >= sizeof buf)
    return fail(p, "number too long");
  memcpy(buf, s, (size_t)(q - s));
  buf[q - s] = 0;
  v->kind = ZMC_J_NUM;
  v->num = strtod(buf, NULL);
  v->neg = neg;
  v->integer = !frac && !ex && magnitude(ip, digits(ip, q), &v->mag);
  p->at = q;
  return true;
}

static bool literal(parser *p, zmc_jv *v) {
  static const char *const words[] = {"null", "true", "false"};
  for (int i = 0; i < 3; i++) {
    size_t n = strlen(words[i]);
    if ((size_t)(p->end - p->at) >= n && !memcmp(p->at, words[i], n)) {
      p->at += n;
      v->kind = i ? ZMC_J_BOOL : ZMC_J_NULL;
      v->b = i == 1;
      return true;
    }
  }
  return fail(p, "unexpected character");
}

static bool value(parser *p, zmc_jv *v);

/* The members of an array or object, after its opening bracket. */
static bool members(parser *p, zmc_jv *v, char close) {
  bool obj = close == '}';
  ws(p);
  if (p->at < p->end && *p->at == close)
    return p->at++, true;
  for (;;) {
    ws(p);
    if (!grow(p, v, obj))
      return false;
    zmc_jv *m = &v->v[v->n];
    memset(m, 0, sizeof *m);
    if (obj) {
      if (p->at >= p->end || *p->at != '"')
        return fail(p, "expected a member name in quotes");
      if (!(v->keys[v->n] = string(p)))
        return false;
      ws(p);
      if (p->at >= p->end || *p->at++ != ':')
        return v->n++, fail(p, "expected ':' after a member name");
    }
    v->n++; /* counted before it is read, so that a failure frees it */
    if (!value(p, m))
      return false;
    ws(p);
    if (p->at < p->end && *p->at == ',') {
      p->at++;
      continue;
    }
    if (p->at < p->end && *p->at == close)
      return p->at++, true;
    return fail(p, obj ? "expected ',' or '}'" : "expected ',' or ']'");
  }
}

static bool value(parser *p, zmc_jv *v) {
  ws(p);
  if (p->at >= p->end)
    return fail(p, "unexpected end of input");
  char c = *p->at;
  if (c == '{' || c == '[') {
    if (++p->depth > ZMC_JSON_MAX_DEPTH)
      return fail(p, "nested too deep");
    p->at++;
    v->kind = c == '{' ? ZMC_J_OBJ : ZMC_J_ARR;
    bool ok = members(p, v, c == '{' ? '}' : ']');
    p->depth--;
    return ok;
  }
  if (c == '"') {
    v->kind = ZMC_J_STR;
    return (v->str = string(p)) != NULL;
  }
  if (c == '-' || (c >= '0' && c <= '9'))
    return number(p, v);
  return literal(p, v);
}

static void clear(zmc_jv *v) {
  for (uint32_t i = 0; i < v->n; i++) {
    clear(&v->v[i]);
    if (v->keys)
      free(v->keys[i]);
  }
  free(v->v);
  free(v->keys);
  free(v->str);
}

void zmc_json_free(zmc_jv *v) {
  if (v)
    clear(v);
  free(v);
}

zmc_jv *zmc_json_parse(const char *buf, size_t len, char *err, size_t errlen) {
  parser p = {buf, buf, buf + len, 0, err, errlen};
  err[0] = 0;
  zmc_jv *v = calloc(1, sizeof *v);
  if (!v) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  if (len > ZMC_JSON_MAX_BYTES)
    fail(&p, "larger than 1 GiB");
  else if (value(&p, v)) {
    ws(&p);
    if (p.at < p.end)
      fail(&p, "more after the end of the JSON value");
  }
  if (err[0]) {
    zmc_json_free(v);
    return NULL;
  }
  return v;
}

zmc_jv *zmc_json_load(const char *path, char *err, size_t errlen) {
  FILE *f = fopen(path, "rbe");
  if (!f) {
    snprintf(err, errlen, "%s", strerror(errno));
    return NULL;
  }
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  while (buf && !ferror(f)) {
    n += fread(buf + n, 1, cap - n, f);
    if (n < cap || cap > ZMC_JSON_MAX_BYTES)
      break;
    char *b = realloc(buf, cap *= 2);
    if (!b)
      free(buf);
    buf = b;
  }
  bool bad = ferror(f);
  fclose(f);
  zmc_jv *v = NULL;
  if (!buf || bad)
    snprintf(err, errlen, "%s", buf ? "read error" : "out of memory");
  else
    v = zmc_json_parse(buf, n, err, errlen);
  free(buf);
  return v;
}

const zmc_jv *zmc_json_get(const zmc_jv *o, const char *key) {
  if (!o || o->kind != ZMC_J_OBJ)
    return NULL;
  for (uint32_t i = 0; i < o->n; i++)
    if (!strcmp(o->keys[i], key))
      return &o->v[i];
  return NULL;
}

bool zmc_json_u64(const zmc_jv *v, uint64_t *out) {
  if (!v || v->kind != ZMC_J_NUM || !v->integer || (v->neg && v->mag))
    return false;
  *out = v->mag;
  return true;
}

bool zmc_json_i64(const zmc_jv *v, int64_t *out) {
  if (!v || v->kind != ZMC_J_NUM || !v->integer)
    return false;
  if (v->mag > (uint64_t)INT64_MAX + v->neg)
    return false;
  *out = v->neg ? (int64_t)(0 - v->mag) : (int64_t)v->mag;
  return true;
}

bool zmc_json_f64(const zmc_jv *v, double *out) {
  if (!v || v->kind != ZMC_J_NUM || !isfinite(v->num))
    return false;
  *out = v->num;
  return true;
}
