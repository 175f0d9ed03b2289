/*
** modindex.c: the per-state module index (modindex.h): which module, or
** which field of a module, a table, function or userdata is, by name, so
** that it crosses as a name and the receiver uses its own (T_MOD).
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <lua.h>
#include <lauxlib.h>
#include "modindex.h"

/* package.loaded's __newindex: store, and mark the module index stale. */
static int loaded__newindex (lua_State *L) {
  struct tstate *ts = (struct tstate *)lua_touserdata(L, lua_upvalueindex(1));
  lua_settop(L, 3);
  lua_rawset(L, 1);
  ts->dirty = true;
  return 0;
}

/* A cheap signature of package.loaded's keys, for a package.loaded that
** already had a metatable of its own (no hook): count and string pointers. */
static size_t loadedsig (lua_State *L, int loaded) {
  size_t sig = 0, n = 0;
  lua_pushnil(L);
  while (lua_next(L, loaded)) {
    lua_pop(L, 1);
    sig = sig * 31 + (size_t)(uintptr_t)lua_topointer(L, -1) + (size_t)lua_type(L, -1);
    n++;
  }
  return sig ^ (n << 48);
}

/* -1, 0, 1 as the string at 'a' names a module or field better than, as
** well as, or worse than the one at 'b': shorter first, then smaller
** bytes (so the choice never depends on hash order). */
static int namecmp (lua_State *L, int a, int b) {
  size_t an, bn;
  const char *as = lua_tolstring(L, a, &an), *bs = lua_tolstring(L, b, &bn);
  if (an != bn) return an < bn ? -1 : 1;
  int c = memcmp(as, bs, an);
  return (c > 0) - (c < 0);
}

/* Index the value at 'vi' as the module named at 'ni' (fi == 0) or as its
** field named at 'fi', unless it already has a better entry: a module
** itself beats a field; then the better name, then the better field.
** Uses the index at 'x' and the entries at 'e'; '*n' counts entries. */
static void addentry (lua_State *L, int x, int e, int vi, int ni, int fi,
                      lua_Integer *n) {
  lua_Integer i;
  lua_pushvalue(L, vi);
  if (lua_rawget(L, x) == LUA_TNUMBER) {
    i = lua_tointeger(L, -1);
    lua_pop(L, 1);
    lua_rawgeti(L, e, 2 * i - 1);
    lua_rawgeti(L, e, 2 * i);                   /* oldname oldfield */
    int top = lua_gettop(L);
    bool oldmod = lua_type(L, top) != LUA_TSTRING;
    int c;
    if (oldmod != (fi == 0)) c = oldmod ? 1 : -1;
    else {
      c = namecmp(L, ni, top - 1);
      if (c == 0 && fi) c = namecmp(L, fi, top);
    }
    lua_pop(L, 2);
    if (c >= 0) return;                         /* keep the old entry */
  }
  else {
    lua_pop(L, 1);
    i = ++*n;
    lua_pushvalue(L, vi);
    lua_pushinteger(L, i);
    lua_rawset(L, x);
  }
  lua_pushvalue(L, ni);
  lua_rawseti(L, e, 2 * i - 1);
  if (fi) lua_pushvalue(L, fi); else lua_pushboolean(L, 0);
  lua_rawseti(L, e, 2 * i);
}

static bool isref (int t) {
  return t == LUA_TTABLE || t == LUA_TFUNCTION || t == LUA_TUSERDATA;
}

/*
** Rebuild the module index from package.loaded: every module value (a
** table, function or userdata package.loaded[name]) first, then every
** string-keyed field of a module table whose value is a table, function
** or userdata. Fields of "_G" are indexed only for C functions and
** userdata: a Lua function or table the program stored in a global is its
** own data and crosses by value. Stores both in the tstate 'ts' at
** 'tsi', then the filter of the values indexed (ts->modbits). May raise
** (memory); runs no Lua code.
*/
static void rebuild (lua_State *L, int tsi, struct tstate *ts) {
  luaL_checkstack(L, 12, NULL);
  int top = lua_gettop(L);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  int loaded = top + 1;
  lua_newtable(L);
  int x = top + 2;
  lua_createtable(L, 0, 1);
  lua_pushliteral(L, "k");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, x);
  lua_newtable(L);
  int e = top + 3;
  lua_Integer n = 0;
  lua_pushnil(L);
  while (lua_next(L, loaded)) {       /* pass 1: the modules themselves */
    if (lua_type(L, -2) == LUA_TSTRING && isref(lua_type(L, -1)))
      addentry(L, x, e, lua_gettop(L), lua_gettop(L) - 1, 0, &n);
    lua_pop(L, 1);
  }
  lua_pushnil(L);
  while (lua_next(L, loaded)) {       /* pass 2: their fields */
    int mod = lua_gettop(L), name = mod - 1;
    if (lua_type(L, name) == LUA_TSTRING && lua_type(L, mod) == LUA_TTABLE) {
      bool isG = strcmp(lua_tostring(L, name), "_G") == 0;
      lua_pushnil(L);
      while (lua_next(L, mod)) {
        int t = lua_type(L, -1);
        if (lua_type(L, -2) == LUA_TSTRING && lua_rawlen(L, -2) > 0 && isref(t) &&
            (!isG || t == LUA_TUSERDATA || lua_iscfunction(L, -1)))
          addentry(L, x, e, lua_gettop(L), name, lua_gettop(L) - 1, &n);
        lua_pop(L, 1);
      }
    }
    lua_pop(L, 1);
  }
  lua_pushvalue(L, x);
  lua_setiuservalue(L, tsi, 1);
  lua_pushvalue(L, e);
  lua_setiuservalue(L, tsi, 2);
  /* the filter, from the index's keys: a raise here leaves no filter,
  ** and then the next encoding rebuilds (modindex_prepare) */
  if (!ts->modbits && !(ts->modbits = malloc(MODBITS / 8)))
    luaL_error(L, "not enough memory");
  memset(ts->modbits, 0, MODBITS / 8);
  lua_pushnil(L);
  while (lua_next(L, x)) {
    lua_pop(L, 1);
    unsigned i, j;
    modindex_bits(lua_topointer(L, -1), &i, &j);
    ts->modbits[i / 64] |= (uint64_t)1 << (i % 64);
    ts->modbits[j / 64] |= (uint64_t)1 << (j % 64);
  }
  ts->dirty = false;
  if (!ts->hooked) ts->sig = loadedsig(L, loaded);
  lua_settop(L, top);
}

static bool isstale (lua_State *L, struct tstate *ts) {
  if (ts->dirty) return true;
  if (ts->hooked) return false;
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  bool stale = loadedsig(L, lua_gettop(L)) != ts->sig;
  lua_pop(L, 1);
  return stale;
}

bool modindex_prepare (lua_State *L, struct tstate *ts, bool force) {
  if (!force && ts->modbits && !isstale(L, ts)) return false;
  luaL_checkstack(L, 1, NULL);
  transfer_pushstate(L);                             /* ts */
  rebuild(L, lua_gettop(L), ts);
  lua_pop(L, 1);
  return true;
}

int modindex_find (lua_State *L, int idx, struct modref *ref) {
  int top = lua_gettop(L);
  int tsi = top + 1, index = top + 2, entries = top + 3, loaded = top + 4;
  transfer_pushstate(L);               /* made before: does not raise */
  lua_getiuservalue(L, tsi, 1);
  lua_getiuservalue(L, tsi, 2);
  lua_getiuservalue(L, tsi, 3);
  lua_pushvalue(L, idx);
  if (lua_rawget(L, index) != LUA_TNUMBER) {
    lua_settop(L, top);
    return MODINDEX_MISS;
  }
  lua_Integer i = lua_tointeger(L, -1);
  lua_pop(L, 1);
  lua_rawgeti(L, entries, 2 * i - 1);                /* name */
  lua_rawgeti(L, entries, 2 * i);                    /* name field */
  lua_pushvalue(L, -2);
  lua_rawget(L, loaded);                             /* name field mod */
  bool hasfield = lua_type(L, -2) == LUA_TSTRING;
  bool same;
  if (!hasfield) same = lua_rawequal(L, -1, idx);
  else if (lua_type(L, -1) != LUA_TTABLE) same = false;
  else {
    lua_pushvalue(L, -2);
    lua_rawget(L, -2);                               /* name field mod v */
    same = lua_rawequal(L, -1, idx);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);                                     /* name field */
  if (!same) {
    lua_settop(L, top);
    return MODINDEX_STALE;
  }
  lua_rotate(L, tsi, 2);               /* name field ts index entries loaded */
  lua_settop(L, top + 2);              /* name field */
  ref->name = lua_tolstring(L, -2, &ref->nlen);
  if (hasfield) ref->field = lua_tolstring(L, -1, &ref->flen);
  else { ref->field = ""; ref->flen = 0; }
  return MODINDEX_FOUND;
}

void modindex_open (lua_State *L, struct tstate *ts) {
  luaL_checkstack(L, 4, NULL);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);  /* ts loaded */
  if (!lua_getmetatable(L, -1)) {
    lua_createtable(L, 0, 2);
    lua_pushvalue(L, -3);
    lua_pushcclosure(L, loaded__newindex, 1);
    lua_setfield(L, -2, "__newindex");
    lua_pushliteral(L, "gochan.loaded");
    lua_setfield(L, -2, "__name");
    lua_setmetatable(L, -2);
    ts->hooked = true;
  }
  else lua_pop(L, 1);
  lua_pop(L, 1);                                     /* ts */
}
