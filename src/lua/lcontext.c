/*
** lcontext.c: gochan.background, with_cancel, with_timeout, with_deadline,
** with_value and the context methods (done, err, cause, deadline, value,
** cancel). A context is a box of the core's (context.h) and crosses by
** reference; how blocking calls wait on one is in lpark.h and lbox.h.
*/
#include <math.h>
#include <string.h>
#include <lua.h>
#include <lauxlib.h>
#include "ltypes.h"
#include "context.h"
#include "transfer.h"

/* Registry key (its address): the function that makes a cancel function
** for a context, one per state. */
static const char CANCELERKEY = 'k';

/* The cancel function is Lua code, so that it crosses to other tasks (a
** C closure would not): its one upvalue is the context, which crosses by
** reference. */
static const char canceler_src[] =
  "local ctx = ... return function(...) ctx:cancel(...) end";

static struct context *checkctx (lua_State *L, int arg) {
  return (struct context *)lbox_check(L, arg, OBJ_CONTEXT);
}

/* The context at 'arg' if it is one, else NULL (no error). */
static struct context *testctx (lua_State *L, int arg) {
  struct obj *o = lbox_to(L, arg);
  return o && o->type == OBJ_CONTEXT ? (struct context *)o : NULL;
}

/* Push a box for a new context 'c' (refs = 1, taken over), or raise
** (no memory) with nothing held when 'c' is NULL. */
static void pushnew (lua_State *L, struct context *c) {
  if (!c) lg_raise(L, GO_NOMEM);
  lbox_push(L, (struct obj *)c);              /* its own reference */
  ctx_release(c);                             /* the box holds one */
}

/* ctx -> ctx cancel */
static int pushcanceler (lua_State *L) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &CANCELERKEY) != LUA_TFUNCTION) {
    lua_pop(L, 1);
    if (luaL_loadbuffer(L, canceler_src, sizeof canceler_src - 1,
                        "=gochan.cancel") != LUA_OK)
      return lua_error(L);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &CANCELERKEY);
  }                                           /* ctx maker */
  lua_pushvalue(L, -2);
  lua_call(L, 1, 1);                          /* ctx cancel */
  return 2;
}

/* gochan.background() -> ctx */
static int lgochan_background (lua_State *L) {
  lbox_push(L, (struct obj *)ctx_background());
  return 1;
}

/* The optional parent at 1 (told by its type): the parent and the index
** of the next argument. */
static struct context *optparent (lua_State *L, int *next) {
  struct context *p = testctx(L, 1);
  if (!p && lbox_collected(L, 1, 1u << OBJ_CONTEXT))
    luaL_argerror(L, 1, "object already collected");
  *next = p ? 2 : 1;
  return p ? p : ctx_background();
}

/* gochan.with_cancel([parent]) -> ctx, cancel */
static int lgochan_with_cancel (lua_State *L) {
  struct context *p = lua_isnoneornil(L, 1) ? ctx_background()
                                            : checkctx(L, 1);
  pushnew(L, ctx_new(p, GO_NEVER));
  return pushcanceler(L);
}

/* with_timeout / with_deadline: the parent and an absolute deadline. */
static int withdeadline (lua_State *L, bool absolute) {
  int arg;
  struct context *p = optparent(L, &arg);
  lua_Number s = luaL_checknumber(L, arg);
  if (isnan(s)) luaL_argerror(L, arg, "number expected, got nan");
  int64_t d;
  if (absolute) {                   /* gochan.now() seconds */
    lua_Number ns = s * 1e9;
    d = ns >= (lua_Number)GO_NEVER ? GO_NEVER
      : ns <= 1 ? 1 : (int64_t)ns;  /* 1: in the past, never GO_NOW */
  }
  else d = s <= 0 ? go_now() : go_deadline_in((double)s);
  pushnew(L, ctx_new(p, d));
  return pushcanceler(L);
}

/* gochan.with_timeout([parent,] seconds) -> ctx, cancel */
static int lgochan_with_timeout (lua_State *L) {
  return withdeadline(L, false);
}

/* gochan.with_deadline([parent,] t) -> ctx, cancel */
static int lgochan_with_deadline (lua_State *L) {
  return withdeadline(L, true);
}

/* A key at 'arg' as a tvalue: a string, number or boolean; an integral
** float becomes an integer (1 and 1.0 are one key, as in a table). */
static void checkkey (lua_State *L, int arg, struct tvalue *k) {
  switch (lua_type(L, arg)) {
    case LUA_TBOOLEAN: tvalue_setbool(k, lua_toboolean(L, arg)); return;
    case LUA_TNUMBER: {
      lua_Integer i;
      if (lua_isinteger(L, arg)) tvalue_setint(k, lua_tointeger(L, arg));
      else if (lua_numbertointeger(lua_tonumber(L, arg), &i))
        tvalue_setint(k, i);
      else if (isnan(lua_tonumber(L, arg)))
        luaL_argerror(L, arg, "key is NaN");
      else tvalue_setfloat(k, lua_tonumber(L, arg));
      return;
    }
    case LUA_TSTRING: {
      size_t len;
      const char *s = lua_tolstring(L, arg, &len);
      if (tvalue_setstr(k, s, len) != GO_OK) lg_raise(L, GO_NOMEM);
      return;
    }
    default:
      luaL_typeerror(L, arg, "string, number or boolean");
  }
}

/* gochan.with_value([parent,] key, value) -> ctx */
static int lgochan_with_value (lua_State *L) {
  int arg;
  struct context *p = optparent(L, &arg);
  int kt = lua_type(L, arg);
  if (kt != LUA_TSTRING && kt != LUA_TNUMBER && kt != LUA_TBOOLEAN)
    return luaL_typeerror(L, arg, "string, number or boolean");
  if (kt == LUA_TNUMBER && isnan(lua_tonumber(L, arg)))
    return luaL_argerror(L, arg, "key is NaN");
  luaL_checkany(L, arg + 1);
  struct tvalue k = TVALUE_NIL, v = TVALUE_NIL;
  checkkey(L, arg, &k);                       /* may raise: nothing held */
  if (!transfer_pack(L, arg + 1, &v, "value")) {
    tvalue_clear(&k);
    return lg_packerror(L);
  }
  struct context *c = ctx_with_value(p, &k, &v);
  if (!c) { tvalue_clear(&k); tvalue_clear(&v); }
  pushnew(L, c);
  return 1;
}

/* ctx:done() -> ch | nil (background: never done) */
static int lctx_done (lua_State *L) {
  struct context *c = checkctx(L, 1);
  bool nomem;
  struct chan *d = ctx_donechan(c, &nomem);
  if (nomem) return lg_raise(L, GO_NOMEM);
  if (!d) lua_pushnil(L);
  else lbox_push(L, (struct obj *)d);
  return 1;
}

/* ctx:err() -> nil | "context canceled" | "context deadline exceeded" */
static int lctx_err (lua_State *L) {
  lg_pushctxerr(L, checkctx(L, 1));
  return 1;
}

/* ctx:cause() -> the cause given to cancel, else err() */
static int lctx_cause (lua_State *L) {
  struct context *c = checkctx(L, 1);
  const struct tvalue *cause = ctx_cause(c);
  if (cause) transfer_pushcopy(L, cause);
  else lg_pushctxerr(L, c);
  return 1;
}

/* ctx:deadline() -> t | nil (on the gochan.now() clock) */
static int lctx_deadline (lua_State *L) {
  int64_t d = ctx_deadline(checkctx(L, 1));
  if (d == GO_NEVER) lua_pushnil(L);
  else lua_pushnumber(L, (lua_Number)d / 1e9);
  return 1;
}

/* ctx:value(key) -> value | nil */
static int lctx_value (lua_State *L) {
  struct context *c = checkctx(L, 1);
  int t = lua_type(L, 2);
  if (t != LUA_TSTRING && t != LUA_TNUMBER && t != LUA_TBOOLEAN) {
    lua_pushnil(L);                           /* no such key can be set */
    return 1;
  }
  if (t == LUA_TNUMBER && isnan(lua_tonumber(L, 2))) {
    lua_pushnil(L);
    return 1;
  }
  struct tvalue k = TVALUE_NIL;
  checkkey(L, 2, &k);
  const struct tvalue *v = ctx_value(c, &k);
  tvalue_clear(&k);
  if (v) transfer_pushcopy(L, v);
  else lua_pushnil(L);
  return 1;
}

/* ctx:cancel([cause]): cancels ctx and its descendants; again: nothing */
static int lctx_cancel (lua_State *L) {
  struct context *c = checkctx(L, 1);
  if (!ctx_cancelable(c)) return luaL_error(L, "context cannot be canceled");
  struct tvalue cause = TVALUE_NIL;
  if (!lua_isnoneornil(L, 2))
    lg_pack(L, 2, &cause, "cause");           /* may raise: nothing held */
  ctx_cancel(c, CTX_CANCELED, &cause);        /* takes 'cause' over */
  return 0;
}

/* gochan.context(background) 0x..., (live), (context canceled) ... */
static int lctx__tostring (lua_State *L) {
  if (lbox_pushcollected(L, 1)) return 1;
  struct context *c = checkctx(L, 1);
  const char *state = c == ctx_background() ? "background"
                    : ctx_err(c) == CTX_CANCELED ? "context canceled"
                    : ctx_err(c) == CTX_DEADLINE ? "context deadline exceeded"
                    : "live";
  lua_pushfstring(L, "gochan.context(%s) %p", state, (void *)c);
  return 1;
}

static int lctx__eq (lua_State *L) {
  struct obj *a = lbox_to(L, 1), *b = lbox_to(L, 2);
  lua_pushboolean(L, a != NULL && a == b);
  return 1;
}

static const luaL_Reg ctx_methods[] = {
  {"done", lctx_done}, {"err", lctx_err}, {"cause", lctx_cause},
  {"deadline", lctx_deadline}, {"value", lctx_value},
  {"cancel", lctx_cancel}, {NULL, NULL}
};

static const luaL_Reg ctx_meta[] = {
  {"__tostring", lctx__tostring}, {"__eq", lctx__eq}, {NULL, NULL}
};

void lcontext_meta (lua_State *L) {
  lbox_newmetatable(L, GOCHAN_CONTEXT_MT);    /* mt */
  luaL_setfuncs(L, ctx_meta, 0);
  lbox_setmethods(L, ctx_methods);
  lua_pop(L, 1);
}

const luaL_Reg lcontext_funcs[] = {
  {"background", lgochan_background}, {"with_cancel", lgochan_with_cancel},
  {"with_timeout", lgochan_with_timeout},
  {"with_deadline", lgochan_with_deadline},
  {"with_value", lgochan_with_value}, {NULL, NULL}
};
