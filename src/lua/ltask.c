/*
** ltask.c: the task type. Each task owns a Lua state with fresh globals
** (taskstate.c); its function runs in a coroutine of that state on the
** scheduler's workers (scheduler.h), parking by yielding (lpark.h). Here:
** the scheduler's hooks (a slice, a drop, preemption), gochan.go and
** wg:go's spawn, task:join/status, gochan.config and gochan.tasks.
** It is one concept, the task, a little over 600 lines: the hooks and the Lua
** functions share the task's private parts (spawn, abandon, the results).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lua.h>
#include <lauxlib.h>
#include "alloc.h"
#include "ltypes.h"
#include "lpark.h"
#include "context.h"
#include "sync.h"
#include "xsync.h"
#include "taskstate.h"
#include "transfer.h"

/* gochan.config's worker count for sched_start (0: the default). Atomic:
** gochan.config runs in any state, tasks' included, on any thread, and
** every go call reads it. */
static atomic_int config_workers;

static struct task *checktask (lua_State *L, int arg) {
  return (struct task *)lbox_check(L, arg, OBJ_TASK);
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

#define PREEMPT_RETRY 1000   /* VM instructions between tries to yield */

static void preempt_hook (lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  struct task *t = sched_current();
  if (t && task_canceled(t)) lg_raise(L, GO_CANCELED);  /* preemption point */
  if (t && sched_should_yield()) {
    struct ltask *lt = t->ud;
    if (L == lt->co && lua_isyieldable(L)) lua_yield(L, 0);
    /* not here (a comparator of table.sort, a metamethod called from C):
    ** the monitor signals once per slice, so ask again a little later
    ** rather than let the slice (and a cancel) go unanswered */
    lua_sethook(L, preempt_hook, LUA_MASKCOUNT, PREEMPT_RETRY);
  }
}

static void preempt_request (void) {   /* in the signal handler */
  lua_State *co = running_co;
  if (co) lua_sethook(co, preempt_hook, LUA_MASKCOUNT, 1);
}

static void clear_vals (struct tvalue *vals, int n) {
  for (int i = 0; i < n; i++) tvalue_clear(&vals[i]);
}

static void free_ltask (struct ltask *lt) {
  if (lt->L) lua_close(lt->L);
  if (lt->vals) { clear_vals(lt->vals, lt->nvals); free(lt->vals); }
  taskstate_unref(lt->paths);
  if (lt->wg) {
    wg_add(lt->wg, -1);              /* wg:go: done, also when it failed */
    obj_release((struct obj *)lt->wg);
  }
  lpark_freecases(lt);
  gofree(lt, sizeof *lt);
}

/* End 't' without running it again: free its ltask 'lt' (closing its
** state; wg:go's done()) and finish it as failed with 'res' (moved in). */
static void abandon (struct task *t, struct ltask *lt, struct tvalue *res,
                     int nres) {
  t->ud = NULL;
  free_ltask(lt);
  task_finish(t, true, res, nres);
}

/* Write one whole message to stderr at once (lines never mix). Not once
** shutdown has begun: the process is ending, its tasks are dropped
** unreported (as goroutines when main returns), and a task whose blocking
** call failed then (GO_SHUTDOWN) is one of them. */
static void report_failure (struct task *t, const char *msg) {
  if (sched_stopping()) return;
  char head[160];
  int n = snprintf(head, sizeof head, "gochan: task #%llu%s%.100s%s failed: ",
                   (unsigned long long)t->id, t->name ? " \"" : "",
                   t->name ? t->name : "", t->name ? "\"" : "");
  if (n < 0) n = 0;
  if ((size_t)n >= sizeof head) n = sizeof head - 1;
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

/* Push the traceback of the failure 'L' (a task's thread) ended with, the
** error object at 'eidx': taken now, before the stack unwinds, unless Lua
** code caught that failure and raised it again (gochan.group's run does),
** leaving the traceback of where it first happened in the registry as
** { err, tb } (LTASK_RETHROWN) just before; then that one, so the report
** and join show where it happened, not where it was raised again. */
void ltask_pushtraceback (lua_State *L, int eidx) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, LTASK_RETHROWN) == LUA_TTABLE) {
    lua_rawgeti(L, -1, 1);                      /* rec err */
    bool same = lua_rawequal(L, -1, eidx);
    lua_rawgeti(L, -2, 2);                      /* rec err tb */
    lua_pushnil(L);
    lua_setfield(L, LUA_REGISTRYINDEX, LTASK_RETHROWN);   /* used once */
    if (same && lua_type(L, -1) == LUA_TSTRING) {
      lua_replace(L, -3);                       /* tb err */
      lua_pop(L, 1);
      return;
    }
    lua_pop(L, 2);
  }
  lua_pop(L, 1);
  luaL_traceback(L, L, NULL, 0);
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
  ltask_pushtraceback(L, eidx);                 /* before the stack unwinds */
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

static int task_run (struct task *t) {
  struct ltask *lt = t->ud;
  if (!lt->co && !taskstate_start(lt)) {
    const char *msg = lt->L ? lua_tostring(lt->L, -1) : NULL;
    char buf[512];
    snprintf(buf, sizeof buf, "cannot start the task: %s",
             msg ? msg : "not enough memory");
    report_failure(t, buf);
    struct tvalue *res = calloc(1, sizeof *res);
    int n = res && tvalue_setstr(res, buf, strlen(buf)) == GO_OK;
    abandon(t, lt, res, n);
    return RUN_DONE;
  }
  if (lt->vals) {                   /* decoded: the state has them */
    clear_vals(lt->vals, lt->nvals);
    free(lt->vals);
    lt->vals = NULL;
  }
  lua_State *co = lt->co;
  int nres, st;
  lt->parking = false;
  running_co = co;
  /* a request made before 'co' was known (the signal found no coroutine:
  ** building the state and decoding the arguments are part of the slice)
  ** is still on: set the hook now, or the slice would never be preempted */
  if (sched_should_yield()) lua_sethook(co, preempt_hook, LUA_MASKCOUNT, 1);
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
  /* the function has ended: what follows (its results, a failure's
  ** traceback and report) runs unprotected and must not meet the limit */
  lt->t->limitoff = true;
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
  int status = failed ? TASK_FAILED : TASK_DONE;
  if (failed && st != LUA_OK && ltask_endedbycancel(lt)) {
    status = TASK_CANCELED;         /* not a failure: not reported */
    ltask_cancelresults(lt, &res, &n);
  }
  else if (failed) fail_results(lt, &res, &n);
  t->ud = NULL;
  free_ltask(lt);                   /* closes the state: results are packed */
  task_finish_status(t, status, res, n);
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
    gostatus st = lpark_finish(lt, &chosen);
    if (pend == PEND_SEL) {
      for (int i = 0; i < lt->ncases; i++)  /* sends that did not go */
        if (lt->cs[i].dir == SEL_SEND) tvalue_clear(&lt->cs[i].v);
      if (st == GO_OK && chosen >= 0 && lt->cs[chosen].dir == SEL_RECV)
        tvalue_clear(&lt->cs[chosen].v);    /* a value it received */
    }
    if (pend == PEND_MUTEX && st == GO_OK)
      mutex_unlock((struct gmutex *)lt->pendobj);  /* handed the lock */
    if (pend == PEND_WLOCK && st == GO_OK)
      rw_unlock((struct grwmutex *)lt->pendobj);
    if (pend == PEND_RLOCK && st == GO_OK)
      rw_runlock((struct grwmutex *)lt->pendobj);
    if (pend == PEND_SEM && st == GO_OK)       /* granted its units */
      sem_release((struct gsem *)lt->pendobj, lt->ws[0].n);
  }
  abandon(t, lt, NULL, 0);
}

static const struct sched_hooks hooks = {
  .run = task_run, .drop = task_drop, .preempt = preempt_request,
  .busy = linspect_busy, .dump = linspect_dump
};

gostatus ltask_start (void) {
  return sched_start(atomic_load(&config_workers), &hooks);
}


/* ---------------------------------------------------------------- */
/* making a task                                                      */

/* Pack the function and its arguments at first.. into lt->vals (all nil
** at first); on a refusal clear what was packed and return false, the
** message on top. */
static bool packargs (lua_State *L, int first, struct ltask *lt) {
  for (int i = 0; i < lt->nvals; i++) {
    char root[32];
    if (i == 0) snprintf(root, sizeof root, "function");
    else snprintf(root, sizeof root, "argument #%d", i + 1);
    if (!transfer_pack(L, first + i, &lt->vals[i], root)) return false;
  }
  return true;
}

/* Packs the function and arguments (refusals raise here, with nothing
** held) and queues the task: its state is made by its first slice, on a
** worker. */
int ltask_spawn (lua_State *L, int first, struct waitgroup *wg,
                 const struct spawnopts *o) {
  int n = lua_gettop(L) - first + 1;
  if (lua_type(L, first) != LUA_TFUNCTION)
    return luaL_typeerror(L, first, "function");
  gostatus st = ltask_start();
  if (st != GO_OK) return lg_raise(L, st);
  struct ltask *lt = gocalloc(sizeof *lt);
  struct tvalue *vals = calloc((size_t)n, sizeof *vals);
  struct task *t = lt && vals ? task_new(lt) : NULL;
  if (!t) { gofree(lt, sizeof *lt); free(vals); return lg_raise(L, GO_NOMEM); }
  lt->t = t;
  lt->vals = vals;              /* all nil: free_ltask may clear them */
  lt->nvals = n;
  lbox_push(L, &t->hdr);        /* the box owns 't' from here on */
  obj_release(&t->hdr);
  if (o && o->name && !(t->name = strdup(o->name))) {
    abandon(t, lt, NULL, 0);
    return lg_raise(L, GO_NOMEM);
  }
  if (o) t->memlimit = o->memlimit;
  if (!packargs(L, first, lt)) {
    abandon(t, lt, NULL, 0);    /* clears what was packed */
    return lg_packerror(L);
  }
  lt->nargs = n - 1;
  lt->paths = taskstate_paths(L);
  if (wg) {                     /* done() by free_ltask once lt->wg is set */
    if (wg_add(wg, 1) != GO_OK) {
      abandon(t, lt, NULL, 0);
      return lg_raise(L, GO_NEGATIVE);
    }
    obj_retain((struct obj *)wg);
    lt->wg = wg;
  }
  st = sched_spawn(t);
  if (st != GO_OK) {
    abandon(t, lt, NULL, 0);
    return lg_raise(L, st);
  }
  return 1;                     /* box */
}

/* gochan.after_func's function and arguments, packed once and started
** as a new task each time its timer fires. */
struct lspawner {
  struct tvalue *vals;          /* the function, then its arguments */
  int n;
  struct paths *paths;          /* the caller's package paths (or NULL) */
};

void ltask_spawner_free (void *p) {
  struct lspawner *sp = p;
  clear_vals(sp->vals, sp->n);
  free(sp->vals);
  taskstate_unref(sp->paths);
  free(sp);
}

struct lspawner *ltask_spawner (lua_State *L, int first, int last) {
  int n = last - first + 1;
  if (lua_type(L, first) != LUA_TFUNCTION)
    luaL_typeerror(L, first, "function");
  gostatus st = ltask_start();
  if (st != GO_OK) lg_raise(L, st);
  struct lspawner *sp = calloc(1, sizeof *sp);
  struct tvalue *vals = calloc((size_t)n, sizeof *vals);
  if (!sp || !vals) { free(sp); free(vals); lg_raise(L, GO_NOMEM); }
  sp->vals = vals;              /* all nil: ltask_spawner_free may clear */
  sp->n = n;
  for (int i = 0; i < n; i++) {
    char root[32];
    if (i == 0) snprintf(root, sizeof root, "function");
    else snprintf(root, sizeof root, "argument #%d", i + 1);
    if (!transfer_pack(L, first + i, &vals[i], root)) {
      ltask_spawner_free(sp);
      lg_packerror(L);
    }
  }
  sp->paths = taskstate_paths(L);
  return sp;
}

void ltask_spawner_run (void *p) {
  struct lspawner *sp = p;
  struct ltask *lt = gocalloc(sizeof *lt);
  struct tvalue *vals = calloc((size_t)sp->n, sizeof *vals);
  struct task *t = lt && vals ? task_new(lt) : NULL;
  if (!t) {
    gofree(lt, sizeof *lt); free(vals);
    fprintf(stderr, "gochan: after_func: cannot start the task: not enough memory\n");
    return;
  }
  lt->t = t;
  lt->vals = vals;              /* all nil: free_ltask may clear them */
  lt->nvals = sp->n;
  lt->nargs = sp->n - 1;
  lt->paths = taskstate_ref(sp->paths);
  gostatus st = GO_OK;
  for (int i = 0; i < sp->n && st == GO_OK; i++)
    st = tvalue_copy(&vals[i], &sp->vals[i]);
  if (st == GO_OK) st = sched_spawn(t);
  if (st != GO_OK) {
    if (st == GO_NOMEM) report_failure(t, "cannot start the task: not enough memory");
    abandon(t, lt, NULL, 0);
  }
  obj_release(&t->hdr);
}

/* gochan.go(fn, ...) -> task */
static int lgochan_go (lua_State *L) {
  return ltask_spawn(L, 1, NULL, NULL);
}

/* gochan.spawn(opts, fn, ...) -> task: gochan.go with a name and a memory
** limit (bytes, at least MINLIMIT: below that a state cannot start). */
#define MINLIMIT 65536
static int lgochan_spawn (lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  int top = lua_gettop(L);
  struct spawnopts o = { NULL, 0 };
  static const char *const known[] = { "name", "memlimit", NULL };
  const char *why = lbox_unknownkey(L, 1, known, "option");
  if (why) return luaL_argerror(L, 1, why);
  int tt = lua_getfield(L, 1, "name");
  if (tt != LUA_TNIL) {
    size_t len;
    if (tt != LUA_TSTRING)
      return luaL_argerror(L, 1, lua_pushfstring(L, "'name' must be a string, got %s",
                                                 luaL_typename(L, -1)));
    o.name = lua_tolstring(L, -1, &len);
    if (strlen(o.name) != len)
      return luaL_argerror(L, 1, "'name' contains a zero byte");
  }
  if (lua_getfield(L, 1, "memlimit") != LUA_TNIL) {
    int isint;
    lua_Integer m = lua_tointegerx(L, -1, &isint);
    if (!isint || lua_type(L, -1) != LUA_TNUMBER || m < MINLIMIT)
      return luaL_argerror(L, 1, "'memlimit' must be an integer of at least 65536 (bytes)");
    o.memlimit = (size_t)m;
  }
  lua_settop(L, top);           /* the name stays anchored by opts */
  return ltask_spawn(L, 2, NULL, &o);
}

/* ---------------------------------------------------------------- */
/* task handles                                                       */

static int joinresult (lua_State *L, struct task *t, gostatus st) {
  if (st == GO_AGAIN || st == GO_TIMEOUT) {
    lua_pushnil(L);
    lua_pushliteral(L, "timeout");
    return 2;
  }
  if (st == GO_CTXDONE) {                   /* nil, err */
    lua_pushnil(L);
    lg_pushctxerr(L, (struct context *)lbox_to(L, 2));
    return 2;
  }
  if (st != GO_OK) return lg_raise(L, st);
  int failed = task_status(t) >= TASK_FAILED;     /* or TASK_CANCELED */
  lua_pushboolean(L, !failed);
  luaL_checkstack(L, t->nres + 1, "too many results");
  for (int i = 0; i < t->nres; i++)
    transfer_pushcopy(L, &t->res[i]);       /* each join its own copy */
  if (failed && t->nres == 0) lua_pushliteral(L, "task stopped");
  return 1 + (t->nres > 0 ? t->nres : failed);
}

/* joinresult once a task's join is resumed (lpark_one: 't' is pendobj) */
static int joinparked (lua_State *L, struct ltask *lt, gostatus st, int i) {
  (void)i;
  return joinresult(L, (struct task *)lt->pendobj, st);
}

static gostatus join_b (void *o, struct waiter *w, struct op *op) {
  return task_join_begin(o, w, op);
}
static gostatus join_f (void *o, struct waiter *w, struct op *op) {
  return task_join_finish(o, w, op);
}

/* task:join([timeout | ctx]) -> true, ... | false, err, traceback
** | nil, "timeout" | nil, err */
static int ltask_join (lua_State *L) {
  lg_checkcancel(L);
  struct task *t = checktask(L, 1);
  int64_t deadline;
  struct context *ctx;
  lg_optwait(L, 2, &deadline, &ctx);
  if (ctx_done(ctx)) return joinresult(L, t, GO_CTXDONE);
  if (task_status(t) != TASK_RUNNING) return joinresult(L, t, GO_OK);
  struct ltask *lt = go_mayblock(deadline) ? lpark_current(L) : NULL;
  if (lt && lt->t == t) return luaL_error(L, "a task cannot join itself");
  if (lt)
    return lpark_onectx(L, lt, PEND_JOIN, &t->hdr, deadline, ctx,
                        "join on gochan.task", joinparked);
  if (ctx) {
    sched_blocking("join on gochan.task");
    gostatus st = ctx_wait(ctx, deadline, "join on gochan.task", join_b,
                           join_f, t);
    sched_blocking(NULL);
    return joinresult(L, t, st);
  }
  return joinresult(L, t, task_join(t, deadline));
}

static const char *statusname (struct task *t) {
  switch (task_status(t)) {
    case TASK_DONE: return "done";
    case TASK_FAILED: return "failed";
    case TASK_CANCELED: return "canceled";
    default: return "running";
  }
}

static int ltask_status (lua_State *L) {
  lua_pushstring(L, statusname(checktask(L, 1)));
  return 1;
}

static int ltask__tostring (lua_State *L) {
  if (lbox_pushcollected(L, 1)) return 1;
  struct task *t = checktask(L, 1);
  lua_pushfstring(L, "gochan.task #%I (%s)", (lua_Integer)t->id, statusname(t));
  return 1;
}

static int ltask__eq (lua_State *L) {
  struct obj *a = lbox_to(L, 1), *b = lbox_to(L, 2);
  lua_pushboolean(L, a != NULL && a == b);
  return 1;
}

/* ---------------------------------------------------------------- */
/* runtime                                                            */

/* gochan.config([t]) -> settings */
/* Every key of the settings table at 1 is a known setting, or raises
** "bad argument #1 to 'config' (unknown setting 'x')". */
static void checksettings (lua_State *L) {
  static const char *const known[] = { "workers", "sigquit", "busy_warn",
                                       NULL };
  const char *why = lbox_unknownkey(L, 1, known, "setting");
  if (why) luaL_argerror(L, 1, why);
}

static int lgochan_config (lua_State *L) {
  if (!lua_isnoneornil(L, 1)) {
    luaL_checktype(L, 1, LUA_TTABLE);
    checksettings(L);                         /* before anything changes */
    linspect_checkconfig(L);
    if (lua_getfield(L, 1, "workers") != LUA_TNIL) {
      int isint;
      lua_Integer n = lua_tointegerx(L, -1, &isint);
      if (!isint || n < 1 || n > 64)
        return luaL_argerror(L, 1, "'workers' must be an integer from 1 to 64");
      if (sched_started() && n != sched_workers())
        return luaL_error(L, "gochan.config: 'workers' cannot change once a task has started");
      atomic_store(&config_workers, (int)n);
    }
    lua_pop(L, 1);
    linspect_applyconfig(L);
  }
  lua_createtable(L, 0, 3);
  int n = atomic_load(&config_workers);
  lua_pushinteger(L, sched_started() || n <= 0 ? sched_workers() : n);
  lua_setfield(L, -2, "workers");
  linspect_pushconfig(L);
  return 1;
}

static const luaL_Reg task_methods[] = {
  {"join", ltask_join}, {"status", ltask_status}, {"cancel", ltask_cancel},
  {NULL, NULL}
};

static const luaL_Reg task_meta[] = {
  {"__tostring", ltask__tostring}, {"__eq", ltask__eq}, {NULL, NULL}
};

void ltask_meta (lua_State *L) {
  lbox_newmetatable(L, GOCHAN_TASK_MT);       /* mt */
  luaL_setfuncs(L, task_meta, 0);
  lbox_setmethods(L, task_methods);
  lua_pop(L, 1);
}

const luaL_Reg ltask_funcs[] = {
  {"go", lgochan_go}, {"spawn", lgochan_spawn}, {"config", lgochan_config},
  {"print", lgochan_print}, {NULL, NULL}
};
