/*
** taskstate.c: building a task's Lua state (as LuaLanes' state.cpp is apart
** from its lanes): fresh globals whose libraries open on first use, the
** caller's package paths, panic and warning functions, and the task's
** function and arguments decoded there by its first slice.
*/
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include "alloc.h"
#include "gochan.h"
#include "taskstate.h"
#include "transfer.h"

/*
** A task's state allocates from goalloc (src/core/alloc.h) through
** 'taskalloc', which keeps the bytes it holds (gochan.tasks'
** 'mem') and enforces gochan.spawn's 'memlimit' (both in the struct task): an allocation that would
** pass the limit fails (Lua then collects and retries, and raises "not
** enough memory" in the task); a free or a shrink never fails.
*/
static void *taskalloc (void *ud, void *p, size_t osize, size_t nsize) {
  struct task *t = ud;
  size_t old = p ? osize : 0;
  size_t used = atomic_load_explicit(&t->mem, memory_order_relaxed);
  if (nsize > old && t->memlimit && used - old + nsize > t->memlimit &&
      !t->limitoff)
    return NULL;
  void *q = goalloc(NULL, p, osize, nsize);
  if (!q && nsize > 0) return NULL;
  used = used - old + nsize;
  atomic_store_explicit(&t->mem, used, memory_order_relaxed);
  if (t->memlimit &&
      used > atomic_load_explicit(&t->mempeak, memory_order_relaxed))
    atomic_store_explicit(&t->mempeak, used, memory_order_relaxed);
  return q;
}

/* Task states, and only they, allocate with taskalloc (a mark that costs
** them nothing: no registry entry), whose 'ud' is their task. */
bool taskstate_is (lua_State *L) {
  return lua_getallocf(L, NULL) == taskalloc;
}

struct ltask *taskstate_task (lua_State *L) {
  void *ud;
  if (lua_getallocf(L, &ud) != taskalloc) return NULL;
  return ((struct task *)ud)->ud;     /* NULL once the task is ending */
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

struct paths *taskstate_ref (struct paths *ps) {
  if (ps) atomic_fetch_add_explicit(&ps->refs, 1, memory_order_relaxed);
  return ps;
}

void taskstate_unref (struct paths *ps) {
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

/* The caller's paths, shared when they are the last ones. */
struct paths *taskstate_paths (lua_State *L) {
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
      taskstate_unref(ps);
      ps = NULL;
    }
    else {
      atomic_store(&ps->refs, 2);     /* the caller's and lastpaths' */
      golock_lock(&pathmu);
      struct paths *old = lastpaths;
      lastpaths = ps;
      golock_unlock(&pathmu);
      taskstate_unref(old);
    }
  }
  lua_settop(L, top);
  return ps;
}


/* ---- the state, its panic and warnings ---- */

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

/* A task's state: memory from taskalloc. */
static lua_State *new_task_state (struct ltask *lt) {
  lua_State *L = lua_newstate(taskalloc, lt->t);
  if (L) {
    lua_atpanic(L, state_panic);
    lua_setwarnf(L, warn_off, L);
  }
  return L;
}

/* print for tasks and gochan.print: the whole line in one write. */
int lgochan_print (lua_State *L) {
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


/* ---- lazy libraries ---- */

/*
** A task's state opens its libraries on first use, so that a blocked task
** costs little memory: the globals table's __index opens the base library,
** package (with the caller's paths), a standard library or gochan when one
** of their names is first read. 'string' is opened at once (strings need
** its metatable for method calls and arithmetic coercion); the metatable
** of a gochan type is made when the first object of that type arrives.
*/

static const char *const basenames[] = {
  "assert", "collectgarbage", "dofile", "error", "getmetatable", "ipairs",
  "loadfile", "load", "next", "pairs", "pcall", "print", "warn", "rawequal",
  "rawlen", "rawget", "rawset", "select", "setmetatable", "tonumber",
  "tostring", "type", "xpcall", "_G", "_VERSION", NULL
};
#define NBASE (sizeof(basenames) / sizeof(basenames[0]) - 1)

/*
** The base library binds one name at a time: a task that reads 'assert'
** gets 'assert', one entry in its globals, not the 25 of luaopen_base
** (which cost a task memory and time the first time it read any of them:
** bench/README.md). Every base function is a light C function, the same
** in every state, so their addresses are read once per process from a
** scratch state (written once under 'base_once', read-only afterwards).
** If that state could not be made, 'basefns' stays empty and a first
** read opens the whole library as before.
*/
static lua_CFunction basefns[NBASE];
static pthread_once_t base_once = PTHREAD_ONCE_INIT;

static void basefns_init (void) {
  lua_State *S = luaL_newstate();
  if (!S) return;
  luaL_requiref(S, "_G", luaopen_base, 0);
  for (size_t i = 0; i < NBASE; i++) {
    lua_getfield(S, -1, basenames[i]);
    basefns[i] = lua_tocfunction(S, -1);      /* NULL for _G, _VERSION */
    lua_pop(S, 1);
  }
  lua_close(S);
}

/* Set base name 'i' in the globals table at 'gt' (absolute index). The
** first one also sets package.loaded._G, where a traceback looks for a
** function's name ("in function 'error'", as in a plain state). */
static void bind_base (lua_State *L, int gt, size_t i) {
  const char *k = basenames[i];
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  if (lua_getfield(L, -1, "_G") == LUA_TNIL) {
    lua_pushvalue(L, gt);
    lua_setfield(L, -3, "_G");
  }
  lua_pop(L, 2);
  if (strcmp(k, "_G") == 0) lua_pushvalue(L, gt);
  else if (strcmp(k, "_VERSION") == 0) lua_pushliteral(L, LUA_VERSION);
  else if (strcmp(k, "print") == 0) lua_pushcfunction(L, lgochan_print);
  else {
    pthread_once(&base_once, basefns_init);
    if (!basefns[i]) {                      /* no scratch state: all at once */
      luaL_requiref(L, "_G", luaopen_base, 0);
      lua_pushcfunction(L, lgochan_print);      /* whole lines */
      lua_setfield(L, -2, "print");
      lua_pop(L, 1);
      return;
    }
    lua_pushcfunction(L, basefns[i]);
  }
  lua_setfield(L, gt, k);
}

/* require "_G" before any base name was read (a module reference to a
** base function crosses by that name): the globals, which bind on read */
static int open_base (lua_State *L) {
  lua_pushglobaltable(L);
  return 1;
}

/*
** A task's function runs on its state's main thread, which the scheduler
** resumes as a coroutine so that gochan's blocking calls can park it: to
** Lua that thread is yieldable. A user's coroutine.yield() there would
** return to the scheduler (taken for a preemption) instead of failing as
** it does in a plain Lua main thread. So the task's coroutine library
** refuses it there, with plain Lua's message, and isyieldable says so;
** the scheduler's own yields (lpark, the preemption hook) are C calls
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
  for (size_t i = 0; i < NBASE; i++)
    if (strcmp(k, basenames[i]) == 0) {
      bind_base(L, 1, i);
      lua_pushvalue(L, 2);
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


/* ---- the lazy string metatable, and the first slice ---- */

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
  lua_pushliteral(L, "__index");   /* any string: this one exists in every
                                     state (a metamethod name), "" would be
                                     made and kept until a collection */
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

bool taskstate_start (struct ltask *lt) {
  lua_State *NL = new_task_state(lt);
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
  return true;
}
