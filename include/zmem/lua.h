/* zmem/lua.h: a Lua 5.4 allocator on zmem, one tag per Lua state.
 *
 *   lua_State *L = zm_lua_newstate(zm_tag_new("lua"));
 *   luaL_openlibs(L); ... lua_close(L);
 *
 * Header-only: libzmem does not depend on Lua. The tag travels in the
 * allocator's user pointer, so each state may have its own tag. Allocation
 * uses the try path: when memory or a tag limit refuses a block, Lua gets
 * NULL, collects garbage, retries, and raises a memory error ("not enough
 * memory") that pcall catches; zmem's OOM handler is never called. */
#ifndef ZMEM_LUA_H
#define ZMEM_LUA_H

#include <zmem.h>

#include <lua.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The lua_Alloc. `ud` is the tag, as (void *)(uintptr_t)tag.
 *  - nsize 0: frees ptr (NULL is fine). Lua passes the size the block was
 *    last asked for as osize, so the free is a sized one (zm_free_sized).
 *  - ptr NULL: a new block. osize is then not a size but the type of the
 *    object being made (LUA_TSTRING, LUA_TTABLE, ...; 0 for other memory),
 *    and is ignored.
 *  - otherwise: resizes ptr; on failure ptr is left intact and NULL is
 *    returned, as Lua requires. */
static inline void *zm_lua_alloc(void *ud, void *ptr, size_t osize,
                                 size_t nsize) {
  if (nsize == 0) {
    if (ptr)
      zm_free_sized(ptr, osize);
    return NULL;
  }
  if (!ptr)
    return zm_try_malloc_tag((zm_tag)(uintptr_t)ud, nsize);
  return zm_try_realloc(ptr, nsize);
}

/* Lua calls this on an error outside any protected call; it returns, so Lua
 * aborts. The message goes to stderr, as with luaL_newstate. */
static inline int zm__lua_panic(lua_State *L) {
  const char *msg = lua_tostring(L, -1);
  fprintf(stderr, "PANIC: unprotected error in call to Lua API (%s)\n",
          msg ? msg : "error object is not a string");
  return 0;
}

/* A new Lua state whose every block is allocated under `tag`, with a panic
 * function like luaL_newstate's. NULL when the state itself cannot be
 * allocated. Open the libraries with luaL_openlibs as usual. */
static inline lua_State *zm_lua_newstate(zm_tag tag) {
  lua_State *L = lua_newstate(zm_lua_alloc, (void *)(uintptr_t)tag);
  if (L)
    lua_atpanic(L, zm__lua_panic);
  return L;
}

#endif /* ZMEM_LUA_H */
