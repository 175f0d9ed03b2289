/*
** lbox.c: the helper layer of the binding: the boxes every gochan
** userdata is made of (one per object per state, through a weak cache),
** deadlines from Lua timeouts, status -> Lua error, packing. It includes
** no type file: module.c gives it the table of types (lbox_init).
*/
#include <math.h>
#include <stdatomic.h>
#include <string.h>
#include <lua.h>
#include <lauxlib.h>
#include "lbox.h"
#include "context.h"
#include "frozen.h"
#include "scheduler.h"
#include "taskstate.h"
#include "timer.h"
#include "transfer.h"

/* Registry keys (their addresses). Stable while core.so is loaded, which
** is at least as long as any state that required it. */
static const char CACHEKEY = 'c';     /* weak-valued {lightud(obj) = box} */
static const char STATSKEY = 'p';     /* struct boxstats of the cache */
static const char METHODSKEY = 'f';   /* metatable of lazy method tables */

/* Given by module.c (lbox_init); set before any box is made, and only
** ever to the same static values, so any thread may read them. */
static _Atomic(const struct ltype *) types;
static _Atomic(lua_CFunction) deadlock;

void lbox_init (const struct ltype *t, int (*d) (lua_State *L)) {
  atomic_store_explicit(&types, t, memory_order_release);
  atomic_store_explicit(&deadlock, d, memory_order_release);
}

static const struct ltype *gettypes (void) {
  return atomic_load_explicit(&types, memory_order_acquire);
}


/* ---- boxes ---- */

/*
** The box cache of a state: registry[&CACHEKEY] is the weak-valued table
** {lightud(obj) = box}; its stats are a struct boxstats (lbox.h): a
** task's in its ltask (lpark.h: C memory, not its state's), any other
** state's in a userdata at registry[&STATSKEY]. A weak table
** keeps the slots its collected entries leave until a rehash, and Lua
** rehashes only on an insert into a full table; so 'live' counts the
** boxes entered and not yet finalized, 'high' the most the table held since
** it was (re)built, and an insert that finds live < high / 4 rebuilds the
** table at its live size first: the cache stays within a constant factor
** of the boxes alive, however many were made and dropped.
**
** A box is a few bytes of Lua memory that pins 'o->size' bytes of C
** memory. 'pinned' sums those bytes until they are reported to the
** collector as allocation debt (lua_gc LUA_GCSTEP), so that it runs as
** often as if the objects lived in the Lua heap. Touched only by the
** state's own thread (a state is run by one thread at a time).
*/
#define CACHE_MIN_REBUILD 1024   /* a smaller table is never rebuilt */
#define PIN_REPORT (16 * 1024)   /* bytes pinned before the collector is told */

/* The state's stats, or NULL: none made yet, or a task's state that its
** task has let go of (being closed). */
static struct boxstats *getstats (lua_State *L) {
  if (taskstate_is(L)) {
    struct ltask *lt = taskstate_task(L);
    return lt ? &lt->boxstats : NULL;
  }
  lua_rawgetp(L, LUA_REGISTRYINDEX, &STATSKEY);
  struct boxstats *cs = (struct boxstats *)lua_touserdata(L, -1);
  lua_pop(L, 1);
  return cs;
}

/* __gc of every box: drop the box's reference. The box is left empty so a
** resurrected box can never release twice, and leaves the cache (called by
** hand, it is still there: a push of 'o', or of a new object given o's
** memory, would find it empty; a collection has cleared it already). */
static int lbox__gc (lua_State *L) {
  struct obj **box = (struct obj **)lua_touserdata(L, 1);
  if (box && *box) {
    struct obj *o = *box;
    *box = NULL;
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &CACHEKEY) == LUA_TTABLE) {
      if (lua_rawgetp(L, -1, o) == LUA_TUSERDATA && lua_touserdata(L, -1) == box) {
        lua_pushnil(L);
        lua_rawsetp(L, -3, o);                /* cache[o] = nil: no allocation */
      }
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
    obj_release(o);
    struct boxstats *cs = getstats(L);
    if (cs && cs->live > 0) cs->live--;
  }
  return 0;
}

int lbox_newmetatable (lua_State *L, const char *tname) {
  int created = 0;                            /* as luaL_newmetatable, but */
  if (luaL_getmetatable(L, tname) == LUA_TNIL) {
    lua_pop(L, 1);
    lua_createtable(L, 0, 4);    /* __name __gc __tostring __index, which
                                    every type has (a type with more grows
                                    once; the old part is freed at once) */
    lua_pushstring(L, tname);
    lua_setfield(L, -2, "__name");
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, tname);
    created = 1;
  }
  lua_pushcfunction(L, lbox__gc);
  lua_setfield(L, -2, "__gc");
  return created;                             /* mt */
}

/*
** Method tables fill themselves: a type's __index table starts empty, and
** its metatable (one per state, at registry[&METHODSKEY], mapping each
** method table to its luaL_Reg list) adds a method on its first lookup.
** A task's state so holds only the methods it calls, and none of the
** method names it never uses. A hit is a plain table read, as before;
** pairs() fills the table first, so it lists every method.
*/
static const luaL_Reg *methodlist (lua_State *L, int m) {
  const luaL_Reg *r = NULL;
  if (lua_getmetatable(L, m)) {               /* meta */
    lua_pushvalue(L, m);
    lua_rawget(L, -2);                        /* meta list */
    r = (const luaL_Reg *)lua_touserdata(L, -1);
    lua_pop(L, 2);
  }
  return r;
}

/* __index(methods, k): k's method, now also in 'methods'; else nil */
static int methods__index (lua_State *L) {
  size_t len;
  const char *k = lua_type(L, 2) == LUA_TSTRING ? lua_tolstring(L, 2, &len)
                                                : NULL;
  const luaL_Reg *r = k ? methodlist(L, 1) : NULL;
  for (; r && r->name; r++)
    if (strlen(r->name) == len && memcmp(r->name, k, len) == 0) {
      lua_pushcfunction(L, r->func);
      lua_pushvalue(L, 2);
      lua_pushvalue(L, -2);
      lua_rawset(L, 1);                       /* f */
      return 1;
    }
  return 0;
}

/* the iterator methods__pairs returns: next() */
static int methods_next (lua_State *L) {
  lua_settop(L, 2);
  if (lua_next(L, 1)) return 2;
  lua_pushnil(L);
  return 1;
}

/* __pairs(methods): every method in, then next, methods, nil */
static int methods__pairs (lua_State *L) {
  const luaL_Reg *r = methodlist(L, 1);
  for (; r && r->name; r++) {
    lua_getfield(L, 1, r->name);              /* a miss fills it in */
    lua_pop(L, 1);
  }
  lua_pushcfunction(L, methods_next);
  lua_insert(L, 1);
  lua_pushnil(L);
  return 3;
}

void lbox_setmethods (lua_State *L, const luaL_Reg *methods) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &METHODSKEY) != LUA_TTABLE) {
    lua_pop(L, 1);                            /* mt */
    lua_createtable(L, 0, 2);
    lua_pushcfunction(L, methods__index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, methods__pairs);
    lua_setfield(L, -2, "__pairs");
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &METHODSKEY);
  }                                           /* mt meta */
  lua_pushliteral(L, "__index");
  if (lua_rawget(L, -3) == LUA_TTABLE) {      /* a reload: a new table, */
    lua_pushnil(L);                           /* the old one forgotten */
    lua_rawset(L, -3);
  }
  else lua_pop(L, 1);
  lua_createtable(L, 0, 0);                   /* mt meta methods */
  lua_pushvalue(L, -1);
  lua_pushlightuserdata(L, (void *)methods);
  lua_rawset(L, -4);
  lua_pushvalue(L, -2);
  lua_setmetatable(L, -2);
  lua_setfield(L, -3, "__index");             /* mt meta */
  lua_pop(L, 1);                              /* mt */
}

void lbox_newtype (lua_State *L, const char *tname, lua_CFunction tostr,
                   const luaL_Reg *methods) {
  lbox_newmetatable(L, tname);                /* mt */
  lua_pushcfunction(L, tostr);
  lua_setfield(L, -2, "__tostring");
  lbox_setmethods(L, methods);
  lua_pop(L, 1);
}

/* Push a new, empty cache table sized for 'n' entries and make it the
** state's cache. */
static void newcache (lua_State *L, int n) {
  lua_createtable(L, 0, n);
  lua_createtable(L, 0, 1);
  lua_pushliteral(L, "v");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
  lua_pushvalue(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &CACHEKEY);   /* cache */
}

static void pushcache (lua_State *L) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &CACHEKEY) != LUA_TTABLE) {
    lua_pop(L, 1);
    newcache(L, 2);             /* small: a blocked task may hold only two */
  }                                           /* cache */
}

void lbox_open (lua_State *L) {
  pushcache(L);
  lua_pop(L, 1);
}

/* The cache with its stats, made if missing. */
static struct boxstats *pushcachestats (lua_State *L) {
  struct boxstats *cs = getstats(L);
  if (!cs) {                    /* not a task's state: a userdata */
    cs = (struct boxstats *)lua_newuserdatauv(L, sizeof *cs, 0);
    cs->live = cs->high = cs->pinned = 0;
    lua_rawsetp(L, LUA_REGISTRYINDEX, &STATSKEY);
  }
  pushcache(L);                               /* cache */
  if (cs->high >= CACHE_MIN_REBUILD && cs->live < cs->high / 4) {
    /* Copy the live entries into a table of their size (the old one goes
    ** to the collector); 'live' may count a few boxes already cleared
    ** from the table and not yet finalized, so it is an upper bound. */
    newcache(L, (int)cs->live);               /* old new */
    lua_pushnil(L);
    while (lua_next(L, -3)) {                 /* old new k box */
      lua_pushvalue(L, -2);
      lua_insert(L, -2);                      /* old new k k box */
      lua_rawset(L, -4);                      /* old new k */
    }
    lua_remove(L, -2);                        /* new */
    cs->high = cs->live;
  }
  return cs;
}

/*
** A box is { object, BOXMAGIC }: lbox_to recognises one by its size and
** mark, which is far cheaper than looking its metatable up (it runs on
** every method call); luaL_checkudata stays the slow path that gives the
** standard errors. Only C code can write a userdata's bytes, and no other
** library's userdata holds this mark by accident.
*/
#define BOXMAGIC UINT64_C(0x676f6368616e2e62)   /* "gochan.b" */
struct box { struct obj *o; uint64_t magic; };

struct obj **lbox_new (lua_State *L, enum objtype t) {
  const struct ltype *ty = gettypes();
  GOCHAN_ASSERT(t > 0 && t < OBJ_NTYPES && ty && ty[t].mt);
  struct box *bx = (struct box *)lua_newuserdatauv(L, sizeof *bx, ty[t].nuv);
  bx->o = NULL;                               /* __gc-safe from here on */
  bx->magic = BOXMAGIC;
  struct obj **box = &bx->o;
  if (luaL_getmetatable(L, ty[t].mt) != LUA_TTABLE) {
    /* A task's state makes a type's metatable when it first gets an
    ** object of that type (a blocked task then costs little memory). */
    lua_pop(L, 1);
    ty[t].meta(L);
    if (luaL_getmetatable(L, ty[t].mt) != LUA_TTABLE)
      luaL_error(L, "%s is not available in this state", ty[t].mt);
  }
  lua_setmetatable(L, -2);
  return box;                                 /* box */
}

void lbox_adopt (lua_State *L, struct obj **box, struct obj *o) {
  *box = o;                                   /* the box owns 'o' now */
  struct boxstats *cs = pushcachestats(L);    /* box cache (may raise) */
  lua_pushvalue(L, -2);
  lua_rawsetp(L, -2, o);                      /* may raise: box owns 'o' */
  lua_pop(L, 1);                              /* box */
  if (++cs->live > cs->high) cs->high = cs->live;
  cs->pinned += o->size;
  /* Report the pinned C memory (not while the collector is stopped: a
  ** step would run it anyway; a task's state stops it while set up). */
  if (cs->pinned >= PIN_REPORT && lua_gc(L, LUA_GCISRUNNING)) {
    int kb = (int)(cs->pinned / 1024);
    cs->pinned %= 1024;
    lua_gc(L, LUA_GCSTEP, kb);
  }
  if (o->type == OBJ_TICKER) {                /* tk.c: the channel's box */
    lbox_push(L, (struct obj *)ticker_chan((struct ticker *)o));
    lua_setiuservalue(L, -2, 1);
  }
  if (o->type == OBJ_TIMER && gtimer_chan((struct gtimer *)o)) {  /* t.c */
    lbox_push(L, (struct obj *)gtimer_chan((struct gtimer *)o));
    lua_setiuservalue(L, -2, 1);
  }
}

void lbox_push (lua_State *L, struct obj *o) {
  pushcache(L);
  if (lua_rawgetp(L, -1, o) != LUA_TNIL) {    /* cache box */
    lua_remove(L, -2);
    return;                                   /* same object, same value */
  }
  lua_pop(L, 2);
  struct obj **box = lbox_new(L, (enum objtype)o->type);
  obj_retain(o);
  lbox_adopt(L, box, o);                      /* box */
}

struct obj *lbox_to (lua_State *L, int idx) {
  struct box *bx = (struct box *)lua_touserdata(L, idx);
  /* (a light userdata's raw length is 0: only a full one can match) */
  if (!bx || lua_rawlen(L, idx) != sizeof *bx || bx->magic != BOXMAGIC)
    return NULL;
  return bx->o;
}

struct obj *lbox_check (lua_State *L, int arg, enum objtype t) {
  /* fast path: a box of ours of the right type; luaL_checkudata would
  ** look the metatable up by name, interning the string, on every call */
  struct obj *o = lbox_to(L, arg);
  if (o && o->type == t) return o;
  /* slow path: the standard error, or a box emptied by its __gc */
  struct obj **box = (struct obj **)luaL_checkudata(L, arg, gettypes()[t].mt);
  if (!*box)  /* only a box resurrected after its __gc */
    luaL_argerror(L, arg, "object already collected");
  return *box;
}

bool lbox_collected (lua_State *L, int idx, unsigned kinds) {
  struct box *bx = (struct box *)lua_touserdata(L, idx);
  if (!bx || lua_rawlen(L, idx) != sizeof *bx || bx->magic != BOXMAGIC ||
      bx->o || !lua_getmetatable(L, idx))
    return false;                             /* mt: an emptied box's */
  bool found = false;
  for (int t = 1; t < OBJ_NTYPES && !found; t++) {
    if (!(kinds & (1u << t)) || !gettypes()[t].mt) continue;
    luaL_getmetatable(L, gettypes()[t].mt);   /* mt typemt */
    found = lua_rawequal(L, -1, -2);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return found;
}

/* ---- proxies of frozen tables ---- */

/*
** The proxy cache of a state: registry[&FCACHEKEY] is a userdata holding
** FCACHE slot keys, its user value a weak-valued table {[slot] = value}.
** A slot's key is (graph id, address of the table or string in it): ids
** are never reused, so a key names one thing for the life of the process
** and a stale slot can never answer for another. Invariant: a slot's
** value, when not nil, is what key[slot] names (a key is set only once
** its value is stored: fstore). Direct-mapped: a miss
** replaces the slot. Read counts (lbox_fhit) have keys of their own.
** Bounded by construction; only the state's own thread touches it.
*/
static const char FCACHEKEY = 'f';
#define FCACHE 256
struct fcache {
  struct fkey { uint64_t id; const void *p; } key[FCACHE];  /* the proxies' */
  struct fkey hitkey[FCACHE];  /* the read counts' (a slot of their own:
                                  counting never touches a cached proxy) */
  uint16_t hits[FCACHE];       /* reads of hitkey's table since it took the
                                  slot */
};
#define FMAGIC UINT64_C(0x676f6368616e2e66)   /* "gochan.f" */
struct fproxy { struct frozen *f; uint32_t t; uint64_t magic; };

struct fcache *lbox_fcache (lua_State *L) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &FCACHEKEY) == LUA_TUSERDATA) {
    struct fcache *c = (struct fcache *)lua_touserdata(L, -1);
    lua_getiuservalue(L, -1, 1);
    lua_remove(L, -2);                        /* slots */
    return c;
  }
  lua_pop(L, 1);
  struct fcache *c = (struct fcache *)lua_newuserdatauv(L, sizeof *c, 1);
  memset(c, 0, sizeof *c);
  lua_createtable(L, FCACHE, 0);
  lua_createtable(L, 0, 1);
  lua_pushliteral(L, "v");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);                    /* c slots */
  lua_pushvalue(L, -1);
  lua_setiuservalue(L, -3, 1);
  lua_insert(L, -2);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &FCACHEKEY);  /* slots */
  return c;
}

static int fslot (uint64_t id, const void *p) {
  uint64_t x = (id * UINT64_C(0x9e3779b97f4a7c15)) ^ ((uintptr_t)p >> 3);
  x *= UINT64_C(0xff51afd7ed558ccd);
  return (int)(x >> 56);                      /* 0 .. FCACHE - 1 */
}

/* Push the cached value of (f, p) and return -1, or return its slot: the
** caller makes the value, stores it there, then calls fstore (so a raise
** in between leaves the slot's old key with its old value). */
static int fcached (lua_State *L, struct fcache *c, int slots,
                    struct frozen *f, const void *p) {
  int i = fslot(f->id, p);
  if (c->key[i].id == f->id && c->key[i].p == p) {
    if (lua_rawgeti(L, slots, i + 1) != LUA_TNIL) return -1;
    lua_pop(L, 1);
  }
  return i;
}

static void fstore (struct fcache *c, int i, struct frozen *f,
                    const void *p) {
  c->key[i].id = f->id;
  c->key[i].p = p;
}

unsigned lbox_fhit (struct fcache *c, struct frozen *f, const void *p) {
  int i = fslot(f->id, p);
  if (c->hitkey[i].id != f->id || c->hitkey[i].p != p) {
    c->hitkey[i].id = f->id;
    c->hitkey[i].p = p;
    c->hits[i] = 0;
  }
  if (c->hits[i] < UINT16_MAX) c->hits[i]++;
  return c->hits[i];
}

void lbox_pushproxy (lua_State *L, struct fcache *c, int slots, int mt,
                     int from, struct frozen *f, uint32_t t) {
  uint32_t ft;                                /* the table 'from' is */
  struct frozen *g = from ? lbox_tofrozen(L, from, &ft) : NULL;
  if (t == 0) {
    if (g == f && ft == 0) lua_pushvalue(L, from);
    else lbox_push(L, &f->obj);
    return;
  }
  const struct ftable *tab = frozen_table(f, t);
  int slot = fcached(L, c, slots, f, tab);
  if (slot < 0) return;                       /* proxy */
  struct fproxy *px = (struct fproxy *)lua_newuserdatauv(L, sizeof *px, 1);
  px->f = f;
  px->t = t;
  px->magic = FMAGIC;
  if (g != f) lbox_push(L, &f->obj);          /* the root box */
  else if (ft == 0) lua_pushvalue(L, from);
  else lua_getiuservalue(L, from, 1);
  lua_setiuservalue(L, -2, 1);
  lua_pushvalue(L, mt);
  lua_setmetatable(L, -2);
  lua_pushvalue(L, -1);
  lua_rawseti(L, slots, slot + 1);            /* px */
  fstore(c, slot, f, tab);
}

void lbox_pushfrozen (lua_State *L, struct frozen *f, uint32_t t) {
  if (t == 0) { lbox_push(L, &f->obj); return; }
  lbox_push(L, &f->obj);                      /* root: its metatables made */
  struct fcache *c = lbox_fcache(L);          /* root slots */
  luaL_getmetatable(L, LBOX_FROZEN_NESTED);   /* root slots mt */
  int top = lua_gettop(L);
  lbox_pushproxy(L, c, top - 1, top, top - 2, f, t);
  lua_replace(L, top - 2);
  lua_settop(L, top - 2);                     /* px */
}

struct frozen *lbox_tofrozen (lua_State *L, int idx, uint32_t *t) {
  void *u = lua_touserdata(L, idx);
  if (!u) return NULL;
  size_t n = lua_rawlen(L, idx);
  if (n == sizeof(struct fproxy)) {
    struct fproxy *px = (struct fproxy *)u;
    if (px->magic != FMAGIC) return NULL;
    *t = px->t;
    return px->f;
  }
  struct obj *o = lbox_to(L, idx);
  if (!o || o->type != OBJ_FROZEN) return NULL;
  *t = 0;
  return (struct frozen *)o;
}

void lbox_pushfstr (lua_State *L, struct fcache *c, int slots,
                    struct frozen *f, const struct fstr *s) {
  if (s->len <= 40) {           /* a short string: Lua interns it anyway */
    lua_pushlstring(L, s->s, s->len);
    return;
  }
  int slot = fcached(L, c, slots, f, s);
  if (slot < 0) return;
  lua_pushlstring(L, s->s, s->len);
  lua_pushvalue(L, -1);
  lua_rawseti(L, slots, slot + 1);
  fstore(c, slot, f, s);
}


/* ---- deadlines, errors, packing ---- */

int64_t lg_optdeadline (lua_State *L, int arg) {
  if (lua_isnoneornil(L, arg)) return GO_NEVER;
  lua_Number t = luaL_checknumber(L, arg);
  if (isnan(t)) luaL_argerror(L, arg, "number expected, got nan");
  if (t < 0) luaL_typeerror(L, arg, "non-negative number");
  if (t == 0) return GO_NOW;
  return go_deadline_in((double)t);
}

int lg_raise (lua_State *L, gostatus st) {
  switch (st) {
    case GO_NOMEM:
      lua_pushliteral(L, "not enough memory");
      return lua_error(L);
    case GO_INTERRUPTED: return luaL_error(L, "interrupted");
    case GO_DEADLOCK:
      return atomic_load_explicit(&deadlock, memory_order_acquire)(L);
    case GO_NEGATIVE: return luaL_error(L, "negative WaitGroup counter");
    case GO_NOTLOCKED: return luaL_error(L, "unlock of unlocked mutex");
    case GO_SHUTDOWN: return luaL_error(L, "gochan runtime is shutting down");
    case GO_CANCELED: {           /* no position: the task's own message */
      struct task *t = sched_current();
      const char *msg = t ? task_cancelmsg(t) : NULL;
      lua_pushstring(L, msg ? msg : "canceled");
      return lua_error(L);
    }
    default: return luaL_error(L, "gochan: %s", go_strstatus(st));
  }
}

int lg_packerror (lua_State *L) {
  luaL_where(L, 1);                           /* msg where */
  lua_insert(L, -2);
  lua_concat(L, 2);
  return lua_error(L);
}

/* ---- contexts and cancellation at a blocking call ---- */

void lg_optwait (lua_State *L, int arg, int64_t *deadline,
                 struct context **ctx) {
  *ctx = NULL;
  int t = lua_type(L, arg);
  if (t <= LUA_TNIL) {                        /* the common cases first */
    *deadline = GO_NEVER;
    return;
  }
  if (t == LUA_TNUMBER) {
    *deadline = lg_optdeadline(L, arg);
    return;
  }
  struct obj *o = lbox_to(L, arg);
  if (!o || o->type != OBJ_CONTEXT)
    lbox_typeerror(L, arg, 1u << OBJ_CONTEXT, "number or gochan.context");
  *deadline = GO_NEVER;
  *ctx = (struct context *)o;
}

struct context *lg_optctx (lua_State *L, int arg) {
  if (lua_isnoneornil(L, arg)) return NULL;
  struct obj *o = lbox_to(L, arg);
  if (!o || o->type != OBJ_CONTEXT)
    lbox_typeerror(L, arg, 1u << OBJ_CONTEXT, "gochan.context");
  return (struct context *)o;
}

void lg_pushctxerr (lua_State *L, struct context *ctx) {
  switch (ctx ? ctx_err(ctx) : CTX_LIVE) {
    case CTX_CANCELED: lua_pushliteral(L, "context canceled"); break;
    case CTX_DEADLINE: lua_pushliteral(L, "context deadline exceeded"); break;
    default: lua_pushnil(L); break;
  }
}

void lg_checkcancel (lua_State *L) {
  struct task *t = sched_current();
  if (t && task_canceled(t)) lg_raise(L, GO_CANCELED);
}

void lg_pack (lua_State *L, int idx, struct tvalue *tv, const char *root) {
  if (!transfer_pack(L, idx, tv, root))       /* '*tv' nil, nothing held */
    lg_packerror(L);
}
