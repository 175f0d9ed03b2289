/*
** lnames.c: names in the binding's error messages (lbox.h says what each
** helper does): a string quoted whole, as string.format's %q does, so a
** zero byte in an option or a key is shown rather than ending it there;
** an object collected by hand named so rather than by its type; the type
** name a value shows in a message.
*/
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <lua.h>
#include <lauxlib.h>
#include "lbox.h"

const char *lbox_pushquoted (lua_State *L, int idx) {
  size_t len;
  const unsigned char *s = (const unsigned char *)lua_tolstring(L, idx, &len);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  luaL_addchar(&b, '"');
  for (size_t i = 0; i < len; i++) {
    unsigned char c = s[i];
    if (c == '"' || c == '\\' || c == '\n') {
      luaL_addchar(&b, '\\');
      luaL_addchar(&b, (char)c);
    }
    else if (c < 0x20 || c == 0x7f) {       /* iscntrl in the C locale */
      char buff[8];
      bool digit = i + 1 < len && s[i + 1] >= '0' && s[i + 1] <= '9';
      snprintf(buff, sizeof buff, digit ? "\\%03d" : "\\%d", (int)c);
      luaL_addstring(&b, buff);
    }
    else luaL_addchar(&b, (char)c);
  }
  luaL_addchar(&b, '"');
  luaL_pushresult(&b);
  return lua_tostring(L, -1);
}

const char *lbox_pushname (lua_State *L, int idx) {
  size_t len;
  const char *s = lua_tolstring(L, idx, &len);
  if (memchr(s, '\0', len)) return lbox_pushquoted(L, idx);
  return lua_pushfstring(L, "'%s'", s);
}

bool lbox_isname (lua_State *L, int idx, const char *name) {
  size_t len;
  const char *s = lua_tolstring(L, idx, &len);
  return s && len == strlen(name) && memcmp(s, name, len) == 0;
}

int lbox_typeerror (lua_State *L, int arg, unsigned kinds,
                    const char *expected) {
  if (lbox_collected(L, arg, kinds))
    return luaL_argerror(L, arg, "object already collected");
  return luaL_typeerror(L, arg, expected);
}

bool lbox_pushcollected (lua_State *L, int idx) {
  if (!lbox_collected(L, idx, ~0u)) return false;
  int tt = luaL_getmetafield(L, idx, "__name");   /* pushes unless nil */
  if (tt != LUA_TSTRING) {
    if (tt != LUA_TNIL) lua_pop(L, 1);
    lua_pushliteral(L, "gochan object");
  }
  lua_pushfstring(L, "%s (collected)", lua_tostring(L, -1));
  lua_remove(L, -2);
  return true;
}

const char *lbox_typename (lua_State *L, int idx) {
  const char *name;
  int tt = luaL_getmetafield(L, idx, "__name");   /* pushes unless nil */
  if (tt == LUA_TSTRING) name = lua_tostring(L, -1);  /* the mt anchors it */
  else if (lua_type(L, idx) == LUA_TLIGHTUSERDATA) name = "light userdata";
  else name = luaL_typename(L, idx);
  if (tt != LUA_TNIL) lua_pop(L, 1);
  return name;
}

const char *lbox_unknownkey (lua_State *L, int arg, const char *const known[],
                             const char *what) {
  lua_pushnil(L);
  while (lua_next(L, arg)) {                  /* k v */
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING)
      return lua_pushfstring(L, "unknown %s (a %s key)", what, luaL_typename(L, -1));
    bool ok = false;
    for (int i = 0; known[i] && !ok; i++) ok = lbox_isname(L, -1, known[i]);
    if (!ok) return lua_pushfstring(L, "unknown %s %s", what, lbox_pushname(L, -1));
  }
  return NULL;
}
