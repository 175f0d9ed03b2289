/*
** lchan.c: gochan.chan and the channel methods (send, recv, try_*, close,
** len, cap, range) for the main state. Values cross by transfer.h.
*/
#include <lua.h>
#include <lauxlib.h>
#include "lgochan.h"
#include "transfer.h"
#include "chan.h"

/* Larger capacities are refused by the core (chan_impl.h CHAN_MAX_CAP);
** checked here too so the error can say why. */
#define LCHAN_MAX_CAP ((lua_Integer)1 << 28)

static struct chan *checkchan (lua_State *L, int arg) {
  return (struct chan *)lgochan_checkobj(L, arg, GOCHAN_CHAN_MT);
}

/*
** Outcome of a send, in one place for every path (blocking, try, and
** later a task's continuation). The channel took '*v' only on GO_OK;
** otherwise '*v' is cleared here, before anything can raise.
*/
static int sendresult (lua_State *L, gostatus st, struct tvalue *v) {
  if (st != GO_OK) tvalue_clear(v);
  switch (st) {
    case GO_OK: lua_pushboolean(L, 1); return 1;
    case GO_AGAIN: case GO_TIMEOUT: lua_pushboolean(L, 0); return 1;
    case GO_CLOSED: return luaL_error(L, "send on closed channel");
    default: return lgochan_raise(L, st);
  }
}

/* Outcome of a receive: v, true | nil, false (closed, drained) | nil, nil
** (would block / timed out). '*v' is owned by the caller until pushed. */
static int recvresult (lua_State *L, gostatus st, struct tvalue *v, bool ok) {
  switch (st) {
    case GO_OK:
      if (ok) transfer_push(L, v);            /* clears '*v' */
      else lua_pushnil(L);
      lua_pushboolean(L, ok);
      return 2;
    case GO_AGAIN: case GO_TIMEOUT:
      lua_pushnil(L);
      lua_pushnil(L);
      return 2;
    default:
      return lgochan_raise(L, st);            /* '*v' is nil: nothing came */
  }
}

/* gochan.chan([cap]) -> ch */
static int lgochan_chan (lua_State *L) {
  lua_Integer cap = 0;
  if (!lua_isnoneornil(L, 1)) {
    int isint;
    cap = lua_tointegerx(L, 1, &isint);
    if (!isint || cap < 0)
      return luaL_typeerror(L, 1, "non-negative integer");
  }
  luaL_argcheck(L, cap <= LCHAN_MAX_CAP, 1, "capacity too large");
  struct obj **box = lgochan_newbox(L, OBJ_CHAN);       /* box */
  struct chan *c = chan_new((size_t)cap);
  if (!c) return lgochan_raise(L, GO_NOMEM);            /* box stays empty */
  lgochan_adopt(L, box, (struct obj *)c);
  return 1;
}

/* ch:send(v [, timeout]) -> true | false */
static int lchan_send (lua_State *L) {
  struct chan *c = checkchan(L, 1);
  int64_t deadline = lgochan_optdeadline(L, 3);  /* may raise: nothing held */
  struct tvalue v = TVALUE_NIL;
  lgochan_pack(L, 2, &v, "value");               /* may raise: nothing held */
  return sendresult(L, chan_send(c, &v, deadline), &v);
}

/* ch:try_send(v) -> boolean */
static int lchan_try_send (lua_State *L) {
  struct chan *c = checkchan(L, 1);
  struct tvalue v = TVALUE_NIL;
  lgochan_pack(L, 2, &v, "value");
  return sendresult(L, chan_send(c, &v, GO_NOW), &v);
}

/* ch:recv([timeout]) -> v, true | nil, false | nil, nil */
static int lchan_recv (lua_State *L) {
  struct chan *c = checkchan(L, 1);
  int64_t deadline = lgochan_optdeadline(L, 2);
  struct tvalue v = TVALUE_NIL;
  bool ok = false;
  gostatus st = chan_recv(c, &v, &ok, deadline);
  return recvresult(L, st, &v, ok);
}

/* ch:try_recv() -> v, true | nil, false | nil, nil */
static int lchan_try_recv (lua_State *L) {
  struct chan *c = checkchan(L, 1);
  struct tvalue v = TVALUE_NIL;
  bool ok = false;
  gostatus st = chan_recv(c, &v, &ok, GO_NOW);
  return recvresult(L, st, &v, ok);
}

/* ch:close() */
static int lchan_close (lua_State *L) {
  struct chan *c = checkchan(L, 1);
  gostatus st = chan_close(c);
  if (st == GO_CLOSED) return luaL_error(L, "close of closed channel");
  if (st != GO_OK) return lgochan_raise(L, st);
  return 0;
}

/* The iterator of ch:range(): called by a generic for as next(ch, _).
** Ends (returns nil) once the channel is closed and drained. */
static int lchan_rangenext (lua_State *L) {
  struct chan *c = checkchan(L, 1);
  struct tvalue v = TVALUE_NIL;
  bool ok = false;
  gostatus st = chan_recv(c, &v, &ok, GO_NEVER);
  if (st != GO_OK) return lgochan_raise(L, st);
  if (!ok) { lua_pushnil(L); return 1; }
  if (v.tt == TV_NIL) return luaL_error(L, "range received nil");
  transfer_push(L, &v);
  return 1;
}

/* for v in ch:range() do ... end */
static int lchan_range (lua_State *L) {
  checkchan(L, 1);
  lua_pushcfunction(L, lchan_rangenext);
  lua_pushvalue(L, 1);
  return 2;                                   /* next ch */
}

/* ch:len(), #ch */
static int lchan_len (lua_State *L) {
  lua_pushinteger(L, (lua_Integer)chan_len(checkchan(L, 1)));
  return 1;
}

static int lchan_cap (lua_State *L) {
  lua_pushinteger(L, (lua_Integer)chan_cap(checkchan(L, 1)));
  return 1;
}

/* gochan.chan(cap=4, len=1) 0x... (", closed" once closed) */
static int lchan__tostring (lua_State *L) {
  struct chan *c = checkchan(L, 1);
  lua_pushfstring(L, "gochan.chan(cap=%I, len=%I%s) %p",
                  (lua_Integer)chan_cap(c), (lua_Integer)chan_len(c),
                  chan_isclosed(c) ? ", closed" : "", (void *)c);
  return 1;
}

/* Two boxes name the same channel (in one state the cache makes that
** rawequal already; kept for boxes of different states' making). */
static int lchan__eq (lua_State *L) {
  struct obj *a = lgochan_toobj(L, 1), *b = lgochan_toobj(L, 2);
  lua_pushboolean(L, a != NULL && a == b);
  return 1;
}

static const luaL_Reg chan_methods[] = {
  {"send", lchan_send}, {"recv", lchan_recv},
  {"try_send", lchan_try_send}, {"try_recv", lchan_try_recv},
  {"close", lchan_close}, {"range", lchan_range},
  {"len", lchan_len}, {"cap", lchan_cap},
  {NULL, NULL}
};

static const luaL_Reg chan_meta[] = {
  {"__tostring", lchan__tostring}, {"__eq", lchan__eq}, {"__len", lchan_len},
  {NULL, NULL}
};

void lchan_open (lua_State *L) {              /* M */
  lgochan_newmetatable(L, GOCHAN_CHAN_MT);    /* M mt */
  luaL_setfuncs(L, chan_meta, 0);
  luaL_newlib(L, chan_methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  lua_pushcfunction(L, lgochan_chan);
  lua_setfield(L, -2, "chan");
}
