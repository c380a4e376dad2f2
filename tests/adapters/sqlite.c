/* SQLite through zmem/sqlite.h: a database created, filled with 100k rows,
 * indexed and queried; sqlite3_memory_used() agrees exactly with the tag all
 * along, and the tag is back to 0 after sqlite3_close and sqlite3_shutdown.
 *   adapter_sqlite         the above
 *   adapter_sqlite sweep   zm_oom_sweep over opening a database and running
 *                          statements: each allocation in turn fails, and
 *                          SQLite must answer SQLITE_NOMEM (or recover),
 *                          never crash, never leak */
#include "check.h"

#include <zmem/sqlite.h>

#include <string.h>

#define ROWS 100000

static zm_tag tag;

/* SQLite's own count (sum of xSize) against zmem's (usable sizes plus one
 * header a block), and its live block count against the tag's. */
static void check_agree(const char *when) {
  zm_tag_info t = tag_info(tag);
  sqlite3_int64 used = sqlite3_memory_used();
  int count = 0, high = 0;
  CHECK(sqlite3_status(SQLITE_STATUS_MALLOC_COUNT, &count, &high, 0) ==
        SQLITE_OK);
  printf("%-14s sqlite3_memory_used %10lld  tag used %10zu  blocks %7zu\n",
         when, (long long)used, t.used, t.live_blocks);
  CHECK_EQ(t.live_blocks, count);
  CHECK_EQ(used, t.used - ZM_HEADER_SIZE * t.live_blocks);
}

static void exec(sqlite3 *db, const char *sql) {
  char *err = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
    fprintf(stderr, "%s: %s\n", sql, err ? err : "?");
    exit(1);
  }
}

static void fill(sqlite3 *db) {
  sqlite3_stmt *st;
  exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, v REAL)");
  exec(db, "BEGIN");
  CHECK(sqlite3_prepare_v2(db, "INSERT INTO t(id, name, v) VALUES(?, ?, ?)",
                           -1, &st, NULL) == SQLITE_OK);
  char name[48];
  for (int i = 1; i <= ROWS; i++) {
    snprintf(name, sizeof name, "name-%d-%x", i % 977, (unsigned)i * 2654435761u);
    sqlite3_bind_int(st, 1, i);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(st, 3, i * 0.5);
    CHECK(sqlite3_step(st) == SQLITE_DONE);
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  exec(db, "COMMIT");
  exec(db, "CREATE INDEX t_name ON t(name)");
}

static sqlite3_int64 query_int(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st;
  CHECK(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK);
  CHECK(sqlite3_step(st) == SQLITE_ROW);
  sqlite3_int64 v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

static void query(sqlite3 *db) {
  CHECK_EQ(query_int(db, "SELECT count(*) FROM t"), ROWS);
  /* sum of i * 0.5 for i = 1..ROWS, times 2 */
  CHECK_EQ(query_int(db, "SELECT CAST(sum(v) * 2 AS INTEGER) FROM t"),
           (sqlite3_int64)ROWS * (ROWS + 1) / 2);
  /* i % 977 == 5 for i = 5, 982, ...: through the index */
  sqlite3_int64 n = query_int(
      db, "SELECT count(*) FROM t WHERE name >= 'name-5-' AND name < 'name-5.'");
  CHECK_EQ(n, (ROWS - 5) / 977 + 1);
  CHECK_EQ(query_int(db, "SELECT count(*) FROM (SELECT name FROM t "
                         "GROUP BY id % 977)"),
           977);
}

/* One step of the sweep: open, create, insert, query, close. Any result
 * other than success or SQLITE_NOMEM aborts, which the sweep reports as a
 * crash. The first failure ends the work (later statements would fail for
 * want of the table, not of memory). */
static int nomem_seen;

static int nomem_or_ok(int rc, int ok) {
  if (rc == ok)
    return 1;
  nomem_seen = 1;
  if (rc != SQLITE_NOMEM) {
    fprintf(stderr, "sweep: SQLite returned %d (%s), not SQLITE_NOMEM\n", rc,
            sqlite3_errstr(rc));
    abort();
  }
  return 0;
}

static void open_and_query(void *arg) {
  int *rows_seen = arg;
  sqlite3 *db = NULL;
  sqlite3_stmt *st = NULL;
  if (nomem_or_ok(sqlite3_open(":memory:", &db), SQLITE_OK) &&
      nomem_or_ok(sqlite3_exec(db, "CREATE TABLE t(a INTEGER, b TEXT);"
                                   "INSERT INTO t VALUES(1, 'one'), (2, 'two'),"
                                   " (3, hex(randomblob(300)));"
                                   "CREATE INDEX tb ON t(b)",
                               NULL, NULL, NULL),
                  SQLITE_OK) &&
      nomem_or_ok(sqlite3_prepare_v2(db, "SELECT a, length(b) FROM t "
                                         "WHERE a > 0 ORDER BY b",
                                     -1, &st, NULL),
                  SQLITE_OK)) {
    int rc, n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
      n++;
    if (nomem_or_ok(rc, SQLITE_DONE))
      *rows_seen = n;
  }
  sqlite3_finalize(st);
  if (sqlite3_close(db) != SQLITE_OK) /* NULL is fine; a busy db is not */
    abort();
}

static int sweep(void) {
  tags_on();
  tag = zm_tag_new("sqlite");
  CHECK(zm_sqlite_install(tag) == SQLITE_OK);
  CHECK(sqlite3_initialize() == SQLITE_OK);
  int rows = 0;
  open_and_query(&rows); /* SQLite's lazily made global state, made now */
  CHECK_EQ(rows, 3);
  size_t before = zm_tag_used(tag);
  zm_sweep_result r = {.size = sizeof r, .max_steps = 5000};
  CHECK(zm_oom_sweep(open_and_query, &rows, &r) == 0);
  printf("sweep over open + create + insert + query: %llu steps, %s, "
         "%llu leaking, %llu crashing\n", (unsigned long long)r.steps,
         r.complete ? "complete" : "incomplete", (unsigned long long)r.leaks,
         (unsigned long long)r.crashes);
  for (size_t i = 0; i < r.nrecords; i++)
    printf("  step %llu: %s (signal %d, %lld bytes, %lld blocks)\n",
           (unsigned long long)r.records[i].step,
           r.records[i].kind == ZM_SWEEP_LEAK ? "leak" : "crash",
           r.records[i].signal, (long long)r.records[i].leaked_bytes,
           (long long)r.records[i].leaked_blocks);
  CHECK(r.complete);
  CHECK(r.steps > 50); /* every allocation of the work got its turn */
  CHECK_EQ(r.leaks, 0);
  CHECK_EQ(r.crashes, 0);
  CHECK_EQ(zm_tag_used(tag), before); /* the parent did not allocate */
  /* Here, not in a child: with every allocation failing, the open itself
   * answers SQLITE_NOMEM and nothing is left behind. */
  CHECK(zm_fault_set(1, UINT64_MAX) == 0);
  rows = -1;
  open_and_query(&rows);
  zm_fault_clear();
  CHECK(nomem_seen && rows == -1);
  CHECK(zm_fault_hits() > 0);
  CHECK_EQ(zm_tag_used(tag), before);
  CHECK(sqlite3_shutdown() == SQLITE_OK);
  CHECK_EQ(zm_tag_used(tag), 0);
  return 0;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "sweep") == 0)
    return sweep();
  tags_on();
  tag = zm_tag_new("sqlite");
  CHECK(tag != ZM_TAG_INVALID);
  CHECK(zm_sqlite_install(tag) == SQLITE_OK);
  CHECK(sqlite3_initialize() == SQLITE_OK);
  /* Once SQLite is initialised, its allocator cannot change. */
  CHECK(zm_sqlite_install(ZM_TAG_DEFAULT) == SQLITE_MISUSE);

  sqlite3 *db;
  CHECK(sqlite3_open(":memory:", &db) == SQLITE_OK);
  check_agree("open");
  CHECK(zm_tag_used(tag) > 0);
  fill(db);
  check_agree("filled");
  CHECK(zm_tag_used(tag) > 4 * 1024 * 1024); /* 100k rows in the page cache */
  query(db);
  check_agree("queried");
  CHECK(tag_info(tag).peak >= (size_t)sqlite3_memory_highwater(0));
  CHECK_EQ(tag_info(ZM_TAG_DEFAULT).used, zm_used_memory() - zm_tag_used(tag));

  CHECK(sqlite3_close(db) == SQLITE_OK);
  check_agree("closed");
  CHECK(sqlite3_shutdown() == SQLITE_OK);
  zm_tag_info t = tag_info(tag);
  printf("after shutdown: tag used %zu, blocks %zu, peak %zu, calls %llu\n",
         t.used, t.live_blocks, t.peak, (unsigned long long)t.calls);
  CHECK_EQ(t.used, 0);
  CHECK_EQ(t.live_blocks, 0);
  CHECK(t.calls > ROWS); /* SQLite really allocated through zmem */
  CHECK_EQ(t.failures, 0);
  return 0;
}
