/*
** embed.h: what the tests of a host that embeds Lua share (each test is
** its own program: these are static functions, included once per test).
** run_lua runs a chunk in a host's state; newstate opens a main state
** with the standard libraries and gochan, found from the source tree
** (GOCHAN_LUA_DIR), as the global 'gochan'.
*/
#ifndef GOCHAN_TESTS_EMBED_H
#define GOCHAN_TESTS_EMBED_H

#include "check.h"
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include "gochan.h"

/* Run 'code' with the 'nargs' values on top of the stack as its '...';
** leaves 'nres' results (nils if it failed, which is a failed check). */
static void run_lua (lua_State *L, const char *code, int nargs, int nres) {
  if (luaL_loadstring(L, code) != LUA_OK) {
    fprintf(stderr, "lua: %s\n", lua_tostring(L, -1));
    check_fail(__FILE__, __LINE__, "Lua code does not compile");
    lua_settop(L, 0);
    for (int i = 0; i < nres; i++) lua_pushnil(L);
    return;
  }
  lua_insert(L, -(nargs + 1));
  if (lua_pcall(L, nargs, nres, 0) != LUA_OK) {
    fprintf(stderr, "lua: %s\n", lua_tostring(L, -1));
    check_fail(__FILE__, __LINE__, "Lua code failed");
    lua_settop(L, 0);
    for (int i = 0; i < nres; i++) lua_pushnil(L);
  }
}

/* A main state with the standard libraries and the global 'gochan'. */
static lua_State *newstate (void) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  luaL_requiref(L, "gochan.core", luaopen_gochan_core, 0);
  lua_pop(L, 1);
  lua_pushstring(L, GOCHAN_LUA_DIR);
  run_lua(L, "local d = ...\n"
             "package.path = d .. '/?.lua;' .. d .. '/?/init.lua;' .. package.path\n"
             "gochan = require 'gochan'", 1, 0);
  return L;
}

#endif
