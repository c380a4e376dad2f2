/* Run-time options: one descriptor table, one parser, two entry points
 * (zm_configure and ZMEM_OPTIONS at the first allocation).
 *
 * A string is handled in three passes, so that it never half-applies:
 *   1. parse: syntax, known keys, value types; values land in a table of
 *      pending settings, one per option (a repeated key: the last one wins);
 *   2. check: whether every pending setting can be applied now (EBUSY for a
 *      layout option once the layout is fixed, conflicts between keys);
 *   3. apply, in table order, under the set-up lock.
 * Nothing here allocates: the parser works in place on (pointer, length)
 * slices and messages are built in fixed buffers, because ZMEM_OPTIONS is
 * read inside the first allocation, possibly inside the process's malloc. */
#include "options.h"
#include "last_error.h"
#include "backend.h"
#include "fault.h"
#include "layout.h"
#include "limits.h"
#include "line.h"
#include "oom.h"
#include "prim/prim.h"
#include "zmem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ slices */

typedef struct slice {
  const char *p;
  size_t n;
} slice;

static bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
         c == '\f';
}

static char lower(char c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

static slice trim(slice s) {
  while (s.n && is_space(s.p[0]))
    s.p++, s.n--;
  while (s.n && is_space(s.p[s.n - 1]))
    s.n--;
  return s;
}

/* Case-insensitive (ASCII) comparison with a NUL-terminated word. */
static bool equals(slice s, const char *word) {
  size_t i = 0;
  for (; i < s.n; i++)
    if (!word[i] || lower(s.p[i]) != word[i])
      return false;
  return word[i] == '\0';
}

/* Splits s at the first c: returns what precedes it, leaves the rest in *s
 * (empty, and *found false, when there is no c). */
static slice split(slice *s, char c, bool *found) {
  const char *at = memchr(s->p, c, s->n);
  slice head = {s->p, at ? (size_t)(at - s->p) : s->n};
  *found = at != NULL;
  s->p += at ? head.n + 1 : head.n;
  s->n -= at ? head.n + 1 : head.n;
  return head;
}

/* ---------------------------------------------------------- messages */

typedef struct msgbuf {
  char s[ZM__ERROR_MAX];
  size_t n;
} msgbuf;

static void msg_put(msgbuf *m, const char *p, size_t n) {
  size_t room = sizeof m->s - 1 - m->n;
  n = n < room ? n : room;
  memcpy(m->s + m->n, p, n);
  m->n += n;
  m->s[m->n] = '\0';
}

static void msg_str(msgbuf *m, const char *s) { msg_put(m, s, strlen(s)); }

/* 'text', cut to a readable length. */
static void msg_quote(msgbuf *m, slice s) {
  enum { MAX_QUOTED = 40 };
  msg_str(m, "'");
  msg_put(m, s.p, s.n < MAX_QUOTED ? s.n : MAX_QUOTED);
  msg_str(m, s.n > MAX_QUOTED ? "...'" : "'");
}

/* Sets the message to a, 'b', c, 'd' (NULL parts skipped); returns err. */
static int fail(msgbuf *m, int err, const char *a, slice b, const char *c,
                slice d) {
  m->n = 0;
  m->s[0] = '\0';
  msg_str(m, a);
  if (b.p)
    msg_quote(m, b);
  if (c)
    msg_str(m, c);
  if (d.p)
    msg_quote(m, d);
  return err;
}

static slice word(const char *s) { return (slice){s, strlen(s)}; }
static const slice none = {NULL, 0};

/* ------------------------------------------------------- value kinds */

enum { PARSE_OK, PARSE_BAD, PARSE_TOO_LARGE };

/* A parsed value: most kinds use a alone; fault=NTH:REPEAT uses both. */
typedef struct optval {
  uint64_t a, b;
} optval;

typedef struct value_kind {
  const char *what; /* in messages: "bad <what> 'x' for 'key'" */
  int (*parse)(slice s, optval *out);
} value_kind;

static int parse_bool(slice s, optval *out) {
  static const char *const yes[] = {"1", "true", "on", "yes"};
  static const char *const no[] = {"0", "false", "off", "no"};
  for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
    if (equals(s, yes[i]) || equals(s, no[i])) {
      out->a = equals(s, yes[i]);
      return PARSE_OK;
    }
  }
  return PARSE_BAD;
}

static int parse_layout(slice s, optval *out) {
  if (equals(s, "lean"))
    out->a = ZM_LAYOUT_LEAN;
  else if (equals(s, "header"))
    out->a = ZM_LAYOUT_HEADER;
  else if (equals(s, "debug"))
    out->a = ZM_LAYOUT_DEBUG;
  else
    return PARSE_BAD;
  return PARSE_OK;
}

/* Leading decimal digits of *s, consumed; PARSE_BAD if there are none. */
static int parse_digits(slice *s, size_t *out) {
  size_t v = 0, i = 0;
  for (; i < s->n && s->p[i] >= '0' && s->p[i] <= '9'; i++) {
    size_t d = (size_t)(s->p[i] - '0');
    if (v > (SIZE_MAX - d) / 10)
      return PARSE_TOO_LARGE;
    v = v * 10 + d;
  }
  s->p += i;
  s->n -= i;
  *out = v;
  return i ? PARSE_OK : PARSE_BAD;
}

/* The binary shift of a unit suffix: "", "B", or K, M, G or T followed by
 * an optional "i" and an optional "B" (any case); -1 for anything else. */
static int unit_shift(slice u) {
  static const char units[] = "kmgt";
  int shift = 0;
  const char *at = u.n ? memchr(units, lower(u.p[0]), 4) : NULL;
  if (at) {
    shift = 10 * (int)(at - units + 1);
    u.p++, u.n--;
    if (u.n && lower(u.p[0]) == 'i')
      u.p++, u.n--;
  }
  if (u.n == 1 && lower(u.p[0]) == 'b')
    u.n = 0;
  return u.n ? -1 : shift;
}

/* Decimal digits, then directly an optional unit (1024-based). */
static int parse_size(slice s, optval *out) {
  size_t v;
  int rc = parse_digits(&s, &v);
  if (rc != PARSE_OK)
    return rc;
  int shift = unit_shift(s);
  if (shift < 0)
    return PARSE_BAD;
  if (shift && v > (SIZE_MAX >> shift))
    return PARSE_TOO_LARGE;
  out->a = v << shift;
  return PARSE_OK;
}

/* A plain decimal count (fault_seed). */
static int parse_count(slice s, optval *out) {
  size_t v = 0;
  int rc = parse_digits(&s, &v);
  if (rc == PARSE_OK && s.n)
    return PARSE_BAD;
  out->a = v;
  return rc;
}

/* NTH or NTH:REPEAT (fault). */
static int parse_nth(slice s, optval *out) {
  bool colon;
  slice nth = trim(split(&s, ':', &colon));
  optval r = {0, 0};
  int rc = parse_count(nth, out);
  if (rc == PARSE_OK && colon)
    rc = parse_count(trim(s), &r);
  out->b = r.a;
  return rc;
}

/* A probability from 0 to 1: digits, a fraction or both ("1", "0.05",
 * ".5"), no exponent. Kept in parts of 2^53, rounded down. */
static int parse_prob(slice s, optval *out) {
  size_t ip = 0;
  bool has_int = s.n && s.p[0] != '.';
  if (!s.n || (has_int && parse_digits(&s, &ip) != PARSE_OK))
    return PARSE_BAD;
  double f = 0, scale = 0.1;
  if (s.n && s.p[0] == '.') {
    size_t i = 1;
    for (; i < s.n && s.p[i] >= '0' && s.p[i] <= '9'; i++, scale /= 10)
      f += (s.p[i] - '0') * scale;
    if (!has_int && i == 1)
      return PARSE_BAD; /* "." alone */
    s.p += i, s.n -= i;
  }
  if (s.n || ip > 1 || (double)ip + f > 1.0)
    return PARSE_BAD;
  out->a = (uint64_t)(((double)ip + f) * (double)((uint64_t)1 << 53));
  return PARSE_OK;
}

static const value_kind k_bool = {"boolean", parse_bool};
static const value_kind k_size = {"size", parse_size};
static const value_kind k_layout = {"layout", parse_layout};
static const value_kind k_count = {"number", parse_count};
static const value_kind k_nth = {"NTH[:REPEAT]", parse_nth};
static const value_kind k_prob = {"probability", parse_prob};

/* ---------------------------------------------------------- appliers */

/* Each runs with the set-up lock held; 0, or -1 with errno. from_env: the
 * value comes from ZMEM_OPTIONS (limits from there are ceilings). */

static int apply_layout(const optval *v, bool from_env) {
  (void)from_env;
  return zm__request_layout_locked((zm_layout)v->a);
}

/* tags=0 leaves tags as they are: nothing turns them off once on. */
static int apply_tags(const optval *v, bool from_env) {
  (void)from_env;
  return v->a ? zm__tags_enable_locked() : 0;
}

static int apply_limit(const optval *v, bool from_env) {
  if (!from_env)
    return zm_set_limit(v->a);
  zm__set_limit_env(v->a);
  return 0;
}

static int apply_soft_limit(const optval *v, bool from_env) {
  if (!from_env)
    return zm_set_soft_limit(v->a, NULL, NULL);
  zm__set_soft_limit_env(v->a);
  return 0;
}

/* debug=0 leaves the layout as it is, like tags=0. */
static int apply_debug(const optval *v, bool from_env) {
  (void)from_env;
  return v->a ? zm__request_layout_locked(ZM_LAYOUT_DEBUG) : 0;
}

static int apply_quarantine(const optval *v, bool from_env) {
  (void)from_env;
  return zm_set_quarantine(v->a);
}

static int apply_leaks(const optval *v, bool from_env) {
  (void)from_env;
  return zm_set_leak_check(v->a != 0);
}

static int apply_fault(const optval *v, bool from_env) {
  (void)from_env;
  return zm_fault_set(v->a, v->b);
}

static int apply_fault_seed(const optval *v, bool from_env) {
  (void)from_env;
  zm__fault_seed(v->a);
  return 0;
}

static int apply_fault_p(const optval *v, bool from_env) {
  (void)from_env;
  zm__fault_set_p53(v->a);
  return 0;
}

/* ------------------------------------------------------------- table */

typedef struct option {
  zm__option_doc doc; /* name, value syntax, one sentence */
  const value_kind *kind;
  bool fixes_layout; /* refused with EBUSY after the first allocation */
  int (*apply)(const optval *v, bool from_env);
} option;

/* Applied in this order. Once checked, only layout can still fail (lean
 * with tags already on: layout.c keeps that state), so it comes first and a
 * failure has applied nothing. A new key is one row here; a key with a
 * build-time counterpart names it like the CMake option, ZMEM_<KEY>. */
static const option options[] = {
    {{"layout", "lean|header|debug",
      "block layout, fixed at the first allocation (zm_set_layout)"},
     &k_layout, true, apply_layout},
    {{"tags", "0|1",
      "1 turns per-tag accounting on (header layout); 0 changes nothing"},
     &k_bool, false, apply_tags},
    {{"debug", "0|1",
      "1 selects the debug layout (checked blocks, sites, quarantine); "
      "0 changes nothing"},
     &k_bool, true, apply_debug},
    {{"quarantine", "SIZE",
      "bytes of freed blocks the debug layout holds back to catch writes "
      "after free (zm_set_quarantine)"},
     &k_size, false, apply_quarantine},
    {{"leaks", "0|1",
      "1 reports live blocks at exit and exits with status 23 if any "
      "(zm_set_leak_check)"},
     &k_bool, false, apply_leaks},
    {{"limit", "SIZE", "hard limit on used memory, 0 for none (zm_set_limit)"},
     &k_size, false, apply_limit},
    {{"soft_limit", "SIZE",
      "soft limit: one line on stderr when crossed (at most one a "
      "second), 0 for none "
      "(zm_set_soft_limit)"},
     &k_size, false, apply_soft_limit},
    {{"fault", "NTH[:REPEAT]",
      "fail allocation request NTH and the REPEAT after it, 0 for none "
      "(zm_fault_set)"},
     &k_nth, false, apply_fault},
    {{"fault_seed", "N", "seed of the random failures of fault_p"},
     &k_count, false, apply_fault_seed},
    {{"fault_p", "P",
      "fail each allocation request with probability P, 0 to 1 "
      "(zm_fault_set_probability)"},
     &k_prob, false, apply_fault_p},
};

#define NOPTS (sizeof options / sizeof *options)

const zm__option_doc *zm__option_doc_at(size_t i) {
  return i < NOPTS ? &options[i].doc : NULL;
}

/* Options that exist only at build time: zm_configure names them as such.
 * The table in README.md marks them "build time only". */
static const struct {
  const char *key, *cmake;
} build_only[] = {
    {"backend", "ZMEM_BACKEND"},
    {"replacement", "ZMEM_REPLACEMENT"},
    {"debug_assert", "ZMEM_DEBUG_ASSERT"},
};

/* The CMake option of a build-time-only key, or NULL. */
static const char *build_only_option(slice key) {
  for (size_t i = 0; i < sizeof build_only / sizeof *build_only; i++)
    if (equals(key, build_only[i].key))
      return build_only[i].cmake;
  return NULL;
}

/* Index of the option named by key, or NOPTS. */
static size_t find(slice key) {
  size_t i = 0;
  while (i < NOPTS && !equals(key, options[i].doc.name))
    i++;
  return i;
}

/* ------------------------------------------------------------ passes */

typedef struct pending {
  bool set[NOPTS];
  optval value[NOPTS];
} pending;

static size_t pending_value(const pending *p, const char *name, bool *set) {
  size_t i = find(word(name));
  *set = p->set[i];
  return p->value[i].a;
}

static int parse_value(size_t i, slice v, pending *p, msgbuf *m) {
  const option *o = &options[i];
  int rc = o->kind->parse(v, &p->value[i]);
  if (rc == PARSE_TOO_LARGE)
    return fail(m, EINVAL, "size ", v, " too large for ", word(o->doc.name));
  if (rc != PARSE_OK) {
    fail(m, EINVAL, "bad ", none, o->kind->what, none);
    msg_str(m, " ");
    msg_quote(m, v);
    msg_str(m, " for ");
    msg_quote(m, word(o->doc.name));
    return EINVAL;
  }
  p->set[i] = true;
  return 0;
}

/* One "key=value" item, already trimmed and non-empty. */
static int parse_item(slice item, pending *p, msgbuf *m) {
  slice rest = item;
  bool has_eq;
  slice key = trim(split(&rest, '=', &has_eq));
  if (!has_eq)
    return fail(m, EINVAL, "missing '=' in ", item, NULL, none);
  if (!key.n)
    return fail(m, EINVAL, "missing option name in ", item, NULL, none);
  size_t i = find(key);
  const char *cmake = i == NOPTS ? build_only_option(key) : NULL;
  if (cmake) {
    fail(m, EINVAL, "option ", key, " is fixed at build time (CMake option ",
         none);
    msg_str(m, cmake);
    msg_str(m, ")");
    return EINVAL;
  }
  if (i == NOPTS)
    return fail(m, EINVAL, "unknown option ", key, NULL, none);
  return parse_value(i, trim(rest), p, m);
}

/* Pass 1. Empty items (",,", a trailing comma, blanks) are skipped. */
static int parse_all(const char *s, pending *p, msgbuf *m) {
  slice rest = word(s);
  bool more = true;
  while (more) {
    slice item = trim(split(&rest, ',', &more));
    int rc = item.n ? parse_item(item, p, m) : 0;
    if (rc)
      return rc;
  }
  return 0;
}

static int check_layout(const pending *p, msgbuf *m) {
  bool set, tags_set;
  size_t layout = pending_value(p, "layout", &set);
  size_t tags = pending_value(p, "tags", &tags_set);
  bool debug_set;
  size_t debug = pending_value(p, "debug", &debug_set);
  if (set && debug_set && debug && layout != ZM_LAYOUT_DEBUG)
    return fail(m, EINVAL, "", word("debug=1"), " conflicts with ",
                word(layout == ZM_LAYOUT_LEAN ? "layout=lean"
                                              : "layout=header"));
  if (!set || layout != ZM_LAYOUT_LEAN)
    return 0;
  if (tags_set && tags)
    return fail(m, EINVAL, "", word("layout=lean"), " conflicts with ",
                word("tags=1"));
  if (!zm__be_has_usable())
    return fail(m, ENOTSUP, "", word("layout=lean"),
                " needs a backend that reports block sizes", none);
  return 0;
}

/* tags=0 changes nothing; tags=1 works until the lean layout is fixed. */
static int check_tags(const pending *p, msgbuf *m) {
  bool set;
  size_t tags = pending_value(p, "tags", &set);
  if (set && tags && !zm__tags_possible_locked())
    return fail(m, EBUSY, "option ", word("tags=1"),
                " needs the header layout; the first allocation fixed the "
                "lean layout",
                none);
  return 0;
}

/* zm_set_limit refuses a limit below the memory in use. */
static int check_limit(const pending *p, bool from_env, msgbuf *m) {
  bool set;
  size_t limit = pending_value(p, "limit", &set);
  size_t used = set && limit && !from_env ? zm_used_memory() : 0;
  if (limit >= used)
    return 0;
  fail(m, EINVAL, "option ", word("limit"), " is below the memory in use (",
       none);
  char num[24];
  msg_put(m, num, zm__utoa(used, num));
  msg_str(m, " bytes)");
  return EINVAL;
}

/* Pass 2, with the set-up lock held. */
static int check_all(const pending *p, bool from_env, msgbuf *m) {
  for (size_t i = 0; i < NOPTS; i++)
    if (p->set[i] && options[i].fixes_layout && zm__setup_frozen())
      return fail(m, EBUSY, "option ", word(options[i].doc.name),
                  " cannot change after the first allocation", none);
  int rc = check_tags(p, m);
  if (!rc)
    rc = check_limit(p, from_env, m);
  return rc ? rc : check_layout(p, m);
}

/* Pass 3, with the set-up lock held. */
static int apply_all(const pending *p, bool from_env, msgbuf *m) {
  for (size_t i = 0; i < NOPTS; i++) {
    if (p->set[i] && options[i].apply(&p->value[i], from_env) != 0) {
      int err = errno ? errno : EINVAL;
      return fail(m, err, "option ", word(options[i].doc.name),
                  err == EBUSY ? " cannot change now (busy)"
                               : " could not be applied",
                  none);
    }
  }
  return 0;
}

/* 0, or an errno value with the message in *m. */
static int configure_locked(const char *s, bool from_env, msgbuf *m) {
  pending p;
  memset(&p, 0, sizeof p);
  int rc = parse_all(s, &p, m);
  if (!rc)
    rc = check_all(&p, from_env, m);
  if (!rc)
    rc = apply_all(&p, from_env, m);
  return rc;
}

/* ------------------------------------------------------- entry points */

int zm_configure(const char *s) {
  msgbuf m = {.n = 0};
  int rc = s ? 0 : fail(&m, EINVAL, "options string is NULL", none, NULL, none);
  if (s) {
    zm__setup_lock();
    rc = configure_locked(s, false, &m);
    zm__setup_unlock();
  }
  zm__set_last_error(m.s);
  if (rc)
    errno = rc;
  return rc ? -1 : 0;
}

/* Runs inside the first allocation: no allocation, no set-up lock (held by
 * the caller), errno left as it was. */
void zm__options_from_env(void) {
  const char *s = getenv("ZMEM_OPTIONS");
  if (!s)
    return;
  int saved = errno;
  msgbuf m = {.n = 0};
  if (configure_locked(s, true, &m) != 0) {
    zm__line l = {.n = 0};
    zm__line_str(&l, "zmem: ZMEM_OPTIONS ignored: ");
    zm__line_str(&l, m.s);
    zm__line_flush(&l);
  }
  errno = saved;
}
