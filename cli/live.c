/* zmem run --live: see live.h. Plain ANSI escapes, no curses. */
#define _GNU_SOURCE /* open_memstream */
#include "live.h"
#include "flame.h"
#include "live_sites.h"
#include "proctree.h"
#include "read.h"
#include "sites_run.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define ENTER "\033[?1049h\033[?25l" /* alternate screen, cursor hidden */
#define LEAVE "\033[?25h\033[?1049l"
#define REFRESH_NS 1000000000u
#define READER_CHECK_NS 100000000u /* how often to look for a reader */

struct zmc_view {
  int fd; /* /dev/tty while the view is shown, else -1 */
  struct termios saved;
  dev_t tty;
  uint64_t start_ns, last_ns, checked_ns;
  const zmc_sites_opts *sites;
  zmc_run scratch; /* the processes read for one frame */
  zmc_live_sites *top; /* with sites: their reader */
};

static zmc_view *shown; /* for the exit() path */

static uint64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void write_all(int fd, const char *s, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, s, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return;
    s += w;
    n -= (size_t)w;
  }
}

/* Hands the terminal back as it was: main screen, cursor, mode. */
static void leave(zmc_view *v) {
  if (v->fd < 0)
    return;
  write_all(v->fd, LEAVE, strlen(LEAVE));
  (void)tcsetattr(v->fd, TCSADRAIN, &v->saved);
  close(v->fd);
  v->fd = -1;
  shown = NULL;
}

static void leave_at_exit(void) {
  if (shown)
    leave(shown);
}

/* The terminal, when zmem may take it: in its foreground, with termios. */
static int open_tty(struct termios *saved) {
  int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    fprintf(stderr, "zmem: --live: no terminal (%s); the run goes on without the view\n",
            strerror(errno));
    return -1;
  }
  if (tcgetpgrp(fd) != getpgrp() || tcgetattr(fd, saved) != 0) {
    fprintf(stderr, "zmem: --live: zmem is not in the terminal's foreground; the run "
                    "goes on without the view\n");
    close(fd);
    return -1;
  }
  return fd;
}

/* The terminal behind /dev/tty (the device the program's descriptors
 * name), in the kernel's encoding of TIOCGDEV. */
static dev_t tty_device(int fd) {
  unsigned int d;
  struct stat st;
  if (ioctl(fd, TIOCGDEV, &d) == 0)
    return makedev((d & 0xfff00) >> 8, (d & 0xff) | ((d >> 12) & 0xfff00));
  return fstat(fd, &st) == 0 ? st.st_rdev : 0;
}

zmc_view *zmc_view_start(const zmc_sites_opts *sites, uint64_t start_ns) {
  static bool registered;
  zmc_view *v = calloc(1, sizeof *v);
  if (!v)
    return NULL;
  if ((v->fd = open_tty(&v->saved)) < 0) {
    free(v);
    return NULL;
  }
  /* Keys one by one, not echoed; signals (^C) still work as before. */
  struct termios raw = v->saved;
  raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
  raw.c_cc[VMIN] = 1; /* a program reading the terminal still blocks */
  raw.c_cc[VTIME] = 0;
  (void)tcsetattr(v->fd, TCSADRAIN, &raw);
  write_all(v->fd, ENTER, strlen(ENTER));
  v->tty = tty_device(v->fd);
  v->sites = sites && sites->on ? sites : NULL;
  v->start_ns = start_ns;
  shown = v;
  if (!registered)
    registered = atexit(leave_at_exit) == 0;
  return v;
}

int zmc_view_fd(const zmc_view *v) {
  return v ? v->fd : -1;
}

/* ------------------------------------------------------------- a frame */

/* VmRSS of a running process, bytes (0 when gone). */
static uint64_t proc_rss(int pid) {
  return zmc_proc_status_bytes(pid, "VmRSS:");
}

static void row(FILE *f, const char *pid, const char *cmd, int64_t q, int64_t h,
                uint64_t rss) {
  char a[32], b[32], c[32];
  fprintf(f, "%8s  %-24.24s %11s %11s %11s\n", pid, cmd, zm__flame_size(q, a, sizeof a),
          zm__flame_size(h, b, sizeof b), zm__flame_size((int64_t)rss, c, sizeof c));
}

/* The command without the directories of its program, printable: the
 * program names itself, so no escape of its reaches the screen. */
static void short_command(const char *command, char *out, size_t cap) {
  size_t word = strcspn(command, " ");
  const char *slash = memrchr(command, '/', word);
  snprintf(out, cap, "%s", slash ? slash + 1 : command);
  for (char *c = out; *c; c++)
    if ((unsigned char)*c < 32 || (unsigned char)*c > 126)
      *c = '?';
}

/* One line per running process and the total; the rows that fit. */
static void procs_table(FILE *f, zmc_view *v, const void *base, unsigned rows) {
  int64_t tq = 0, th = 0;
  uint64_t trss = 0;
  unsigned running = 0;
  fprintf(f, "%8s  %-24s %11s %11s %11s\n", "pid", "command", "requested", "held", "RSS");
  for (uint32_t i = 0; i < v->scratch.nprocs; i++) {
    int64_t q, h;
    int pid;
    if (!zmc_live(base, i, &q, &h, &pid))
      continue;
    if (!pid)
      continue;
    uint64_t rss = proc_rss(pid);
    if (++running <= rows) {
      char id[16];
      snprintf(id, sizeof id, "%d", pid);
      char cmd[ZMR_CMD_BYTES];
      short_command(v->scratch.procs[i].command, cmd, sizeof cmd);
      row(f, id, cmd, q, h, rss);
    }
    tq += q;
    th += h;
    trss += rss;
  }
  if (running > rows)
    fprintf(f, "%8s  (%u more)\n", "", running - rows);
  char what[64];
  snprintf(what, sizeof what, "%u running", running);
  row(f, "total", what, tq, th, trss);
}

static void top_sites(FILE *f, zmc_view *v, const void *base) {
  if (!v->sites)
    return;
  if (!v->top && !(v->top = zmc_live_sites_start(base, v->sites, v->start_ns)))
    return;
  fputs("\ntop sites now (live bytes):\n", f);
  zmc_live_sites_write(v->top, f);
}

/* Writes text to the terminal, each line cut to the width, at most rows. */
static void put_clipped(int fd, const char *text, unsigned cols, unsigned rows) {
  char line[512];
  size_t at = 0;
  write_all(fd, "\033[H", 3);
  for (unsigned r = 0; text[at] && r < rows; r++) {
    size_t len = strcspn(text + at, "\n");
    size_t keep = len < cols ? len : cols;
    if (keep > sizeof line - 8)
      keep = sizeof line - 8;
    memcpy(line, text + at, keep);
    memcpy(line + keep, "\033[K\r\n", 5);
    write_all(fd, line, keep + (r + 1 < rows ? 5 : 3));
    at += len + (text[at + len] == '\n');
  }
  write_all(fd, "\033[J", 3);
}

static void draw(zmc_view *v, const void *base) {
  struct winsize ws = {0};
  if (ioctl(v->fd, TIOCGWINSZ, &ws) != 0 || !ws.ws_row || !ws.ws_col)
    ws = (struct winsize){24, 80, 0, 0};
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (!f)
    return;
  (void)zmc_live_read_procs(base, v->start_ns, &v->scratch);
  fprintf(f, "zmem run --live   %.0f s   q: leave the view (the program runs on)\n\n",
          (double)(mono_ns() - v->start_ns) / 1e9);
  unsigned room = ws.ws_row > (v->sites ? 12u : 6u) ? ws.ws_row - (v->sites ? 12u : 6u) : 1;
  procs_table(f, v, base, room);
  top_sites(f, v, base);
  if (fclose(f) == 0)
    put_clipped(v->fd, text, ws.ws_col, ws.ws_row);
  free(text);
}

/* ----------------------------------------------- the program's input */

static bool is_tty(int pid, unsigned long fd, dev_t tty) {
  char path[64];
  struct stat st;
  snprintf(path, sizeof path, "/proc/%d/fd/%lu", pid, fd);
  return stat(path, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == tty;
}

/* Whether pid waits for input from the terminal: blocked in read(2) on it,
 * or in poll/select with it as stdin (readline, python's input()). */
static bool waits_for_tty(int pid, dev_t tty) {
  char buf[256];
  long nr;
  unsigned long arg0;
  if (zmc_proc_read(pid, "syscall", buf, sizeof buf) <= 0 ||
      sscanf(buf, "%ld %lx", &nr, &arg0) != 2)
    return false; /* "running", or not ours to read */
  if (nr == SYS_read || nr == SYS_readv || nr == SYS_pread64)
    return is_tty(pid, arg0, tty);
  bool waits = nr == SYS_poll || nr == SYS_ppoll || nr == SYS_select || nr == SYS_pselect6;
  return waits && is_tty(pid, 0, tty);
}

/* Whether a running process of the tree waits for the terminal's input:
 * then the view hands the terminal over, so that no key of its is taken. */
static bool program_reads(zmc_view *v, const void *base) {
  uint64_t now = mono_ns();
  if (now - v->checked_ns < READER_CHECK_NS)
    return false;
  v->checked_ns = now;
  uint32_t lost, n = zmc_claimed(base, &lost);
  for (uint32_t i = 0; i < n; i++) {
    int64_t q, h;
    int pid;
    if (zmc_live(base, i, &q, &h, &pid) && pid && waits_for_tty(pid, v->tty))
      return true;
  }
  return false;
}

void zmc_view_update(zmc_view *v, const void *base) {
  if (!v || v->fd < 0)
    return;
  if (program_reads(v, base)) {
    leave(v);
    return;
  }
  char keys[64];
  ssize_t n;
  while ((n = read(v->fd, keys, sizeof keys)) > 0)
    if (memchr(keys, 'q', (size_t)n) || memchr(keys, 'Q', (size_t)n)) {
      leave(v);
      return;
    }
  uint64_t now = mono_ns();
  if (v->last_ns && now - v->last_ns < REFRESH_NS)
    return;
  v->last_ns = now;
  draw(v, base);
}

void zmc_view_end(zmc_view *v) {
  if (!v)
    return;
  leave(v);
  zmc_live_sites_stop(v->top);
  free(v->scratch.procs);
  free(v);
}
