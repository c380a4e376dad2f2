/* A program that handles SIGTERM, SIGINT, SIGHUP and SIGQUIT itself:
 *   sigprog MARKER LOG MODE
 * Each signal that arrives appends its number as one byte to LOG (a write
 * in the handler). MARKER gets the pid once the handlers are in place, and
 * with MODE "ignore" also the pid of a descendant in a session of its own
 * (second line), which the tree kill must reach.
 *   once:   after the first signal, waits 400 ms more (a second delivery
 *           would show in LOG) and exits 3.
 *   ignore: keeps running whatever comes; exits 4 after 60 s.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int log_fd = -1;
static volatile sig_atomic_t got;

static void on_signal(int sig) {
  char c = (char)sig;
  (void)!write(log_fd, &c, 1);
  got = 1;
}

static void nap_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
  while (nanosleep(&ts, &ts) != 0)
    ;
}

int main(int argc, char **argv) {
  if (argc < 4)
    return 2;
  log_fd = open(argv[2], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  struct sigaction sa = {.sa_handler = on_signal};
  sigemptyset(&sa.sa_mask);
  int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT};
  for (int i = 0; i < 4; i++)
    sigaction(sigs[i], &sa, NULL);
  free(malloc(1000)); /* something to count */
  bool ignore = !strcmp(argv[3], "ignore");
  pid_t far = 0;
  if (ignore && (far = fork()) == 0) {
    setsid(); /* out of the process group: only a tree walk finds it */
    for (int i = 0; i < 600; i++)
      nap_ms(100);
    _exit(0);
  }
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp", argv[1]);
  FILE *f = fopen(tmp, "w");
  fprintf(f, "%d\n", (int)getpid());
  if (far)
    fprintf(f, "%d\n", (int)far);
  fclose(f);
  rename(tmp, argv[1]);
  for (int i = 0; i < 600; i++) {
    nap_ms(100);
    if (got && !ignore) {
      nap_ms(400);
      return 3;
    }
  }
  return 4;
}
