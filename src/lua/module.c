/*
** module.c: luaopen_gochan_core, the top of the binding: the table of
** Lua-visible types it gives the helpers (lbox.h), the deadlock message,
** and the runtime's shutdown sentinel.
*/
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lua.h>
#include <lauxlib.h>
#include "lapi.h"
#include "ltypes.h"
#include "scheduler.h"
#include "taskstate.h"
#include "timer.h"
#include "transfer.h"

/* Registry keys (their addresses). Stable while core.so is loaded, which
** is at least as long as any state that required it. */
static const char MODKEY = 'm';       /* the module table, kept on reload */
static const char SENTINELKEY = 's';  /* userdata whose __gc counts us out */

/* Each Lua-visible object type: its metatable's name and builder, and
** its boxes' user values (what keeps one: lsync.c's mutex closer,
** lxsync.c's rwmutex closers, ltime.c's ticker and timer channel). A
** task's state builds a metatable when its first object of that type
** arrives. */
static const struct ltype types[OBJ_NTYPES] = {
  [OBJ_CHAN] = { GOCHAN_CHAN_MT, lchan_meta },
  [OBJ_CONTEXT] = { GOCHAN_CONTEXT_MT, lcontext_meta },
  [OBJ_WAITGROUP] = { GOCHAN_WAITGROUP_MT, lwg_meta },
  [OBJ_MUTEX] = { GOCHAN_MUTEX_MT, lmutex_meta, 1 },
  [OBJ_ATOMIC] = { GOCHAN_ATOMIC_MT, latomic_meta },
  [OBJ_TICKER] = { GOCHAN_TICKER_MT, lticker_meta, 1 },
  [OBJ_ONCE] = { GOCHAN_ONCE_MT, lonce_meta },
  [OBJ_RWMUTEX] = { GOCHAN_RWMUTEX_MT, lrwmutex_meta, 1 },
  [OBJ_COND] = { GOCHAN_COND_MT, lcond_meta },
  [OBJ_SEM] = { GOCHAN_SEM_MT, lsem_meta },
  [OBJ_TASK] = { GOCHAN_TASK_MT, ltask_meta },
  [OBJ_TIMER] = { GOCHAN_TIMER_MT, ltimer_meta, 1 },
  [OBJ_NOTIFIER] = { GOCHAN_NOTIFIER_MT, lnotify_meta },
  [OBJ_FROZEN] = { GOCHAN_FROZEN_MT, lfreeze_meta }
};

/* The module functions of each type file. */
static const luaL_Reg *const funcs[] = {
  lchan_funcs, lnamed_funcs, lcontext_funcs, lcancel_funcs, lsync_funcs, lxsync_funcs, ltime_funcs,
  ltask_funcs, lnotify_funcs, linspect_funcs, ltrace_funcs, lfreeze_funcs
};


/* ---- the deadlock message ---- */

/* The deadlock message lists the live tasks (a snapshot: sched.h) in a
** fixed C buffer, truncated if long, so nothing raises until every task
** of the snapshot is released. */
struct tasklist { char buf[2048]; size_t len; };

static void addtask (struct tasklist *tl, struct task *t) {
  size_t room = sizeof tl->buf - tl->len;
  if (room <= 1) return;
  const char *what;
  const char *state = task_state(t, &what);
  const char *name = t->name;
  int k = snprintf(tl->buf + tl->len, room,
                   "\n\tgochan.task #%llu%s%s%s (%s%s%s)",
                   (unsigned long long)t->id, name ? " \"" : "",
                   name ? name : "", name ? "\"" : "", state,
                   what ? ": " : "", what ? what : "");
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
  size_t n;
  struct task **ts = sched_snapshot(&n);
  for (size_t i = 0; i < n; i++) {
    addtask(&tl, ts[i]);
    obj_release(&ts[i]->hdr);
  }
  free(ts);
  return luaL_error(L, "all tasks are asleep - deadlock!%s", tl.buf);
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
  if (taskstate_is(L)) return;           /* a task's state */
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
    [OBJ_CHAN] = "chan", [OBJ_CONTEXT] = "context",
    [OBJ_WAITGROUP] = "waitgroup", [OBJ_MUTEX] = "mutex",
    [OBJ_ONCE] = "once", [OBJ_RWMUTEX] = "rwmutex", [OBJ_COND] = "cond",
    [OBJ_SEM] = "semaphore",
    [OBJ_ATOMIC] = "atomic", [OBJ_TICKER] = "ticker", [OBJ_TASK] = "task",
    [OBJ_TIMER] = "timer", [OBJ_NOTIFIER] = "notifier",
    [OBJ_FROZEN] = "frozen"
  };
  long total = 0;
  lua_createtable(L, 0, OBJ_NTYPES);
  for (int t = 1; t < OBJ_NTYPES; t++) {
    long n = atomic_load_explicit(&obj_live[t], memory_order_relaxed);
    total += n;
    if (!names[t]) continue;              /* a type without a name here */
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
  if (!taskstate_is(L))  /* a main state: its parks watch for deadlock */
    sched_set_main_thread();
  lbox_init(types, deadlock);    /* before any box is made */
  opensentinel(L);
  ltrace_fromenv();              /* GOCHAN_TRACE: once per process */
  lbox_open(L);
  transfer_open(L);
  lapi_lend(L);                  /* for gochan.nats (lapi.h) */
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &MODKEY) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_createtable(L, 0, 16);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &MODKEY);
  }                                           /* M */
  for (int t = 1; t < OBJ_NTYPES; t++)
    if (types[t].meta) types[t].meta(L);
  for (size_t i = 0; i < sizeof funcs / sizeof funcs[0]; i++)
    luaL_setfuncs(L, funcs[i], 0);
  lselect_open(L);               /* select, selector: closures */
#ifdef GOCHAN_TESTING
  lua_pushcfunction(L, lgochan_live);
  lua_setfield(L, -2, "_live");
#endif
  return 1;
}
