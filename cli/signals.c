/* zmem run's signals while the program runs (see signals.h). */
#define _GNU_SOURCE
#include "signals.h"

#include "proctree.h"

#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

/* zmem run forwards these to the program (unless zmem inherited them
 * ignored: the program then ignores them too). */
static const int forwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT};

/* After the first forwarded signal, the program's tree gets SIGKILL when
 * it still runs this long later (docs/run.md, "Signals"). */
#define ZMC_GRACE_NS ((uint64_t)ZMC_GRACE_S * 1000000000u)

/* A repeat of the first signal from its sender within this time is the
 * same request, not a second one: GNU timeout, for one, signals its child
 * and then its whole process group, so zmem gets the signal twice. */
#define ZMC_REPEAT_NS ((uint64_t)1000000000u)

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Without forwarding: as a shell does while it waits. */
static void ignore_interactive(zmc_guard *g) {
  struct sigaction ign = {.sa_handler = SIG_IGN};
  sigaction(SIGINT, &ign, &g->old_int);
  sigaction(SIGQUIT, &ign, &g->old_quit);
}

static void restore_interactive(const zmc_guard *g) {
  sigaction(SIGINT, &g->old_int, NULL);
  sigaction(SIGQUIT, &g->old_quit, NULL);
}

/* g->set: the forwarded signals zmem does not ignore, and SIGCHLD. */
static void fill_set(zmc_guard *g) {
  sigemptyset(&g->set);
  for (size_t i = 0; i < sizeof forwarded / sizeof *forwarded; i++) {
    struct sigaction sa;
    if (sigaction(forwarded[i], NULL, &sa) == 0 && sa.sa_handler != SIG_IGN)
      sigaddset(&g->set, forwarded[i]);
  }
  /* An inherited SIG_IGN (or SA_NOCLDWAIT) for SIGCHLD would reap the
   * program behind waitpid's back; the program gets it back before exec. */
  struct sigaction dfl = {.sa_handler = SIG_DFL};
  sigaction(SIGCHLD, &dfl, &g->old_chld);
  sigaddset(&g->set, SIGCHLD);
}

void zmc_guard_start(zmc_guard *g, bool forward) {
  g->forward = forward;
  g->sfd = -1;
  g->deadline = 0;
  if (!forward) {
    ignore_interactive(g);
    return;
  }
  fill_set(g);
  sigprocmask(SIG_BLOCK, &g->set, &g->old_mask);
  g->sfd = signalfd(-1, &g->set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (g->sfd < 0) /* no descriptor left: the signals act as without zmem run's care */
    sigprocmask(SIG_SETMASK, &g->old_mask, NULL);
  /* Orphans of the program's tree reparent to zmem, which reaps them and
   * can find them all when it must kill the tree. */
  (void)prctl(PR_SET_CHILD_SUBREAPER, 1);
}

void zmc_guard_child(const zmc_guard *g, pid_t launcher) {
  if (!g->forward) {
    restore_interactive(g);
    return;
  }
  sigaction(SIGCHLD, &g->old_chld, NULL);
  sigprocmask(SIG_SETMASK, &g->old_mask, NULL);
  /* SIGKILL of zmem kills the program too, as it would have without zmem
   * in between (docs/run.md); if zmem is already gone, at once. */
  (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != launcher)
    raise(SIGKILL);
}

void zmc_guard_end(zmc_guard *g) {
  if (!g->forward) {
    restore_interactive(g);
    return;
  }
  if (g->sfd >= 0)
    close(g->sfd);
  g->sfd = -1;
}

/* SIGKILL to the program's whole tree: every descendant of zmem. */
static void escalate(zmc_guard *g, zmc_run *run, int why, int sig) {
  g->deadline = 0;
  if (run->kill_reason)
    return;
  run->kill_reason = why;
  run->kill_signal = sig;
  run->killed_procs = zmc_kill_tree();
}

void zmc_guard_check(zmc_guard *g, zmc_run *run) {
  if (g->deadline && now_ns() >= g->deadline)
    escalate(g, run, ZMC_KILL_GRACE, 0);
}

/* The first signal from outside: sent on to the program; the grace
 * period starts. */
static void forward_first(zmc_guard *g, pid_t pid, zmc_run *run,
                          const struct signalfd_siginfo *si) {
  run->stop_signal = (int)si->ssi_signo;
  kill(pid, run->stop_signal);
  g->first_sender = si->ssi_pid;
  g->first_ns = now_ns();
  g->deadline = g->first_ns + ZMC_GRACE_NS;
}

/* The first signal again, from its sender, soon after: the same request,
 * sent to the group too. */
static bool same_request(const zmc_guard *g, const zmc_run *run,
                         const struct signalfd_siginfo *si) {
  return (int)si->ssi_signo == run->stop_signal && si->ssi_pid == g->first_sender &&
         now_ns() - g->first_ns < ZMC_REPEAT_NS;
}

/* A second signal from outside kills the tree. Signals from the terminal
 * (the kernel's, SI_KERNEL: ^C, ^\, hangup) went to the whole foreground
 * process group, the program included, and are not sent again. */
void zmc_guard_read(zmc_guard *g, pid_t pid, zmc_run *run) {
  struct signalfd_siginfo si;
  while (read(g->sfd, &si, sizeof si) == (ssize_t)sizeof si) {
    if ((int)si.ssi_signo == SIGCHLD || si.ssi_code == SI_KERNEL)
      continue;
    if (!run->stop_signal)
      forward_first(g, pid, run, &si);
    else if (!same_request(g, run, &si))
      escalate(g, run, ZMC_KILL_SECOND_SIGNAL, (int)si.ssi_signo);
  }
}

int zmc_guard_wait_ms(const zmc_guard *g, unsigned interval_ms) {
  if (!g->deadline)
    return (int)interval_ms;
  uint64_t t = now_ns();
  uint64_t left = g->deadline > t ? (g->deadline - t) / 1000000 + 1 : 0;
  return left < interval_ms ? (int)left : (int)interval_ms;
}
