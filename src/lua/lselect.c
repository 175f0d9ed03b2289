/*
** lselect.c: gochan.select{...}, Go's select, from any state: a task
** parks (lpark.h), anything else blocks its thread. Cases are checked
** first (raising freely), then send values are packed, then one core
** call; the outcome is translated in one place (selresult). A context
** (the second argument) is one more case of the wait (context.h).
*/
#include <stdio.h>
#include <string.h>
#include <lua.h>
#include <lauxlib.h>
#include "ltypes.h"
#include "transfer.h"
#include "lpark.h"
#include "select.h"
#include "context.h"

#define LSEL_STACK 8               /* cases held in a C array, no allocation */
#define LSEL_MAX   (1 << 20)       /* more cases than this is surely a bug */

/* Stack slots of lgochan_select. */
enum { CASES = 1, CTXARG = 2, DEFAULT = 3 };

/* Push the string at 'idx' quoted as string.format's %q does (the whole
** string: an embedded zero is shown, not an end). */
static const char *pushquoted (lua_State *L, int idx) {
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

static int caseerror (lua_State *L, int i, const char *what, int idx) {
  const char *got = lua_type(L, idx) == LUA_TSTRING
    ? pushquoted(L, idx)
    : lbox_typename(L, idx);
  return luaL_argerror(L, CASES,
                       lua_pushfstring(L, "case %d: %s expected, got %s",
                                       i, what, got));
}

static bool callable (lua_State *L, int idx) {
  if (lua_type(L, idx) == LUA_TFUNCTION) return true;
  if (luaL_getmetafield(L, idx, "__call") == LUA_TNIL) return false;
  lua_pop(L, 1);
  return true;
}

/*
** Check case 'i' (its table on top) and fill cs->c/dir; nothing is packed
** or retained, so every error here leaves nothing held. The channel is
** borrowed: the case table, anchored in slot CASES, keeps its box alive.
*/
static void checkcase (lua_State *L, int i, struct selcase *cs) {
  int t = lua_gettop(L);
  if (lua_type(L, t) != LUA_TTABLE) caseerror(L, i, "table", t);
  size_t len = 0;
  const char *op = lua_rawgeti(L, t, 1) == LUA_TSTRING  /* case op */
                   ? lua_tolstring(L, -1, &len) : "";
  if (len == 4 && memcmp(op, "recv", 4) == 0)
    cs->dir = SEL_RECV;
  else if (len == 4 && memcmp(op, "send", 4) == 0)
    cs->dir = SEL_SEND;
  else
    caseerror(L, i, "\"send\" or \"recv\"", t + 1);
  lua_rawgeti(L, t, 2);                       /* case op ch */
  if (!lua_toboolean(L, -1)) {                /* nil/false: the case is off */
    cs->c = NULL;
  } else {
    struct obj *o = lbox_to(L, -1);
    if (!o) {                                 /* a channel emptied by its */
      struct obj **box = luaL_testudata(L, -1, GOCHAN_CHAN_MT);  /* __gc */
      if (box && !*box)
        luaL_argerror(L, CASES, lua_pushfstring(L,
                      "case %d: object already collected", i));
    }
    if (!o || o->type != OBJ_CHAN) caseerror(L, i, "gochan.chan", t + 2);
    cs->c = (struct chan *)o;
  }
  int h = cs->dir == SEL_RECV ? 3 : 4;
  cs->mark = lua_rawgeti(L, t, h) != LUA_TNIL;   /* a handler */
  if (cs->mark && !callable(L, -1))
    caseerror(L, i, "function as handler", t + 3);
  lua_settop(L, t - 1);
}

/* 'default' must be absent, false, true or callable; no other field may
** be set (a 'timeout' field would otherwise be silently ignored). */
static void checkfields (lua_State *L, lua_Integer n) {
  lua_pushnil(L);
  while (lua_next(L, CASES)) {                /* key value */
    lua_pop(L, 1);
    if (lua_isinteger(L, -1)) {
      lua_Integer k = lua_tointeger(L, -1);
      if (k >= 1 && k <= n) continue;
    } else if (lua_type(L, -1) == LUA_TSTRING) {
      size_t len;
      const char *k = lua_tolstring(L, -1, &len);
      if (len == 7 && memcmp(k, "default", 7) == 0) continue;
    }
    size_t klen = 0;
    const char *key = lua_type(L, -1) == LUA_TSTRING
      ? lua_tolstring(L, -1, &klen) : NULL;
    if (!key) key = luaL_tolstring(L, -1, NULL);
    else if (memchr(key, '\0', klen)) key = pushquoted(L, -1);  /* whole */
    else key = lua_pushfstring(L, "'%s'", key);
    luaL_argerror(L, CASES, lua_pushfstring(L, "unexpected field %s", key));
  }
  int dt = lua_type(L, DEFAULT);
  if (!(dt == LUA_TNIL || dt == LUA_TBOOLEAN || callable(L, DEFAULT))) {
    luaL_argerror(L, CASES, lua_pushfstring(L,
      "default: true or function expected, got %s",
      lbox_typename(L, DEFAULT)));
  }
}

/* After a handler that yielded (it blocked in a task): its results. */
static int handler_k (lua_State *L, int status, lua_KContext base) {
  (void)status;
  return lua_gettop(L) - (int)base;
}

/*
** The outcome of a select, for every path (the thread's wait, a task's
** park, or done at once). Every send value that did not go is cleared
** first, so raising afterwards holds nothing.
*/
static int selresult (lua_State *L, struct selcase *cs, int n, gostatus st,
                      int chosen) {
  for (int i = 0; i < n; i++)
    if (cs[i].dir == SEL_SEND) tvalue_clear(&cs[i].v);
  int base = lua_gettop(L);
  switch (st) {
    case GO_OK: {
      struct selcase *sc = &cs[chosen];
      lua_pushinteger(L, chosen + 1);               /* i */
      bool handler = sc->mark;                      /* seen by checkcase */
      if (handler) {
        lua_rawgeti(L, CASES, chosen + 1);
        lua_rawgeti(L, -1, sc->dir == SEL_RECV ? 3 : 4);
        lua_remove(L, -2);                          /* i handler */
      }
      int nargs = 0;
      if (sc->dir == SEL_RECV) {
        if (sc->ok) transfer_push(L, &sc->v);       /* clears sc->v */
        else lua_pushnil(L);
        lua_pushboolean(L, sc->ok);
        nargs = 2;
      }
      if (handler)                                  /* i results... */
        lua_callk(L, nargs, LUA_MULTRET, base, handler_k);
      return lua_gettop(L) - base;
    }
    case GO_AGAIN:                                  /* the default case */
      lua_pushnil(L);
      if (lua_type(L, DEFAULT) != LUA_TBOOLEAN) {
        lua_pushvalue(L, DEFAULT);
        lua_callk(L, 0, LUA_MULTRET, base, handler_k);
      }
      return lua_gettop(L) - base;
    case GO_CLOSED:
      return luaL_error(L, "send on closed channel");
    case GO_CTXDONE: {                              /* nil, err */
      struct obj *o = lbox_to(L, CTXARG);
      lua_pushnil(L);
      lg_pushctxerr(L, (struct context *)o);
      return 2;
    }
    default:
      return lg_raise(L, st);
  }
}

/* The thread form with a context (ctx_wait's begin and finish). */
struct selwait { struct selcase *cs; int n; struct waiter *ws; int chosen; };

static gostatus selw_begin (void *o, struct waiter *w, struct op *op) {
  struct selwait *sw = o;
  (void)w;
  return sel_begin(sw->cs, sw->n, sw->ws, op, true, &sw->chosen);
}

static gostatus selw_finish (void *o, struct waiter *w, struct op *op) {
  struct selwait *sw = o;
  (void)w;
  return sel_finish(sw->cs, sw->n, sw->ws, op, &sw->chosen);
}

/* The results of a task's select once it is resumed. */
static int selparked (lua_State *L, struct ltask *lt, gostatus st,
                      int chosen) {
  return selresult(L, lt->cs, lt->ncases, st, chosen);
}

/* Check every case into cs[0..n-1], setting no value: nothing is held,
** so any of them may raise. */
static void checkcases (lua_State *L, struct selcase *cs, int n) {
  for (int i = 0; i < n; i++) {
    lua_rawgeti(L, CASES, i + 1);
    checkcase(L, i + 1, &cs[i]);              /* may raise: nothing held */
    cs[i].v = TVALUE_NIL;
    cs[i].ok = false;
    if (!cs[i].c) cs[i].dir = SEL_OFF;
  }
}

/* Pack the send cases' values; on a refusal clear those packed and raise
** it, holding nothing. */
static void packsends (lua_State *L, struct selcase *cs, int n) {
  for (int i = 0; i < n; i++) {
    if (cs[i].dir != SEL_SEND) continue;
    lua_rawgeti(L, CASES, i + 1);
    lua_rawgeti(L, -1, 3);                    /* case v */
    char root[32];
    snprintf(root, sizeof root, "case %d value", i + 1);
    if (!transfer_pack(L, -1, &cs[i].v, root)) {
      for (int j = 0; j < i; j++) tvalue_clear(&cs[j].v);
      lg_packerror(L);
    }
    lua_pop(L, 2);
  }
}

/* gochan.select({ {"recv", ch[, fn]}, {"send", ch, v[, fn]}, ...,
**                 default = true | fn } [, ctx]) -> i, ... | nil, ...
** | nil, err */
static int lgochan_select (lua_State *L) {
  luaL_checktype(L, CASES, LUA_TTABLE);
  struct context *ctx = lg_optctx(L, CTXARG);
  lua_settop(L, CTXARG);
  lua_pushliteral(L, "default");
  lua_rawget(L, CASES);                       /* slot DEFAULT */
  lua_Unsigned un = lua_rawlen(L, CASES);
  luaL_argcheck(L, un <= LSEL_MAX, CASES, "too many cases");
  int n = (int)un;
  checkfields(L, n);
  bool dflt = lua_toboolean(L, DEFAULT);
  if (dflt) ctx = NULL;                       /* it never waits */
  else lg_checkcancel(L);                     /* a blocking call */
  struct selcase stackcs[LSEL_STACK];
  struct selcase *cs = stackcs;
  struct ltask *lt = dflt ? NULL : lpark_current(L);
  if (lt)                                     /* kept by the task across a park */
    cs = lpark_cases(L, lt, n);
  else if (n > LSEL_STACK)                    /* anchored in slot 4 */
    cs = (struct selcase *)lua_newuserdatauv(L, (size_t)n * sizeof *cs, 0);
  checkcases(L, cs, n);
  struct waiter stackws[LSEL_STACK];          /* a thread's wait with ctx */
  struct selwait sw = { cs, n, stackws, -1 };
  if (!lt && ctx && n > LSEL_STACK)           /* may raise: nothing held */
    sw.ws = lua_newuserdatauv(L, (size_t)n * sizeof *sw.ws, 0);
  if (ctx_done(ctx)) return selresult(L, cs, n, GO_CTXDONE, -1);
  packsends(L, cs, n);
  int chosen = -1;
  gostatus st;
  if (lt) {
    lpark_prepctx(lt, "select", ctx);
    st = sel_begin(cs, n, lt->ws, &lt->t->op, true, &chosen);
    if (st == GO_AGAIN)
      return lpark(L, lt, PEND_SEL, NULL, GO_NEVER, selparked);
  }
  else if (ctx) {
    sched_blocking("select");
    st = ctx_wait(ctx, GO_NEVER, "select", selw_begin, selw_finish, &sw);
    sched_blocking(NULL);
    chosen = sw.chosen;
  }
  else {
    sched_blocking("select");
    st = sel_wait(cs, n, dflt ? GO_NOW : GO_NEVER, &chosen);
    sched_blocking(NULL);
  }
  return selresult(L, cs, n, st, chosen);
}

const luaL_Reg lselect_funcs[] = {
  {"select", lgochan_select}, {NULL, NULL}
};
