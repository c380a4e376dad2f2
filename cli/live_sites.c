/* The live view's top sites: see live_sites.h. */
#define _GNU_SOURCE /* open_memstream */
#include "live_sites.h"
#include "read.h"
#include "sites_run.h"

#include <pthread.h>
#include <stdlib.h>

struct zmc_live_sites {
  const void *base;
  const zmc_sites_opts *opts;
  uint64_t start_ns;
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool wanted, stop; /* under lock */
  char *text;        /* the latest list, under lock; NULL: none yet */
  zmc_run run;       /* the reader's own copy of the records */
};

bool zmc_live_read_procs(const void *base, uint64_t start_ns, zmc_run *run) {
  uint32_t lost, n = zmc_claimed(base, &lost);
  zmc_proc *p = realloc(run->procs, (n ? n : 1) * sizeof *p);
  if (!p) {
    run->nprocs = 0;
    return false;
  }
  run->procs = p;
  for (uint32_t i = 0; i < n; i++)
    (void)zmc_read_proc(base, i, start_ns, &p[i]);
  run->nprocs = n;
  return true;
}

/* The three sites that hold the most now, as text; NULL on failure. */
static char *one_list(zmc_live_sites *s) {
  if (!zmc_live_read_procs(s->base, s->start_ns, &s->run) ||
      zmc_sites_collect(s->base, ZMR_PROCS_END, s->opts, &s->run) != NULL)
    return NULL;
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (f) {
    zmc_sites_gate(f, &s->run, 1);
    if (fclose(f) != 0) {
      free(text);
      text = NULL;
    }
  }
  zmc_sites_free(&s->run);
  return text;
}

static void *reader(void *arg) {
  zmc_live_sites *s = arg;
  pthread_mutex_lock(&s->lock);
  while (!s->stop) {
    if (!s->wanted) {
      pthread_cond_wait(&s->cond, &s->lock);
      continue;
    }
    s->wanted = false;
    pthread_mutex_unlock(&s->lock);
    char *text = one_list(s);
    pthread_mutex_lock(&s->lock);
    if (text) {
      free(s->text);
      s->text = text;
    }
  }
  pthread_mutex_unlock(&s->lock);
  return NULL;
}

zmc_live_sites *zmc_live_sites_start(const void *base, const zmc_sites_opts *o,
                                     uint64_t start_ns) {
  zmc_live_sites *s = calloc(1, sizeof *s);
  if (!s)
    return NULL;
  *s = (zmc_live_sites){.base = base, .opts = o, .start_ns = start_ns, .wanted = true};
  pthread_mutex_init(&s->lock, NULL);
  pthread_cond_init(&s->cond, NULL);
  /* The thread inherits the launcher's blocked signals: they stay for the
   * signalfd of the watch loop. */
  if (pthread_create(&s->thread, NULL, reader, s) != 0) {
    free(s);
    return NULL;
  }
  return s;
}

void zmc_live_sites_write(zmc_live_sites *s, FILE *f) {
  pthread_mutex_lock(&s->lock);
  fputs(!s->text ? "  (reading the stacks and their symbols)\n"
        : *s->text ? s->text : "  (none)\n", f);
  s->wanted = true;
  pthread_cond_signal(&s->cond);
  pthread_mutex_unlock(&s->lock);
}

void zmc_live_sites_stop(zmc_live_sites *s) {
  if (!s)
    return;
  pthread_mutex_lock(&s->lock);
  s->stop = true;
  pthread_cond_signal(&s->cond);
  pthread_mutex_unlock(&s->lock);
  pthread_join(s->thread, NULL);
  pthread_mutex_destroy(&s->lock);
  pthread_cond_destroy(&s->cond);
  free(s->text);
  free(s->run.procs);
  free(s);
}
