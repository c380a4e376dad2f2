/* The workloads, written once and instantiated per contender.
 *
 * This file is included once per contender by zbench.c, with these macros
 * defined (and undefined again at the end of this file):
 *   WL_NAME               names the generated functions wl_<name>_*
 *   WL_MALLOC(n)          allocate n bytes
 *   WL_FREE(p, n)         free p, which was last requested with n bytes
 *   WL_REALLOC(p, old, n) resize p (NULL allowed) from old to n bytes
 *   WL_FREE_RESIZED(p, n) optional: free p, last resized by WL_REALLOC to n
 *                         bytes (default WL_FREE)
 * The expressions are pasted into the loops, so each contender's loop calls
 * its allocator directly: no function pointer sits inside any inner loop.
 * Every block's first 8 bytes are written (a program uses what it allocates),
 * and pointers escape through zb_escape so the compiler cannot drop a
 * malloc/free pair. */

#ifndef WL_FREE_RESIZED
#define WL_FREE_RESIZED(p, n) WL_FREE(p, n)
#endif
#define WL_CAT2(a, b) a##b
#define WL_CAT(a, b) WL_CAT2(a, b)
#define WL_FN(suffix) WL_CAT(WL_CAT(wl_, WL_NAME), suffix)

/* A short untimed warm-up: fills the allocator's thread caches and links the
 * thread into the accounting (zmem's first-call slow path). */
static void WL_FN(_warm)(zb_thread *t) {
  void *b[ZB_CHURN_BATCH];
  for (int r = 0; r < 64; r++) {
    for (int i = 0; i < ZB_CHURN_BATCH; i++) {
      size_t n = t->sizes[(r * ZB_CHURN_BATCH + i) & ZB_TABLE_MASK];
      b[i] = WL_MALLOC(n);
      *(uint64_t *)b[i] = n;
    }
    zb_escape(b);
    for (int i = ZB_CHURN_BATCH; i-- > 0;)
      WL_FREE(b[i], *(uint64_t *)b[i]);
  }
}

/* 1: fixed-size churn. ZB_CHURN_SIZE-byte blocks in batches of
 * ZB_CHURN_BATCH, freed in reverse order. One op = one alloc/free pair. */
static void WL_FN(_churn)(zb_thread *t) {
  void *b[ZB_CHURN_BATCH];
  uint64_t rounds = t->ops / ZB_CHURN_BATCH;
  zb_start(t);
  for (uint64_t r = 0; r < rounds; r++) {
    for (int i = 0; i < ZB_CHURN_BATCH; i++) {
      void *p = WL_MALLOC(ZB_CHURN_SIZE);
      *(uint64_t *)p = r;
      b[i] = p;
    }
    zb_escape(b);
    for (int i = ZB_CHURN_BATCH; i-- > 0;)
      WL_FREE(b[i], ZB_CHURN_SIZE);
  }
  t->done_ops = rounds * ZB_CHURN_BATCH;
  zb_stop(t);
}

/* 2: mixed sizes. A window of ZB_WINDOW live blocks; each op frees a random
 * slot and refills it with a block of a log-distributed size (16 B..4 KiB).
 * The window is filled before the timer starts and emptied after it stops. */
static void WL_FN(_mixed)(zb_thread *t) {
  void **live = t->live;
  uint32_t *len = t->live_len;
  for (uint32_t j = 0; j < ZB_WINDOW; j++) {
    len[j] = t->sizes[(j * 7919u) & ZB_TABLE_MASK];
    live[j] = WL_MALLOC(len[j]);
    *(uint64_t *)live[j] = j;
  }
  zb_start(t);
  for (uint64_t k = 0; k < t->ops; k++) {
    uint32_t j = t->slots[k & ZB_TABLE_MASK];
    uint32_t n = t->sizes[k & ZB_TABLE_MASK];
    WL_FREE(live[j], len[j]);
    void *p = WL_MALLOC(n);
    *(uint64_t *)p = k;
    live[j] = p;
    len[j] = n;
  }
  zb_stop(t);
  zb_escape(live);
  for (uint32_t j = 0; j < ZB_WINDOW; j++)
    WL_FREE(live[j], len[j]);
}

/* 3: realloc growth, a string builder that grows its buffer to the exact
 * length on every append of 1..64 bytes, up to ZB_STRING_LEN, then frees it.
 * One op = one realloc (the first one, from NULL, included). */
static void WL_FN(_realloc)(zb_thread *t) {
  uint64_t k = 0;
  zb_start(t);
  while (k < t->ops) {
    char *s = NULL;
    size_t n = 0;
    while (n < ZB_STRING_LEN) {
      size_t add = t->appends[k & ZB_TABLE_MASK];
      s = WL_REALLOC(s, n, n + add);
      memset(s + n, 'z', add);
      n += add;
      k++;
    }
    zb_escape(s);
    WL_FREE_RESIZED(s, n);
  }
  t->done_ops = k;
  zb_stop(t);
}

/* 4: producer/consumer. The producer allocates blocks of log-distributed
 * sizes (16 B..4 KiB), writes the size into each and hands them over through
 * a single-producer single-consumer ring; the consumer frees them. One op =
 * one block allocated in one thread and freed in the other. */
static void WL_FN(_producer)(zb_thread *t) {
  zb_queue *q = t->queue;
  uint64_t tail = 0, head = 0;
  zb_start(t);
  for (uint64_t k = 0; k < t->ops; k++) {
    uint64_t n = t->sizes[k & ZB_TABLE_MASK];
    uint64_t *p = WL_MALLOC(n);
    *p = n;
    if (tail - head >= ZB_QUEUE_CAP)
      head = zb_wait_space(q, tail);
    q->slot[tail & (ZB_QUEUE_CAP - 1)] = p;
    if ((++tail & (ZB_QUEUE_BATCH - 1)) == 0)
      atomic_store_explicit(&q->tail, tail, memory_order_release);
  }
  atomic_store_explicit(&q->tail, tail, memory_order_release);
  zb_stop(t);
}

static void WL_FN(_consumer)(zb_thread *t) {
  zb_queue *q = t->queue;
  uint64_t head = 0, tail = 0;
  zb_start(t);
  while (head < t->ops) {
    if (head == tail)
      tail = zb_wait_items(q, head);
    uint64_t *p = q->slot[head & (ZB_QUEUE_CAP - 1)];
    WL_FREE(p, *p);
    if ((++head & (ZB_QUEUE_BATCH - 1)) == 0)
      atomic_store_explicit(&q->head, head, memory_order_release);
  }
  atomic_store_explicit(&q->head, head, memory_order_release);
  zb_stop(t);
}

/* 5: memory overhead. ZB_MEMORY_BLOCKS live blocks of ZB_MEMORY_SIZE bytes
 * at once; the caller reads the peak RSS. The pointer array comes from mmap,
 * outside every contender. One op = one allocation. */
static void WL_FN(_memory)(zb_thread *t) {
  void **v = t->live;
  zb_start(t);
  for (uint64_t k = 0; k < t->ops; k++) {
    v[k] = WL_MALLOC(ZB_MEMORY_SIZE);
    *(uint64_t *)v[k] = k;
  }
  zb_stop(t);
  zb_escape(v);
  zb_memory_peak(t);
  for (uint64_t k = 0; k < t->ops; k++)
    WL_FREE(v[k], ZB_MEMORY_SIZE);
}

static const zb_impl WL_FN(_impl) = {
    .warm = WL_FN(_warm),
    .churn = WL_FN(_churn),
    .mixed = WL_FN(_mixed),
    .realloc = WL_FN(_realloc),
    .producer = WL_FN(_producer),
    .consumer = WL_FN(_consumer),
    .memory = WL_FN(_memory),
};

#undef WL_FN
#undef WL_CAT
#undef WL_CAT2
#undef WL_NAME
#undef WL_MALLOC
#undef WL_FREE
#undef WL_REALLOC
#undef WL_FREE_RESIZED
