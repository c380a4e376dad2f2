/* ZMEM_OPTIONS, the tags' counters at thread exit and the OOM summary, when
 * the very first allocation comes from a constructor that runs before any
 * other (priority 101). Built twice: on the shared library and on the static
 * one, where only the objects this program's calls reach are linked.
 *   options_ctor            run with ZMEM_OPTIONS=limit=1M,tags=1
 *   OPTIONS_CTOR_FIRST=oom  (set by the test for a child of its own) the
 *                           constructor's first call is a failed zm_malloc */
#define _GNU_SOURCE
#include <zmem.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void *early;

__attribute__((constructor(101))) static void first_allocation(void) {
  const char *first = getenv("OPTIONS_CTOR_FIRST");
  if (first && strcmp(first, "oom") == 0)
    early = zm_malloc(SIZE_MAX / 2); /* refused: the OOM handler's path */
  else
    early = zm_malloc(24);
}

static int failures;

static void check(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "FAIL: %s\n", what);
    failures++;
  }
}

static zm_tag tag;
static void *kept;
static size_t used_before_exit;

static void *tagged_thread(void *arg) {
  (void)arg;
  zm_tag_set_current(tag);
  kept = zm_malloc(1000);
  used_before_exit = zm_tag_used(tag);
  return NULL;
}

static const char *self;

/* Runs this program again with OPTIONS_CTOR_FIRST=how and ZMEM_OPTIONS=opts
 * (unset when NULL), its stderr in buf; returns its wait status. */
static int child(const char *how, const char *opts, char *buf, size_t n) {
  int fd[2];
  if (pipe(fd) != 0)
    return -1;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fd[1], 2);
    close(fd[0]);
    setenv("OPTIONS_CTOR_FIRST", how, 1);
    if (opts)
      setenv("ZMEM_OPTIONS", opts, 1);
    else
      unsetenv("ZMEM_OPTIONS");
    execl(self, self, (char *)NULL);
    _exit(127);
  }
  close(fd[1]);
  size_t got = 0;
  ssize_t r;
  while (got < n - 1 && (r = read(fd[0], buf + got, n - 1 - got)) > 0)
    got += (size_t)r;
  buf[got] = '\0';
  close(fd[0]);
  int status = -1;
  waitpid(pid, &status, 0);
  return status;
}

static int aborted(int status) {
  return status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

int main(int argc, char **argv) {
  char err[4096];
  (void)argc;
  self = argv[0];
  if (getenv("OPTIONS_CTOR_FIRST"))
    return zm_malloc(2u << 20) ? 1 : 2; /* over the limit: the OOM path */
  check(early != NULL, "the constructor's allocation");
  check(zm_get_limit() == 1u << 20, "ZMEM_OPTIONS limit=1M applied");
  check(zm_tags_enabled(), "ZMEM_OPTIONS tags=1 applied");

  /* The tags' counters of an exited thread fold into the shared figures. */
  tag = zm_tag_new("kept");
  pthread_t t;
  check(pthread_create(&t, NULL, tagged_thread, NULL) == 0, "thread");
  pthread_join(t, NULL);
  check(kept != NULL && used_before_exit > 0, "the thread's tagged block");
  check(zm_tag_used(tag) == used_before_exit,
        "the tag's figure kept when its thread exits");

  /* The default OOM handler writes the summary before its verdict. */
  int st = child("limit", "limit=1M", err, sizeof err);
  check(aborted(st), "over the limit: SIGABRT");
  check(strstr(err, "zmem: used ") != NULL, "over the limit: the summary");
  check(strstr(err, "limit 1048576 bytes") != NULL,
        "over the limit: the summary names the limit");
  /* A refused request as the very first call gets the summary too. */
  st = child("oom", NULL, err, sizeof err);
  check(aborted(st), "refused first call: SIGABRT");
  check(strstr(err, "zmem: used ") != NULL, "refused first call: the summary");
  check(strstr(err, "zmem: out of memory allocating") != NULL,
        "refused first call: the verdict");

  zm_free(kept);
  zm_free(early);
  if (failures)
    fprintf(stderr, "last child's stderr:\n%s", err);
  return failures ? 1 : 0;
}
