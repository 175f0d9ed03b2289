/*
** transfer.c: Lua value <-> 'struct tvalue' by the transfer rules of
** API.md: the per-state data (struct tstate), the buffers being decoded,
** and the pushing half. The encoder is tencode.c (transfer_pack), the
** decoder tdecode.c, the module index modindex.c, the byte format
** tformat.h; docs/transfer.md describes them for users.
*/
#include <stdlib.h>
#include <string.h>
#include <lua.h>
#include <lauxlib.h>
#include "lbox.h"
#include "modindex.h"
#include "taskstate.h"
#include "tformat.h"
#include "transfer.h"

static const char TSTATE = 't';          /* registry[&TSTATE]: the tstate */


/* ---- per-state data ---- */

/* Made on first use: a task that only passes scalars never needs it. */
struct tstate *transfer_pushstate (lua_State *L) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &TSTATE) == LUA_TNIL) {
    lua_pop(L, 1);
    transfer_open(L);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &TSTATE);
  }
  struct tstate *ts = (struct tstate *)lua_touserdata(L, -1);
  if (!ts) luaL_error(L, "gochan transfer is not open in this state");
  return ts;
}

struct tstate *transfer_state (lua_State *L) {
  struct ltask *lt = taskstate_task(L);
  if (lt && lt->tstate) return lt->tstate;
  struct tstate *ts = transfer_pushstate(L);
  lua_pop(L, 1);                           /* the registry anchors it */
  return ts;
}

/* Pop and free the buffer decoded last (its decoding ended or raised). */
static int tstate__close (lua_State *L) {
  struct tstate *ts = (struct tstate *)lua_touserdata(L, 1);
  if (ts->npending > 0) tbuf_free(ts->pending[--ts->npending]);
  return 0;
}

static int tstate__gc (lua_State *L) {
  struct tstate *ts = (struct tstate *)lua_touserdata(L, 1);
  struct ltask *lt = taskstate_task(L);
  if (lt && lt->tstate == ts) lt->tstate = NULL;
  while (ts->npending > 0) tbuf_free(ts->pending[--ts->npending]);
  free(ts->pending);
  ts->pending = NULL;
  ts->pendcap = 0;
  free(ts->modbits);
  ts->modbits = NULL;
  free(ts->strs);
  ts->strs = NULL;
  scratch_free(&ts->sc);
  return 0;
}


/* Free 'b' and drop it from 'pending' (normally its top: a finalizer's
** decoding that raised may have left one above it). */
static void unpend (struct tstate *ts, struct tbuf *b) {
  for (size_t i = ts->npending; i-- > 0;)
    if (ts->pending[i] == b) {
      memmove(&ts->pending[i], &ts->pending[i + 1],
              (ts->npending - i - 1) * sizeof *ts->pending);
      ts->npending--;
      break;
    }
  tbuf_free(b);
}

void transfer_push (lua_State *L, struct tvalue *tv) {
  switch (tv->tt) {
    case TV_NIL: lua_pushnil(L); break;
    case TV_BOOL: lua_pushboolean(L, tv->u.b); break;
    case TV_INT: lua_pushinteger(L, (lua_Integer)tv->u.i); break;
    case TV_FLOAT: lua_pushnumber(L, (lua_Number)tv->u.n); break;
    case TV_SSTR: lua_pushlstring(L, tv->u.ss, tv->sslen); break;
    case TV_LSTR: {
      struct tvalue v = *tv;               /* a raise below must not leak */
      tvalue_setnil(tv);
      lua_pushlstring(L, v.u.ls.s, v.u.ls.len);
      tvalue_clear(&v);
      return;
    }
    case TV_LUD: lua_pushlightuserdata(L, tv->u.p); break;
    case TV_OBJ: lbox_push(L, tv->u.o); break;  /* on a raise 'tv' keeps it */
    case TV_BUF: {
      struct tstate *ts = transfer_state(L);
      if (ts->npending == ts->pendcap) {
        size_t ncap = ts->pendcap ? 2 * ts->pendcap : 4;
        struct tbuf **np = realloc(ts->pending, ncap * sizeof *np);
        if (!np) luaL_error(L, "not enough memory");  /* 'tv' still owns it */
        ts->pending = np;
        ts->pendcap = ncap;
      }
      struct tbuf *b = tv->u.buf;
      tvalue_setnil(tv);
      ts->pending[ts->npending++] = b;     /* owned by 'ts' from here */
      if (b->flags & TBUF_MODS) {
        /* require() may fail for ordinary reasons: a to-be-closed slot
        ** frees 'b' on a raise too (after the nested decodings' slots) */
        luaL_checkstack(L, 4, NULL);
        lua_rawgetp(L, LUA_REGISTRYINDEX, &TSTATE);
        int closer = lua_gettop(L);
        lua_toclose(L, closer);
        tdecode_push(L, b, ts);                  /* closer v */
        lua_closeslot(L, closer);          /* tstate__close frees 'b' */
        lua_replace(L, closer);            /* v */
        return;
      }
      /* no Lua code runs: only a memory error (or corrupt bytes) can
      ** raise, and then 'b' stays pending until the state closes */
      tdecode_push(L, b, ts);
      unpend(ts, b);
      return;
    }
    default: lua_pushnil(L); break;
  }
  tvalue_clear(tv);
}


/* Push the value of '*tv' and keep it: the caller still owns '*tv', also
** when this raises (memory, or a module the value names cannot be loaded).
** For values decoded once per reader: a task's function and arguments,
** join results. Needs no per-state data. */
void transfer_pushcopy (lua_State *L, const struct tvalue *tv) {
  switch (tv->tt) {
    case TV_BUF: tdecode_push(L, tv->u.buf, NULL); return;
    case TV_LSTR: lua_pushlstring(L, tv->u.ls.s, tv->u.ls.len); return;
    case TV_OBJ: lbox_push(L, tv->u.o); return;   /* borrowed */
    default: {
      struct tvalue v = *tv;            /* inline: copying owns nothing */
      transfer_push(L, &v);
      return;
    }
  }
}


/* ---- opening ---- */

void transfer_open (lua_State *L) {
  luaL_checkstack(L, 6, NULL);
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &TSTATE) != LUA_TNIL) {
    lua_pop(L, 1);
    return;                                /* already open in this state */
  }
  lua_pop(L, 1);
  struct tstate *ts = (struct tstate *)lua_newuserdatauv(L, sizeof *ts, 5);
  ts->dirty = true;
  ts->hooked = false;
  ts->sig = 0;
  ts->modbits = NULL;
  ts->globals = NULL;
  ts->pending = NULL;
  ts->npending = ts->pendcap = 0;
  memset(ts->recent, 0, sizeof ts->recent);
  ts->strs = NULL;
  ts->strsref = LUA_NOREF;
  scratch_init(&ts->sc);
  lua_createtable(L, 0, 3);
  lua_pushcfunction(L, tstate__gc);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, tstate__close);
  lua_setfield(L, -2, "__close");
  lua_pushliteral(L, "gochan.transfer");
  lua_setfield(L, -2, "__name");
  lua_setmetatable(L, -2);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  lua_setiuservalue(L, -2, 3);
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
  ts->globals = lua_topointer(L, -1);    /* user value 4 anchors it */
  lua_setiuservalue(L, -2, 4);
  lua_pushvalue(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &TSTATE);      /* ts */
  struct ltask *lt = taskstate_task(L);
  if (lt) lt->tstate = ts;                 /* a task finds it from there */
  modindex_open(L, ts);    /* package.loaded tells when it gains a module */
  lua_pop(L, 1);
}
