/*
** lchan.c: gochan.chan and the channel methods (send, recv, try_*, close,
** len, cap, range), from any state: a task parks (lpark.h), anything else
** blocks its thread. Values cross by transfer.h. A blocking call takes a
** context where it takes a timeout (the context is one more case of its
** wait: context.h).
*/
#include <lua.h>
#include <lauxlib.h>
#include "ltypes.h"
#include "lpark.h"
#include "transfer.h"
#include "chan.h"
#include "context.h"

/* Larger capacities are refused by the core (chan.h CHAN_MAX_CAP);
** checked here too so the error can say why. */
#define LCHAN_MAX_CAP ((lua_Integer)CHAN_MAX_CAP)

static struct chan *checkchan (lua_State *L, int arg) {
  return (struct chan *)lbox_check(L, arg, OBJ_CHAN);
}

/* Stack slot of the timeout or context of send (SENDWAIT) and recv. */
enum { SENDWAIT = 3, RECVWAIT = 2 };

/* The context at 'arg' (checked by lg_optwait already), or NULL. */
static struct context *ctxat (lua_State *L, int arg) {
  struct obj *o = lbox_to(L, arg);
  return o && o->type == OBJ_CONTEXT ? (struct context *)o : NULL;
}

/*
** Outcome of a send, in one place for every path (blocking, try, a
** task's park). The channel took '*v' only on GO_OK;
** otherwise '*v' is cleared here, before anything can raise.
*/
static int sendresult (lua_State *L, gostatus st, struct tvalue *v) {
  if (st != GO_OK) tvalue_clear(v);
  switch (st) {
    case GO_OK: lua_pushboolean(L, 1); return 1;
    case GO_AGAIN: case GO_TIMEOUT: lua_pushboolean(L, 0); return 1;
    case GO_CTXDONE:                      /* false, err */
      lua_pushboolean(L, 0);
      lg_pushctxerr(L, ctxat(L, SENDWAIT));
      return 2;
    case GO_CLOSED: return luaL_error(L, "send on closed channel");
    default: return lg_raise(L, st);
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
    case GO_CTXDONE:                      /* nil, nil, err */
      lua_pushnil(L);
      lua_pushnil(L);
      lg_pushctxerr(L, ctxat(L, RECVWAIT));
      return 3;
    default:
      return lg_raise(L, st);            /* '*v' is nil: nothing came */
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
  struct obj **box = lbox_new(L, OBJ_CHAN);       /* box */
  struct chan *c = chan_new((size_t)cap);
  if (!c) return lg_raise(L, GO_NOMEM);            /* box stays empty */
  lbox_adopt(L, box, (struct obj *)c);
  return 1;
}

/* sendresult in recvresult's shape, for taskop */
static int sendnow (lua_State *L, gostatus st, struct tvalue *v, bool ok) {
  (void)ok;
  return sendresult(L, st, v);
}

/* The results of a task's send, recv or range step once it is resumed:
** the value is in its one case. */
static int sendparked (lua_State *L, struct ltask *lt, gostatus st, int i) {
  (void)i;
  return sendresult(L, st, &lt->cs[0].v);
}

static int recvparked (lua_State *L, struct ltask *lt, gostatus st, int i) {
  (void)i;
  return recvresult(L, st, &lt->cs[0].v, lt->cs[0].ok);
}

/* One send or recv case in the running task (room for it made by the
** caller), with its context or NULL: its results now, by 'now', or it
** parks, with 'parked' (never returns then). */
static int taskop (lua_State *L, struct ltask *lt, struct chan *c, int dir,
                   struct tvalue *v, int64_t deadline, struct context *ctx,
                   int (*now) (lua_State *, gostatus, struct tvalue *, bool),
                   lpark_result parked) {
  struct selcase *cs = lt->cs;
  cs->c = c;
  cs->dir = dir;
  cs->v = *v;
  cs->ok = false;
  lpark_prepctx(lt, dir == SEL_SEND ? "send on gochan.chan"
                                    : "recv on gochan.chan", ctx);
  int chosen;
  gostatus st = sel_begin(cs, 1, lt->ws, &lt->t->op, true, &chosen);
  if (st == GO_AGAIN) return lpark(L, lt, PEND_SEL, NULL, deadline, parked);
  return now(L, st, &cs->v, cs->ok);
}

/* The thread form of one case with a context (ctx_wait's begin and
** finish): a one-case select. */
struct onecase { struct selcase sc; struct waiter w; int chosen; };

static gostatus onecase_begin (void *o, struct waiter *w, struct op *op) {
  struct onecase *k = o;
  (void)w;
  return sel_begin(&k->sc, 1, &k->w, op, true, &k->chosen);
}

static gostatus onecase_finish (void *o, struct waiter *w, struct op *op) {
  struct onecase *k = o;
  (void)w;
  return sel_finish(&k->sc, 1, &k->w, op, &k->chosen);
}

/* ch:send(v [, timeout | ctx]) -> true | false | false, err */
static int lchan_send (lua_State *L) {
  lg_checkcancel(L);
  struct chan *c = checkchan(L, 1);
  int64_t deadline;
  struct context *ctx;
  lg_optwait(L, SENDWAIT, &deadline, &ctx);  /* may raise: nothing held */
  struct tvalue v = TVALUE_NIL;
  if (ctx_done(ctx)) return sendresult(L, GO_CTXDONE, &v);
  struct ltask *lt = go_mayblock(deadline) ? lpark_current(L) : NULL;
  if (lt) lpark_cases(L, lt, 1);                 /* may raise: nothing held */
  lg_pack(L, 2, &v, "value");               /* may raise: nothing held */
  if (lt) {
    gostatus st = chan_try_send(c, &v);          /* the common case: done */
    if (st != GO_AGAIN) return sendresult(L, st, &v);
    return taskop(L, lt, c, SEL_SEND, &v, deadline, ctx, sendnow,
                  sendparked);
  }
  sched_blocking("send on gochan.chan");
  gostatus st;
  if (ctx) {
    st = chan_try_send(c, &v);
    if (st == GO_AGAIN) {
      struct onecase k = { .sc = { .c = c, .dir = SEL_SEND, .v = v } };
      st = ctx_wait(ctx, deadline, "send on gochan.chan", onecase_begin,
                    onecase_finish, &k);
      v = k.sc.v;             /* nil if taken; the caller's value otherwise */
    }
  }
  else st = chan_send(c, &v, deadline);
  sched_blocking(NULL);
  return sendresult(L, st, &v);
}

/* ch:try_send(v) -> boolean */
static int lchan_try_send (lua_State *L) {
  struct chan *c = checkchan(L, 1);
  struct tvalue v = TVALUE_NIL;
  lg_pack(L, 2, &v, "value");
  return sendresult(L, chan_send(c, &v, GO_NOW), &v);
}

/* ch:recv([timeout | ctx]) -> v, true | nil, false | nil, nil
** | nil, nil, err */
static int lchan_recv (lua_State *L) {
  lg_checkcancel(L);
  struct chan *c = checkchan(L, 1);
  int64_t deadline;
  struct context *ctx;
  lg_optwait(L, RECVWAIT, &deadline, &ctx);
  struct tvalue v = TVALUE_NIL;
  bool ok = false;
  if (ctx_done(ctx)) return recvresult(L, GO_CTXDONE, &v, ok);
  gostatus st = chan_try_recv(c, &v, &ok);       /* the common case: done */
  if (st != GO_AGAIN || deadline == GO_NOW) return recvresult(L, st, &v, ok);
  struct ltask *lt = go_mayblock(deadline) ? lpark_current(L) : NULL;
  if (lt) {
    lpark_cases(L, lt, 1);                       /* may raise: nothing held */
    return taskop(L, lt, c, SEL_RECV, &v, deadline, ctx, recvresult,
                  recvparked);
  }
  sched_blocking("recv on gochan.chan");
  if (ctx) {
    struct onecase k = { .sc = { .c = c, .dir = SEL_RECV } };
    st = ctx_wait(ctx, deadline, "recv on gochan.chan", onecase_begin,
                  onecase_finish, &k);
    v = k.sc.v;
    ok = k.sc.ok;
  }
  else st = chan_recv(c, &v, &ok, deadline);     /* (tries once more) */
  sched_blocking(NULL);
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
  if (st != GO_OK) return lg_raise(L, st);
  return 0;
}

/* The iterator of ch:range([ctx]): called by a generic for as next(ch,
** _), the context (or nil) its upvalue. Ends (returns nil) once the
** channel is closed and drained, or the context is done. */
static int rangeresult (lua_State *L, gostatus st, struct tvalue *v, bool ok) {
  if (st == GO_CTXDONE) { lua_pushnil(L); return 1; }
  if (st != GO_OK) return lg_raise(L, st);
  if (!ok) { lua_pushnil(L); return 1; }
  if (v->tt == TV_NIL) return luaL_error(L, "range received nil");
  transfer_push(L, v);
  return 1;
}

static int rangeparked (lua_State *L, struct ltask *lt, gostatus st, int i) {
  (void)i;
  return rangeresult(L, st, &lt->cs[0].v, lt->cs[0].ok);
}

static int lchan_rangenext (lua_State *L) {
  lg_checkcancel(L);
  struct chan *c = checkchan(L, 1);
  struct context *ctx = ctxat(L, lua_upvalueindex(1));
  struct tvalue v = TVALUE_NIL;
  bool ok = false;
  if (ctx_done(ctx)) return rangeresult(L, GO_CTXDONE, &v, ok);
  struct ltask *lt = lpark_current(L);
  if (lt) {
    gostatus st = chan_try_recv(c, &v, &ok);     /* the common case: done */
    if (st != GO_AGAIN) return rangeresult(L, st, &v, ok);
    lpark_cases(L, lt, 1);                       /* may raise: nothing held */
    return taskop(L, lt, c, SEL_RECV, &v, GO_NEVER, ctx, rangeresult,
                  rangeparked);
  }
  sched_blocking("recv on gochan.chan");
  gostatus st;
  if (ctx) {
    struct onecase k = { .sc = { .c = c, .dir = SEL_RECV } };
    st = ctx_wait(ctx, GO_NEVER, "recv on gochan.chan", onecase_begin,
                  onecase_finish, &k);
    v = k.sc.v;
    ok = k.sc.ok;
  }
  else st = chan_recv(c, &v, &ok, GO_NEVER);
  sched_blocking(NULL);
  return rangeresult(L, st, &v, ok);
}

/* for v in ch:range([ctx]) do ... end */
static int lchan_range (lua_State *L) {
  checkchan(L, 1);
  lg_optctx(L, 2);
  lua_settop(L, 2);
  lua_pushcclosure(L, lchan_rangenext, 1);    /* ch next */
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

/* ch:dropped() -> n: values a non-blocking feed (gochan_offer: a NATS
** subscription, a host) dropped because the channel was full. */
static int lchan_dropped (lua_State *L) {
  lua_pushinteger(L, (lua_Integer)chan_dropped(checkchan(L, 1)));
  return 1;
}

/* gochan.chan(cap=4, len=1) 0x... (", closed" once closed) */
static int lchan__tostring (lua_State *L) {
  if (lbox_pushcollected(L, 1)) return 1;
  struct chan *c = checkchan(L, 1);
  lua_pushfstring(L, "gochan.chan(cap=%I, len=%I%s) %p",
                  (lua_Integer)chan_cap(c), (lua_Integer)chan_len(c),
                  chan_isclosed(c) ? ", closed" : "", (void *)c);
  return 1;
}

/* Two boxes name the same channel (in one state the cache makes that
** rawequal already; kept for boxes of different states' making). */
static int lchan__eq (lua_State *L) {
  struct obj *a = lbox_to(L, 1), *b = lbox_to(L, 2);
  lua_pushboolean(L, a != NULL && a == b);
  return 1;
}

static const luaL_Reg chan_methods[] = {
  {"send", lchan_send}, {"recv", lchan_recv},
  {"try_send", lchan_try_send}, {"try_recv", lchan_try_recv},
  {"close", lchan_close}, {"range", lchan_range},
  {"len", lchan_len}, {"cap", lchan_cap}, {"dropped", lchan_dropped},
  {NULL, NULL}
};

static const luaL_Reg chan_meta[] = {
  {"__tostring", lchan__tostring}, {"__eq", lchan__eq}, {"__len", lchan_len},
  {NULL, NULL}
};

void lchan_meta (lua_State *L) {
  lbox_newmetatable(L, GOCHAN_CHAN_MT);       /* mt */
  luaL_setfuncs(L, chan_meta, 0);
  lbox_setmethods(L, chan_methods);
  lua_pop(L, 1);
}

const luaL_Reg lchan_funcs[] = {
  {"chan", lgochan_chan}, {NULL, NULL}
};
