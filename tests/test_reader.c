/* The launcher's reading of the shared record, which the program can
 * write at any time: a stack table changed while it is read, process
 * records whose figures break the record's invariants (and ones that only
 * look odd), module files that are not regular files, and the escaping of
 * the program's words in text output. */
#define _GNU_SOURCE
#include "escape.h"
#include "read.h"
#include "stacktab.h"
#include "symbolize.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------- stack table */

typedef struct mutate {
  zm__st_header *t;
  int calls;
} mutate;

/* After the first stack is read, the writer makes every entry deep and the
 * header's depth limit huge: a reader that trusted the header it checked
 * before would copy 5000 frames into its 1024-frame buffer. */
static int change_under_reader(const zm__st_site *s, void *arg) {
  (void)s;
  mutate *m = arg;
  if (m->calls++ == 0) {
    m->t->max_depth = 100000;
    zm__st_entry *e = (zm__st_entry *)(m->t + 1);
    for (uint32_t i = 0; i < m->t->capacity; i++)
      if (atomic_load(&e[i].state) == ZM__ST_READY) {
        e[i].depth = 5000;
        e[i].frames = 0;
      }
  }
  return 0;
}

Test(reader, stack_table_changed_while_read) {
  uint32_t cap = 16, depth = 8;
  uint64_t frames = 8192;
  size_t len = zm__stacktab_size(cap, depth, frames);
  void *mem = aligned_alloc(64, (len + 63) / 64 * 64);
  cr_assert_not_null(mem);
  zm__st_header *t = zm__stacktab_init(mem, len, cap, depth, frames);
  cr_assert_not_null(t);
  zm__st_local l = {0};
  for (uintptr_t k = 1; k <= 6; k++) {
    uintptr_t st[3] = {0x1000 * k, 0x2000, 0x3000};
    zm__stacktab_alloc(t, &l, zm__stacktab_find(t, st, 3), 1, 16);
  }
  mutate m = {t, 0};
  char err[200] = "";
  int rc = zm__stacktab_read(mem, len, NULL, change_under_reader, &m, err, sizeof err);
  cr_assert_eq(rc, -1, "the deep entry was read (rc %d)", rc);
  cr_assert(strstr(err, "outside the pool"), "%s", err);
  free(mem);
}

/* ---------------------------------------------------- process records */

/* A record of one process with one slot, as the preload leaves it after
 * n mallocs of 100 bytes and f frees. */
static void *record(uint64_t n, uint64_t f) {
  void *base = calloc(1, ZMR_PROCS_OFFSET + ZMR_PROC_BYTES);
  cr_assert_not_null(base);
  atomic_store(&((zmr_header *)base)->nprocs, 1);
  zmr_proc *p = zmr_proc_at(base, 0);
  atomic_store(&p->state, ZMR_STATE_EXITED);
  p->pid = 42; p->ppid = 1; p->parent_index = UINT32_MAX;
  strcpy(p->command, "prog");
  atomic_store(&p->nslots, 1);
  zmr_slot *s = &p->slots[0];
  s->calls[ZMR_MALLOC] = n; s->bytes[ZMR_MALLOC] = 100 * n;
  s->calls[ZMR_FREE] = f; s->bytes[ZMR_FREE] = 100 * f;
  s->hist[zmr_bucket(100)] = n;
  s->total_requested = 100 * n; s->total_held = 112 * n;
  s->live_requested = 100 * (int64_t)(n - f); s->live_held = 112 * (int64_t)(n - f);
  s->live_blocks = (int64_t)(n - f);
  s->cand_requested = 100 * (int64_t)n; s->cand_held = 112 * (int64_t)n;
  p->peak_requested = 100 * (int64_t)n; p->peak_held = 112 * (int64_t)n;
  return base;
}

static const char *read0(void *base, zmc_proc *out) {
  return zmc_read_proc(base, 0, 0, out);
}

Test(reader, consistent_record) {
  void *base = record(3, 2);
  zmc_proc p;
  cr_assert_null(read0(base, &p), "%s", p.untrusted);
  cr_assert_eq(p.allocations, 3);
  free(base);
}

Test(reader, calls_beside_allocations) {
  void *base = record(3, 0);
  zmr_proc_at(base, 0)->slots[0].calls[ZMR_MALLOC] = 18446744073709551360ull;
  zmc_proc p;
  const char *why = read0(base, &p);
  cr_assert_not_null(why);
  cr_assert(strstr(why, "malloc: 18446744073709551360 calls beside 3 allocations"), "%s", why);
  cr_assert_str_eq(p.untrusted, why);
  free(base);
}

Test(reader, bytes_beyond_any_allocation) {
  void *base = record(3, 0);
  zmr_proc_at(base, 0)->slots[0].total_requested = UINT64_MAX - 7;
  zmc_proc p;
  cr_assert_not_null(read0(base, &p));
  free(base);
}

Test(reader, live_above_what_was_allocated) {
  void *base = record(3, 0);
  zmr_proc_at(base, 0)->slots[0].live_blocks = 1000;
  zmc_proc p;
  cr_assert_not_null(read0(base, &p));
  free(base);
}

/* Frees of blocks zmem never saw take live figures below zero: odd, true. */
Test(reader, unseen_frees_are_not_untrusted) {
  void *base = record(3, 5);
  zmr_proc *r = zmr_proc_at(base, 0);
  r->slots[0].unseen_frees = 2;
  zmc_proc p;
  cr_assert_null(read0(base, &p), "%s", p.untrusted);
  cr_assert_eq(p.live_blocks, -2);
  cr_assert_eq(p.unseen_frees, 2);
  free(base);
  base = record(3, 8); /* without the count: five blocks freed from nowhere */
  cr_assert_not_null(read0(base, &p));
  free(base);
}

/* A fork child frees what it inherited: live falls from the inherited figure. */
Test(reader, fork_child_frees_inherited_blocks) {
  void *base = record(0, 4);
  zmr_proc *r = zmr_proc_at(base, 0);
  r->origin = ZMR_ORIGIN_FORK;
  r->base_blocks = 10; r->base_requested = 1000; r->base_held = 1120;
  r->peak_requested = 1000; r->peak_held = 1120;
  r->slots[0].cand_requested = 0; r->slots[0].cand_held = 0;
  zmc_proc p;
  cr_assert_null(read0(base, &p), "%s", p.untrusted);
  cr_assert_eq(p.live_blocks, 6);
  free(base);
}

Test(reader, bad_identity_is_marked_and_parent_not_followed) {
  void *base = record(1, 0);
  zmr_proc *r = zmr_proc_at(base, 0);
  r->parent_index = 7;
  zmc_proc p;
  cr_assert_not_null(read0(base, &p));
  cr_assert_eq(p.parent_index, UINT32_MAX);
  atomic_store(&r->state, 0x5a5a5a5a);
  r->parent_index = UINT32_MAX;
  cr_assert(strstr(read0(base, &p), "unknown state"));
  free(base);
}

/* ------------------------------------------------------------ modules */

Test(reader, module_file_that_is_a_fifo, .timeout = 20) {
  char dir[] = "/tmp/zmem-reader-XXXXXX", path[64];
  cr_assert_not_null(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/fifo.so", dir);
  cr_assert_eq(mkfifo(path, 0600), 0, "%s", strerror(errno));
  zm__symtab *s = zm__sym_open();
  zm__sym_module m = {path, NULL, 0, 0x400000, 0x400000, 0x500000, 0};
  cr_assert_eq(zm__sym_add_module(s, &m), 0);
  zm__sym_frame f;
  /* Before: open() of the FIFO blocked for ever, waiting for a writer. */
  cr_assert_eq(zm__sym_lookup(s, 0x401000, &f), ZM__SYM_NO_FILE);
  zm__sym_close(s);
  unlink(path);
  rmdir(dir);
}

/* ----------------------------------------------------------- escaping */

Test(reader, control_characters_escaped) {
  char buf[64];
  cr_assert_str_eq(zmc_escaped(buf, sizeof buf, "a\x1b]0;t\a\\b"), "a\\x1b]0;t\\x07\\\\b");
  cr_assert_str_eq(zmc_escaped(buf, sizeof buf, "caf\xc3\xa9 \xc2\x9b \xff"),
                   "caf\xc3\xa9 \\xc2\\x9b \\xff");
  cr_assert_str_eq(zmc_escaped(buf, 6, "ab\x1b"), "ab"); /* no half escape */
}
