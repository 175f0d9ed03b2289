/*
** wlua.c: a Lua value -> the wire format (docs/wire.md), raw contents
** (no metamethod is called), refusing what cannot cross a network with
** the path to it, as transfer does in one process.
*/
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lua.h>
#include <lauxlib.h>
#include "lnats.h"

#define FROZEN_MT "gochan.frozen"           /* gochan.freeze's proxies */
#define FROZEN_NESTED_MT "gochan.frozen.nested"

/* One encoding. Stack indices: 'seen' (table -> index), 'thaw' (the
** core's gochan.thaw); path[i] holds the key of depth i+1 (a stack index),
** or 0 for "<key>" (the value is a key). */
struct lenc {
  lua_State *L;
  struct wbuf *b;
  const struct wire_chans *ch;
  int seen, thaw;
  lua_Integer ntabs;
  int npath;
  int path[GOCHAN_MAX_DEPTH + 2];
};

static bool isname (const char *s, size_t n) {
  if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_')) return false;
  for (size_t i = 1; i < n; i++)
    if (!(isalnum((unsigned char)s[i]) || s[i] == '_')) return false;
  return true;
}

/* Raise "cannot send <what> over NATS (at value<path>)". */
static int refuse (struct lenc *e, const char *what) {
  lua_State *L = e->L;
  luaL_Buffer b;
  luaL_checkstack(L, 4, NULL);
  luaL_buffinit(L, &b);
  lua_pushfstring(L, "cannot send %s over NATS (at value", what);
  luaL_addvalue(&b);
  for (int i = 0; i < e->npath; i++) {
    if (e->npath > 16 && i == 8) {             /* the ends of a long path */
      luaL_addstring(&b, "...");
      i = e->npath - 8;
    }
    int k = e->path[i];
    if (k == 0) { luaL_addstring(&b, "<key>"); continue; }
    size_t n;
    const char *s;
    switch (lua_type(L, k)) {
      case LUA_TSTRING:
        s = lua_tolstring(L, k, &n);
        if (isname(s, n)) { luaL_addchar(&b, '.'); luaL_addlstring(&b, s, n); }
        else {
          luaL_addstring(&b, "[\"");
          for (size_t j = 0; j < n && j < 40; j++) {
            unsigned char c = (unsigned char)s[j];
            char esc[8];
            if (c == '"' || c == '\\') snprintf(esc, sizeof esc, "\\%c", c);
            else if (c >= 32 && c < 127) snprintf(esc, sizeof esc, "%c", c);
            else snprintf(esc, sizeof esc, "\\%u", c);
            luaL_addstring(&b, esc);
          }
          luaL_addstring(&b, n > 40 ? "...\"]" : "\"]");
        }
        break;
      case LUA_TNUMBER:
        if (lua_isinteger(L, k))
          lua_pushfstring(L, "[%I]", (LUAI_UACINT)lua_tointeger(L, k));
        else lua_pushfstring(L, "[%f]", (LUAI_UACNUMBER)lua_tonumber(L, k));
        luaL_addvalue(&b);
        break;
      case LUA_TBOOLEAN:
        luaL_addstring(&b, lua_toboolean(L, k) ? "[true]" : "[false]");
        break;
      default:
        lua_pushfstring(L, "[<%s>]", luaL_typename(L, k));
        luaL_addvalue(&b);
        break;
    }
  }
  luaL_addchar(&b, ')');
  luaL_pushresult(&b);
  return lua_error(L);
}

/* The name of what sits at 'idx', for a refusal. */
static const char *what (lua_State *L, int idx) {
  switch (lua_type(L, idx)) {
    case LUA_TFUNCTION: return "a function";
    case LUA_TTHREAD: return "a coroutine";
    case LUA_TLIGHTUSERDATA: return "a light userdata";
    default: break;
  }
  if (luaL_getmetafield(L, idx, "__name") == LUA_TSTRING) {
    const char *name = lua_pushfstring(L, "a %s", lua_tostring(L, -1));
    lua_remove(L, -2);        /* the name string stays on the stack */
    return name;
  }
  return "a userdata";
}

static bool isfrozen (lua_State *L, int idx) {
  if (luaL_getmetafield(L, idx, "__name") != LUA_TSTRING) return false;
  const char *n = lua_tostring(L, -1);
  bool yes = strcmp(n, FROZEN_MT) == 0 || strcmp(n, FROZEN_NESTED_MT) == 0;
  lua_pop(L, 1);
  return yes;
}

static void encode (struct lenc *e, int idx, int depth);

/* The table at 'idx' (not seen yet); 'alias' (0: none) is the frozen
** proxy it was thawed from, entered in 'seen' too. */
static void enctable (struct lenc *e, int idx, int alias, int depth) {
  lua_State *L = e->L;
  if (depth >= GOCHAN_MAX_DEPTH) {
    char msg[64];
    snprintf(msg, sizeof msg, "a table nested deeper than %d",
             GOCHAN_MAX_DEPTH);
    refuse(e, msg);
  }
  lua_pushvalue(L, idx);
  lua_pushinteger(L, e->ntabs);
  lua_rawset(L, e->seen);
  if (alias) {
    lua_pushvalue(L, alias);
    lua_pushinteger(L, e->ntabs);
    lua_rawset(L, e->seen);
  }
  e->ntabs++;
  lua_Unsigned n = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) { n++; lua_pop(L, 1); }
  wbuf_byte(e->b, WT_TABLE);
  wbuf_varint(e->b, n);
  lua_pushnil(L);                                    /* k */
  while (lua_next(L, idx)) {                         /* k v */
    int k = lua_gettop(L) - 1;
    e->path[e->npath++] = 0;
    encode(e, k, depth + 1);
    e->path[e->npath - 1] = k;
    encode(e, k + 1, depth + 1);
    e->npath--;
    lua_pop(L, 1);                                   /* k */
  }
}

static void encode (struct lenc *e, int idx, int depth) {
  lua_State *L = e->L;
  struct wbuf *b = e->b;
  luaL_checkstack(L, 8, "value nested too deep");
  switch (lua_type(L, idx)) {
    case LUA_TNIL: wbuf_byte(b, WT_NIL); return;
    case LUA_TBOOLEAN: wbuf_byte(b, lua_toboolean(L, idx) ? WT_TRUE : WT_FALSE);
      return;
    case LUA_TNUMBER:
      if (lua_isinteger(L, idx)) wbuf_int(b, (int64_t)lua_tointeger(L, idx));
      else wbuf_float(b, (double)lua_tonumber(L, idx));
      return;
    case LUA_TSTRING: {
      size_t n;
      const char *s = lua_tolstring(L, idx, &n);
      wbuf_byte(b, WT_STRING);
      wbuf_varint(b, n);
      wbuf_bytes(b, s, n);
      return;
    }
    case LUA_TTABLE: case LUA_TUSERDATA: break;
    default: refuse(e, what(L, idx));
  }
  lua_pushvalue(L, idx);
  if (lua_rawget(L, e->seen) == LUA_TNUMBER) {       /* seen: a reference */
    wbuf_byte(b, WT_REF);
    wbuf_varint(b, (uint64_t)lua_tointeger(L, -1));
    lua_pop(L, 1);
    return;
  }
  lua_pop(L, 1);
  if (lua_type(L, idx) == LUA_TTABLE) { enctable(e, idx, 0, depth); return; }
  gochan_chan *c = wire_api->tochan(L, idx);
  if (c) {
    const char *subj = e->ch && e->ch->export ? e->ch->export(e->ch->ud, c)
                                              : NULL;
    if (!subj) refuse(e, "a channel without a connection");
    size_t n = strlen(subj);
    wbuf_byte(b, WT_CHAN);
    wbuf_varint(b, n);
    wbuf_bytes(b, subj, n);
    return;
  }
  if (isfrozen(L, idx)) {        /* an ordinary table: a thawed copy */
    lua_pushvalue(L, e->thaw);
    lua_pushvalue(L, idx);
    lua_call(L, 1, 1);                               /* t */
    enctable(e, lua_gettop(L), idx, depth);
    lua_pop(L, 1);
    return;
  }
  refuse(e, what(L, idx));
}

/* In a protected call: light userdata 'e', the value. */
static int pencode (lua_State *L) {
  struct lenc *e = lua_touserdata(L, 1);
  e->L = L;
  lua_newtable(L);                                   /* e v seen */
  e->seen = lua_gettop(L);
  lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  lua_getfield(L, -1, "gochan.core");
  lua_getfield(L, -1, "thaw");                       /* ... loaded core thaw */
  e->thaw = lua_gettop(L);
  encode(e, 2, 0);
  return 0;
}

bool wlua_encode (lua_State *L, int idx, enum wire_kind kind,
                  const struct wire_chans *ch, struct wbuf *b) {
  idx = lua_absindex(L, idx);
  wbuf_header(b, kind);
  struct lenc *e = malloc(sizeof *e);     /* the path is too big for a stack */
  if (!e) {
    wbuf_free(b);
    lua_pushliteral(L, "not enough memory");
    return false;
  }
  e->b = b;
  e->ch = ch;
  e->ntabs = 0;
  e->npath = 0;
  lua_pushcfunction(L, pencode);
  lua_pushlightuserdata(L, e);
  lua_pushvalue(L, idx);
  int st = lua_pcall(L, 2, 0, 0);
  free(e);
  if (st == LUA_OK && !b->oom) return true;
  wbuf_free(b);
  if (st == LUA_OK) lua_pushliteral(L, "not enough memory");
  return false;
}
