/*
** lselect.c: gochan.select{...}, Go's select, and gochan.selector(cases),
** the same select with its cases checked once, for hot loops: one concept
** in one file of ~630 lines, as both share the reading of cases, the
** packing and the translation of the outcome. From any state: a task
** parks (lpark.h), anything else blocks its thread. Cases are checked
** first (raising freely), then send values are packed, then one core call;
** the outcome is translated in one place (selresult). A context (the
** second argument) is one more case of the wait (context.h).
*/
#include <stdint.h>
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

/* Stack slots of lgochan_select (a selector's calls: SELF, CTXARG). */
enum { CASES = 1, CTXARG = 2, DEFAULT = 3 };
#define SELF CASES

/*
** The names a case table is read with, interned in this state: upvalue 1
** of select and selector, whose user values anchor the strings (so the
** pointers stay valid). Equal short strings are one interned string, so a
** case's "recv" is found by comparing pointers; memcmp is the fallback,
** so nothing relies on that.
*/
struct selnames { const char *recv, *send, *dflt; };

static bool isname (lua_State *L, int idx, const char *name, const char *lit) {
  size_t len;
  const char *s = lua_tolstring(L, idx, &len);
  return s == name || (len == strlen(lit) && memcmp(s, lit, len) == 0);
}

/*
** A selector: its cases, checked once, in the userdata itself. Between
** calls cs[] holds each case's c, dir and mark (dir stays SEL_SEND or
** SEL_RECV for a case that is off: c is NULL) and every v is nil. A call
** in the thread form works in cs[] and ws[] in place while 'busy' (a call
** that finds it busy, only from a finalizer, works in a copy); a task's
** call works in a copy (lpark_cases), which it keeps across its park.
** User value 1 is the table of its Lua values: [i] the value of send case
** i, [n+i] the handler of case i, [n+n+1] the default function. The
** selector holds a reference to each channel, dropped by its __gc.
*/
struct selector {
  uint64_t magic;          /* SELMAGIC once built (and until its __gc) */
  int n;
  int dflt;                /* SELD_* */
  bool busy;
  struct waiter *ws;       /* n waiters, after cs[] in the userdata */
  struct selcase cs[];
};

#define SELMAGIC UINT64_C(0x676f6368616e2e73)   /* "gochan.s" */
enum { SELD_NONE = 0, SELD_TRUE, SELD_FN };

/* Bytes of a selector of 'n' cases (with its waiters), and where the
** waiters of such a block of cases start; 'n' is at most LSEL_MAX. */
static size_t wsoffset (size_t base, int n) {
  size_t off = base + (size_t)n * sizeof(struct selcase);
  size_t al = _Alignof(struct waiter);
  return (off + al - 1) / al * al;
}

static size_t selsize (int n) {
  return wsoffset(offsetof(struct selector, cs), n)
         + (size_t)n * sizeof(struct waiter);
}

static int caseerror (lua_State *L, int i, const char *what, int idx) {
  const char *got = lua_type(L, idx) == LUA_TSTRING
    ? lbox_pushquoted(L, idx)
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
** Check case 'i' (its table on top) and fill cs->c/dir/mark; nothing is
** packed or retained, so every error here leaves nothing held. The channel
** is borrowed: the case table, anchored in slot CASES, keeps its box alive.
** In place of a channel, a case may hold an object whose metatable has
** __chan(obj, "recv" | "send") -> the channel to use (one the object keeps
** alive); the fast reading leaves such a case to this one.
*/
static void checkcase (lua_State *L, const struct selnames *nm, int i,
                       struct selcase *cs) {
  int t = lua_gettop(L);
  if (lua_type(L, t) != LUA_TTABLE) caseerror(L, i, "table", t);
  bool str = lua_rawgeti(L, t, 1) == LUA_TSTRING;         /* case op */
  if (str && isname(L, t + 1, nm->recv, "recv"))
    cs->dir = SEL_RECV;
  else if (str && isname(L, t + 1, nm->send, "send"))
    cs->dir = SEL_SEND;
  else
    caseerror(L, i, "\"send\" or \"recv\"", t + 1);
  lua_rawgeti(L, t, 2);                       /* case op ch */
  if (!lua_toboolean(L, -1)) {                /* nil/false: the case is off */
    cs->c = NULL;
  } else {
    struct obj *o = lbox_to(L, -1);
    if (!o && luaL_getmetafield(L, -1, "__chan") != LUA_TNIL) {
      lua_insert(L, -2);                      /* case op f obj: an object */
      lua_pushstring(L, cs->dir == SEL_RECV ? "recv" : "send");  /* that */
      lua_call(L, 2, 1);                      /* names its channel (a */
      o = lbox_to(L, -1);                     /* gochan.nats channel) */
    }
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

/* 'default' must be absent, false, true or callable, and goes to slot
** DEFAULT (nil until then); no other field may be set (a 'timeout' field
** would otherwise be silently ignored). */
static void checkfields (lua_State *L, const struct selnames *nm,
                         lua_Integer n) {
  lua_pushnil(L);
  while (lua_next(L, CASES)) {                /* key value */
    int kt = lua_type(L, -2);
    if (kt == LUA_TNUMBER && lua_isinteger(L, -2)) {
      lua_Integer k = lua_tointeger(L, -2);
      if (k >= 1 && k <= n) { lua_pop(L, 1); continue; }
    } else if (kt == LUA_TSTRING && isname(L, -2, nm->dflt, "default")) {
      lua_replace(L, DEFAULT);                /* key */
      continue;
    }
    lua_pop(L, 1);                            /* key */
    const char *key = kt == LUA_TSTRING ? lbox_pushname(L, -1)
                                        : luaL_tolstring(L, -1, NULL);
    luaL_argerror(L, CASES, lua_pushfstring(L, "unexpected field %s", key));
  }
  int dt = lua_type(L, DEFAULT);
  if (!(dt == LUA_TNIL || dt == LUA_TBOOLEAN || callable(L, DEFAULT))) {
    luaL_argerror(L, CASES, lua_pushfstring(L,
      "default: true or function expected, got %s",
      lbox_typename(L, DEFAULT)));
  }
}

/* Check every case into cs[0..n-1], setting no value: nothing is held,
** so any of them may raise. A case that is off keeps its dir, c NULL. */
static void checkcases (lua_State *L, const struct selnames *nm,
                        struct selcase *cs, int n) {
  for (int i = 0; i < n; i++) {
    lua_rawgeti(L, CASES, i + 1);
    checkcase(L, nm, i + 1, &cs[i]);          /* may raise: nothing held */
    cs[i].v = TVALUE_NIL;
    cs[i].ok = false;
  }
}

/*
** The fast reading of a case table, for gochan.select's every call: one
** traversal that fills cs[0..n-1] and slot DEFAULT and raises nothing.
** False when anything is not plainly right (a handler that is a callable
** table, a bad case or field): then checkfields and checkcases read the
** table again and raise the precise error. Every key met must be 1..n or
** "default", and keys are distinct, so meeting n cases means all of them.
*/
static bool fastcases (lua_State *L, const struct selnames *nm,
                       struct selcase *cs, int n) {
  int seen = 0;
  lua_pushnil(L);
  int k = lua_gettop(L);                      /* the traversal's key */
  while (lua_next(L, CASES)) {                /* key case */
    int kt = lua_type(L, k);
    if (kt == LUA_TSTRING) {
      const char *key = lua_tostring(L, k);
      int dt = lua_type(L, k + 1);
      if (key != nm->dflt || !(dt == LUA_TNIL || dt == LUA_TBOOLEAN ||
                               dt == LUA_TFUNCTION)) break;
      lua_replace(L, DEFAULT);                /* key */
      continue;
    }
    int isnum = 0;
    lua_Integer i = kt == LUA_TNUMBER ? lua_tointegerx(L, k, &isnum) : 0;
    if (!isnum || i < 1 || i > n || lua_type(L, k + 1) != LUA_TTABLE) break;
    struct selcase *c = &cs[i - 1];
    if (lua_rawgeti(L, k + 1, 1) != LUA_TSTRING) break;  /* key case op */
    const char *op = lua_tostring(L, k + 2);
    if (op == nm->recv) c->dir = SEL_RECV;
    else if (op == nm->send) c->dir = SEL_SEND;
    else break;
    int ct = lua_rawgeti(L, k + 1, 2);        /* key case op ch */
    if (ct == LUA_TNIL || (ct == LUA_TBOOLEAN && !lua_toboolean(L, k + 3))) {
      c->c = NULL;
    } else {
      struct obj *o = lbox_to(L, k + 3);
      if (!o || o->type != OBJ_CHAN) break;
      c->c = (struct chan *)o;
    }
    int ht = lua_rawgeti(L, k + 1, c->dir == SEL_RECV ? 3 : 4);
    if (ht != LUA_TNIL && ht != LUA_TFUNCTION) break;
    c->mark = ht != LUA_TNIL;
    c->v = TVALUE_NIL;
    c->ok = false;
    lua_settop(L, k);                         /* key */
    seen++;
  }
  bool done = lua_gettop(L) < k;              /* lua_next ended it */
  lua_settop(L, k - 1);
  return done && seen == n;
}

/* After a handler that yielded (it blocked in a task): its results. */
static int handler_k (lua_State *L, int status, lua_KContext base) {
  (void)status;
  return lua_gettop(L) - (int)base;
}

/* Push the value of send case 'i' (0-based) of gochan.select (the case
** table in slot CASES) or of selector 'sel' (slot SELF). */
static void pushsendvalue (lua_State *L, struct selector *sel, int i) {
  if (sel) {
    lua_getiuservalue(L, SELF, 1);
    lua_rawgeti(L, -1, i + 1);
  } else {
    lua_rawgeti(L, CASES, i + 1);
    lua_rawgeti(L, -1, 3);
  }
  lua_remove(L, -2);
}

/* The same for the handler of case 'i'. */
static void pushhandler (lua_State *L, struct selector *sel, int i, int dir) {
  if (sel) {
    lua_getiuservalue(L, SELF, 1);
    lua_rawgeti(L, -1, sel->n + i + 1);
  } else {
    lua_rawgeti(L, CASES, i + 1);
    lua_rawgeti(L, -1, dir == SEL_RECV ? 3 : 4);
  }
  lua_remove(L, -2);
}

/* Pack the active send cases' values into cs[] (every v nil); on a
** refusal clear those packed, release 'sel' and raise it, holding nothing. */
static void packsends (lua_State *L, struct selector *sel,
                       struct selcase *cs, int n) {
  for (int i = 0; i < n; i++) {
    if (cs[i].dir != SEL_SEND || !cs[i].c) continue;
    pushsendvalue(L, sel, i);                 /* v */
    char root[32];
    snprintf(root, sizeof root, "case %d value", i + 1);
    if (!transfer_pack(L, -1, &cs[i].v, root)) {
      for (int j = 0; j < i; j++)
        if (cs[j].dir == SEL_SEND) tvalue_clear(&cs[j].v);
      if (sel && cs == sel->cs) sel->busy = false;
      lg_packerror(L);
    }
    lua_pop(L, 1);
  }
}

/*
** The outcome of a select, for every path (the thread's wait, a task's
** park, or done at once), of gochan.select (sel NULL) or of selector
** 'sel'. Every send value that did not go is cleared and the chosen
** case's value moved out first, so that the cases hold nothing (a
** selector is released) before anything may raise or run Lua code.
*/
static int selresult (lua_State *L, struct selector *sel, struct selcase *cs,
                      int n, gostatus st, int chosen) {
  for (int i = 0; i < n; i++)
    if (cs[i].dir == SEL_SEND) tvalue_clear(&cs[i].v);
  struct selcase sc = { .v = TVALUE_NIL };
  if (chosen >= 0) {
    sc = cs[chosen];
    cs[chosen].v = TVALUE_NIL;
  }
  if (sel && cs == sel->cs) sel->busy = false;
  int base = lua_gettop(L);
  switch (st) {
    case GO_OK: {
      lua_pushinteger(L, chosen + 1);               /* i */
      if (sc.mark) pushhandler(L, sel, chosen, sc.dir);  /* i handler */
      int nargs = 0;
      if (sc.dir == SEL_RECV) {
        if (sc.ok) transfer_push(L, &sc.v);         /* clears sc.v */
        else lua_pushnil(L);
        lua_pushboolean(L, sc.ok);
        nargs = 2;
      }
      if (sc.mark)                                  /* i results... */
        lua_callk(L, nargs, LUA_MULTRET, base, handler_k);
      return lua_gettop(L) - base;
    }
    case GO_AGAIN:                                  /* the default case */
      lua_pushnil(L);
      if (sel ? sel->dflt == SELD_FN : lua_type(L, DEFAULT) != LUA_TBOOLEAN) {
        if (sel) {
          lua_getiuservalue(L, SELF, 1);
          lua_rawgeti(L, -1, 2 * sel->n + 1);
          lua_remove(L, -2);
        }
        else lua_pushvalue(L, DEFAULT);
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
      tvalue_clear(&sc.v);
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
  return selresult(L, NULL, lt->cs, lt->ncases, st, chosen);
}

static int selrparked (lua_State *L, struct ltask *lt, gostatus st,
                       int chosen) {
  struct selector *sel = (struct selector *)lua_touserdata(L, SELF);
  return selresult(L, sel, lt->cs, lt->ncases, st, chosen);
}

/*
** The select once its cases are checked into cs[] (every v nil): for a
** task 'lt' they are lt->cs; a thread with a context waits with 'ws' (room
** for n waiters). 'dflt': there is a default case (then ctx is NULL).
*/
static int doselect (lua_State *L, struct selector *sel, struct ltask *lt,
                     struct selcase *cs, int n, struct waiter *ws,
                     struct context *ctx, bool dflt) {
  if (ctx_done(ctx)) return selresult(L, sel, cs, n, GO_CTXDONE, -1);
  packsends(L, sel, cs, n);
  int chosen = -1;
  gostatus st;
  if (lt) {
    lpark_prepctx(lt, "select", ctx);
    st = sel_begin(cs, n, lt->ws, &lt->t->op, true, &chosen);
    if (st == GO_AGAIN)
      return lpark(L, lt, PEND_SEL, NULL, GO_NEVER,
                   sel ? selrparked : selparked);
  }
  else if (ctx) {
    struct selwait sw = { .cs = cs, .n = n, .ws = ws, .chosen = -1 };
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
  return selresult(L, sel, cs, n, st, chosen);
}

/* gochan.select({ {"recv", ch[, fn]}, {"send", ch, v[, fn]}, ...,
**                 default = true | fn } [, ctx]) -> i, ... | nil, ...
** | nil, err */
static int lgochan_select (lua_State *L) {
  const struct selnames *nm = lua_touserdata(L, lua_upvalueindex(1));
  luaL_checktype(L, CASES, LUA_TTABLE);
  struct context *ctx = lg_optctx(L, CTXARG);
  lua_settop(L, DEFAULT);                     /* slot DEFAULT: nil */
  lua_Unsigned un = lua_rawlen(L, CASES);
  luaL_argcheck(L, un <= LSEL_MAX, CASES, "too many cases");
  int n = (int)un;
  struct selcase stackcs[LSEL_STACK];
  struct selcase *cs = stackcs;
  struct ltask *lt = lpark_current(L);
  if (lt)                                     /* kept by the task across a park */
    cs = lpark_cases(L, lt, n);
  else if (n > LSEL_STACK)                    /* anchored in slot 4 */
    cs = (struct selcase *)lua_newuserdatauv(L, (size_t)n * sizeof *cs, 0);
  if (!fastcases(L, nm, cs, n)) {
    checkfields(L, nm, n);                    /* may raise: nothing held */
    checkcases(L, nm, cs, n);
  }
  bool dflt = lua_toboolean(L, DEFAULT);
  if (dflt) {
    ctx = NULL;                               /* it never waits */
    lt = NULL;                                /* nor parks */
  }
  else lg_checkcancel(L);                     /* a blocking call */
  struct waiter stackws[LSEL_STACK];          /* a thread's wait with ctx */
  struct waiter *ws = stackws;
  if (!lt && ctx && n > LSEL_STACK)           /* may raise: nothing held */
    ws = lua_newuserdatauv(L, (size_t)n * sizeof *ws, 0);
  return doselect(L, NULL, lt, cs, n, ws, ctx, dflt);
}


/* ---- gochan.selector ---- */

static struct selector *checkselector (lua_State *L) {
  struct selector *sel = (struct selector *)lua_touserdata(L, SELF);
  /* fast path, as lbox_to: the size and the mark (only C code can write a
  ** userdata's bytes); luaL_checkudata gives the standard errors */
  if (sel && lua_rawlen(L, SELF) >= sizeof *sel && sel->magic == SELMAGIC)
    return sel;
  luaL_checkudata(L, SELF, GOCHAN_SELECTOR_MT);
  luaL_argerror(L, SELF, "object already collected");  /* after its __gc */
  return NULL;
}

/* Check that the value at 'idx' could be sent as send case 'i' (1-based):
** pack it and clear it again, or raise the refusal as select would. */
static void checkvalue (lua_State *L, int idx, int i) {
  struct tvalue v = TVALUE_NIL;
  char root[32];
  snprintf(root, sizeof root, "case %d value", i);
  if (!transfer_pack(L, idx, &v, root)) lg_packerror(L);
  tvalue_clear(&v);
}

/* gochan.selector(cases) -> sel: the cases of gochan.select, checked once */
static int lgochan_selector (lua_State *L) {
  const struct selnames *nm = lua_touserdata(L, lua_upvalueindex(1));
  luaL_checktype(L, CASES, LUA_TTABLE);
  lua_settop(L, CASES);
  lua_settop(L, DEFAULT);                     /* slot DEFAULT: nil */
  lua_Unsigned un = lua_rawlen(L, CASES);
  luaL_argcheck(L, un <= LSEL_MAX, CASES, "too many cases");
  int n = (int)un;
  checkfields(L, nm, n);
  size_t size = selsize(n);
  struct selector *sel = lua_newuserdatauv(L, size, 1);   /* slot 4 */
  sel->magic = 0;                             /* its __gc holds off */
  sel->n = n;
  sel->busy = false;
  sel->ws = (struct waiter *)((char *)sel +
                              wsoffset(offsetof(struct selector, cs), n));
  int dt = lua_type(L, DEFAULT);
  sel->dflt = !lua_toboolean(L, DEFAULT) ? SELD_NONE
            : dt == LUA_TBOOLEAN ? SELD_TRUE : SELD_FN;
  luaL_setmetatable(L, GOCHAN_SELECTOR_MT);
  checkcases(L, nm, sel->cs, n);              /* may raise: nothing held */
  lua_createtable(L, 2 * n + 1, 0);           /* slot 5: its Lua values */
  for (int i = 0; i < n; i++) {
    const struct selcase *cs = &sel->cs[i];
    lua_rawgeti(L, CASES, i + 1);             /* vals case */
    if (cs->dir == SEL_SEND) {
      lua_rawgeti(L, -1, 3);
      if (cs->c) checkvalue(L, -1, i + 1);    /* may raise: nothing held */
      lua_rawseti(L, 5, i + 1);
    }
    if (cs->mark) {
      lua_rawgeti(L, -1, cs->dir == SEL_RECV ? 3 : 4);
      lua_rawseti(L, 5, n + i + 1);
    }
    lua_pop(L, 1);
  }
  if (sel->dflt == SELD_FN) {
    lua_pushvalue(L, DEFAULT);
    lua_rawseti(L, 5, 2 * n + 1);
  }
  lua_setiuservalue(L, 4, 1);                 /* sel */
  for (int i = 0; i < n; i++)                 /* nothing raises from here */
    if (sel->cs[i].c) chan_retain(sel->cs[i].c);
  sel->magic = SELMAGIC;
  return 1;
}

/* A selector's cases into 'dst', every v nil (the selector's own may be
** in use by a select under way); returns 'dst'. */
static struct selcase *copycases (struct selcase *dst,
                                  const struct selcase *src, int n) {
  for (int i = 0; i < n; i++) {
    dst[i] = (struct selcase){ .c = src[i].c, .dir = src[i].dir,
                               .v = TVALUE_NIL, .mark = src[i].mark };
  }
  return dst;
}

/* sel:select([ctx]) -> as gochan.select(cases [, ctx]) */
static int lselector_select (lua_State *L) {
  struct selector *sel = checkselector(L);
  struct context *ctx = lg_optctx(L, CTXARG);
  lua_settop(L, CTXARG);
  int n = sel->n;
  bool dflt = sel->dflt != SELD_NONE;
  if (dflt) ctx = NULL;                       /* it never waits */
  else lg_checkcancel(L);                     /* a blocking call */
  struct ltask *lt = dflt ? NULL : lpark_current(L);
  struct selcase *cs = sel->cs;
  struct waiter *ws = sel->ws;
  if (lt) {                                   /* kept by the task across a park */
    cs = copycases(lpark_cases(L, lt, n), sel->cs, n);
  } else if (sel->busy) {        /* a select of this selector is under way */
    size_t off = wsoffset(0, n);
    char *p = lua_newuserdatauv(L, off + (size_t)n * sizeof *ws, 0);
    cs = copycases((struct selcase *)p, sel->cs, n);
    ws = (struct waiter *)(p + off);
  } else {
    sel->busy = true;            /* until selresult (or a pack refusal) */
  }
  return doselect(L, sel, lt, cs, n, ws, ctx, dflt);
}

/* sel:set(i, v): send case i sends v from now on. */
static int lselector_set (lua_State *L) {
  struct selector *sel = checkselector(L);
  lua_Integer i = luaL_checkinteger(L, 2);
  if (i < 1 || i > sel->n)
    luaL_argerror(L, 2, lua_pushfstring(L,
                  "case index out of range (1 to %d)", sel->n));
  const struct selcase *cs = &sel->cs[i - 1];
  if (cs->dir != SEL_SEND)
    luaL_argerror(L, 2, lua_pushfstring(L,
                  "case %d is not a send case", (int)i));
  lua_settop(L, 3);
  if (cs->c) checkvalue(L, 3, (int)i);        /* may raise: nothing held */
  lua_getiuservalue(L, SELF, 1);              /* sel i v vals */
  lua_insert(L, 3);                           /* sel i vals v */
  lua_rawseti(L, 3, i);
  return 0;
}

/* __gc: drop the channels' references; the selector is unusable after. */
static int lselector__gc (lua_State *L) {
  struct selector *sel = (struct selector *)lua_touserdata(L, 1);
  if (!sel || sel->magic != SELMAGIC) return 0;
  sel->magic = 0;
  for (int i = 0; i < sel->n; i++)
    if (sel->cs[i].c) chan_release(sel->cs[i].c);
  return 0;
}

static int lselector__tostring (lua_State *L) {
  struct selector *sel = (struct selector *)luaL_checkudata(L, SELF,
                                                            GOCHAN_SELECTOR_MT);
  lua_pushfstring(L, "gochan.selector(cases=%d) %p", sel->n, (void *)sel);
  return 1;
}

static const luaL_Reg selector_methods[] = {
  {"select", lselector_select}, {"set", lselector_set}, {NULL, NULL}
};

void lselect_open (lua_State *L) {
  if (luaL_newmetatable(L, GOCHAN_SELECTOR_MT)) {  /* M mt */
    lua_pushcfunction(L, lselector__gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, lselector__tostring);
    lua_setfield(L, -2, "__tostring");
    luaL_newlib(L, selector_methods);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);                              /* M */
  struct selnames *nm = lua_newuserdatauv(L, sizeof *nm, 3);
  const char *names[3] = { "recv", "send", "default" };
  const char **ptrs[3] = { &nm->recv, &nm->send, &nm->dflt };
  for (int i = 0; i < 3; i++) {
    *ptrs[i] = lua_pushstring(L, names[i]);   /* M nm s */
    lua_setiuservalue(L, -2, i + 1);
  }
  lua_pushvalue(L, -1);                       /* M nm nm */
  lua_pushcclosure(L, lgochan_select, 1);
  lua_setfield(L, -3, "select");
  lua_pushcclosure(L, lgochan_selector, 1);   /* M fn */
  lua_setfield(L, -2, "selector");
}
