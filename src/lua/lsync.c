/*
** lsync.c: gochan.waitgroup, gochan.mutex and gochan.atomic. A blocking
** call parks a task (lpark_one) and blocks any other thread (sync.h's
** thread forms); its outcome is translated in one place either way.
*/
#include <lua.h>
#include <lauxlib.h>
#include "ltypes.h"
#include "lpark.h"
#include "sync.h"
#include "context.h"

#define MUTEX_CLOSER_MT "gochan.mutex.closer"

static struct waitgroup *checkwg (lua_State *L, int arg) {
  return (struct waitgroup *)lbox_check(L, arg, OBJ_WAITGROUP);
}

static struct gmutex *checkmutex (lua_State *L, int arg) {
  return (struct gmutex *)lbox_check(L, arg, OBJ_MUTEX);
}

static struct gatomic *checkatomic (lua_State *L, int arg) {
  return (struct gatomic *)lbox_check(L, arg, OBJ_ATOMIC);
}


/* ---- waitgroup ---- */

/* gochan.waitgroup() -> wg */
static int lgochan_waitgroup (lua_State *L) {
  struct obj **box = lbox_new(L, OBJ_WAITGROUP);  /* box */
  struct waitgroup *wg = wg_new();
  if (!wg) return lg_raise(L, GO_NOMEM);           /* box stays empty */
  lbox_adopt(L, box, (struct obj *)wg);
  return 1;
}

static int addresult (lua_State *L, gostatus st) {
  if (st != GO_OK) return lg_raise(L, st);  /* GO_NEGATIVE: unchanged */
  return 0;
}

/* wg:add([n]) */
static int lwg_add (lua_State *L) {
  struct waitgroup *wg = checkwg(L, 1);
  lua_Integer n = luaL_optinteger(L, 2, 1);
  return addresult(L, wg_add(wg, (int64_t)n));
}

/* wg:done() */
static int lwg_done (lua_State *L) {
  return addresult(L, wg_add(checkwg(L, 1), -1));
}

/* Outcome of a wait: true (zero reached) | false (timed out) | false,
** err (its context, at 2, was done). 'lt' and 'chosen' are unused
** (lpark's result shape; NULL and -1 elsewhere). */
static int waitresult (lua_State *L, struct ltask *lt, gostatus st,
                       int chosen) {
  (void)lt; (void)chosen;
  switch (st) {
    case GO_OK: lua_pushboolean(L, 1); return 1;
    case GO_AGAIN: case GO_TIMEOUT: lua_pushboolean(L, 0); return 1;
    case GO_CTXDONE:
      lua_pushboolean(L, 0);
      lg_pushctxerr(L, (struct context *)lbox_to(L, 2));
      return 2;
    default: return lg_raise(L, st);
  }
}

/* The begin/finish pairs of the thread forms with a context (ctx_wait) */
static gostatus wg_b (void *o, struct waiter *w, struct op *op) {
  return wg_begin(o, w, op);
}
static gostatus wg_f (void *o, struct waiter *w, struct op *op) {
  return wg_finish(o, w, op);
}
static gostatus mutex_b (void *o, struct waiter *w, struct op *op) {
  return mutex_begin(o, w, op);
}
static gostatus mutex_f (void *o, struct waiter *w, struct op *op) {
  return mutex_finish(o, w, op);
}

/* wg:wait([timeout | ctx]) -> true | false | false, err */
static int lwg_wait (lua_State *L) {
  lg_checkcancel(L);
  struct waitgroup *wg = checkwg(L, 1);
  int64_t deadline;
  struct context *ctx;
  lg_optwait(L, 2, &deadline, &ctx);
  if (ctx_done(ctx)) return waitresult(L, NULL, GO_CTXDONE, -1);
  struct ltask *lt = go_mayblock(deadline) ? lpark_current(L) : NULL;
  if (lt)
    return lpark_onectx(L, lt, PEND_WG, (struct obj *)wg, deadline, ctx,
                        "wait on gochan.waitgroup", waitresult);
  sched_blocking("wait on gochan.waitgroup");
  gostatus st = ctx ? ctx_wait(ctx, deadline, "wait on gochan.waitgroup",
                               wg_b, wg_f, wg)
                    : wg_wait(wg, deadline);
  sched_blocking(NULL);
  return waitresult(L, NULL, st, -1);
}

/* wg:go(fn, ...) -> task: add(1), start, done() when it ends (also when
** it fails); if the task cannot start, the add is undone. */
static int lwg_go (lua_State *L) {
  return ltask_spawn(L, 2, checkwg(L, 1), NULL);
}

static int lwg__tostring (lua_State *L) {
  if (lbox_pushcollected(L, 1)) return 1;
  struct waitgroup *wg = checkwg(L, 1);
  lua_pushfstring(L, "gochan.waitgroup(count=%I) %p",
                  (lua_Integer)wg_count(wg), (void *)wg);
  return 1;
}

static const luaL_Reg wg_methods[] = {
  {"add", lwg_add}, {"done", lwg_done}, {"wait", lwg_wait}, {"go", lwg_go},
  {NULL, NULL}
};


/* ---- mutex ---- */

/* gochan.mutex() -> mu */
static int lgochan_mutex (lua_State *L) {
  struct obj **box = lbox_new(L, OBJ_MUTEX);      /* box */
  struct gmutex *m = mutex_new();
  if (!m) return lg_raise(L, GO_NOMEM);
  lbox_adopt(L, box, (struct obj *)m);
  return 1;
}

/* Push the closer of the mutex box at 1: made once per box and kept in
** the box's user value (so lock() does not allocate); its own user value
** is the box. */
static void pushcloser (lua_State *L) {
  if (lua_getiuservalue(L, 1, 1) != LUA_TNIL) return;  /* closer */
  lua_pop(L, 1);
  lua_newuserdatauv(L, 0, 1);                           /* closer */
  luaL_setmetatable(L, MUTEX_CLOSER_MT);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1);
  lua_pushvalue(L, -1);
  lua_setiuservalue(L, 1, 1);
}

static int unlockresult (lua_State *L, gostatus st) {
  if (st != GO_OK) return lg_raise(L, st);  /* GO_NOTLOCKED: unchanged */
  return 0;
}

/* Outcome of a lock: the closer (for 'local _ <close> = mu:lock()'), or
** nil, err when its context (at 2) was done first. 'lt' and 'chosen' are
** unused (lpark's result shape). */
static int lockresult (lua_State *L, struct ltask *lt, gostatus st,
                       int chosen) {
  (void)lt; (void)chosen;
  if (st == GO_CTXDONE) {
    lua_pushnil(L);
    lg_pushctxerr(L, (struct context *)lbox_to(L, 2));
    return 2;
  }
  if (st != GO_OK) return lg_raise(L, st);
  pushcloser(L);
  return 1;
}

/* mu:lock([ctx]) -> closer | nil, err. The closer is made before
** blocking, so that once the lock is held nothing can fail (raising with
** it held would leak it). */
static int lmutex_lock (lua_State *L) {
  lg_checkcancel(L);
  struct gmutex *m = checkmutex(L, 1);
  struct context *ctx = lg_optctx(L, 2);
  lua_settop(L, 2);
  pushcloser(L);
  lua_pop(L, 1);
  if (ctx_done(ctx)) return lockresult(L, NULL, GO_CTXDONE, -1);
  struct ltask *lt = lpark_current(L);
  if (lt)
    return lpark_onectx(L, lt, PEND_MUTEX, (struct obj *)m, GO_NEVER, ctx,
                        "lock on gochan.mutex", lockresult);
  sched_blocking("lock on gochan.mutex");
  gostatus st = ctx ? ctx_wait(ctx, GO_NEVER, "lock on gochan.mutex",
                               mutex_b, mutex_f, m)
                    : mutex_lock(m, GO_NEVER);
  sched_blocking(NULL);
  return lockresult(L, NULL, st, -1);
}

/* mu:unlock() */
static int lmutex_unlock (lua_State *L) {
  return unlockresult(L, mutex_unlock(checkmutex(L, 1)));
}

/* mu:try_lock() -> boolean */
static int lmutex_try_lock (lua_State *L) {
  lua_pushboolean(L, mutex_trylock(checkmutex(L, 1)));
  return 1;
}

/* __close of the closer: unlock its mutex. */
static int lcloser__close (lua_State *L) {
  luaL_checkudata(L, 1, MUTEX_CLOSER_MT);
  lua_getiuservalue(L, 1, 1);                           /* closer err box */
  struct gmutex *m = checkmutex(L, -1);
  return unlockresult(L, mutex_unlock(m));
}

static int lmutex__tostring (lua_State *L) {
  if (lbox_pushcollected(L, 1)) return 1;
  struct gmutex *m = checkmutex(L, 1);
  lua_pushfstring(L, "gochan.mutex(%s) %p",
                  mutex_islocked(m) ? "locked" : "unlocked", (void *)m);
  return 1;
}

static const luaL_Reg mutex_methods[] = {
  {"lock", lmutex_lock}, {"unlock", lmutex_unlock},
  {"try_lock", lmutex_try_lock}, {NULL, NULL}
};


/* ---- atomic ---- */

/* gochan.atomic([n]) -> a */
static int lgochan_atomic (lua_State *L) {
  lua_Integer n = luaL_optinteger(L, 1, 0);
  struct obj **box = lbox_new(L, OBJ_ATOMIC);     /* box */
  struct gatomic *a = gatomic_new((int64_t)n);
  if (!a) return lg_raise(L, GO_NOMEM);
  lbox_adopt(L, box, (struct obj *)a);
  return 1;
}

static int latomic_get (lua_State *L) {
  lua_pushinteger(L, (lua_Integer)gatomic_get(checkatomic(L, 1)));
  return 1;
}

static int latomic_set (lua_State *L) {
  struct gatomic *a = checkatomic(L, 1);
  gatomic_set(a, (int64_t)luaL_checkinteger(L, 2));
  return 0;
}

/* a:add(d) -> new value (wraps around, as Lua integers do) */
static int latomic_add (lua_State *L) {
  struct gatomic *a = checkatomic(L, 1);
  lua_Integer d = luaL_checkinteger(L, 2);
  lua_pushinteger(L, (lua_Integer)gatomic_add(a, (int64_t)d));
  return 1;
}

/* a:cas(old, new) -> boolean */
static int latomic_cas (lua_State *L) {
  struct gatomic *a = checkatomic(L, 1);
  lua_Integer old = luaL_checkinteger(L, 2);
  lua_Integer nw = luaL_checkinteger(L, 3);
  lua_pushboolean(L, gatomic_cas(a, (int64_t)old, (int64_t)nw));
  return 1;
}

static int latomic__tostring (lua_State *L) {
  if (lbox_pushcollected(L, 1)) return 1;
  struct gatomic *a = checkatomic(L, 1);
  lua_pushfstring(L, "gochan.atomic(%I) %p",
                  (lua_Integer)gatomic_get(a), (void *)a);
  return 1;
}

static const luaL_Reg atomic_methods[] = {
  {"get", latomic_get}, {"set", latomic_set}, {"add", latomic_add},
  {"cas", latomic_cas}, {NULL, NULL}
};


/* ---- opening ---- */


void lwg_meta (lua_State *L) {
  lbox_newtype(L, GOCHAN_WAITGROUP_MT, lwg__tostring, wg_methods);
}

void lmutex_meta (lua_State *L) {
  lbox_newtype(L, GOCHAN_MUTEX_MT, lmutex__tostring, mutex_methods);
  luaL_newmetatable(L, MUTEX_CLOSER_MT);      /* not a box: no __gc */
  lua_pushcfunction(L, lcloser__close);
  lua_setfield(L, -2, "__close");
  lua_pop(L, 1);
}

void latomic_meta (lua_State *L) {
  lbox_newtype(L, GOCHAN_ATOMIC_MT, latomic__tostring, atomic_methods);
}

const luaL_Reg lsync_funcs[] = {
  {"waitgroup", lgochan_waitgroup}, {"mutex", lgochan_mutex},
  {"atomic", lgochan_atomic}, {NULL, NULL}
};
