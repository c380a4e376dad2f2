/* The out-of-memory sweep on a small function with a leak on one error
 * path: zm_oom_sweep fails its allocations one by one and reports the step
 * that leaks. */
#include <zmem.h>

#include <stdio.h>
#include <string.h>

typedef struct pair {
  char *key, *value;
} pair;

static pair *pair_new(const char *key, const char *value) {
  pair *p = zm_try_malloc(sizeof *p);
  if (!p)
    return NULL;
  p->key = zm_try_malloc(strlen(key) + 1);
  if (!p->key) {
    zm_free(p);
    return NULL;
  }
  strcpy(p->key, key);
  p->value = zm_try_malloc(strlen(value) + 1);
  if (!p->value)
    return NULL; /* the bug: p and p->key are lost */
  strcpy(p->value, value);
  return p;
}

static void pair_free(pair *p) {
  if (p) {
    zm_free(p->key);
    zm_free(p->value);
    zm_free(p);
  }
}

static void step(void *arg) {
  (void)arg;
  pair_free(pair_new("colour", "blue"));
}

int main(void) {
  zm_sweep_result r = {.size = sizeof r};
  if (zm_oom_sweep(step, NULL, &r) != 0) {
    perror("zm_oom_sweep");
    return 2;
  }
  printf("%llu steps, %s, %llu leaking, %llu crashing\n",
         (unsigned long long)r.steps, r.complete ? "complete" : "incomplete",
         (unsigned long long)r.leaks, (unsigned long long)r.crashes);
  for (size_t i = 0; i < r.nrecords; i++) {
    const zm_sweep_step *s = &r.records[i];
    if (s->kind == ZM_SWEEP_LEAK)
      printf("  step %llu: leaked %lld bytes in %lld blocks\n",
             (unsigned long long)s->step, (long long)s->leaked_bytes,
             (long long)s->leaked_blocks);
    else
      printf("  step %llu: crashed, signal %d\n", (unsigned long long)s->step,
             s->signal);
  }
  return r.leaks || r.crashes;
}
