/* Lua 5.4 through zmem/lua.h: a script builds and drops large tables; the
 * tag's peak and final figures are checked against Lua's own count; a hard
 * tag limit becomes a memory error that the script catches with pcall.
 *   adapter_lua        the above, with tags (header layout)
 *   adapter_lua lean   tags off: the lean layout, where zm_free_sized trusts
 *                      Lua's osize (checked in ZMEM_DEBUG_ASSERT builds) */
#include "check.h"

#include <zmem/lua.h>

#include <lauxlib.h>
#include <lualib.h>

#include <string.h>

static zm_tag tag;

static void run(lua_State *L, const char *chunk) {
  if (luaL_dostring(L, chunk) != LUA_OK) {
    fprintf(stderr, "lua: %s\n", lua_tostring(L, -1));
    exit(1);
  }
}

/* Lua's count of its live bytes (sum of the sizes it asked for). */
static size_t lua_bytes(lua_State *L) {
  return (size_t)lua_gc(L, LUA_GCCOUNT) * 1024 + (size_t)lua_gc(L, LUA_GCCOUNTB);
}

/* zmem holds at least what Lua asked for (usable sizes >= requests) plus a
 * header a block, and not wildly more. */
static void check_against_lua(lua_State *L, const char *when) {
  zm_tag_info t = tag_info(tag);
  size_t lua = lua_bytes(L), held = t.used - ZM_HEADER_SIZE * t.live_blocks;
  printf("%-10s lua %10zu  tag used %10zu  blocks %7zu  peak %10zu\n", when,
         lua, t.used, t.live_blocks, t.peak);
  CHECK(held >= lua);
  CHECK(held <= 2 * lua + 65536);
}

/* The direct calls: osize is a type code when ptr is NULL. */
static void alloc_contract(void) {
  void *ud = (void *)(uintptr_t)tag;
  size_t before = zm_tag_used(tag);
  void *p = zm_lua_alloc(ud, NULL, LUA_TTABLE, 56);
  CHECK(p && zm_tag_of(p) == tag && zm_usable_size(p) >= 56);
  memset(p, 1, 56);
  void *q = zm_lua_alloc(ud, p, 56, 4000); /* grow keeps the contents */
  CHECK(q && ((unsigned char *)q)[55] == 1 && zm_tag_of(q) == tag);
  CHECK(zm_lua_alloc(ud, q, 4000, 0) == NULL); /* free */
  CHECK(zm_lua_alloc(ud, NULL, LUA_TSTRING, 0) == NULL); /* free(NULL) */
  CHECK_EQ(zm_tag_used(tag), before);
}

/* A table of a million entries and strings, dropped and collected. */
static void build_and_drop(lua_State *L) {
  run(L, "big = {} for i = 1, 1000000 do big[i] = i * 2 end "
         "names = {} for i = 1, 200000 do names['k' .. i] = string.rep('x', i % 64) end");
  check_against_lua(L, "built");
  size_t built = zm_tag_used(tag);
  CHECK(built > 16 * 1024 * 1024); /* 1M array slots alone are 16 MiB */
  run(L, "assert(#big == 1000000 and big[500000] == 1000000) "
         "assert(names.k199999 == string.rep('x', 199999 % 64))");
  run(L, "big = nil names = nil collectgarbage() collectgarbage()");
  check_against_lua(L, "dropped");
  zm_tag_info t = tag_info(tag);
  CHECK(t.peak >= built);
  CHECK(t.used < built / 16);
}

/* A hard limit on the tag: the script's runaway loop gets "not enough
 * memory" from pcall, the state stays usable, and used never passes it. */
static void limit_is_a_lua_error(lua_State *L) {
  size_t limit = zm_tag_used(tag) + 8 * 1024 * 1024;
  CHECK(zm_tag_set_limit(tag, limit) == 0);
  zm_reset_peak();
  uint64_t failures = tag_info(tag).failures;
  run(L, "local ok, err = pcall(function() "
         "  local t = {} for i = 1, 1e9 do t[i] = ('y'):rep(100) .. i end end) "
         "result_ok, result_err = ok, err "
         "collectgarbage()");
  lua_getglobal(L, "result_ok");
  CHECK(lua_isboolean(L, -1) && !lua_toboolean(L, -1));
  lua_getglobal(L, "result_err");
  const char *err = lua_tostring(L, -1);
  printf("limited   pcall -> false, \"%s\"; tag peak %zu <= limit %zu\n",
         err ? err : "(null)", tag_info(tag).peak, limit);
  CHECK(err && strcmp(err, "not enough memory") == 0);
  lua_pop(L, 2);
  CHECK(tag_info(tag).failures > failures);
  CHECK(tag_info(tag).peak <= limit);
  run(L, "local s = 0 for i = 1, 1000 do s = s + #tostring(i) end assert(s == 2893)");
  CHECK(zm_tag_set_limit(tag, 0) == 0);
}

/* Without tags: same script, used memory back to where it started. */
static int lean(void) {
  size_t before = zm_used_memory();
  lua_State *L = zm_lua_newstate(ZM_TAG_DEFAULT);
  CHECK(L);
  luaL_openlibs(L);
  run(L, "local t = {} for i = 1, 300000 do t[i] = ('z'):rep(i % 50) .. i end "
         "for i = 1, 300000, 2 do t[i] = nil end collectgarbage() "
         "local s = {} for i = 1, 1000 do s[#s + 1] = tostring(i) end "
         "assert(table.concat(s):len() == 2893)");
  size_t used = zm_used_memory();
  CHECK(used > before + 1024 * 1024);
  lua_close(L);
  printf("lean: used %zu while running, back to %zu (from %zu)\n", used,
         zm_used_memory(), before);
  CHECK_EQ(zm_used_memory(), before);
  CHECK(!zm_tags_enabled());
  return 0;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "lean") == 0)
    return lean();
  tags_on();
  tag = zm_tag_new("lua");
  lua_State *L = zm_lua_newstate(tag);
  CHECK(L);
  luaL_openlibs(L);
  check_against_lua(L, "opened");
  alloc_contract();
  build_and_drop(L);
  limit_is_a_lua_error(L);
  lua_close(L);
  zm_tag_info t = tag_info(tag);
  printf("closed    tag used %zu, blocks %zu, peak %zu\n", t.used,
         t.live_blocks, t.peak);
  CHECK_EQ(t.used, 0);
  CHECK_EQ(t.live_blocks, 0);
  return 0;
}
