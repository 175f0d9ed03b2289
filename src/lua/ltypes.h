/*
** ltypes.h: the types of the binding, above the helpers (lbox.h): each
** type's metatable name, its metatable builder and its module functions,
** which module.c puts together into gochan.core. Each builder is safe to
** run twice in one state and leaves the stack as it was.
*/
#ifndef LTYPES_H
#define LTYPES_H

#include <lua.h>
#include <lauxlib.h>
#include "lbox.h"

struct waitgroup;

#define GOCHAN_CHAN_MT      "gochan.chan"
#define GOCHAN_CONTEXT_MT   "gochan.context"
#define GOCHAN_WAITGROUP_MT "gochan.waitgroup"
#define GOCHAN_MUTEX_MT     "gochan.mutex"
#define GOCHAN_ATOMIC_MT    "gochan.atomic"
#define GOCHAN_TICKER_MT    "gochan.ticker"
#define GOCHAN_TIMER_MT     "gochan.timer"
#define GOCHAN_TASK_MT      "gochan.task"
#define GOCHAN_ONCE_MT      "gochan.once"
#define GOCHAN_RWMUTEX_MT   "gochan.rwmutex"
#define GOCHAN_COND_MT      "gochan.cond"
#define GOCHAN_SEM_MT       "gochan.semaphore"
#define GOCHAN_NOTIFIER_MT  "gochan.notifier"
#define GOCHAN_FROZEN_MT    "gochan.frozen"
#define GOCHAN_SELECTOR_MT  "gochan.selector"   /* a state's own: no box */

/* lchan.c */
void lchan_meta (lua_State *L);
extern const luaL_Reg lchan_funcs[];          /* chan */
/* lnamed.c */
extern const luaL_Reg lnamed_funcs[];         /* named */
/* lcontext.c */
void lcontext_meta (lua_State *L);
extern const luaL_Reg lcontext_funcs[];  /* background with_cancel
                                            with_timeout with_deadline
                                            with_value */
/* lselect.c: with the module table on top, set select and selector and
** make the gochan.selector metatable (a selector is not a core object: it
** belongs to the state that made it) */
void lselect_open (lua_State *L);
/* lsync.c */
void lwg_meta (lua_State *L);
void lmutex_meta (lua_State *L);
void latomic_meta (lua_State *L);
extern const luaL_Reg lsync_funcs[];          /* waitgroup mutex atomic */
/* lxsync.c */
void lonce_meta (lua_State *L);
void lrwmutex_meta (lua_State *L);
void lcond_meta (lua_State *L);
void lsem_meta (lua_State *L);
extern const luaL_Reg lxsync_funcs[];  /* once rwmutex cond semaphore */
/* ltime.c */
void lticker_meta (lua_State *L);
void ltimer_meta (lua_State *L);
extern const luaL_Reg ltime_funcs[];  /* sleep after ticker now timer after_func */
/* lfreeze.c */
void lfreeze_meta (lua_State *L);
extern const luaL_Reg lfreeze_funcs[];        /* freeze thaw */
/* lnotify.c */
void lnotify_meta (lua_State *L);
extern const luaL_Reg lnotify_funcs[];        /* notifier */
/* ltask.c */
void ltask_meta (lua_State *L);
extern const luaL_Reg ltask_funcs[];          /* go spawn config print */
/* gochan.spawn's options: the task's name (or NULL) and memory limit in
** bytes (0: none). */
struct spawnopts { const char *name; size_t memlimit; };
/* Start fn(...) (the function at 'first', its arguments above it) as a
** task, with wg:go's waitgroup 'wg' (or NULL): add(1) now, done() when
** the task ends; 'o' may be NULL. Leaves the task box on top; 1. */
int ltask_spawn (lua_State *L, int first, struct waitgroup *wg,
                 const struct spawnopts *o);
/* Start the runtime (its workers and monitor) if it is not running. */
gostatus ltask_start (void);
/* linspect.c: gochan.tasks and gochan.dump; the scheduler's busy and dump
** hooks; gochan.config's settings sigquit and busy_warn (check all
** before applying any) */
extern const luaL_Reg linspect_funcs[];       /* tasks dump */
struct task;
void linspect_busy (struct task *t, double secs);
void linspect_dump (void);
void linspect_checkconfig (lua_State *L);
void linspect_applyconfig (lua_State *L);
void linspect_pushconfig (lua_State *L);
/* ltrace.c: gochan.trace_start/trace_stop; GOCHAN_TRACE, read once per
** process by ltrace_fromenv (at the first luaopen) */
extern const luaL_Reg ltrace_funcs[];         /* trace_start trace_stop */
void ltrace_fromenv (void);
/* lcancel.c: task:cancel, gochan.context, and how a task that ended by
** its cancel is told from one that failed (for ltask.c's slice) */
extern const luaL_Reg lcancel_funcs[];        /* context */
int ltask_cancel (lua_State *L);              /* task:cancel([cause]) */
struct ltask;
struct tvalue;
/* The registry field where Lua code that caught a task's failure and
** raises it again leaves { err, traceback } of where it first happened. */
#define LTASK_RETHROWN "gochan.rethrown"
/* Push the traceback of the failure the task's thread 'L' ended with
** (error object at 'eidx'): LTASK_RETHROWN's when it holds that error,
** else the thread's stack as it is now. */
void ltask_pushtraceback (lua_State *L, int eidx);
/* The task's thread holds the error it ended with: is it its cancel? */
bool ltask_endedbycancel (struct ltask *lt);
/* Such a task's results for join (its message and traceback); closes its
** pending to-be-closed variables; reports nothing. */
void ltask_cancelresults (struct ltask *lt, struct tvalue **res, int *nres);
/* gochan.after_func's task maker: packs the function at 'first' and its
** arguments up to 'last' (raising, with nothing held, on a refusal),
** started as a new task by each ltask_spawner_run (any thread, no Lua
** state: the timer thread) until ltask_spawner_free. */
struct lspawner;
struct lspawner *ltask_spawner (lua_State *L, int first, int last);
void ltask_spawner_run (void *sp);
void ltask_spawner_free (void *sp);

/* The module's entry point, the only exported symbol of core.so. */
LUAMOD_API __attribute__((visibility("default")))
int luaopen_gochan_core (lua_State *L);

#endif
