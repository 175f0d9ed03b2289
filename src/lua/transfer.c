/*
** transfer.c: Lua value <-> 'struct tvalue' by the transfer rules of
** API.md. Phase 1: scalars, strings, light userdata and gochan objects;
** everything else is refused with the type and where it sits.
*/
#include <lua.h>
#include <lauxlib.h>
#include "lgochan.h"
#include "transfer.h"

/* "a table", "a thread", ... for refusals. */
static const char *article_type (lua_State *L, int idx) {
  switch (lua_type(L, idx)) {
    case LUA_TTABLE: return "a table";
    case LUA_TFUNCTION: return lua_iscfunction(L, idx) ? "a C function"
                                                       : "a function";
    case LUA_TTHREAD: return "a thread";
    case LUA_TUSERDATA: return "a userdata";
    default: return "a value";
  }
}

int transfer_pack (lua_State *L, int idx, struct tvalue *tv, const char *root) {
  idx = lua_absindex(L, idx);
  switch (lua_type(L, idx)) {
    case LUA_TNONE: case LUA_TNIL:
      tvalue_setnil(tv);
      return 1;
    case LUA_TBOOLEAN:
      tvalue_setbool(tv, lua_toboolean(L, idx));
      return 1;
    case LUA_TNUMBER:
      if (lua_isinteger(L, idx))
        tvalue_setint(tv, (int64_t)lua_tointeger(L, idx));
      else
        tvalue_setfloat(tv, (double)lua_tonumber(L, idx));
      return 1;
    case LUA_TSTRING: {
      size_t len;
      const char *s = lua_tolstring(L, idx, &len);
      if (tvalue_setstr(tv, s, len) != GO_OK)
        return luaL_error(L, "not enough memory");  /* nothing held */
      return 1;
    }
    case LUA_TLIGHTUSERDATA:
      tvalue_setlud(tv, lua_touserdata(L, idx));
      return 1;
    case LUA_TUSERDATA: {
      struct obj *o = lgochan_toobj(L, idx);
      if (o) { tvalue_setobj(tv, o); return 1; }
      break;
    }
    default:
      break;
  }
  tvalue_setnil(tv);
  lua_pushfstring(L, "cannot transfer %s (at %s)", article_type(L, idx), root);
  return 0;
}

void transfer_push (lua_State *L, struct tvalue *tv) {
  switch (tv->tt) {
    case TV_NIL: lua_pushnil(L); break;
    case TV_BOOL: lua_pushboolean(L, tv->u.b); break;
    case TV_INT: lua_pushinteger(L, (lua_Integer)tv->u.i); break;
    case TV_FLOAT: lua_pushnumber(L, (lua_Number)tv->u.n); break;
    case TV_SSTR: case TV_LSTR: {
      size_t len;
      const char *s = tvalue_str(tv, &len);
      lua_pushlstring(L, s, len);  /* may raise: 'tv' still owns its bytes */
      break;
    }
    case TV_LUD: lua_pushlightuserdata(L, tv->u.p); break;
    case TV_OBJ: lgochan_pushobj(L, tv->u.o); break;
    default: lua_pushnil(L); break;  /* TV_BUF: issue 3 */
  }
  tvalue_clear(tv);
}

void transfer_open (lua_State *L) {
  (void)L;  /* nothing per state yet */
}
