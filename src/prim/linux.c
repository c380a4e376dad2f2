/* Process and machine figures on Linux, from /proc and sysconf. Files are
 * read with open/read into a stack buffer: no stdio, no allocation, so these
 * work inside a process whose malloc is zmem (and in its OOM path). */
#include "prim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------- line reader */

/* Reads a file line by line. A line longer than the buffer (an smaps header
 * with a long path) is returned cut to the buffer and its rest skipped; the
 * key: value lines these readers look for are short. */
typedef struct reader {
  int fd;
  size_t pos, len;
  bool skipping; /* inside the rest of a cut line */
  char buf[4096];
} reader;

static int rd_open(reader *r, const char *path) {
  do
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
  while (r->fd < 0 && errno == EINTR);
  r->pos = r->len = 0;
  r->skipping = false;
  return r->fd < 0 ? -1 : 0;
}

static void rd_close(reader *r) {
  int saved = errno;
  close(r->fd);
  errno = saved;
}

/* Moves the unread bytes to the front and reads more; false at end or error. */
static bool rd_fill(reader *r) {
  memmove(r->buf, r->buf + r->pos, r->len - r->pos);
  r->len -= r->pos;
  r->pos = 0;
  ssize_t n;
  do
    n = read(r->fd, r->buf + r->len, sizeof r->buf - r->len);
  while (n < 0 && errno == EINTR);
  if (n <= 0)
    return false;
  r->len += (size_t)n;
  return true;
}

/* The next complete line in the buffer, if there is one. */
static bool take_line(reader *r, const char **line, size_t *n) {
  char *start = r->buf + r->pos;
  char *nl = memchr(start, '\n', r->len - r->pos);
  if (!nl)
    return false;
  *line = start, *n = (size_t)(nl - start);
  r->pos += *n + 1;
  return true;
}

/* Whatever is left in the buffer. */
static void take_rest(reader *r, const char **line, size_t *n) {
  *line = r->buf + r->pos, *n = r->len - r->pos;
  r->pos = r->len;
}

/* The next line without its newline, in *line / *n; false at the end. */
static bool rd_line(reader *r, const char **line, size_t *n) {
  for (;;) {
    bool skip = r->skipping;
    if (take_line(r, line, n)) {
      r->skipping = false;
      if (!skip)
        return true;
    } else if (r->pos == 0 && r->len == sizeof r->buf) {
      take_rest(r, line, n); /* the start of a line longer than buf */
      r->skipping = true;
      if (!skip)
        return true;
    } else if (!rd_fill(r)) {
      take_rest(r, line, n); /* a last line without a newline */
      return *n > 0 && !skip;
    }
  }
}

/* -------------------------------------------------------- line parsing */

static const char *skip_spaces(const char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\t'))
    p++;
  return p;
}

/* Leading decimal number at *p, advancing *p; false if none. */
static bool number(const char **p, const char *end, size_t *v) {
  const char *q = *p;
  size_t x = 0;
  while (q < end && *q >= '0' && *q <= '9')
    x = x * 10 + (size_t)(*q++ - '0');
  bool ok = q > *p;
  *p = q;
  *v = x;
  return ok;
}

/* If the line is "name:  N kB", stores N * 1024 in *bytes. */
static bool kb_field(const char *line, size_t n, const char *name,
                     size_t name_len, size_t *bytes) {
  if (n <= name_len || memcmp(line, name, name_len) || line[name_len] != ':')
    return false;
  const char *end = line + n;
  const char *p = skip_spaces(line + name_len + 1, end);
  size_t kb;
  if (!number(&p, end, &kb))
    return false;
  p = skip_spaces(p, end);
  if (end - p != 2 || p[0] != 'k' || p[1] != 'B')
    return false;
  *bytes = kb * 1024;
  return true;
}

/* Sums the kB field `name` over the lines of path into *sum; the number of
 * lines that had it, or -1 (errno) when the file cannot be opened. */
static long sum_field(const char *path, const char *name, size_t name_len,
                      size_t *sum) {
  reader r;
  if (rd_open(&r, path) < 0)
    return -1;
  long found = 0;
  const char *line;
  size_t n, v;
  *sum = 0;
  while (rd_line(&r, &line, &n))
    if (kb_field(line, n, name, name_len, &v))
      *sum += v, found++;
  rd_close(&r);
  return found;
}

/* ----------------------------------------------------------- figures */

static size_t page_size(void) {
  long p = sysconf(_SC_PAGESIZE);
  return p > 0 ? (size_t)p : 4096;
}

/* /proc/self/statm: "size resident shared ...", in pages. */
size_t zm__prim_rss(void) {
  reader r;
  if (rd_open(&r, "/proc/self/statm") < 0)
    return 0;
  const char *line;
  size_t n, resident = 0;
  bool ok = rd_line(&r, &line, &n);
  rd_close(&r);
  if (ok) {
    const char *end = line + n, *p = line;
    ok = number(&p, end, &resident) && p < end && *p == ' ';
    p++;
    ok = ok && number(&p, end, &resident);
  }
  if (!ok) {
    errno = EIO;
    return 0;
  }
  return resident * page_size();
}

size_t zm__prim_peak_rss(void) {
  size_t v;
  long found = sum_field("/proc/self/status", "VmHWM", 5, &v);
  if (found == 0)
    errno = ENOTSUP;
  return found > 0 ? v : 0;
}

size_t zm__prim_physical_memory(void) {
  long pages = sysconf(_SC_PHYS_PAGES);
  if (pages <= 0) {
    errno = ENOTSUP;
    return 0;
  }
  return (size_t)pages * page_size();
}

/* smaps_rollup (Linux 4.14+) has the summable fields already summed; the
 * others (Size, KernelPageSize, ...) need the whole of smaps. */
size_t zm__prim_smaps_field(const char *name, size_t n) {
  size_t v;
  long found = sum_field("/proc/self/smaps_rollup", name, n, &v);
  if (found <= 0)
    found = sum_field("/proc/self/smaps", name, n, &v);
  if (found == 0)
    errno = EINVAL;
  return found > 0 ? v : 0;
}
