/* Processes zmem could not profile to their end: see unprofiled.h. */
#define _GNU_SOURCE /* memmem */
#include "unprofiled.h"
#include "proctree.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int zmc_elf_interp(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  Elf64_Ehdr eh;
  int r = -1;
  if (pread(fd, &eh, sizeof eh, 0) == (ssize_t)sizeof eh &&
      !memcmp(eh.e_ident, ELFMAG, SELFMAG) && eh.e_ident[EI_CLASS] == ELFCLASS64) {
    r = 0;
    for (unsigned i = 0; i < eh.e_phnum && i < 4096; i++) {
      Elf64_Phdr ph;
      if (pread(fd, &ph, sizeof ph, (off_t)(eh.e_phoff + i * (uint64_t)eh.e_phentsize)) !=
          (ssize_t)sizeof ph)
        break;
      if (ph.p_type == PT_INTERP)
        r = 1;
    }
  }
  close(fd);
  return r;
}

const char *zmc_privileged(const struct stat *st) {
  static char why[96];
  if ((st->st_mode & S_ISUID) && st->st_uid != getuid()) {
    struct passwd *pw = getpwuid(st->st_uid);
    snprintf(why, sizeof why, "set-user-ID %s", pw ? pw->pw_name : "(another user)");
    return why;
  }
  if ((st->st_mode & S_ISGID) && st->st_gid != getgid()) {
    struct group *gr = getgrgid(st->st_gid);
    snprintf(why, sizeof why, "set-group-ID %s", gr ? gr->gr_name : "(another group)");
    return why;
  }
  return NULL;
}

/* Why the program at /proc/PID/exe (st, or err when it could not be
 * looked at) cannot be profiled, or 0 when it can. A process that became
 * set-user-ID is not dumpable: its exe link is refused. */
static uint32_t unprofilable(const char *exe, const struct stat *st, int err) {
  if (err)
    return err == EACCES || err == EPERM ? ZMC_LEFT_SETUID : 0;
  if (zmc_privileged(st))
    return ZMC_LEFT_SETUID;
  return zmc_elf_interp(exe) == 0 ? ZMC_LEFT_STATIC : 0;
}

/* Whether /proc/PID/maps names the file path: 1, 0, or -errno when it
 * cannot be read. Read in pieces, each with the end of the one before,
 * so that a name across two pieces is found. */
#define PATH_BYTES PATH_MAX
static int maps_name(int pid, const char *path) {
  char maps[64], buf[8192 + PATH_BYTES];
  snprintf(maps, sizeof maps, "/proc/%d/maps", pid);
  int fd = open(maps, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  size_t keep = 0, len = strlen(path);
  ssize_t n;
  bool found = false;
  while (!found && (n = read(fd, buf + keep, sizeof buf - keep - 1)) > 0) {
    size_t have = keep + (size_t)n;
    buf[have] = 0;
    found = memmem(buf, have, path, len) != NULL;
    keep = have < len ? have : len;
    memmove(buf, buf + have - keep, keep);
  }
  close(fd);
  return found;
}

void zmc_exe_watch(zmc_exe_seen *w, int pid, const char *preload) {
  char exe[64];
  struct stat st;
  snprintf(exe, sizeof exe, "/proc/%d/exe", pid);
  int err = stat(exe, &st) == 0 ? 0 : errno;
  if (err == ENOENT || err == ESRCH)
    return; /* ended */
  bool changed = !err && (!w->seen || st.st_dev != w->dev || st.st_ino != w->ino);
  if (!err && !changed)
    return;
  w->seen = !err;
  w->dev = st.st_dev;
  w->ino = st.st_ino;
  /* The record was claimed by an image with the preload: one without it
   * is what the process exec'd (a new record comes if the preload is in). */
  int has = err ? -err : maps_name(pid, preload);
  if (has == 1) {
    w->left = 0;
    return;
  }
  if (has < 0 && has != -EACCES && has != -EPERM)
    return; /* cannot tell */
  w->left = unprofilable(exe, &st, has < 0 ? -has : 0);
  if (!w->left)
    w->left = ZMC_LEFT_NO_PRELOAD;
}

void zmc_mark_unprofiled(zmc_run *run, const zmc_exe_seen *seen, int first_pid,
                         int status) {
  for (uint32_t i = 0; i < run->nprocs; i++) {
    zmc_proc *p = &run->procs[i];
    if (p->state != ZMR_STATE_RUNNING || p->untrusted[0])
      continue;
    /* With --no-children an exec'd program is left out by choice. */
    bool chosen = !run->children && seen[i].left != ZMC_LEFT_STATIC &&
                  seen[i].left != ZMC_LEFT_SETUID;
    if (chosen)
      continue;
    if (seen[i].left)
      p->left = seen[i].left;
    else if (p->pid == first_pid && WIFEXITED(status))
      /* It ended without exit handlers but not by a signal: another image. */
      p->left = ZMC_LEFT_EXEC;
    else if (p->pid != first_pid && zmc_alive(p->pid))
      p->left = ZMC_LEFT_RUNNING;
  }
}

const char *zmc_left_words(const zmc_proc *p) {
  switch (p->left) {
  case ZMC_LEFT_STATIC:
    return "exec'd a static program: not profiled";
  case ZMC_LEFT_SETUID:
    return "exec'd a set-user/group-ID program (the loader drops LD_PRELOAD): "
           "not profiled";
  case ZMC_LEFT_NO_PRELOAD:
    return "exec'd a program with LD_PRELOAD dropped from its environment: "
           "not profiled";
  case ZMC_LEFT_EXEC:
    return "exec'd a program zmem cannot enter (static, set-user-ID, or "
           "LD_PRELOAD dropped): not profiled";
  case ZMC_LEFT_RUNNING:
    return "still running when the first process ended: figures as of then";
  default:
    return NULL;
  }
}

const char *zmc_bypass_words(uint32_t bit) {
  if (bit == ZMR_BYPASS_EXE_MALLOC)
    return "most allocations bypass zmem: the executable defines malloc itself, "
           "ahead of the preload; link it with the C library's malloc to profile it";
  if (bit == ZMR_BYPASS_PYMALLOC)
    return "most allocations bypass zmem: Python's small-object allocator (pymalloc) "
           "serves objects from its own arenas; run with PYTHONMALLOC=malloc to see them";
  return NULL;
}

bool zmc_any_unprofiled(const zmc_run *run) {
  for (uint32_t i = 0; i < run->nprocs; i++)
    if (run->procs[i].left || run->procs[i].bypass)
      return true;
  return false;
}
