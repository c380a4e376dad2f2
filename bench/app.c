/* zbench_app: the application figure. A real allocation-heavy program runs
 * with its allocator hook pointed at the raw allocator or at zmem.
 *
 *   zbench_app CONTENDER APP [--scale X]
 *
 * CONTENDER  raw zm-lean zm-lean-sized zm-header
 * APP        sqlite  builds an in-memory database (inserts, an index,
 *                    point queries, aggregates, updates, deletes), through
 *                    sqlite3_config(SQLITE_CONFIG_MALLOC)
 *            lua     runs a table- and string-heavy Lua 5.4 script, through
 *                    lua_newstate's allocator (which passes the old size,
 *                    so zm-lean-sized frees with zm_free_sized)
 *
 * Both hooks are function pointers inside SQLite and Lua, for the raw
 * allocator and for zmem alike. Prints one line of key=value pairs. The glue
 * functions live here until zmem grows its own adapters. */
#include "raw.h"

#include <zmem.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <sqlite3.h>

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double scale = 1.0;

static void die(const char *what, const char *detail) {
  fprintf(stderr, "zbench_app: %s: %s\n", what, detail);
  exit(2);
}

/* ------------------------------------------------------- SQLite glue */

static int sq_roundup(int n) { return (n + 7) & ~7; }
static int sq_init(void *ud) {
  (void)ud;
  return SQLITE_OK;
}
static void sq_shutdown(void *ud) { (void)ud; }

static void *sq_raw_malloc(int n) { return rb_malloc((size_t)n); }
static void sq_raw_free(void *p) { rb_free(p); }
static void *sq_raw_realloc(void *p, int n) { return rb_realloc(p, (size_t)n); }
static int sq_raw_size(void *p) { return (int)rb_usable(p); }

static void *sq_zm_malloc(int n) { return zm_try_malloc((size_t)n); }
static void sq_zm_free(void *p) { zm_free(p); }
static void *sq_zm_realloc(void *p, int n) {
  return zm_try_realloc(p, (size_t)n);
}
static int sq_zm_size(void *p) { return (int)zm_usable_size(p); }

static const sqlite3_mem_methods sq_raw = {
    sq_raw_malloc, sq_raw_free, sq_raw_realloc, sq_raw_size,
    sq_roundup,    sq_init,     sq_shutdown,    NULL};
static const sqlite3_mem_methods sq_zm = {
    sq_zm_malloc, sq_zm_free, sq_zm_realloc, sq_zm_size,
    sq_roundup,   sq_init,    sq_shutdown,   NULL};

static void sq_exec(sqlite3 *db, const char *sql) {
  char *err = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
    die(sql, err ? err : "?");
}

static sqlite3_stmt *sq_prepare(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    die(sql, sqlite3_errmsg(db));
  return st;
}

static uint64_t rng(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static void sq_name(char *buf, uint64_t k, uint64_t *seed) {
  int len = 8 + (int)(rng(seed) % 120);
  int n = snprintf(buf, 32, "user-%llu-", (unsigned long long)k);
  for (; n < len; n++)
    buf[n] = (char)('a' + rng(seed) % 26);
  buf[n] = '\0';
}

static void sq_insert(sqlite3 *db, int rows, uint64_t *seed) {
  sqlite3_stmt *st = sq_prepare(db, "INSERT INTO people(name, city, score, "
                                    "note) VALUES(?1, ?2, ?3, ?4)");
  char name[160], note[160];
  sq_exec(db, "BEGIN");
  for (int i = 0; i < rows; i++) {
    sq_name(name, (uint64_t)i, seed);
    sq_name(note, rng(seed) % 1000, seed);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 2, (int)(rng(seed) % 500));
    sqlite3_bind_double(st, 3, (double)(rng(seed) % 100000) / 7.0);
    sqlite3_bind_text(st, 4, note, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) != SQLITE_DONE)
      die("insert", sqlite3_errmsg(db));
    sqlite3_reset(st);
  }
  sq_exec(db, "COMMIT");
  sqlite3_finalize(st);
}

static int64_t sq_lookups(sqlite3 *db, int rows, int n, uint64_t *seed) {
  sqlite3_stmt *st =
      sq_prepare(db, "SELECT id, score FROM people WHERE name >= ?1 "
                     "ORDER BY name LIMIT 3");
  char name[160];
  int64_t sum = 0;
  for (int i = 0; i < n; i++) {
    sq_name(name, rng(seed) % (uint64_t)rows, seed);
    sqlite3_bind_text(st, 1, name, 12, SQLITE_TRANSIENT);
    while (sqlite3_step(st) == SQLITE_ROW)
      sum += sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  return sum;
}

static int64_t sq_scan(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = sq_prepare(db, sql);
  int64_t sum = 0;
  while (sqlite3_step(st) == SQLITE_ROW)
    sum += sqlite3_column_int64(st, 0) + sqlite3_column_bytes(st, 1);
  sqlite3_finalize(st);
  return sum;
}

static int64_t run_sqlite(const sqlite3_mem_methods *m) {
  if (sqlite3_config(SQLITE_CONFIG_MALLOC, m) != SQLITE_OK ||
      sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) != SQLITE_OK ||
      sqlite3_initialize() != SQLITE_OK)
    die("sqlite3", "configuration refused");
  int rows = (int)(25000 * scale);
  uint64_t seed = 0x5eed;
  sqlite3 *db;
  if (sqlite3_open(":memory:", &db) != SQLITE_OK)
    die("sqlite3_open", ":memory:");
  sq_exec(db, "CREATE TABLE people(id INTEGER PRIMARY KEY, name TEXT, "
              "city INTEGER, score REAL, note TEXT)");
  sq_insert(db, rows, &seed);
  sq_exec(db, "CREATE INDEX people_name ON people(name)");
  int64_t sum = sq_lookups(db, rows, rows / 2, &seed);
  sum += sq_scan(db, "SELECT city, group_concat(substr(name, 1, 12)) FROM "
                     "people GROUP BY city");
  sum += sq_scan(db, "SELECT count(*), max(note) FROM people GROUP BY "
                     "substr(note, 1, 3) ORDER BY 2 DESC");
  sum += sq_scan(db, "SELECT id, name || note FROM people ORDER BY score "
                     "DESC LIMIT 2000");
  sq_exec(db, "UPDATE people SET note = note || '-' || name WHERE id % 7 = 0");
  sq_exec(db, "DELETE FROM people WHERE id % 5 = 0");
  sq_exec(db, "CREATE TABLE summary AS SELECT city, avg(score) AS s, "
              "group_concat(name) AS names FROM people GROUP BY city");
  sum += sq_scan(db, "SELECT count(*), max(names) FROM summary");
  sqlite3_close(db);
  sqlite3_shutdown();
  return sum;
}

/* ---------------------------------------------------------- Lua glue */

static void *lua_raw_alloc(void *ud, void *p, size_t osize, size_t nsize) {
  (void)ud;
  (void)osize;
  if (nsize == 0) {
    rb_free(p);
    return NULL;
  }
  return rb_realloc(p, nsize);
}

static void *lua_zm_alloc(void *ud, void *p, size_t osize, size_t nsize) {
  (void)ud;
  (void)osize;
  if (nsize == 0) {
    zm_free(p);
    return NULL;
  }
  return zm_try_realloc(p, nsize);
}

/* Lua passes the block's size as osize whenever p is not NULL. */
static void *lua_zm_sized_alloc(void *ud, void *p, size_t osize,
                                size_t nsize) {
  (void)ud;
  if (nsize == 0) {
    if (p)
      zm_free_sized(p, osize);
    return NULL;
  }
  return zm_try_realloc(p, nsize);
}

static const char lua_script[] =
    "local n = ...\n"
    "local t = {}\n"
    "for i = 1, n do\n"
    "  t[i] = { id = i, name = 'item' .. i, tags = { i % 7, i % 11, 'x' .. "
    "(i % 13) } }\n"
    "end\n"
    "local idx = {}\n"
    "for i = 1, n do idx[t[i].name] = t[i] end\n"
    "local sum = 0\n"
    "for round = 1, 4 do\n"
    "  for i = 1, n, 3 do\n"
    "    local r = idx['item' .. ((i * 7919 + round) % n + 1)]\n"
    "    sum = sum + r.id + #r.tags\n"
    "    r.tags[#r.tags + 1] = round\n"
    "  end\n"
    "end\n"
    "table.sort(t, function(a, b) return a.name < b.name end)\n"
    "local parts = {}\n"
    "for i = 1, n, 2 do parts[#parts + 1] = t[i].name .. ':' .. "
    "#t[i].tags end\n"
    "local s = table.concat(parts, ',')\n"
    "local words = 0\n"
    "for w in s:gmatch('[^,]+') do words = words + 1 end\n"
    "t, idx, parts = nil, nil, nil\n"
    "collectgarbage()\n"
    "local q = {}\n"
    "for i = 1, n do q[#q + 1] = string.rep('ab', i % 40) end\n"
    "for i = 1, n do q[i] = nil end\n"
    "return sum + words + #s\n";

static int64_t run_lua(lua_Alloc alloc) {
  lua_State *L = lua_newstate(alloc, NULL);
  if (!L)
    die("lua_newstate", "failed");
  luaL_openlibs(L);
  if (luaL_loadstring(L, lua_script) != LUA_OK)
    die("lua", lua_tostring(L, -1));
  lua_pushinteger(L, (lua_Integer)(30000 * scale));
  if (lua_pcall(L, 1, 1, 0) != LUA_OK)
    die("lua", lua_tostring(L, -1));
  int64_t r = (int64_t)lua_tointeger(L, -1);
  lua_close(L);
  return r;
}

/* ------------------------------------------------------------- main */

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int usage(void) {
  fprintf(stderr, "usage: zbench_app raw|zm-lean|zm-lean-sized|zm-header "
                  "sqlite|lua [--scale X]\n");
  return 2;
}

int main(int argc, char **argv) {
  if (argc < 3)
    return usage();
  const char *who = argv[1], *app = argv[2];
  for (int i = 3; i < argc; i++) {
    if (strcmp(argv[i], "--scale") == 0 && i + 1 < argc)
      scale = atof(argv[++i]);
    else
      return usage();
  }
  bool raw = strcmp(who, "raw") == 0;
  bool sized = strcmp(who, "zm-lean-sized") == 0;
  bool header = strcmp(who, "zm-header") == 0;
  if (!raw && !sized && !header && strcmp(who, "zm-lean") != 0)
    return usage();
  bool sqlite = strcmp(app, "sqlite") == 0;
  if (!sqlite && strcmp(app, "lua") != 0)
    return usage();
  if (sqlite && sized)
    die("zm-lean-sized", "SQLite's xFree is not given a size");
  if (!raw && zm_set_layout(header ? ZM_LAYOUT_HEADER : ZM_LAYOUT_LEAN) != 0)
    die("zm_set_layout", strerror(errno));

  size_t used0 = zm_used_memory();
  double t0 = now_ns();
  int64_t check;
  if (sqlite)
    check = run_sqlite(raw ? &sq_raw : &sq_zm);
  else
    check = run_lua(raw ? lua_raw_alloc
                        : sized ? lua_zm_sized_alloc : lua_zm_alloc);
  double wall = now_ns() - t0;
  zm_stats st = {.size = sizeof st};
  zm_get_stats(&st);
  size_t used1 = zm_used_memory();
  printf("contender=%s backend=%s app=%s wall_ns=%.0f check=%lld calls=%llu "
         "peak_bytes=%zu exact=%d\n",
         who, RB_NAME, app, wall, (long long)check,
         (unsigned long long)(st.malloc_calls + st.realloc_calls +
                              st.free_calls),
         st.peak, used1 == used0);
  return used1 == used0 ? 0 : 3;
}
