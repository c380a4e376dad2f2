/* The OOM handler: the installed one, or the default that reports and aborts. */
#include "fork.h"
#include "oom.h"
#include "internal.h"
#include "line.h"
#include "prim/prim.h"
#include "zmem.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t handler_mutex = PTHREAD_MUTEX_INITIALIZER;
static zm_oom_handler handler; /* NULL: the default */
static void *handler_arg;
/* The figures the default handler writes first (report.c, registered at
 * set-up by wiring.c); NULL until then. */
static _Atomic(void (*)(void)) summary;

void zm__oom_set_summary(void (*write_summary)(void)) {
  atomic_store_explicit(&summary, write_summary, memory_order_release);
}

zm__cold static void default_handler(size_t size) {
  void (*write_summary)(void) =
      atomic_load_explicit(&summary, memory_order_acquire);
  if (write_summary)
    write_summary(); /* the figures first, the verdict last */
  zm__line l = {.n = 0};
  zm__line_bytes(&l, "zmem: out of memory allocating ", size);
  zm__line_flush(&l);
  abort();
}

void zm_set_oom_handler(zm_oom_handler h, void *arg) {
  pthread_mutex_lock(&handler_mutex);
  handler = h;
  handler_arg = h ? arg : NULL;
  pthread_mutex_unlock(&handler_mutex);
}

void zm__oom(size_t size) {
  pthread_mutex_lock(&handler_mutex);
  zm_oom_handler h = handler;
  void *arg = handler_arg;
  pthread_mutex_unlock(&handler_mutex);
  if (h)
    h(size, arg);
  else
    default_handler(size);
}

void zm__oom_fork_lock(void) { pthread_mutex_lock(&handler_mutex); }
void zm__oom_fork_unlock(void) { pthread_mutex_unlock(&handler_mutex); }
