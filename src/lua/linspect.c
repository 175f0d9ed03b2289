/*
** linspect.c: looking inside a running program. gochan.tasks([opts]) with
** each task's name, cpu, mem and switches (and, asked for, its traceback),
** gochan.dump([file]), the dump Ctrl-\ prints (gochan.config{sigquit =
** "dump"}) and the busy-task warning (gochan.config{busy_warn = secs}).
**
** A traceback is read from a task's state on another thread only while
** the scheduler's claim (task_claim) keeps every worker from running it,
** and without allocating in that state: lua_getstack and lua_getinfo
** (without 'f' or 'L') only read, so a task at its memory limit, or one
** whose state is being collected, is read as safely as any other.
*/
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lua.h>
#include <lauxlib.h>
#include "ltypes.h"
#include "lpark.h"

/* ---- a growing C string (no Lua: used where nothing may raise) ---- */

struct sbuf { char *p; size_t n, cap; bool nomem; };

static void sb_add (struct sbuf *b, const char *fmt, ...) {
  if (b->nomem) return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    size_t room = b->cap - b->n;
    int k = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? room : 0, fmt, ap);
    va_end(ap);
    if (k < 0) { b->nomem = true; return; }
    if (b->p && (size_t)k < room) { b->n += (size_t)k; return; }
    size_t cap = (b->cap ? b->cap * 2 : 256) + (size_t)k;
    char *p = realloc(b->p, cap);
    if (!p) { b->nomem = true; return; }
    b->p = p;
    b->cap = cap;
  }
}


/* ---- tracebacks ---- */

enum { TB_TOP = 10, TB_BOTTOM = 11 };    /* levels shown, as luaL_traceback */

static int stack_levels (lua_State *co) {
  lua_Debug ar;
  int lo = 1, hi = 1;
  while (lua_getstack(co, hi, &ar)) { lo = hi; hi *= 2; }
  while (lo < hi) {                      /* the last level that exists */
    int m = (lo + hi) / 2;
    if (lua_getstack(co, m, &ar)) lo = m + 1; else hi = m;
  }
  return lo;
}

/*
** The stack of the suspended thread 'co' in luaL_traceback's format
** ("stack traceback:\n\tfile:line: in ..."), without the function names
** luaL_traceback finds in package.loaded (that lookup pushes values).
*/
static void traceback (struct sbuf *b, lua_State *co) {
  sb_add(b, "stack traceback:");
  int last = stack_levels(co);
  lua_Debug ar;
  for (int level = 0; lua_getstack(co, level, &ar); level++) {
    if (level == TB_TOP && last - level > TB_BOTTOM + 1) {
      int skip = last - TB_BOTTOM - level;
      sb_add(b, "\n\t...\t(skipping %d levels)", skip);
      level += skip - 1;
      continue;
    }
    lua_getinfo(co, "Slnt", &ar);
    if (ar.currentline <= 0) sb_add(b, "\n\t%s: in ", ar.short_src);
    else sb_add(b, "\n\t%s:%d: in ", ar.short_src, ar.currentline);
    if (*ar.namewhat != '\0')
      sb_add(b, "%s '%s'", strcmp(ar.namewhat, "global") == 0 ? "function"
                                                              : ar.namewhat,
             ar.name);
    else if (*ar.what == 'm') sb_add(b, "main chunk");
    else if (*ar.what != 'C')
      sb_add(b, "function <%s:%d>", ar.short_src, ar.linedefined);
    else sb_add(b, "?");
    if (ar.istailcall) sb_add(b, "\n\t(...tail calls...)");
  }
}

/* The traceback of task 't' (a malloc'd string), or NULL while a worker
** runs it (or it has ended). 'owner': the caller is the thread running
** the task's slice (the busy warning), so no claim is needed. */
static char *task_traceback (struct task *t, bool owner) {
  int saved;
  if (!owner && !task_claim(t, &saved)) return NULL;
  struct ltask *lt = t->ud;
  struct sbuf b = { 0 };
  if (!lt->co) sb_add(&b, "stack traceback:\n\t(not started)");
  else traceback(&b, lt->co);
  if (!owner) task_unclaim(t, saved);
  if (b.nomem) { free(b.p); return NULL; }
  return b.p;
}


/* ---- a snapshot of the tasks ---- */

struct tinfo {
  uint64_t id;
  char *name, *tb;               /* malloc'd, or NULL */
  const char *status, *what;     /* static strings */
  double cpu;
  size_t mem, mempeak;
  bool limited;
  unsigned switches;
};

static void free_infos (struct tinfo *ti, size_t n) {
  for (size_t i = 0; i < n; i++) { free(ti[i].name); free(ti[i].tb); }
  free(ti);
}

/* Every live task, read with no lock held by the caller and nothing that
** raises; NULL (n = 0) when there are none or no memory. */
static struct tinfo *snapshot (size_t *n, bool tracebacks) {
  size_t k;
  struct task **ts = sched_snapshot(&k);
  struct tinfo *ti = k ? calloc(k, sizeof *ti) : NULL;
  for (size_t i = 0; i < k; i++) {
    struct task *t = ts[i];
    if (ti) {
      struct tinfo *x = &ti[i];
      x->id = t->id;
      x->status = task_state(t, &x->what);
      x->name = t->name ? strdup(t->name) : NULL;
      x->cpu = task_cpu(t);
      x->switches = atomic_load_explicit(&t->switches, memory_order_relaxed);
      x->mem = atomic_load_explicit(&t->mem, memory_order_relaxed);
      x->limited = t->memlimit > 0;
      x->mempeak = atomic_load_explicit(&t->mempeak, memory_order_relaxed);
      if (tracebacks) x->tb = task_traceback(t, false);
    }
    obj_release(&t->hdr);
  }
  free(ts);
  *n = ti ? k : 0;
  return ti;
}

/* One task's block of a dump: its line, then its traceback. */
static void dump_one (struct sbuf *b, const struct tinfo *x) {
  sb_add(b, "task #%llu", (unsigned long long)x->id);
  if (x->name) sb_add(b, " \"%s\"", x->name);
  sb_add(b, " (%s%s%s)\n", x->status, x->what ? ": " : "",
         x->what ? x->what : "");
  sb_add(b, "%s\n\n", x->tb ? x->tb : "stack traceback:\n\t(running)");
}

static char *dump_text (size_t *len) {
  size_t n;
  struct tinfo *ti = snapshot(&n, true);
  struct sbuf b = { 0 };
  sb_add(&b, "gochan: %zu task%s\n\n", n, n == 1 ? "" : "s");
  for (size_t i = 0; i < n; i++) dump_one(&b, &ti[i]);
  free_infos(ti, n);
  if (b.nomem) { free(b.p); return NULL; }
  *len = b.n;
  return b.p;
}

static void write_stderr (const char *s, size_t n) {
  fwrite(s, 1, n, stderr);
  fflush(stderr);
}


/* ---- hooks the scheduler calls (ltask.c installs them) ---- */

/* On the monitor thread, after a SIGQUIT. */
void linspect_dump (void) {
  size_t n;
  char *s = dump_text(&n);
  if (s) write_stderr(s, n);
  else write_stderr("gochan: dump: not enough memory\n", 32);
  free(s);
}

/* On the worker that ran 't' (suspended now). */
void linspect_busy (struct task *t, double secs) {
  char *tb = task_traceback(t, true);
  struct sbuf b = { 0 };
  sb_add(&b, "gochan: task #%llu", (unsigned long long)t->id);
  if (t->name) sb_add(&b, " \"%s\"", t->name);
  sb_add(&b, " has run %.2f s without blocking\n%s\n", secs,
         tb ? tb : "stack traceback:\n\t(unavailable)");
  if (!b.nomem) write_stderr(b.p, b.n);
  free(b.p);
  free(tb);
}


/* ---- settings: sigquit, busy_warn ---- */

static atomic_bool sigquit_dump;              /* a handler is installed */

static void on_sigquit (int sig) {
  (void)sig;
  sched_request_dump();
}

/* Check the settings of gochan.config's table at 1 (raises; changes
** nothing). */
void linspect_checkconfig (lua_State *L) {
  int tt = lua_getfield(L, 1, "sigquit");
  if (tt != LUA_TNIL && !(tt == LUA_TBOOLEAN && !lua_toboolean(L, -1)) &&
      !(tt == LUA_TSTRING && (lbox_isname(L, -1, "dump") ||
                              lbox_isname(L, -1, "default"))))
    luaL_argerror(L, 1, "'sigquit' must be \"dump\", \"default\" or false");
  lua_pop(L, 1);
  if (lua_getfield(L, 1, "busy_warn") != LUA_TNIL) {
    if (lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1)) {}
    else if (lua_type(L, -1) != LUA_TNUMBER || !(lua_tonumber(L, -1) >= 0))
      luaL_argerror(L, 1, "'busy_warn' must be a number of seconds >= 0, or false");
  }
  lua_pop(L, 1);
}

/* Apply them (after linspect_checkconfig and the other settings' checks). */
void linspect_applyconfig (lua_State *L) {
  int tt = lua_getfield(L, 1, "sigquit");
  if (tt != LUA_TNIL) {
    bool dump = tt == LUA_TSTRING && lbox_isname(L, -1, "dump");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = dump ? on_sigquit : SIG_DFL;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    if (dump) {
      /* the dump runs on the monitor thread: start the runtime for it */
      gostatus st = ltask_start();
      if (st != GO_OK) lg_raise(L, st);
    }
    sigaction(SIGQUIT, &sa, NULL);
    atomic_store(&sigquit_dump, dump);
  }
  lua_pop(L, 1);
  if (lua_getfield(L, 1, "busy_warn") != LUA_TNIL) {
    double s = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : 0;
    sched_set_busy_warn(s);
  }
  lua_pop(L, 1);
}

/* Their values into the table on top (gochan.config's result). */
void linspect_pushconfig (lua_State *L) {
  lua_pushstring(L, atomic_load(&sigquit_dump) ? "dump" : "default");
  lua_setfield(L, -2, "sigquit");
  double s = sched_busy_warn();
  if (s > 0) lua_pushnumber(L, s); else lua_pushboolean(L, 0);
  lua_setfield(L, -2, "busy_warn");
}


/* ---- the Lua functions ---- */

struct snapbox { struct tinfo *ti; size_t n; };

static int snapbox_gc (lua_State *L) {
  struct snapbox *sb = lua_touserdata(L, 1);
  free_infos(sb->ti, sb->n);
  sb->ti = NULL;
  sb->n = 0;
  return 0;
}

/* gochan.tasks([opts]) -> { {id=, status=, waiting=, name=, cpu=, mem=,
** switches=, [mem_peak=], [traceback=]}, ... } */
static int lgochan_tasks (lua_State *L) {
  bool tbs = false;
  if (!lua_isnoneornil(L, 1)) {
    luaL_checktype(L, 1, LUA_TTABLE);
    static const char *const known[] = { "traceback", NULL };
    const char *why = lbox_unknownkey(L, 1, known, "option");
    if (why) return luaL_argerror(L, 1, why);
    lua_getfield(L, 1, "traceback");
    tbs = lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
  /* the snapshot is held by a box whose __gc frees it: what raises below
  ** (no memory) leaks nothing */
  struct snapbox *sb = lua_newuserdatauv(L, sizeof *sb, 0);
  sb->ti = NULL;
  sb->n = 0;
  if (luaL_newmetatable(L, "gochan.snapshot")) {
    lua_pushcfunction(L, snapbox_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  sb->ti = snapshot(&sb->n, tbs);
  size_t n = sb->n;
  const struct tinfo *ti = sb->ti;
  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    const struct tinfo *x = &ti[i];
    lua_createtable(L, 0, 9);
    lua_pushinteger(L, (lua_Integer)x->id);
    lua_setfield(L, -2, "id");
    lua_pushstring(L, x->status);
    lua_setfield(L, -2, "status");
    if (x->what) { lua_pushstring(L, x->what); lua_setfield(L, -2, "waiting"); }
    if (x->name) { lua_pushstring(L, x->name); lua_setfield(L, -2, "name"); }
    lua_pushnumber(L, x->cpu);
    lua_setfield(L, -2, "cpu");
    lua_pushinteger(L, (lua_Integer)x->mem);
    lua_setfield(L, -2, "mem");
    lua_pushinteger(L, (lua_Integer)x->switches);
    lua_setfield(L, -2, "switches");
    if (x->limited) {
      lua_pushinteger(L, (lua_Integer)x->mempeak);
      lua_setfield(L, -2, "mem_peak");
    }
    if (x->tb) { lua_pushstring(L, x->tb); lua_setfield(L, -2, "traceback"); }
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

/* gochan.dump([file]): every task, as Go's goroutine dump, to 'file'
** (anything with a :write method; default: stderr). */
static int lgochan_dump (lua_State *L) {
  bool tofile = !lua_isnoneornil(L, 1);
  if (tofile && ((lua_type(L, 1) != LUA_TUSERDATA &&
                  lua_type(L, 1) != LUA_TTABLE) ||
                 lua_getfield(L, 1, "write") == LUA_TNIL))
    return luaL_typeerror(L, 1, "file");
  size_t n;
  char *s = dump_text(&n);
  if (!s) return lg_raise(L, GO_NOMEM);
  if (!tofile) {
    write_stderr(s, n);
    free(s);
    return 0;
  }
  lua_pushvalue(L, 1);                        /* write file */
  lua_pushlstring(L, s, n);
  free(s);
  lua_call(L, 2, LUA_MULTRET);                /* file:write(text) */
  return lua_gettop(L) - 1;
}

const luaL_Reg linspect_funcs[] = {
  {"tasks", lgochan_tasks}, {"dump", lgochan_dump}, {NULL, NULL}
};
