/*
** ltime.c: gochan.sleep, gochan.after, gochan.ticker, gochan.timer,
** gochan.after_func and gochan.now.
** Durations are float seconds in Lua and int64 nanoseconds in the core.
*/
#include <math.h>
#include <lua.h>
#include <lauxlib.h>
#include "ltypes.h"
#include "chan.h"
#include "lpark.h"
#include "context.h"
#include "timer.h"

/* Longest duration handed to the core (~146 years): the timer adds it to
** go_now() and must not overflow. */
#define LTIME_MAX_NS (INT64_MAX / 2)

static struct ticker *checkticker (lua_State *L, int arg) {
  return (struct ticker *)lbox_check(L, arg, OBJ_TICKER);
}

/* A duration in seconds at 'arg' as nanoseconds; NaN raises, <= 0 gives 0
** (as Go's time.Sleep / time.After take a negative duration). */
static int64_t checkduration (lua_State *L, int arg) {
  lua_Number s = luaL_checknumber(L, arg);
  if (isnan(s)) luaL_argerror(L, arg, "number expected, got nan");
  if (s <= 0) return 0;
  if (s * 1e9 >= (lua_Number)LTIME_MAX_NS) return LTIME_MAX_NS;
  return (int64_t)(s * 1e9);
}

/* Outcome of a sleep: true when the time came (GO_OK); nil, err when
** its context (at 2) was done first. 'lt' and 'chosen' are unused
** (lpark's result shape; NULL and -1 elsewhere). */
static int sleepresult (lua_State *L, struct ltask *lt, gostatus st,
                        int chosen) {
  (void)lt; (void)chosen;
  if (st == GO_CTXDONE) {
    lua_pushnil(L);
    lg_pushctxerr(L, (struct context *)lbox_to(L, 2));
    return 2;
  }
  if (st != GO_OK) return lg_raise(L, st);
  lua_pushboolean(L, 1);
  return 1;
}

/* After sleep(0)'s yield: true. */
static int slept_k (lua_State *L, int status, lua_KContext ctx) {
  (void)status; (void)ctx;
  lua_pushboolean(L, 1);
  return 1;
}

/* gochan.sleep(seconds [, ctx]) -> true | nil, err: a task parks (its
** worker runs others meanwhile), any other thread blocks. */
static int lgochan_sleep (lua_State *L) {
  lg_checkcancel(L);
  int64_t ns = checkduration(L, 1);
  struct context *ctx = lg_optctx(L, 2);
  if (ctx_done(ctx)) return sleepresult(L, NULL, GO_CTXDONE, -1);
  struct ltask *lt = lpark_current(L);
  if (ns == 0) {                    /* Go's Gosched: let others run */
    if (lt) return lua_yieldk(L, 0, 0, slept_k);
    return sleepresult(L, NULL, GO_OK, -1);
  }
  if (lt) {                         /* a timer wakes it; the worker runs others */
    lpark_prepctx(lt, "sleep", ctx);
    return lpark(L, lt, PEND_SLEEP, NULL, go_now() + ns, sleepresult);
  }
  sched_blocking("sleep");
  gostatus st;
  if (ctx) {
    st = ctx_wait(ctx, go_now() + ns, "sleep", NULL, NULL, NULL);
    if (st == GO_TIMEOUT) st = GO_OK;       /* the time came */
  }
  else st = go_sleep_until(go_now() + ns);
  sched_blocking(NULL);
  return sleepresult(L, NULL, st, -1);
}

/* gochan.after(seconds) -> ch: gets gochan.now() once, after 'seconds'. */
static int lgochan_after (lua_State *L) {
  int64_t ns = checkduration(L, 1);
  struct obj **box = lbox_new(L, OBJ_CHAN);      /* box */
  struct chan *c = timer_after(ns);
  if (!c) return lg_raise(L, GO_NOMEM);           /* box stays empty */
  lbox_adopt(L, box, (struct obj *)c);
  return 1;
}

/* gochan.ticker(seconds) -> tk; tk.c gets gochan.now() every interval. */
static int lgochan_ticker (lua_State *L) {
  int64_t ns = checkduration(L, 1);
  if (!(lua_tonumber(L, 1) > 0)) return luaL_typeerror(L, 1, "positive number");
  if (ns < 1) ns = 1;
  struct obj **box = lbox_new(L, OBJ_TICKER);    /* box */
  struct ticker *tk = ticker_new(ns);
  if (!tk) return lg_raise(L, GO_NOMEM);
  lbox_adopt(L, box, (struct obj *)tk);             /* sets tk.c */
  return 1;
}

/* tk:reset(seconds): the next tick one new interval from now; a tick
** still in tk.c is dropped. */
static int lticker_reset (lua_State *L) {
  struct ticker *tk = checkticker(L, 1);
  int64_t ns = checkduration(L, 2);
  if (!(lua_tonumber(L, 2) > 0)) return luaL_typeerror(L, 2, "positive number");
  if (ns < 1) ns = 1;
  gostatus st = ticker_reset(tk, ns);
  if (st != GO_OK) return lg_raise(L, st);
  return 0;
}

/* tk:stop(): no tick is sent after it returns; tk.c stays open. */
static int lticker_stop (lua_State *L) {
  ticker_stop(checkticker(L, 1));
  return 0;
}

/* tk.c is the box in the ticker box's user value; anything else is a
** method (upvalue 1: the method table). */
static int index_c (lua_State *L) {     /* the body of both __index */
  const char *k = lua_tostring(L, 2);
  if (lua_type(L, 2) == LUA_TSTRING && k[0] == 'c' && k[1] == '\0') {
    lua_getiuservalue(L, 1, 1);
    return 1;
  }
  lua_pushvalue(L, 2);
  lua_rawget(L, lua_upvalueindex(1));
  return 1;
}

static int lticker__index (lua_State *L) {
  checkticker(L, 1);
  return index_c(L);
}

static int lticker__tostring (lua_State *L) {
  if (lbox_pushcollected(L, 1)) return 1;
  lua_pushfstring(L, "gochan.ticker %p", (void *)checkticker(L, 1));
  return 1;
}

/* ---- timers you can stop (timer.h: gtimer) ---- */

static struct gtimer *checktimer (lua_State *L, int arg) {
  return (struct gtimer *)lbox_check(L, arg, OBJ_TIMER);
}

/* gochan.timer(seconds) -> t; t.c gets gochan.now() once. */
static int lgochan_timer (lua_State *L) {
  int64_t ns = checkduration(L, 1);
  struct obj **box = lbox_new(L, OBJ_TIMER);      /* box */
  struct gtimer *g = gtimer_new(ns);
  if (!g) return lg_raise(L, GO_NOMEM);            /* box stays empty */
  lbox_adopt(L, box, (struct obj *)g);              /* sets t.c */
  return 1;
}

/* gochan.after_func(seconds, fn, ...) -> t: fn(...) runs as a new task
** when t fires. */
static int lgochan_after_func (lua_State *L) {
  int64_t ns = checkduration(L, 1);
  luaL_checktype(L, 2, LUA_TFUNCTION);            /* while nothing is above */
  int last = lua_gettop(L);
  struct obj **box = lbox_new(L, OBJ_TIMER);      /* seconds fn ... box */
  struct lspawner *sp = ltask_spawner(L, 2, last);  /* may raise: nothing held */
  struct gtimer *g = gtimer_func(ns, ltask_spawner_run, ltask_spawner_free,
                                 sp);
  if (!g) {
    ltask_spawner_free(sp);
    return lg_raise(L, GO_NOMEM);
  }
  lbox_adopt(L, box, (struct obj *)g);            /* box on top */
  return 1;
}

/* t:stop() -> boolean: true if no value of this arming had been received
** (a value still in t.c is taken out); after it, none is. */
static int ltimer_stop (lua_State *L) {
  lua_pushboolean(L, gtimer_stop(checktimer(L, 1)));
  return 1;
}

/* t:reset(seconds) -> boolean: t:stop(), then armed again. */
static int ltimer_reset (lua_State *L) {
  struct gtimer *g = checktimer(L, 1);
  int64_t ns = checkduration(L, 2);
  bool active = false;
  gostatus st = gtimer_reset(g, ns, &active);
  if (st != GO_OK) return lg_raise(L, st);
  lua_pushboolean(L, active);
  return 1;
}

/* t.c is the box in the timer box's user value (nil for after_func);
** anything else is a method (upvalue 1: the method table). */
static int ltimer__index (lua_State *L) {
  checktimer(L, 1);
  return index_c(L);
}

static int ltimer__tostring (lua_State *L) {
  if (lbox_pushcollected(L, 1)) return 1;
  lua_pushfstring(L, "gochan.timer %p", (void *)checktimer(L, 1));
  return 1;
}

void ltimer_meta (lua_State *L) {
  static const luaL_Reg timer_methods[] = {
    {"stop", ltimer_stop}, {"reset", ltimer_reset}, {NULL, NULL}
  };
  lbox_newmetatable(L, GOCHAN_TIMER_MT);      /* mt */
  lua_pushcfunction(L, ltimer__tostring);
  lua_setfield(L, -2, "__tostring");
  luaL_newlib(L, timer_methods);
  lua_pushcclosure(L, ltimer__index, 1);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}

/* gochan.now() -> seconds (monotonic, float) */
static int lgochan_now (lua_State *L) {
  lua_pushnumber(L, (lua_Number)go_now() / 1e9);
  return 1;
}

void lticker_meta (lua_State *L) {
  static const luaL_Reg ticker_methods[] = {
    {"stop", lticker_stop}, {"reset", lticker_reset}, {NULL, NULL}
  };
  lbox_newmetatable(L, GOCHAN_TICKER_MT);     /* mt */
  lua_pushcfunction(L, lticker__tostring);
  lua_setfield(L, -2, "__tostring");
  luaL_newlib(L, ticker_methods);
  lua_pushcclosure(L, lticker__index, 1);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}

const luaL_Reg ltime_funcs[] = {
  {"sleep", lgochan_sleep}, {"after", lgochan_after},
  {"ticker", lgochan_ticker}, {"now", lgochan_now},
  {"timer", lgochan_timer}, {"after_func", lgochan_after_func}, {NULL, NULL}
};
