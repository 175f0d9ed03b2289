/*
** lxsync.c: gochan.once, gochan.rwmutex, gochan.cond and gochan.semaphore.
** A blocking call parks a task (lpark) and blocks any other thread
** (xsync.h's thread forms); its outcome is translated in one place either
** way, after every core lock is released.
*/
#include <lua.h>
#include <lauxlib.h>
#include "ltypes.h"
#include "lpark.h"
#include "context.h"
#include "sync.h"
#include "xsync.h"

#define ONCE_CLOSER_MT "gochan.once.closer"
#define RW_CLOSER_MT   "gochan.rwmutex.closer"
#define RW_RCLOSER_MT  "gochan.rwmutex.rcloser"

static struct gonce *checkonce (lua_State *L, int arg) {
  return (struct gonce *)lbox_check(L, arg, OBJ_ONCE);
}

static struct grwmutex *checkrw (lua_State *L, int arg) {
  return (struct grwmutex *)lbox_check(L, arg, OBJ_RWMUTEX);
}

static struct gcond *checkcond (lua_State *L, int arg) {
  return (struct gcond *)lbox_check(L, arg, OBJ_COND);
}

static struct gsem *checksem (lua_State *L, int arg) {
  return (struct gsem *)lbox_check(L, arg, OBJ_SEM);
}

/* A count of units at 'arg' (default 'dflt'): a non-negative integer. */
static int64_t checkunits (lua_State *L, int arg, lua_Integer dflt) {
  lua_Integer k = luaL_optinteger(L, arg, dflt);
  if (k < 0) luaL_typeerror(L, arg, "non-negative integer");
  return (int64_t)k;
}

/* Make a new object with 'make' into a box of type 't'; 1. */
static int newbox (lua_State *L, enum objtype t, struct obj *(*make) (void)) {
  struct obj **box = lbox_new(L, t);              /* box */
  struct obj *o = make();
  if (!o) return lg_raise(L, GO_NOMEM);           /* box stays empty */
  lbox_adopt(L, box, o);
  return 1;
}


/* ---- once ---- */

static struct obj *makeonce (void) { return (struct obj *)once_new(); }

/* gochan.once() -> o */
static int lgochan_once (lua_State *L) {
  return newbox(L, OBJ_ONCE, makeonce);
}

/* __close (and __gc) of the first call's closer (its user value: the
** once box): the first call has finished, normally or by an error. __gc
** covers a coroutine that died by the error and was never closed. */
static int loncecloser__close (lua_State *L) {
  int *armed = (int *)luaL_checkudata(L, 1, ONCE_CLOSER_MT);
  if (!*armed) return 0;
  *armed = 0;
  lua_getiuservalue(L, 1, 1);                       /* closer err box */
  once_done(checkonce(L, -1));
  return 0;
}

/* The rest of the first call once fn has returned (or yielded and come
** back): close the slot at 'ctx', which marks the once done; true. */
static int oncecalled (lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  lua_settop(L, (int)ctx - 1);                      /* closes the closer */
  lua_pushboolean(L, 1);
  return 1;
}

/* Outcome of waiting for the first call: false. 'lt' and 'chosen' are
** unused (lpark's result shape; NULL and -1 elsewhere). */
static int oncewaited (lua_State *L, struct ltask *lt, gostatus st,
                       int chosen) {
  (void)lt; (void)chosen;
  if (st != GO_OK) return lg_raise(L, st);
  lua_pushboolean(L, 0);
  return 1;
}

/* o:call(fn, ...) -> boolean: the first call runs fn(...) here (its error
** propagates, and it still counts as done); every other call waits for
** it to finish, without a time limit, and returns false. */
static int lonce_call (lua_State *L) {
  lg_checkcancel(L);
  struct gonce *o = checkonce(L, 1);
  if (lua_type(L, 2) != LUA_TFUNCTION &&
      luaL_getmetafield(L, 2, "__call") == LUA_TNIL)
    return luaL_typeerror(L, 2, "function");
  lua_settop(L, lua_gettop(L) < 2 ? 2 : lua_gettop(L));
  int top = lua_gettop(L);                          /* self fn args... */
  if (once_state(o) == ONCE_NEW) {
    /* made before once_enter: once entered, nothing may fail before the
    ** closer is armed, or the once would never be done */
    int *armed = (int *)lua_newuserdatauv(L, sizeof *armed, 1);
    *armed = 0;
    luaL_setmetatable(L, ONCE_CLOSER_MT);
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, 1);                    /* ... closer */
    if (once_enter(o)) {
      *armed = 1;
      lua_toclose(L, top + 1);
      for (int i = 2; i <= top; i++) lua_pushvalue(L, i);
      lua_callk(L, top - 2, 0, (lua_KContext)(top + 1), oncecalled);
      return oncecalled(L, LUA_OK, (lua_KContext)(top + 1));
    }
    lua_pop(L, 1);
  }
  struct ltask *lt = lpark_current(L);
  if (lt)
    return lpark_one(L, lt, PEND_ONCE, (struct obj *)o, GO_NEVER,
                     "call on gochan.once", oncewaited);
  sched_blocking("call on gochan.once");
  gostatus st = once_wait(o, GO_NEVER);
  sched_blocking(NULL);
  return oncewaited(L, NULL, st, -1);
}

static int lonce__tostring (lua_State *L) {
  if (lbox_pushcollected(L, 1)) return 1;
  struct gonce *o = checkonce(L, 1);
  static const char *const names[] = { "new", "running", "done" };
  lua_pushfstring(L, "gochan.once(%s) %p", names[once_state(o)], (void *)o);
  return 1;
}

static const luaL_Reg once_methods[] = {
  {"call", lonce_call}, {NULL, NULL}
};


/* ---- rwmutex ---- */

static struct obj *makerw (void) { return (struct obj *)rw_new(); }

/* gochan.rwmutex() -> rw */
static int lgochan_rwmutex (lua_State *L) {
  return newbox(L, OBJ_RWMUTEX, makerw);
}

/* Push the closer of the rwmutex box at 1 for rlock ('read') or lock:
** made once per box and kept in a table in the box's user value (so
** locking does not allocate); its own user value is the box. */
static void pushrwcloser (lua_State *L, bool read) {
  int i = read ? 2 : 1;
  if (lua_getiuservalue(L, 1, 1) != LUA_TTABLE) {   /* t */
    lua_pop(L, 1);
    lua_createtable(L, 2, 0);
    lua_pushvalue(L, -1);
    lua_setiuservalue(L, 1, 1);
  }
  if (lua_rawgeti(L, -1, i) == LUA_TNIL) {          /* t closer */
    lua_pop(L, 1);
    lua_newuserdatauv(L, 0, 1);
    luaL_setmetatable(L, read ? RW_RCLOSER_MT : RW_CLOSER_MT);
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, 1);
    lua_pushvalue(L, -1);
    lua_rawseti(L, -3, i);
  }
  lua_remove(L, -2);                                /* closer */
}

static int rwunlockresult (lua_State *L, gostatus st, bool read) {
  if (st == GO_NOTLOCKED)                           /* nothing changed */
    return luaL_error(L, read ? "runlock of unlocked rwmutex"
                              : "unlock of unlocked rwmutex");
  if (st != GO_OK) return lg_raise(L, st);
  return 0;
}

/* nil, err: the context at 'arg' was done first. */
static int ctxdone (lua_State *L, int arg) {
  lua_pushnil(L);
  lg_pushctxerr(L, (struct context *)lbox_to(L, arg));
  return 2;
}

/* Outcome of lock/rlock: the closer, or nil, err when its context (at 2)
** was done first ('lt' and 'chosen' unused). */
static int wlockresult (lua_State *L, struct ltask *lt, gostatus st,
                        int chosen) {
  (void)lt; (void)chosen;
  if (st == GO_CTXDONE) return ctxdone(L, 2);
  if (st != GO_OK) return lg_raise(L, st);
  pushrwcloser(L, false);
  return 1;
}

static int rlockresult (lua_State *L, struct ltask *lt, gostatus st,
                        int chosen) {
  (void)lt; (void)chosen;
  if (st == GO_CTXDONE) return ctxdone(L, 2);
  if (st != GO_OK) return lg_raise(L, st);
  pushrwcloser(L, true);
  return 1;
}

/* The begin/finish pairs of the thread forms with a context (ctx_wait) */
static gostatus wlock_b (void *o, struct waiter *w, struct op *op) {
  return rw_lock_begin(o, w, op);
}
static gostatus wlock_f (void *o, struct waiter *w, struct op *op) {
  return rw_lock_finish(o, w, op);
}
static gostatus rlock_b (void *o, struct waiter *w, struct op *op) {
  return rw_rlock_begin(o, w, op);
}
static gostatus rlock_f (void *o, struct waiter *w, struct op *op) {
  return rw_rlock_finish(o, w, op);
}

/* rw:lock([ctx]), rw:rlock([ctx]) -> closer | nil, err. The closer is
** made before blocking: once the lock is held nothing may fail. */
static int rwlock (lua_State *L, bool read) {
  lg_checkcancel(L);
  struct grwmutex *rw = checkrw(L, 1);
  struct context *ctx = lg_optctx(L, 2);
  lua_settop(L, 2);
  pushrwcloser(L, read);
  lua_pop(L, 1);
  lpark_result result = read ? rlockresult : wlockresult;
  if (ctx_done(ctx)) return result(L, NULL, GO_CTXDONE, -1);
  const char *what = read ? "rlock on gochan.rwmutex"
                          : "lock on gochan.rwmutex";
  struct ltask *lt = lpark_current(L);
  if (lt)
    return lpark_onectx(L, lt, read ? PEND_RLOCK : PEND_WLOCK,
                        (struct obj *)rw, GO_NEVER, ctx, what, result);
  sched_blocking(what);
  gostatus st;
  if (ctx)
    st = ctx_wait(ctx, GO_NEVER, what, read ? rlock_b : wlock_b,
                  read ? rlock_f : wlock_f, rw);
  else
    st = read ? rw_rlock(rw, GO_NEVER) : rw_lock(rw, GO_NEVER);
  sched_blocking(NULL);
  return result(L, NULL, st, -1);
}

static int lrw_lock (lua_State *L) { return rwlock(L, false); }
static int lrw_rlock (lua_State *L) { return rwlock(L, true); }

static int lrw_unlock (lua_State *L) {
  return rwunlockresult(L, rw_unlock(checkrw(L, 1)), false);
}

static int lrw_runlock (lua_State *L) {
  return rwunlockresult(L, rw_runlock(checkrw(L, 1)), true);
}

static int lrw_try_lock (lua_State *L) {
  lua_pushboolean(L, rw_trylock(checkrw(L, 1)));
  return 1;
}

static int lrw_try_rlock (lua_State *L) {
  lua_pushboolean(L, rw_tryrlock(checkrw(L, 1)));
  return 1;
}

/* __close of the closers: unlock or runlock their rwmutex. */
static int lrwcloser__close (lua_State *L) {
  luaL_checkudata(L, 1, RW_CLOSER_MT);
  lua_getiuservalue(L, 1, 1);                       /* closer err box */
  return rwunlockresult(L, rw_unlock(checkrw(L, -1)), false);
}

static int lrwrcloser__close (lua_State *L) {
  luaL_checkudata(L, 1, RW_RCLOSER_MT);
  lua_getiuservalue(L, 1, 1);
  return rwunlockresult(L, rw_runlock(checkrw(L, -1)), true);
}

static int lrw__tostring (lua_State *L) {
  if (lbox_pushcollected(L, 1)) return 1;
  struct grwmutex *rw = checkrw(L, 1);
  int64_t readers = rw_readers(rw);
  if (rw_islocked(rw))
    lua_pushfstring(L, "gochan.rwmutex(locked) %p", (void *)rw);
  else if (readers > 0)
    lua_pushfstring(L, "gochan.rwmutex(readers=%I) %p",
                    (lua_Integer)readers, (void *)rw);
  else
    lua_pushfstring(L, "gochan.rwmutex(unlocked) %p", (void *)rw);
  return 1;
}

static const luaL_Reg rw_methods[] = {
  {"lock", lrw_lock}, {"unlock", lrw_unlock}, {"rlock", lrw_rlock},
  {"runlock", lrw_runlock}, {"try_lock", lrw_try_lock},
  {"try_rlock", lrw_try_rlock}, {NULL, NULL}
};


/* ---- cond ---- */

/* gochan.cond(mu) -> c: 'mu' a gochan.mutex or gochan.rwmutex. */
static int lgochan_cond (lua_State *L) {
  struct obj *lock = lbox_to(L, 1);
  if (!lock || (lock->type != OBJ_MUTEX && lock->type != OBJ_RWMUTEX))
    return lbox_typeerror(L, 1, 1u << OBJ_MUTEX | 1u << OBJ_RWMUTEX,
                          "gochan.mutex or gochan.rwmutex");
  struct obj **box = lbox_new(L, OBJ_COND);        /* box */
  struct gcond *c = cond_new(lock);
  if (!c) return lg_raise(L, GO_NOMEM);
  lbox_adopt(L, box, (struct obj *)c);
  return 1;
}

static int notlocked (lua_State *L, struct gcond *c) {
  return luaL_error(L, cond_lock(c)->type == OBJ_MUTEX
                         ? "cond wait with unlocked mutex"
                         : "cond wait with unlocked rwmutex");
}

/* The results of a wait whose lock is held again: true (signalled) |
** false (timed out) | false, err (its context, at 2, was done); an error
** status raises, the lock held. */
static int condresult (lua_State *L, gostatus st) {
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

/* In a task, once the lock is held again ('st': how relocking went; the
** wait's own status is on top, saved by condwaited). A cancel of the task
** that came meanwhile is raised now, with the lock held. */
static int condrelocked (lua_State *L, struct ltask *lt, gostatus st,
                         int chosen) {
  (void)lt; (void)chosen;
  if (st != GO_OK) return lg_raise(L, st);  /* shutdown: the lock not held */
  lg_checkcancel(L);
  return condresult(L, (gostatus)lua_tointeger(L, -1));
}

/* In a task, once the wait has ended ('st'): save 'st' and lock again,
** without a time limit (as Go) and in a park that a cancel of the task
** does not end (lt->keep), so the lock is held again on every path. */
static int condwaited (lua_State *L, struct ltask *lt, gostatus st,
                       int chosen) {
  (void)chosen;
  struct obj *lock = cond_lock(checkcond(L, 1));
  lua_settop(L, 2);
  lua_pushinteger(L, (lua_Integer)st);              /* c ctx st */
  bool mutex = lock->type == OBJ_MUTEX;
  lpark_cases(L, lt, 1);                 /* room for 1 already: no raise */
  lpark_prepare(lt, mutex ? "lock on gochan.mutex" : "lock on gochan.rwmutex");
  lt->keep = true;
  struct waiter *w = lt->ws;
  struct op *op = &lt->t->op;
  st = mutex ? mutex_begin((struct gmutex *)lock, w, op)
             : rw_lock_begin((struct grwmutex *)lock, w, op);
  if (st == GO_AGAIN)
    return lpark(L, lt, mutex ? PEND_MUTEX : PEND_WLOCK, lock, GO_NEVER,
                 condrelocked);
  return condrelocked(L, lt, st, -1);
}

static gostatus condwait_b (void *o, struct waiter *w, struct op *op) {
  return cond_begin(o, w, op);
}
static gostatus condwait_f (void *o, struct waiter *w, struct op *op) {
  return cond_finish(o, w, op);
}

/* c:wait([timeout | ctx]) -> true | false | false, err: unlock, wait for
** a signal, lock again before returning, also when it timed out or its
** context was done. */
static int lcond_wait (lua_State *L) {
  lg_checkcancel(L);
  struct gcond *c = checkcond(L, 1);
  int64_t deadline;
  struct context *ctx;
  lg_optwait(L, 2, &deadline, &ctx);
  lua_settop(L, 2);
  if (!cond_locked(c)) return notlocked(L, c);
  if (ctx_done(ctx)) return condresult(L, GO_CTXDONE);  /* lock still held */
  struct ltask *lt = lpark_current(L);
  if (lt) {
    lpark_cases(L, lt, 1);                          /* may raise: nothing held */
    lpark_prepctx(lt, "wait on gochan.cond", ctx);
    gostatus st = cond_begin(c, lt->ws, &lt->t->op);
    if (st == GO_NOTLOCKED) return notlocked(L, c);
    return lpark(L, lt, PEND_COND, (struct obj *)c, deadline, condwaited);
  }
  bool relocked;
  gostatus st;
  sched_blocking("wait on gochan.cond");
  if (ctx) {
    st = ctx_wait(ctx, deadline, "wait on gochan.cond", condwait_b,
                  condwait_f, c);
    gostatus r = st == GO_NOTLOCKED ? GO_OK : cond_relock(c);
    relocked = r == GO_OK;
    if (!relocked) st = r;
  } else {
    st = cond_wait(c, deadline, &relocked);
  }
  sched_blocking(NULL);
  if (st == GO_NOTLOCKED) return notlocked(L, c);
  if (!relocked) return lg_raise(L, st);
  return condresult(L, st);
}

static int lcond_signal (lua_State *L) {
  cond_signal(checkcond(L, 1));
  return 0;
}

static int lcond_broadcast (lua_State *L) {
  cond_broadcast(checkcond(L, 1));
  return 0;
}

static int lcond__tostring (lua_State *L) {
  if (lbox_pushcollected(L, 1)) return 1;
  struct gcond *c = checkcond(L, 1);
  lua_pushfstring(L, "gochan.cond(%s, waiters=%I) %p",
                  cond_lock(c)->type == OBJ_MUTEX ? "mutex" : "rwmutex",
                  (lua_Integer)cond_nwaiters(c), (void *)c);
  return 1;
}

static const luaL_Reg cond_methods[] = {
  {"wait", lcond_wait}, {"signal", lcond_signal},
  {"broadcast", lcond_broadcast}, {NULL, NULL}
};


/* ---- semaphore ---- */

/* gochan.semaphore(n) -> sem */
static int lgochan_semaphore (lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  if (n < 0) return luaL_typeerror(L, 1, "non-negative integer");
  struct obj **box = lbox_new(L, OBJ_SEM);          /* box */
  struct gsem *s = sem_new((int64_t)n);
  if (!s) return lg_raise(L, GO_NOMEM);
  lbox_adopt(L, box, (struct obj *)s);
  return 1;
}

/* Outcome of an acquire: true | false (timed out) | false, err (its
** context, at 3, was done). */
static int acquireresult (lua_State *L, struct ltask *lt, gostatus st,
                          int chosen) {
  (void)lt; (void)chosen;
  switch (st) {
    case GO_OK: lua_pushboolean(L, 1); return 1;
    case GO_AGAIN: case GO_TIMEOUT: lua_pushboolean(L, 0); return 1;
    case GO_CTXDONE:
      lua_pushboolean(L, 0);
      lg_pushctxerr(L, (struct context *)lbox_to(L, 3));
      return 2;
    default: return lg_raise(L, st);
  }
}

/* A request of the thread form with a context (ctx_wait's 'o'). */
struct semreq { struct gsem *s; int64_t k; };
static gostatus acquire_b (void *o, struct waiter *w, struct op *op) {
  struct semreq *r = (struct semreq *)o;
  return sem_begin(r->s, r->k, w, op);
}
static gostatus acquire_f (void *o, struct waiter *w, struct op *op) {
  return sem_finish(((struct semreq *)o)->s, w, op);
}

/* sem:acquire([k [, timeout | ctx]]) or sem:acquire(ctx) (k = 1) ->
** true | false | false, err */
static int lsem_acquire (lua_State *L) {
  lg_checkcancel(L);
  struct gsem *s = checksem(L, 1);
  struct obj *o2 = lbox_to(L, 2);
  if (!o2 && lbox_collected(L, 2, 1u << OBJ_CONTEXT))
    return luaL_argerror(L, 2, "object already collected");
  if (o2 && o2->type == OBJ_CONTEXT) {              /* acquire(ctx) */
    lua_settop(L, 2);
    lua_pushnil(L);
    lua_insert(L, 2);                               /* sem nil ctx */
  }
  int64_t k = checkunits(L, 2, 1);
  int64_t deadline;
  struct context *ctx;
  lg_optwait(L, 3, &deadline, &ctx);
  lua_settop(L, 3);                                 /* sem k ctx|timeout */
  if (k > sem_size(s))
    return luaL_error(L, "semaphore acquire of more than its size");
  if (ctx_done(ctx)) return acquireresult(L, NULL, GO_CTXDONE, -1);
  const char *what = "acquire on gochan.semaphore";
  struct ltask *lt = go_mayblock(deadline) && k > 0 ? lpark_current(L)
                                                    : NULL;
  if (lt) {
    lpark_cases(L, lt, 1);                          /* may raise: nothing held */
    lpark_prepctx(lt, what, ctx);
    gostatus st = sem_begin(s, k, lt->ws, &lt->t->op);
    if (st == GO_AGAIN)
      return lpark(L, lt, PEND_SEM, (struct obj *)s, deadline, acquireresult);
    return acquireresult(L, lt, st, -1);
  }
  sched_blocking(what);
  struct semreq req = { s, k };
  gostatus st = ctx && k > 0 && go_mayblock(deadline)
                ? ctx_wait(ctx, deadline, what, acquire_b, acquire_f, &req)
                : sem_acquire(s, k, deadline);
  sched_blocking(NULL);
  return acquireresult(L, NULL, st, -1);
}

/* sem:try_acquire([k]) -> boolean */
static int lsem_try_acquire (lua_State *L) {
  struct gsem *s = checksem(L, 1);
  lua_pushboolean(L, sem_tryacquire(s, checkunits(L, 2, 1)));
  return 1;
}

/* sem:release([k]) */
static int lsem_release (lua_State *L) {
  struct gsem *s = checksem(L, 1);
  gostatus st = sem_release(s, checkunits(L, 2, 1));
  if (st == GO_NEGATIVE)                            /* nothing changed */
    return luaL_error(L, "semaphore released more than held");
  return 0;
}

static int lsem__tostring (lua_State *L) {
  if (lbox_pushcollected(L, 1)) return 1;
  struct gsem *s = checksem(L, 1);
  lua_pushfstring(L, "gochan.semaphore(size=%I, held=%I) %p",
                  (lua_Integer)sem_size(s), (lua_Integer)sem_held(s),
                  (void *)s);
  return 1;
}

static const luaL_Reg sem_methods[] = {
  {"acquire", lsem_acquire}, {"try_acquire", lsem_try_acquire},
  {"release", lsem_release}, {NULL, NULL}
};


/* ---- opening ---- */


/* A closer's metatable (not a box), 'close' also its __gc if 'gc'. */
static void newcloser (lua_State *L, const char *tname, lua_CFunction close,
                       bool gc) {
  luaL_newmetatable(L, tname);
  lua_pushcfunction(L, close);
  lua_setfield(L, -2, "__close");
  if (gc) { lua_pushcfunction(L, close); lua_setfield(L, -2, "__gc"); }
  lua_pop(L, 1);
}

void lonce_meta (lua_State *L) {
  lbox_newtype(L, GOCHAN_ONCE_MT, lonce__tostring, once_methods);
  newcloser(L, ONCE_CLOSER_MT, loncecloser__close, true);
}

void lrwmutex_meta (lua_State *L) {
  lbox_newtype(L, GOCHAN_RWMUTEX_MT, lrw__tostring, rw_methods);
  newcloser(L, RW_CLOSER_MT, lrwcloser__close, false);
  newcloser(L, RW_RCLOSER_MT, lrwrcloser__close, false);
}

void lcond_meta (lua_State *L) {
  lbox_newtype(L, GOCHAN_COND_MT, lcond__tostring, cond_methods);
}

void lsem_meta (lua_State *L) {
  lbox_newtype(L, GOCHAN_SEM_MT, lsem__tostring, sem_methods);
}

const luaL_Reg lxsync_funcs[] = {
  {"once", lgochan_once}, {"rwmutex", lgochan_rwmutex},
  {"cond", lgochan_cond}, {"semaphore", lgochan_semaphore}, {NULL, NULL}
};
