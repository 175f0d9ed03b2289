/*
** lnamed.c: gochan.named(name [, cap]) -> ch, the Lua side of the named
** channel registry (src/core/named.c; the C API's gochan_named reaches the
** same channels).
*/
#include <lua.h>
#include <lauxlib.h>
#include "lbox.h"
#include "ltypes.h"
#include "named.h"

/* gochan.named(name [, cap]) -> ch */
static int lgochan_named (lua_State *L) {
  size_t len;
  const char *name = luaL_checklstring(L, 1, &len);
  size_t cap = NAMED_ANYCAP;
  if (!lua_isnoneornil(L, 2)) {
    int isint;
    lua_Integer n = lua_tointegerx(L, 2, &isint);
    if (!isint || n < 0)
      return luaL_typeerror(L, 2, "non-negative integer");
    luaL_argcheck(L, (lua_Unsigned)n <= CHAN_MAX_CAP, 2, "capacity too large");
    cap = (size_t)n;
  }
  struct chan *c;
  size_t have = 0;
  switch (named_get(name, len, cap, &c, &have)) {
    case NAMED_OK: break;
    case NAMED_EMPTY: return luaL_argerror(L, 1, "empty channel name");
    case NAMED_NUL:
      return luaL_argerror(L, 1, "channel name contains a zero byte");
    case NAMED_UTF8:
      return luaL_argerror(L, 1, "channel name is not valid UTF-8");
    case NAMED_BIGCAP: return luaL_argerror(L, 2, "capacity too large");
    case NAMED_CAP:
      return luaL_error(L, "named channel '%s' has capacity %I", name,
                        (lua_Integer)have);
    default: return lg_raise(L, GO_NOMEM);
  }
  /* the registry keeps the channel for good: push it borrowed, so that
  ** a memory error in lbox_push leaves no reference behind */
  chan_release(c);
  lbox_push(L, (struct obj *)c);
  return 1;
}

const luaL_Reg lnamed_funcs[] = {
  {"named", lgochan_named}, {NULL, NULL}
};
