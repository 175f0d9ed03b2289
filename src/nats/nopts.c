/*
** nopts.c: the option tables of gochan.nats's calls (connect, subscribe
** and serve, channel), read and checked before anything is done. A key
** that is not an option raises, as gochan.spawn's and gochan.config's do,
** so a misspelt one is never silently ignored; a string handed to the
** NATS C client (a C string: a zero byte would end it there) is refused
** when it holds one. Messages name keys as the binding does (lapi.h's
** pushname: 'x', or quoted whole as %q does).
*/
#include <string.h>
#include <lua.h>
#include <lauxlib.h>
#include "lnats.h"

const char *nopts_connect (lua_State *L, int arg, struct nopts *o) {
  static const char *const known[] = { "name", "timeout", "reconnect_wait",
                                       "reconnect_buffer", NULL };
  o->name = NULL;
  o->timeout_ms = o->reconnect_wait_ms = 0;
  o->reconnect_buffer = -1;
  if (lua_isnoneornil(L, arg)) return NULL;
  luaL_checktype(L, arg, LUA_TTABLE);
  const char *why = wire_api->unknownkey(L, arg, known, "option");
  if (why) return why;
  if (lua_getfield(L, arg, "name") != LUA_TNIL) {  /* stays on the stack */
    size_t n;
    if (!lua_isstring(L, -1)) return "'name' must be a string";
    o->name = lua_tolstring(L, -1, &n);
    if (strlen(o->name) != n) return "'name' contains a zero byte";
  }
  static const char *const secs[] = { "timeout", "reconnect_wait" };
  int64_t *dst[] = { &o->timeout_ms, &o->reconnect_wait_ms };
  for (int i = 0; i < 2; i++) {
    if (lua_getfield(L, arg, secs[i]) != LUA_TNIL) {
      if (!lua_isnumber(L, -1) || !(lua_tonumber(L, -1) > 0) ||
          lua_tonumber(L, -1) > 1e6)
        return lua_pushfstring(L, "'%s' must be a positive number of seconds",
                               secs[i]);
      *dst[i] = (int64_t)(lua_tonumber(L, -1) * 1000 + 0.5);
      if (*dst[i] == 0) *dst[i] = 1;
    }
    lua_pop(L, 1);
  }
  if (lua_getfield(L, arg, "reconnect_buffer") != LUA_TNIL) {
    if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 0 ||
        lua_tointeger(L, -1) > (1 << 30))
      return "'reconnect_buffer' must be a non-negative integer (bytes)";
    o->reconnect_buffer = (int)lua_tointeger(L, -1);
  }
  lua_pop(L, 1);
  return NULL;
}

const char *nopts_sub (lua_State *L, int arg, const char **queue,
                       size_t *cap) {
  static const char *const known[] = { "queue", "cap", NULL };
  *queue = NULL;
  *cap = 256;
  if (lua_isnoneornil(L, arg)) return NULL;
  luaL_checktype(L, arg, LUA_TTABLE);
  const char *why = wire_api->unknownkey(L, arg, known, "option");
  if (why) return why;
  if (lua_getfield(L, arg, "queue") != LUA_TNIL) {  /* stays on the stack */
    size_t n;
    if (lua_type(L, -1) != LUA_TSTRING)
      return "'queue' must be a non-empty name without spaces";
    const char *q = lua_tolstring(L, -1, &n);
    if (strlen(q) != n) return "'queue' contains a zero byte";
    if (n == 0 || strcspn(q, " \t\r\n") != n)
      return "'queue' must be a non-empty name without spaces";
    *queue = q;
  } else lua_pop(L, 1);
  if (lua_getfield(L, arg, "cap") != LUA_TNIL) {
    if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 ||
        (lua_Unsigned)lua_tointeger(L, -1) > GOCHAN_CHAN_MAX_CAP)
      return "'cap' must be a positive integer";
    *cap = (size_t)lua_tointeger(L, -1);
  }
  lua_pop(L, 1);
  return NULL;
}

const char *nopts_channel (lua_State *L, int arg, size_t *cap,
                           int64_t *ackwait_ms) {
  static const char *const known[] = { "cap", "ack_wait", NULL };
  *cap = 0;
  *ackwait_ms = 0;
  if (lua_isnoneornil(L, arg)) return NULL;
  luaL_checktype(L, arg, LUA_TTABLE);
  const char *why = wire_api->unknownkey(L, arg, known, "option");
  if (why) return why;
  if (lua_getfield(L, arg, "cap") != LUA_TNIL) {
    if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 ||
        lua_tointeger(L, -1) > (INT64_C(1) << 31))
      return "'cap' must be a positive integer";
    *cap = (size_t)lua_tointeger(L, -1);
  }
  if (lua_getfield(L, arg, "ack_wait") != LUA_TNIL) {
    if (!lua_isnumber(L, -1) || !(lua_tonumber(L, -1) >= 0.05) ||
        lua_tonumber(L, -1) > 86400)
      return "'ack_wait' must be a number of seconds from 0.05 to 86400";
    *ackwait_ms = (int64_t)(lua_tonumber(L, -1) * 1000 + 0.5);
  }
  lua_pop(L, 2);
  return NULL;
}
