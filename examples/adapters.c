/* Four libraries on zmem at once, each under its own tag: Lua makes
 * records, SQLite stores them, zlib compresses a dump of the table and
 * OpenSSL hashes it. The report is printed while all four are live, then
 * everything is closed and each tag is back to 0.
 *   build/examples/zmem_adapters_example */
#include <zmem.h>
#include <zmem/lua.h>
#include <zmem/openssl.h>
#include <zmem/sqlite.h>
#include <zmem/zlib.h>

#include <lauxlib.h>
#include <lualib.h>
#include <openssl/evp.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die(const char *what) {
  fprintf(stderr, "adapters example: %s\n", what);
  exit(1);
}

/* Lua makes n records "name-i:score" in a global table. */
static void make_records(lua_State *L, int n) {
  lua_pushinteger(L, n);
  lua_setglobal(L, "n");
  if (luaL_dostring(L, "records = {} for i = 1, n do "
                       "records[i] = ('user-%d:%d'):format(i, (i * 7919) % 1000) end"))
    die(lua_tostring(L, -1));
}

/* SQLite stores them. */
static void store(lua_State *L, sqlite3 *db, int n) {
  sqlite3_stmt *st;
  if (sqlite3_exec(db, "CREATE TABLE r(id INTEGER PRIMARY KEY, rec TEXT);"
                       "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(db, "INSERT INTO r(rec) VALUES(?)", -1, &st, NULL))
    die(sqlite3_errmsg(db));
  lua_getglobal(L, "records");
  for (int i = 1; i <= n; i++) {
    lua_rawgeti(L, -1, i);
    sqlite3_bind_text(st, 1, lua_tostring(L, -1), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) != SQLITE_DONE)
      die(sqlite3_errmsg(db));
    sqlite3_reset(st);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  sqlite3_finalize(st);
  sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
}

/* zlib compresses the table's rows as they are read back. */
static size_t compress_rows(sqlite3 *db, z_stream *z, unsigned char *out,
                            size_t cap) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "SELECT rec FROM r ORDER BY id", -1, &st, NULL))
    die(sqlite3_errmsg(db));
  z->next_out = out;
  z->avail_out = (uInt)cap;
  while (sqlite3_step(st) == SQLITE_ROW) {
    z->next_in = (unsigned char *)sqlite3_column_text(st, 0);
    z->avail_in = (uInt)sqlite3_column_bytes(st, 0);
    if (deflate(z, Z_NO_FLUSH) != Z_OK)
      die("deflate");
  }
  sqlite3_finalize(st);
  if (deflate(z, Z_FINISH) != Z_STREAM_END)
    die("deflate: output buffer too small");
  return z->total_out;
}

int main(void) {
  zm_tag lua_tag = zm_tag_new("lua"); /* the first tag turns tags on */
  zm_tag sqlite_tag = zm_tag_new("sqlite");
  zm_tag zlib_tag = zm_tag_new("zlib");
  zm_tag ssl_tag = zm_tag_new("openssl");
  zm_tag app_tag = zm_tag_new("app"); /* the program's own buffer */
  if (zm_sqlite_install(sqlite_tag) != SQLITE_OK)
    die("SQLite is already initialised");
  if (zm_openssl_install(ssl_tag) != 0)
    die("OpenSSL has already allocated memory");

  enum { N = 50000 };
  lua_State *L = zm_lua_newstate(lua_tag);
  sqlite3 *db = NULL;
  if (!L || sqlite3_open(":memory:", &db) != SQLITE_OK)
    die("cannot open Lua or SQLite");
  luaL_openlibs(L);
  make_records(L, N);
  store(L, db, N);

  z_stream z;
  memset(&z, 0, sizeof z);
  zm_zlib_use(&z, zlib_tag);
  if (deflateInit(&z, 9) != Z_OK)
    die("deflateInit");
  size_t cap = 1u << 20;
  unsigned char *packed = zm_malloc_tag(app_tag, cap);
  size_t len = compress_rows(db, &z, packed, cap);

  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned mdlen = 0;
  EVP_MD *sha = EVP_MD_fetch(NULL, "SHA2-256", NULL);
  if (!sha || !EVP_Digest(packed, len, md, &mdlen, sha, NULL))
    die("SHA-256");
  printf("%d records, %zu bytes compressed, sha256 %02x%02x%02x%02x...\n\n", N,
         len, md[0], md[1], md[2], md[3]);

  zm_stats_print(stdout, ZM_FORMAT_TEXT); /* all four libraries live */

  EVP_MD_free(sha);
  OPENSSL_cleanup();
  deflateEnd(&z);
  zm_free(packed);
  sqlite3_close(db);
  sqlite3_shutdown();
  lua_close(L);
  printf("\nafter closing: lua %zu, sqlite %zu, zlib %zu, openssl %zu bytes\n",
         zm_tag_used(lua_tag), zm_tag_used(sqlite_tag), zm_tag_used(zlib_tag),
         zm_tag_used(ssl_tag));
  return 0;
}
