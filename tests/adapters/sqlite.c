/* SQLite through zmem/sqlite.h: a database created, filled with 100k rows,
 * indexed and queried; sqlite3_memory_used() agrees exactly with the tag all
 * along, and the tag is back to 0 after sqlite3_close and sqlite3_shutdown. */
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

int main(void) {
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
