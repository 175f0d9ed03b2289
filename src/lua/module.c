/*
** module.c: luaopen_gochan_core, the boxes every gochan userdata is made
** of (one per object per state, through a weak cache), deadlines from Lua
** timeouts, status -> Lua error, and the runtime's shutdown sentinel.
*/
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <lua.h>
#include <lauxlib.h>
#include "lgochan.h"
#include "transfer.h"
#include "timer.h"
#include "ltask.h"
#include "scheduler.h"

/* Registry keys (their addresses). Stable while core.so is loaded, which
** is at least as long as any state that required it. */
static const char CACHEKEY = 'c';     /* weak-valued {lightud(obj) = box} */
static const char MODKEY = 'm';       /* the module table, kept on reload */
static const char SENTINELKEY = 's';  /* userdata whose __gc counts us out */
static const char STATSKEY = 'p';     /* struct cachestats of the cache */

/* Metatable of each object type; NULL: not a Lua-visible type. */
static const char *const typemt[OBJ_NTYPES] = {
  [OBJ_CHAN] = GOCHAN_CHAN_MT, [OBJ_WAITGROUP] = GOCHAN_WAITGROUP_MT,
  [OBJ_MUTEX] = GOCHAN_MUTEX_MT, [OBJ_ATOMIC] = GOCHAN_ATOMIC_MT,
  [OBJ_TICKER] = GOCHAN_TICKER_MT, [OBJ_TASK] = GOCHAN_TASK_MT
};


/* ---- boxes ---- */

/*
** The box cache of a state: registry[&CACHEKEY] is the weak-valued table
** {lightud(obj) = box}, registry[&STATSKEY] this struct. A weak table
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
struct cachestats {
  size_t live, high;
  size_t pinned;
};

#define CACHE_MIN_REBUILD 1024   /* a smaller table is never rebuilt */
#define PIN_REPORT (16 * 1024)   /* bytes pinned before the collector is told */

static struct cachestats *getstats (lua_State *L) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &STATSKEY);
  struct cachestats *cs = (struct cachestats *)lua_touserdata(L, -1);
  lua_pop(L, 1);
  return cs;
}

/* __gc of every box: drop the box's reference. The box is left empty so a
** resurrected box can never release twice. */
static int lgochan__gc (lua_State *L) {
  struct obj **box = (struct obj **)lua_touserdata(L, 1);
  if (box && *box) {
    struct obj *o = *box;
    *box = NULL;
    obj_release(o);
    struct cachestats *cs = getstats(L);
    if (cs && cs->live > 0) cs->live--;
  }
  return 0;
}

int lgochan_newmetatable (lua_State *L, const char *tname) {
  int created = 0;                            /* as luaL_newmetatable, but */
  if (luaL_getmetatable(L, tname) == LUA_TNIL) {
    lua_pop(L, 1);
    lua_createtable(L, 0, 8);    /* sized for every field a type has: a task
                                    state keeps no garbage from rehashing */
    lua_pushstring(L, tname);
    lua_setfield(L, -2, "__name");
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, tname);
    created = 1;
  }
  lua_pushcfunction(L, lgochan__gc);
  lua_setfield(L, -2, "__gc");
  return created;                             /* mt */
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

/* The cache with its stats, made if missing. */
static struct cachestats *pushcachestats (lua_State *L) {
  struct cachestats *cs = getstats(L);
  if (!cs) {
    cs = (struct cachestats *)lua_newuserdatauv(L, sizeof *cs, 0);
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

/* A task's state makes a type's metatable when it first gets an object of
** that type (a blocked task then costs little memory). The openers also
** fill a module table: here a scratch one, dropped at once. */
static void openlazy (lua_State *L, enum objtype t) {
  switch (t) {
    case OBJ_CHAN: case OBJ_TICKER:          /* these openers fill M too */
      lua_newtable(L);
      if (t == OBJ_CHAN) lchan_open(L); else ltime_open(L);
      lua_pop(L, 1);
      break;
    case OBJ_TASK: ltask_opentype(L); break;
    default:
      lsync_opentype(L, t);
      if (t == OBJ_WAITGROUP) ltask_addwggo(L);
      break;
  }
}

/*
** A box is { object, BOXMAGIC }: lgochan_toobj recognises one by its size
** and mark, which is far cheaper than looking its metatable up (it runs
** on every method call); luaL_checkudata stays the slow path that gives
** the standard errors. Only C code can write a userdata's bytes, and no
** other library's userdata holds this mark by accident.
*/
#define BOXMAGIC UINT64_C(0x676f6368616e2e62)   /* "gochan.b" */
struct box { struct obj *o; uint64_t magic; };

struct obj **lgochan_newbox (lua_State *L, enum objtype t) {
  GOCHAN_ASSERT(t > 0 && t < OBJ_NTYPES && typemt[t]);
  struct box *bx = (struct box *)lua_newuserdatauv(L, sizeof *bx, 1);
  bx->o = NULL;                               /* __gc-safe from here on */
  bx->magic = BOXMAGIC;
  struct obj **box = &bx->o;
  if (luaL_getmetatable(L, typemt[t]) != LUA_TTABLE) {
    lua_pop(L, 1);
    openlazy(L, t);
    if (luaL_getmetatable(L, typemt[t]) != LUA_TTABLE)
      luaL_error(L, "%s is not available in this state", typemt[t]);
  }
  lua_setmetatable(L, -2);
  return box;                                 /* box */
}

void lgochan_adopt (lua_State *L, struct obj **box, struct obj *o) {
  *box = o;                                   /* the box owns 'o' now */
  struct cachestats *cs = pushcachestats(L);  /* box cache (may raise) */
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
    lgochan_pushobj(L, (struct obj *)ticker_chan((struct ticker *)o));
    lua_setiuservalue(L, -2, 1);
  }
}

void lgochan_pushobj (lua_State *L, struct obj *o) {
  pushcache(L);
  if (lua_rawgetp(L, -1, o) != LUA_TNIL) {    /* cache box */
    lua_remove(L, -2);
    return;                                   /* same object, same value */
  }
  lua_pop(L, 2);
  struct obj **box = lgochan_newbox(L, (enum objtype)o->type);
  obj_retain(o);
  lgochan_adopt(L, box, o);                   /* box */
}

struct obj *lgochan_toobj (lua_State *L, int idx) {
  struct box *bx = (struct box *)lua_touserdata(L, idx);
  /* (a light userdata's raw length is 0: only a full one can match) */
  if (!bx || lua_rawlen(L, idx) != sizeof *bx || bx->magic != BOXMAGIC)
    return NULL;
  return bx->o;
}

struct obj *lgochan_checktype (lua_State *L, int arg, enum objtype t) {
  struct obj *o = lgochan_toobj(L, arg);
  if (o && o->type == t) return o;            /* the fast path: no names */
  return lgochan_checkobj(L, arg, typemt[t]);  /* the standard error */
}

struct obj *lgochan_checkobj (lua_State *L, int arg, const char *tname) {
  /* fast path: a box of ours (one raw lookup by address in its metatable)
  ** of the right type; luaL_checkudata would look the metatable up by
  ** name, interning the string, on every call */
  struct obj *o = lgochan_toobj(L, arg);
  if (o && (typemt[o->type] == tname || strcmp(typemt[o->type], tname) == 0))
    return o;
  /* slow path: the standard error, or a box emptied by its __gc */
  struct obj **box = (struct obj **)luaL_checkudata(L, arg, tname);
  if (!*box)  /* only a box resurrected after its __gc */
    luaL_argerror(L, arg, "object already collected");
  return *box;
}

const char *lgochan_typename (lua_State *L, int idx) {
  const char *name;
  int tt = luaL_getmetafield(L, idx, "__name");   /* pushes unless nil */
  if (tt == LUA_TSTRING) name = lua_tostring(L, -1);  /* the mt anchors it */
  else if (lua_type(L, idx) == LUA_TLIGHTUSERDATA) name = "light userdata";
  else name = luaL_typename(L, idx);
  if (tt != LUA_TNIL) lua_pop(L, 1);
  return name;
}


/* ---- deadlines and errors ---- */

int64_t lgochan_optdeadline (lua_State *L, int arg) {
  if (lua_isnoneornil(L, arg)) return GO_NEVER;
  lua_Number t = luaL_checknumber(L, arg);
  if (isnan(t)) luaL_argerror(L, arg, "number expected, got nan");
  if (t < 0) luaL_typeerror(L, arg, "non-negative number");
  if (t == 0) return GO_NOW;
  return go_deadline_in((double)t);
}

int lgochan_packerror (lua_State *L) {
  luaL_where(L, 1);                           /* msg where */
  lua_insert(L, -2);
  lua_concat(L, 2);
  return lua_error(L);
}

void lgochan_pack (lua_State *L, int idx, struct tvalue *tv, const char *root) {
  if (!transfer_pack(L, idx, tv, root))       /* '*tv' nil, nothing held */
    lgochan_packerror(L);
}

/* The deadlock message lists the live tasks; sched_foreach calls 'addtask'
** with the scheduler's lock held, so the list is built in a fixed C buffer
** (truncated if long) and only pushed once that lock is released. */
struct tasklist { char buf[2048]; size_t len; };

static void addtask (void *ud, uint64_t id, const char *state,
                     const char *what) {
  struct tasklist *tl = (struct tasklist *)ud;
  size_t room = sizeof tl->buf - tl->len;
  if (room <= 1) return;
  int k = snprintf(tl->buf + tl->len, room, "\n\tgochan.task #%llu (%s%s%s)",
                   (unsigned long long)id, state, what ? ": " : "",
                   what ? what : "");
  if (k < 0) return;
  if ((size_t)k >= room) {                    /* truncated: mark it */
    tl->len = sizeof tl->buf - 1;
    memcpy(tl->buf + tl->len - 4, "\n...", 4);
  } else {
    tl->len += (size_t)k;
  }
}

static int deadlock (lua_State *L) {
  struct tasklist tl;
  tl.len = 0;
  tl.buf[0] = '\0';
  sched_foreach(addtask, &tl);
  return luaL_error(L, "all tasks are asleep - deadlock!%s", tl.buf);
}

int lgochan_raise (lua_State *L, gostatus st) {
  switch (st) {
    case GO_NOMEM:
      lua_pushliteral(L, "not enough memory");
      return lua_error(L);
    case GO_INTERRUPTED: return luaL_error(L, "interrupted");
    case GO_DEADLOCK: return deadlock(L);
    case GO_NEGATIVE: return luaL_error(L, "negative WaitGroup counter");
    case GO_NOTLOCKED: return luaL_error(L, "unlock of unlocked mutex");
    case GO_SHUTDOWN: return luaL_error(L, "gochan runtime is shutting down");
    default: return luaL_error(L, "gochan: %s", go_strstatus(st));
  }
}


/* ---- runtime shutdown ---- */

/* 'nstates' counts the main states (not tasks' states) whose sentinel is
** alive (guarded by 'statesmu'). When the last one closes, the scheduler's
** threads (the monitor) and the timer thread are stopped, so no thread of
** ours runs when Lua unloads core.so: the sentinel is made at the first
** luaopen in a state, after package's CLIBS table, and Lua runs finalizers
** in reverse order of creation. */
static pthread_mutex_t statesmu = PTHREAD_MUTEX_INITIALIZER;
static long nstates = 0;

static int sentinel__gc (lua_State *L) {
  int *counted = (int *)lua_touserdata(L, 1);
  if (!*counted) return 0;
  *counted = 0;
  pthread_mutex_lock(&statesmu);
  if (--nstates == 0) {  /* these join threads that never take statesmu */
    sched_shutdown();
    timer_shutdown();
  }
  pthread_mutex_unlock(&statesmu);
  return 0;
}

static void opensentinel (lua_State *L) {
  if (ltask_istaskstate(L)) return;           /* a task's state */
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &SENTINELKEY) != LUA_TNIL) {
    lua_pop(L, 1);
    return;                                   /* this state is counted */
  }
  lua_pop(L, 1);
  int *counted = (int *)lua_newuserdatauv(L, sizeof *counted, 0);
  *counted = 0;
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, sentinel__gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &SENTINELKEY);  /* may raise: uncounted */
  pthread_mutex_lock(&statesmu);
  nstates++;
  pthread_mutex_unlock(&statesmu);
  *counted = 1;
}


/* ---- the module ---- */

#ifdef GOCHAN_TESTING
/* core._live() -> total, {typename = count}: the live core objects of the
** process (a testing build only; see obj.h). */
static int lgochan_live (lua_State *L) {
  static const char *const names[OBJ_NTYPES] = {
    [OBJ_CHAN] = "chan", [OBJ_WAITGROUP] = "waitgroup", [OBJ_MUTEX] = "mutex",
    [OBJ_ATOMIC] = "atomic", [OBJ_TICKER] = "ticker", [OBJ_TASK] = "task"
  };
  long total = 0;
  lua_createtable(L, 0, OBJ_NTYPES);
  for (int t = 1; t < OBJ_NTYPES; t++) {
    long n = atomic_load_explicit(&obj_live[t], memory_order_relaxed);
    total += n;
    lua_pushinteger(L, n);
    lua_setfield(L, -2, names[t]);
  }
  lua_pushinteger(L, total);
  lua_insert(L, -2);
  return 2;
}
#endif

/* Returns the same table every time it runs in a state (busted reloads),
** with every function set again. */
LUAMOD_API __attribute__((visibility("default")))
int luaopen_gochan_core (lua_State *L) {
  luaL_checkversion(L);
  if (!ltask_istaskstate(L))  /* a main state: its parks watch for deadlock */
    sched_set_main_thread();
  opensentinel(L);
  pushcache(L);
  lua_pop(L, 1);
  transfer_open(L);
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &MODKEY) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_createtable(L, 0, 16);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &MODKEY);
  }                                           /* M */
  lchan_open(L);
  lselect_open(L);
  lsync_open(L);
  ltime_open(L);
  ltask_open(L);
#ifdef GOCHAN_TESTING
  lua_pushcfunction(L, lgochan_live);
  lua_setfield(L, -2, "_live");
#endif
  return 1;
}
