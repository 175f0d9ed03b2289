/*
** ltask.c: tasks. Each task owns a Lua state with fresh globals; its
** function runs in a coroutine of that state on the scheduler's workers
** (sched.h). Here: gochan.go, wg:go, task:join/status, gochan.config,
** gochan.tasks, gochan.print, and how a task parks by yielding.
*/
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include "alloc.h"
#include "lgochan.h"
#include "ltask.h"
#include "sync.h"
#include "transfer.h"


static int config_workers = 0;          /* 0: default; guarded by the GIL-free
                                           rule that config runs before start */

static struct task *checktask (lua_State *L, int arg) {
  return (struct task *)lgochan_checktype(L, arg, OBJ_TASK);
}

/* Task states, and only they, allocate with goalloc (a mark that costs
** them nothing: no registry entry). */
bool ltask_istaskstate (lua_State *L) {
  return lua_getallocf(L, NULL) == goalloc;
}

/* ---------------------------------------------------------------- */
/* parking a task                                                     */

struct ltask *ltask_current (lua_State *L) {
  struct task *t = sched_current();
  if (!t) return NULL;
  struct ltask *lt = t->ud;
  /* only the task's own coroutine parks by yielding: a yield inside a
  ** nested coroutine would return to the user's resume instead */
  return (L == lt->co && lua_isyieldable(L)) ? lt : NULL;
}

struct selcase *ltask_cases (lua_State *L, struct ltask *lt, int n) {
  if (n > lt->ncap) {
    int ncap = n <= 1 ? 1 : (n < 4 ? 4 : n);   /* most calls have one case */
    struct selcase *cs = realloc(lt->cs, (size_t)ncap * sizeof *cs);
    if (cs) lt->cs = cs;
    struct waiter *ws = cs ? realloc(lt->ws, (size_t)ncap * sizeof *ws) : NULL;
    if (ws) lt->ws = ws;
    if (!cs || !ws) lgochan_raise(L, GO_NOMEM);
    lt->ncap = ncap;
  }
  lt->n = n;
  return lt->cs;
}

void ltask_prepare (struct ltask *lt, const char *what) {
  task_prepare(lt->t);
  lt->t->op.what = what;          /* a static string: no formatting here */
}

int ltask_park (lua_State *L, struct ltask *lt, int pend, struct obj *o,
                int64_t deadline, lua_KContext ctx, lua_KFunction k) {
  lt->pend = pend;
  lt->pobj = o;
  lt->parking = true;
  task_arm(lt->t, deadline);
  return lua_yieldk(L, 0, ctx, k);
}

/* Dequeue the pending call's waiters; the op is no longer open. */
static gostatus finish_pending (struct ltask *lt, int *chosen) {
  struct task *t = lt->t;
  gostatus st = t->op.result;
  switch (lt->pend) {
    case PEND_SEL: st = sel_finish(lt->cs, lt->n, lt->ws, &t->op, chosen); break;
    case PEND_WG: st = wg_finish((struct waitgroup *)lt->pobj, lt->ws, &t->op); break;
    case PEND_MUTEX: st = mutex_finish((struct gmutex *)lt->pobj, lt->ws, &t->op); break;
    case PEND_JOIN: st = task_join_finish((struct task *)lt->pobj, lt->ws, &t->op); break;
    case PEND_SLEEP: st = t->op.result == GO_TIMEOUT ? GO_OK : t->op.result; break;
    default: break;
  }
  lt->pend = PEND_NONE;
  return st;
}

gostatus ltask_finish (struct ltask *lt, int *chosen) {
  task_disarm(lt->t);
  return finish_pending(lt, chosen);
}

/* ---------------------------------------------------------------- */
/* running a slice (the scheduler's hooks)                            */

/*
** Preemption. A count hook costs a call per VM instruction in Lua 5.4 (its
** trap makes the interpreter trace every instruction), so none is kept
** set: the monitor signals the worker whose slice ran too long, and the
** handler sets a one-shot count hook on the running coroutine, as lua.c's
** SIGINT handler does (lua_sethook may be called from a signal handler).
** The hook removes itself and yields if the task may yield there.
*/
static _Thread_local __attribute__((tls_model("initial-exec")))
lua_State *volatile running_co;   /* this worker's coroutine in a slice */

static void preempt_hook (lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  struct task *t = sched_current();
  if (t && sched_should_yield()) {
    struct ltask *lt = t->ud;
    if (L == lt->co && lua_isyieldable(L)) lua_yield(L, 0);
  }
}

static void preempt_request (void) {   /* in the signal handler */
  lua_State *co = running_co;
  if (co) lua_sethook(co, preempt_hook, LUA_MASKCOUNT, 1);
}

static void clear_vals (struct tvalue *vals, int n) {
  for (int i = 0; i < n; i++) tvalue_clear(&vals[i]);
}

/*
** The package paths a task starts with: its caller's package.path and
** package.cpath at the go call, read when the task first opens package.
** Nearly every go call passes the same two strings, so the last pair made
** is shared (refcounted, immutable) rather than copied into each task.
*/
struct paths {
  atomic_int refs;
  char *path, *cpath;                 /* NULL: the caller had none */
};
static golock pathmu;                 /* guards 'lastpaths' (one reference) */
static struct paths *lastpaths;

static void paths_release (struct paths *ps) {
  if (ps && atomic_fetch_sub_explicit(&ps->refs, 1, memory_order_acq_rel) == 1) {
    free(ps->path);
    free(ps->cpath);
    free(ps);
  }
}

static bool samestr (const char *a, const char *s, size_t len) {
  if (!a || !s) return a == s;
  return strncmp(a, s, len) == 0 && a[len] == '\0';
}

static char *dupstr (const char *s, size_t len) {
  char *d = s ? malloc(len + 1) : NULL;
  if (d) { memcpy(d, s, len); d[len] = '\0'; }
  return d;
}

/* The caller's paths, shared when they are the last ones (NULL: no
** memory; the task then gets package's defaults). */
static struct paths *paths_get (lua_State *L) {
  int top = lua_gettop(L);
  const char *p = NULL, *cp = NULL;
  size_t pl = 0, cpl = 0;
  if (lua_getglobal(L, "package") == LUA_TTABLE) {
    if (lua_getfield(L, -1, "path") == LUA_TSTRING) p = lua_tolstring(L, -1, &pl);
    if (lua_getfield(L, -2, "cpath") == LUA_TSTRING) cp = lua_tolstring(L, -1, &cpl);
  }
  golock_lock(&pathmu);
  struct paths *ps = lastpaths;
  if (ps && samestr(ps->path, p, pl) && samestr(ps->cpath, cp, cpl))
    atomic_fetch_add_explicit(&ps->refs, 1, memory_order_relaxed);
  else ps = NULL;
  golock_unlock(&pathmu);
  if (!ps && (ps = calloc(1, sizeof *ps)) != NULL) {
    atomic_init(&ps->refs, 1);
    ps->path = dupstr(p, pl);
    ps->cpath = dupstr(cp, cpl);
    if ((p && !ps->path) || (cp && !ps->cpath)) {
      paths_release(ps);
      ps = NULL;
    }
    else {
      atomic_store(&ps->refs, 2);     /* the caller's and lastpaths' */
      golock_lock(&pathmu);
      struct paths *old = lastpaths;
      lastpaths = ps;
      golock_unlock(&pathmu);
      paths_release(old);
    }
  }
  lua_settop(L, top);
  return ps;
}

static void free_ltask (struct ltask *lt) {
  if (lt->L) lua_close(lt->L);
  if (lt->vals) { clear_vals(lt->vals, lt->nvals); free(lt->vals); }
  paths_release(lt->paths);
  if (lt->wg) {
    wg_add(lt->wg, -1);              /* wg:go: done, also when it failed */
    obj_release((struct obj *)lt->wg);
  }
  free(lt->cs);
  free(lt->ws);
  free(lt);
}

/* Write one whole message to stderr at once (lines never mix). Not once
** shutdown has begun: the process is ending, its tasks are dropped
** unreported (as goroutines when main returns), and a task whose blocking
** call failed then (GO_SHUTDOWN) is one of them. */
static void report_failure (struct task *t, const char *msg) {
  if (sched_stopping()) return;
  char head[64];
  int n = snprintf(head, sizeof head, "gochan: task #%llu failed: ",
                   (unsigned long long)t->id);
  size_t len = strlen(msg);
  char *line = malloc((size_t)n + len + 2);
  if (!line) { fprintf(stderr, "%s%s\n", head, msg); return; }
  memcpy(line, head, (size_t)n);
  memcpy(line + n, msg, len);
  line[n + len] = '\n';
  fwrite(line, 1, (size_t)n + len + 1, stderr);
  fflush(stderr);
  free(line);
}

/* As a panic runs deferred calls before the goroutine dies: a task that
** failed closes its pending to-be-closed variables (gochan.defer), which
** lua_resume leaves open, with the error. The status is that of the
** closing: not LUA_OK when a __close raised (its error on top). */
static int close_pending (lua_State *co) {
#if LUA_VERSION_RELEASE_NUM >= 50406
  return lua_closethread(co, NULL);
#else
  return lua_resetthread(co);
#endif
}

/* A copy of the string on top (NULL: no memory). */
static char *dupstring (lua_State *L) {
  size_t len;
  const char *p = lua_tolstring(L, -1, &len);
  char *d = malloc(len + 1);
  if (d) memcpy(d, p, len + 1);
  return d;
}

/* Replace '*s' by '*s' followed by 'tail' (kept as it was: no memory). */
static void append (char **s, const char *tail) {
  size_t n = strlen(*s), m = strlen(tail);
  char *r = realloc(*s, n + m + 1);
  if (r) { memcpy(r + n, tail, m + 1); *s = r; }
}

/* (v) -> string: what a report names an error value by: a number as
** itself, else its __tostring, as lua.c's message handler does, or its
** type. Runs protected. */
static int describe_error (lua_State *L) {
  if (lua_type(L, 1) == LUA_TNUMBER) {
    luaL_tolstring(L, 1, NULL);
    return 1;
  }
  if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
    return 1;
  lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  return 1;
}

/*
** The results of a failed task, for join: its error value, then the stack
** traceback (taken before the stack unwinds). A string error is its
** message followed by the traceback; any other value is packed as itself,
** or, when it cannot cross, becomes a string that says so. The report on
** stderr names a value that is not a string as describe_error does. A
** failed task's to-be-closed variables are closed here; an error one of
** them raises is added to the traceback (and to a string error). Until
** the thread is closed its status is an error's: no Lua code may run on
** it (transfer_pack runs none).
*/
static void fail_results (struct ltask *lt, struct tvalue **res, int *nres) {
  lua_State *L = lt->co;                        /* the state's main thread */
  int eidx = lua_gettop(L);                     /* the error object */
  int et = lua_type(L, eidx);
  const void *ep = lua_topointer(L, eidx);
  luaL_traceback(L, L, NULL, 0);                /* before the stack unwinds */
  char *tb = dupstring(L);
  struct tvalue ev = TVALUE_NIL;
  bool packed = et != LUA_TSTRING && transfer_pack(L, eidx, &ev, "error");
  /* 'full': the string error (message and traceback), or while 'packed'
  ** the head of the report */
  if (packed)
    lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, eidx));
  else if (et == LUA_TSTRING)
    lua_pushfstring(L, "%s\n%s", lua_tostring(L, eidx), lua_tostring(L, -1));
  else                                          /* the refusal on top */
    lua_pushfstring(L, "(error object is a %s value that cannot cross: %s)\n%s",
                    luaL_typename(L, eidx), lua_tostring(L, -1),
                    lua_tostring(L, -2));
  char *full = dupstring(L);
  lua_settop(L, eidx);      /* closing takes the error object from the top */
  int st = lua_status(L);
  bool same = true;                             /* the error still on top */
  if (st != LUA_OK && st != LUA_YIELD) {
    if (close_pending(L) != LUA_OK && lua_gettop(L) > 0 &&
        (lua_type(L, -1) != et || lua_topointer(L, -1) != ep)) {
      const char *cmsg = lua_tostring(L, -1);   /* a __close raised */
      const char *note = lua_pushfstring(L,
          "\n(and a to-be-closed variable raised: %s)",
          cmsg ? cmsg : "an error object that is not a string");
      if (tb) append(&tb, note);
      if (full && !packed) append(&full, note);
      lua_pop(L, 1);
      same = false;
    }
  }
  if (packed && full && same && lua_gettop(L) > 0 && lua_checkstack(L, 3)) {
    lua_pushcfunction(L, describe_error);       /* closed: Lua code may */
    lua_pushvalue(L, -2);                       /* run on the thread again */
    if (lua_pcall(L, 1, 1, 0) == LUA_OK) {
      char *d = dupstring(L);
      if (d) { free(full); full = d; }
    }
    lua_pop(L, 1);
  }
  if (packed && full && tb) {
    append(&full, "\n");
    append(&full, tb);
  }
  report_failure(lt->t, full ? full : "not enough memory");
  *res = calloc(2, sizeof **res);
  *nres = 0;
  if (*res) {
    if (packed) { (*res)[0] = ev; ev = TVALUE_NIL; *nres = 1; }
    else if (full && tvalue_setstr(&(*res)[0], full, strlen(full)) == GO_OK)
      *nres = 1;
    else if (tvalue_setstr(&(*res)[0], "not enough memory", 17) == GO_OK)
      *nres = 1;
    if (*nres == 1 && tb && tvalue_setstr(&(*res)[1], tb, strlen(tb)) == GO_OK)
      *nres = 2;
  }
  tvalue_clear(&ev);
  free(full);
  free(tb);
}

static int setup_state (lua_State *L);
static int decode_args (lua_State *L);

/* A task state's panic and warning functions: what luaL_newstate gives
** (its own are private to lauxlib), as the interpreter prints them.
** Warnings are off until "@on"; the function in place is the mode. */
static int state_panic (lua_State *L) {
  const char *msg = lua_tostring(L, -1);
  fprintf(stderr, "PANIC: unprotected error in call to Lua API (%s)\n",
          msg ? msg : "error object is not a string");
  return 0;                                   /* then Lua aborts */
}

static void warn_on (void *ud, const char *msg, int tocont);

static void warn_off (void *ud, const char *msg, int tocont) {
  if (!tocont && strcmp(msg, "@on") == 0)
    lua_setwarnf((lua_State *)ud, warn_on, ud);
}

static void warn_cont (void *ud, const char *msg, int tocont) {
  fputs(msg, stderr);
  if (tocont) lua_setwarnf((lua_State *)ud, warn_cont, ud);
  else {
    fputs("\n", stderr);
    lua_setwarnf((lua_State *)ud, warn_on, ud);
  }
}

static void warn_on (void *ud, const char *msg, int tocont) {
  if (!tocont && *msg == '@') {               /* a control message */
    if (strcmp(msg, "@off") == 0) lua_setwarnf((lua_State *)ud, warn_off, ud);
    return;
  }
  fputs("Lua warning: ", stderr);
  warn_cont(ud, msg, tocont);
}

/* A task's state: memory from goalloc (src/core/alloc.h). */
static lua_State *new_task_state (void) {
  lua_State *L = lua_newstate(goalloc, NULL);
  if (L) {
    lua_atpanic(L, state_panic);
    lua_setwarnf(L, warn_off, L);
  }
  return L;
}

/* The first slice: make the task's state and decode its function and
** arguments there. False (message pushed on 'lt->L', or none) on failure. */
static bool task_start (struct ltask *lt) {
  lua_State *NL = new_task_state();
  if (!NL) return false;
  lt->L = NL;
  /* No collection while the state is set up: a fresh state starts its
  ** first cycle at once, and made nothing to collect yet. */
  lua_gc(NL, LUA_GCSTOP);
  lua_pushcfunction(NL, setup_state);
  if (lua_pcall(NL, 0, 0, 0) != LUA_OK) return false;
  lua_pushcfunction(NL, decode_args);
  lua_pushlightuserdata(NL, lt->vals);
  lua_pushinteger(NL, lt->nvals);
  if (lua_pcall(NL, 2, lt->nvals, 0) != LUA_OK) return false;  /* fn args... */
  /* The function runs on the state's main thread, resumed as a coroutine
  ** (lua_resume accepts any thread at its base level, and makes it
  ** yieldable): a thread of its own would cost a blocked task 1 KB more. */
  lt->co = NL;
  lua_gc(NL, LUA_GCRESTART);
  clear_vals(lt->vals, lt->nvals);          /* decoded: the state has them */
  free(lt->vals);
  lt->vals = NULL;
  return true;
}

static int task_run (struct task *t) {
  struct ltask *lt = t->ud;
  if (!lt->co && !task_start(lt)) {
    const char *msg = lt->L ? lua_tostring(lt->L, -1) : NULL;
    char buf[512];
    snprintf(buf, sizeof buf, "cannot start the task: %s",
             msg ? msg : "not enough memory");
    report_failure(t, buf);
    struct tvalue *res = calloc(1, sizeof *res);
    int n = res && tvalue_setstr(res, buf, strlen(buf)) == GO_OK;
    t->ud = NULL;
    free_ltask(lt);
    task_finish(t, true, res, n);
    return RUN_DONE;
  }
  lua_State *co = lt->co;
  int nres, st;
  lt->parking = false;
  running_co = co;
  if (!lt->started) {
    lt->started = true;
    st = lua_resume(co, NULL, lt->nargs, &nres);
  }
  else st = lua_resume(co, NULL, 0, &nres);
  running_co = NULL;
  if (lua_gethook(co)) lua_sethook(co, NULL, 0, 0);  /* a late request */
  if (st == LUA_YIELD) {
    lua_pop(co, nres);              /* a plain coroutine.yield() yields too */
    return lt->parking ? RUN_PARK : RUN_YIELD;
  }
  struct tvalue *res = NULL;
  int n = 0;
  bool failed = st != LUA_OK;
  if (!failed && nres > 0) {
    res = calloc((size_t)nres, sizeof *res);
    if (!res) { lua_pushliteral(co, "not enough memory"); failed = true; }
    for (int i = 0; !failed && i < nres; i++) {
      char root[32];
      snprintf(root, sizeof root, "result #%d", i + 1);
      if (!transfer_pack(co, lua_gettop(co) - nres + 1 + i, &res[i], root)) {
        while (i-- > 0) tvalue_clear(&res[i]);
        failed = true;              /* the refusal message is on top */
      }
      else n = i + 1;
    }
    if (failed) { free(res); res = NULL; n = 0; }
  }
  if (failed) fail_results(lt, &res, &n);
  t->ud = NULL;
  free_ltask(lt);                   /* closes the state: results are packed */
  task_finish(t, failed, res, n);
  return RUN_DONE;
}

/* Shutdown: the task never runs again. Its op is not open (cancelled with
** GO_SHUTDOWN, or fired by a peer): dequeue what is left, give back what
** it was handed, and free everything without running Lua code. */
static void task_drop (struct task *t) {
  struct ltask *lt = t->ud;
  if (!lt) return;
  int pend = lt->pend;
  if (pend != PEND_NONE) {
    int chosen = -1;
    gostatus st = ltask_finish(lt, &chosen);
    if (pend == PEND_SEL) {
      for (int i = 0; i < lt->n; i++)       /* sends that did not go */
        if (lt->cs[i].dir == SEL_SEND) tvalue_clear(&lt->cs[i].v);
      if (st == GO_OK && chosen >= 0 && lt->cs[chosen].dir == SEL_RECV)
        tvalue_clear(&lt->cs[chosen].v);    /* a value it received */
    }
    if (pend == PEND_MUTEX && st == GO_OK)
      mutex_unlock((struct gmutex *)lt->pobj);  /* it was handed the lock */
  }
  t->ud = NULL;
  free_ltask(lt);
  task_finish(t, true, NULL, 0);
}

static const struct sched_hooks hooks = { task_run, task_drop, preempt_request };

/* ---------------------------------------------------------------- */
/* making a task                                                      */

/* print for tasks and gochan.print: the whole line in one write. */
static int lgochan_print (lua_State *L) {
  int n = lua_gettop(L);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (int i = 1; i <= n; i++) {
    if (i > 1) luaL_addchar(&b, '\t');   /* before the next push: the */
    luaL_tolstring(L, i, NULL);          /* buffer must be on top here */
    luaL_addvalue(&b);
  }
  luaL_addchar(&b, '\n');
  luaL_pushresult(&b);
  size_t len;
  const char *line = lua_tolstring(L, -1, &len);
  fwrite(line, 1, len, stdout);     /* stdio locks the stream per call */
  fflush(stdout);
  return 0;
}

/*
** A task's state opens its libraries on first use, so that a blocked task
** costs little memory: the globals table's __index opens the base library,
** package (with the caller's paths), a standard library or gochan when one
** of their names is first read. 'string' is opened at once (strings need
** its metatable for method calls and arithmetic coercion); the metatable
** of a gochan type is made when the first object of that type arrives.
*/

/* require "_G" (a module reference to a base function crosses by that
** name) opens the base library like a first read of its names does */
static int open_base (lua_State *L) {
  lua_pushglobaltable(L);
  lua_getfield(L, -1, "_G");     /* through lazy_index */
  return 1;
}

/*
** A task's function runs on its state's main thread, which the scheduler
** resumes as a coroutine so that gochan's blocking calls can park it: to
** Lua that thread is yieldable. A user's coroutine.yield() there would
** return to the scheduler (taken for a preemption) instead of failing as
** it does in a plain Lua main thread. So the task's coroutine library
** refuses it there, with plain Lua's message, and isyieldable says so;
** the scheduler's own yields (ltask_park, the preemption hook) are C calls
** and never pass through these. Any other thread is an ordinary coroutine.
*/
static bool onmainthread (lua_State *L, lua_State *co) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
  bool main = lua_tothread(L, -1) == co;
  lua_pop(L, 1);
  return main;
}

static int task_yield (lua_State *L) {
  if (onmainthread(L, L)) {               /* as lua_yieldk's own check says */
    lua_pushliteral(L, "attempt to yield from outside a coroutine");
    return lua_error(L);
  }
  return lua_yield(L, lua_gettop(L));
}

static int task_isyieldable (lua_State *L) {
  lua_State *co = lua_isnone(L, 1) ? L : lua_tothread(L, 1);
  luaL_argexpected(L, co, 1, "coroutine");
  lua_pushboolean(L, lua_isyieldable(co) && !onmainthread(L, co));
  return 1;
}

static int open_coroutine (lua_State *L) {
  luaopen_coroutine(L);                   /* lib */
  lua_pushcfunction(L, task_yield);
  lua_setfield(L, -2, "yield");
  lua_pushcfunction(L, task_isyieldable);
  lua_setfield(L, -2, "isyieldable");
  return 1;
}

static const luaL_Reg lazylibs[] = {
  {LUA_STRLIBNAME, luaopen_string},
  {LUA_COLIBNAME, open_coroutine}, {LUA_TABLIBNAME, luaopen_table},
  {LUA_IOLIBNAME, luaopen_io}, {LUA_OSLIBNAME, luaopen_os},
  {LUA_MATHLIBNAME, luaopen_math}, {LUA_UTF8LIBNAME, luaopen_utf8},
  {LUA_DBLIBNAME, luaopen_debug}, {NULL, NULL}
};

static const char *const basenames[] = {
  "assert", "collectgarbage", "dofile", "error", "getmetatable", "ipairs",
  "loadfile", "load", "next", "pairs", "pcall", "print", "warn", "rawequal",
  "rawlen", "rawget", "rawset", "select", "setmetatable", "tonumber",
  "tostring", "type", "xpcall", "_G", "_VERSION", NULL
};

static int open_base (lua_State *L);

/* The paths of the task whose state 'L' is, if it is the one running. */
static const struct paths *task_paths (lua_State *L) {
  struct task *t = sched_current();
  struct ltask *lt = t ? t->ud : NULL;
  if (!lt || !lt->L) return NULL;
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
  bool mine = lua_tothread(L, -1) == lt->L;
  lua_pop(L, 1);
  return mine ? lt->paths : NULL;
}

static void open_package (lua_State *L) {
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  bool open = lua_getfield(L, -1, LUA_LOADLIBNAME) != LUA_TNIL;
  lua_pop(L, 2);
  if (open) return;
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  for (const luaL_Reg *lib = lazylibs; lib->name; lib++) {
    lua_pushcfunction(L, lib->func);     /* require(name) works before use */
    lua_setfield(L, -2, lib->name);
  }
  lua_pushcfunction(L, open_base);
  lua_setfield(L, -2, "_G");
  /* this very module, also where no gochan/core.so is on package.cpath
  ** (a host that links libgochan.a) */
  lua_pushcfunction(L, luaopen_gochan_core);
  lua_setfield(L, -2, "gochan.core");
  lua_pop(L, 1);
  luaL_requiref(L, LUA_LOADLIBNAME, luaopen_package, 1);   /* package */
  const struct paths *ps = task_paths(L);
  if (ps && ps->path) {
    lua_pushstring(L, ps->path);
    lua_setfield(L, -2, "path");
  }
  if (ps && ps->cpath) {
    lua_pushstring(L, ps->cpath);
    lua_setfield(L, -2, "cpath");
  }
  lua_pop(L, 1);
}


/* _G.__index(t, k) in a task's state */
static int lazy_index (lua_State *L) {
  const char *k = lua_tostring(L, 2);
  if (!k || lua_type(L, 2) != LUA_TSTRING) return 0;
  for (int i = 0; basenames[i]; i++)
    if (strcmp(k, basenames[i]) == 0) {
      if (lua_rawgetp(L, LUA_REGISTRYINDEX, (void *)basenames) == LUA_TNIL) {
        lua_pushboolean(L, 1);
        lua_rawsetp(L, LUA_REGISTRYINDEX, (void *)basenames);
        luaL_requiref(L, "_G", luaopen_base, 0);
        lua_pushcfunction(L, lgochan_print);      /* whole lines */
        lua_setfield(L, 1, "print");
        lua_pop(L, 1);
      }
      lua_pop(L, 1);
      lua_rawget(L, 1);
      return 1;
    }
  if (strcmp(k, "require") == 0 || strcmp(k, LUA_LOADLIBNAME) == 0) {
    open_package(L);
    lua_rawget(L, 1);
    return 1;
  }
  for (const luaL_Reg *lib = lazylibs; lib->name; lib++)
    if (strcmp(k, lib->name) == 0) {
      open_package(L);                  /* so require finds it as loaded */
      luaL_requiref(L, lib->name, lib->func, 1);
      return 1;
    }
  if (strcmp(k, "gochan") == 0) {
    open_package(L);
    lua_getfield(L, 1, "require");
    lua_pushliteral(L, "gochan");
    lua_call(L, 1, 1);
    lua_pushvalue(L, -1);
    lua_setfield(L, 1, "gochan");
    return 1;
  }
  return 0;
}

/*
** Strings need a metatable before the string library is open: method
** calls ("x"):upper() and arithmetic coercion ("10" + 1) go through it.
** The lazy one has the library's own arithmetic metamethods (C functions,
** the same in every state: read once from a scratch state) and an __index
** that opens the library, which installs its real metatable.
*/
#define NAME(s) { s, sizeof(s) - 1 }
static const struct { const char *s; size_t len; } arith[] = {
  NAME("__add"), NAME("__sub"), NAME("__mul"), NAME("__mod"), NAME("__pow"),
  NAME("__div"), NAME("__idiv"), NAME("__unm"), { NULL, 0 }
};
#undef NAME
static lua_CFunction arithf[8];
static pthread_once_t arith_once = PTHREAD_ONCE_INIT;

static void read_arith (void) {
  lua_State *L = luaL_newstate();
  if (!L) return;
  luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 0);
  lua_pushliteral(L, "");
  if (lua_getmetatable(L, -1))
    for (int i = 0; arith[i].s; i++) {
      lua_getfield(L, -1, arith[i].s);
      arithf[i] = lua_tocfunction(L, -1);
      lua_pop(L, 1);
    }
  lua_close(L);
}

static int lazy_string_index (lua_State *L) {     /* (s, k) */
  luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);  /* real metatable */
  lua_pushvalue(L, 2);
  lua_rawget(L, -2);                                    /* string[k] */
  return 1;
}

static void lazy_string_metatable (lua_State *L) {
  pthread_once(&arith_once, read_arith);
  if (!arithf[0]) {                 /* could not read them: open it now */
    luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
    lua_pop(L, 1);
    return;
  }
  lua_pushliteral(L, "");
  lua_createtable(L, 0, 9);
  for (int i = 0; arith[i].s; i++) {   /* a key with its length and rawset:
                                         cheaper than lua_setfield */
    lua_pushlstring(L, arith[i].s, arith[i].len);
    lua_pushcfunction(L, arithf[i]);
    lua_rawset(L, -3);
  }
  lua_pushliteral(L, "__index");
  lua_pushcfunction(L, lazy_string_index);
  lua_rawset(L, -3);
  lua_setmetatable(L, -2);
  lua_pop(L, 1);
}

/* In the new state: string's metatable and the lazy globals. Runs
** protected. */
static int setup_state (lua_State *L) {
  lazy_string_metatable(L);    /* transfer's per-state data is made on first
                                  use; gochan.core opens when gochan is
                                  required; each gochan type's metatable
                                  when its first object arrives */
  lua_pushglobaltable(L);
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, lazy_index);
  lua_setfield(L, -2, "__index");
  lua_setmetatable(L, -2);
  lua_pop(L, 1);
  return 0;
}

/* In the new state: decode the function and its arguments (consumed). */
static int decode_args (lua_State *L) {
  struct tvalue *vals = lua_touserdata(L, 1);
  int n = (int)lua_tointeger(L, 2);
  lua_settop(L, 0);
  luaL_checkstack(L, n, "too many arguments");
  for (int i = 0; i < n; i++) transfer_pushcopy(L, &vals[i]);
  return n;
}

/* Start fn(...) as a task; 'wg' (or NULL) is wg:go's waitgroup, already
** added to by the caller. Packs the function and arguments (refusals raise
** here, with nothing held) and queues the task: its state is made by its
** first slice, on a worker. Leaves the task box on top. */
static int spawn (lua_State *L, int first, struct waitgroup *wg) {
  int n = lua_gettop(L) - first + 1;
  if (lua_type(L, first) != LUA_TFUNCTION)
    return luaL_typeerror(L, first, "function");
  gostatus st = sched_start(config_workers, &hooks);
  if (st != GO_OK) return lgochan_raise(L, st);
  struct ltask *lt = calloc(1, sizeof *lt);
  struct tvalue *vals = calloc((size_t)n, sizeof *vals);
  struct task *t = lt && vals ? task_new(lt) : NULL;
  if (!t) { free(lt); free(vals); return lgochan_raise(L, GO_NOMEM); }
  lt->t = t;
  lt->vals = vals;              /* all nil: free_ltask may clear them */
  lt->nvals = n;
  lgochan_pushobj(L, &t->hdr);  /* the box owns 't' from here on */
  obj_release(&t->hdr);
  for (int i = 0; i < n; i++) {
    char root[32];
    if (i == 0) snprintf(root, sizeof root, "function");
    else snprintf(root, sizeof root, "argument #%d", i + 1);
    if (!transfer_pack(L, first + i, &vals[i], root)) {
      t->ud = NULL;
      free_ltask(lt);           /* clears what was packed */
      task_finish(t, true, NULL, 0);
      return lgochan_packerror(L);
    }
  }
  lt->nargs = n - 1;
  lt->paths = paths_get(L);
  if (wg) { obj_retain((struct obj *)wg); lt->wg = wg; }
  st = sched_spawn(t);
  if (st != GO_OK) {
    t->ud = NULL;
    free_ltask(lt);
    task_finish(t, true, NULL, 0);
    return lgochan_raise(L, st);
  }
  return 1;                     /* box */
}

/* gochan.go(fn, ...) -> task */
static int lgochan_go (lua_State *L) {
  return spawn(L, 1, NULL);
}

/* spawn for wg:go, run protected: (wg as light userdata, fn, ...) */
static int go_with_wg (lua_State *L) {
  return spawn(L, 2, lua_touserdata(L, 1));
}

/* wg:go(fn, ...) -> task: add(1), start, done() when it ends (also when
** it fails); if the task cannot start, the add is undone. */
static int lwg_go (lua_State *L) {
  struct waitgroup *wg =
      (struct waitgroup *)lgochan_checktype(L, 1, OBJ_WAITGROUP);
  if (lua_type(L, 2) != LUA_TFUNCTION) return luaL_typeerror(L, 2, "function");
  if (wg_add(wg, 1) != GO_OK) return lgochan_raise(L, GO_NEGATIVE);
  lua_pushcfunction(L, go_with_wg);
  lua_pushlightuserdata(L, wg);
  lua_rotate(L, 2, 2);                       /* wg go_with_wg wgp fn ... */
  if (lua_pcall(L, lua_gettop(L) - 2, 1, 0) != LUA_OK) {
    wg_add(wg, -1);
    return lua_error(L);
  }
  return 1;
}

/* ---------------------------------------------------------------- */
/* task handles                                                       */

static int joinresult (lua_State *L, struct task *t, gostatus st) {
  if (st == GO_AGAIN || st == GO_TIMEOUT) {
    lua_pushnil(L);
    lua_pushliteral(L, "timeout");
    return 2;
  }
  if (st != GO_OK) return lgochan_raise(L, st);
  int failed = task_status(t) == TASK_FAILED;
  lua_pushboolean(L, !failed);
  luaL_checkstack(L, t->nres + 1, "too many results");
  for (int i = 0; i < t->nres; i++)
    transfer_pushcopy(L, &t->res[i]);       /* each join its own copy */
  if (failed && t->nres == 0) lua_pushliteral(L, "task stopped");
  return 1 + (t->nres > 0 ? t->nres : failed);
}

static int join_k (lua_State *L, int status, lua_KContext ctx) {
  (void)status; (void)ctx;
  struct ltask *lt = sched_current()->ud;
  struct task *t = (struct task *)lt->pobj;
  int chosen;
  gostatus st = ltask_finish(lt, &chosen);
  return joinresult(L, t, st);
}

/* task:join([timeout]) -> true, ... | false, err, traceback | nil, "timeout" */
static int ltask_join (lua_State *L) {
  struct task *t = checktask(L, 1);
  int64_t deadline = lgochan_optdeadline(L, 2);
  if (task_status(t) != TASK_RUNNING) return joinresult(L, t, GO_OK);
  if (!ltask_mayblock(deadline)) return joinresult(L, t, GO_TIMEOUT);
  struct ltask *lt = ltask_current(L);
  if (lt) {
    if (lt->t == t) return luaL_error(L, "a task cannot join itself");
    ltask_cases(L, lt, 1);
    ltask_prepare(lt, "join on gochan.task");
    if (task_join_begin(t, lt->ws, &lt->t->op) == GO_OK)
      return joinresult(L, t, GO_OK);
    return ltask_park(L, lt, PEND_JOIN, &t->hdr, deadline, 0, join_k);
  }
  struct op op;
  struct waiter w;
  op_init(&op);
  op.what = "join on gochan.task";
  gostatus st = task_join_begin(t, &w, &op);
  if (st == GO_AGAIN) {
    op_park(&op, deadline);
    st = task_join_finish(t, &w, &op);
  }
  return joinresult(L, t, st);
}

static const char *statusname (struct task *t) {
  switch (task_status(t)) {
    case TASK_DONE: return "done";
    case TASK_FAILED: return "failed";
    default: return "running";
  }
}

static int ltask_status (lua_State *L) {
  lua_pushstring(L, statusname(checktask(L, 1)));
  return 1;
}

static int ltask__tostring (lua_State *L) {
  struct task *t = checktask(L, 1);
  lua_pushfstring(L, "gochan.task #%I (%s)", (lua_Integer)t->id, statusname(t));
  return 1;
}

static int ltask__eq (lua_State *L) {
  struct obj *a = lgochan_toobj(L, 1), *b = lgochan_toobj(L, 2);
  lua_pushboolean(L, a != NULL && a == b);
  return 1;
}

/* ---------------------------------------------------------------- */
/* runtime                                                            */

/* gochan.config([t]) -> settings */
static int lgochan_config (lua_State *L) {
  if (!lua_isnoneornil(L, 1)) {
    luaL_checktype(L, 1, LUA_TTABLE);
    if (lua_getfield(L, 1, "workers") != LUA_TNIL) {
      int isint;
      lua_Integer n = lua_tointegerx(L, -1, &isint);
      if (!isint || n < 1 || n > 64)
        return luaL_argerror(L, 1, "'workers' must be an integer from 1 to 64");
      if (sched_started() && n != sched_workers())
        return luaL_error(L, "gochan.config: 'workers' cannot change once a task has started");
      config_workers = (int)n;
    }
    lua_pop(L, 1);
  }
  lua_createtable(L, 0, 1);
  lua_pushinteger(L, sched_started() ? sched_workers()
                     : (config_workers > 0 ? config_workers : sched_workers()));
  lua_setfield(L, -2, "workers");
  return 1;
}

static void addtask (void *ud, uint64_t id, const char *state, const char *what) {
  lua_State *L = ud;
  lua_createtable(L, 0, 3);
  lua_pushinteger(L, (lua_Integer)id);
  lua_setfield(L, -2, "id");
  lua_pushstring(L, state);
  lua_setfield(L, -2, "status");
  if (what) { lua_pushstring(L, what); lua_setfield(L, -2, "waiting"); }
  lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
}

/* gochan.tasks() -> { {id=, status=, waiting=}, ... } */
static int lgochan_tasks (lua_State *L) {
  lua_createtable(L, (int)sched_live(), 0);
  luaL_checkstack(L, 4, NULL);
  sched_foreach(addtask, L);    /* runs under the live lock: no raising */
  return 1;
}

static const luaL_Reg task_methods[] = {
  {"join", ltask_join}, {"status", ltask_status}, {NULL, NULL}
};

static const luaL_Reg task_meta[] = {
  {"__tostring", ltask__tostring}, {"__eq", ltask__eq}, {NULL, NULL}
};

static const luaL_Reg funcs[] = {
  {"go", lgochan_go}, {"config", lgochan_config}, {"tasks", lgochan_tasks},
  {"print", lgochan_print}, {NULL, NULL}
};

void ltask_opentype (lua_State *L) {
  lgochan_newmetatable(L, GOCHAN_TASK_MT);    /* mt */
  luaL_setfuncs(L, task_meta, 0);
  luaL_newlib(L, task_methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}

/* wg:go lives with the waitgroup's methods (if that type is open here) */
void ltask_addwggo (lua_State *L) {
  if (luaL_getmetatable(L, GOCHAN_WAITGROUP_MT) == LUA_TTABLE) {  /* wgmt */
    if (lua_getfield(L, -1, "__index") == LUA_TTABLE) {       /* wgmt idx */
      lua_pushcfunction(L, lwg_go);
      lua_setfield(L, -2, "go");
    }
    lua_pop(L, 1);                                            /* wgmt */
  }
  lua_pop(L, 1);
}

void ltask_open (lua_State *L) {              /* M */
  ltask_opentype(L);
  luaL_setfuncs(L, funcs, 0);
  ltask_addwggo(L);
}
