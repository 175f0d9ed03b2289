/*
** ltrace.c: gochan.trace_start and gochan.trace_stop over the core's
** recorder (trace.h), and GOCHAN_TRACE=<path>, which starts a trace at the
** first require of the module that is written when the process exits.
*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lua.h>
#include <lauxlib.h>
#include "ltypes.h"
#include "trace.h"

/* gochan.trace_start(path) */
static int lgochan_trace_start (lua_State *L) {
  size_t len;
  const char *path = luaL_checklstring(L, 1, &len);
  if (strlen(path) != len)             /* fopen would open a shorter name */
    return luaL_argerror(L, 1, "path contains a zero byte");
  int err = 0;
  switch (trace_start(path, &err)) {           /* raises nothing */
    case TRACE_OK: return 0;
    case TRACE_STARTED: return luaL_error(L, "trace already started");
    case TRACE_IOERR:
      return luaL_error(L, "cannot open %s: %s", path, strerror(err));
    default: return lg_raise(L, GO_NOMEM);
  }
}

/* gochan.trace_stop(): writes the file; the trace is over even if it
** raises */
static int lgochan_trace_stop (lua_State *L) {
  int err = 0;
  switch (trace_stop(&err)) {                  /* raises nothing */
    case TRACE_OK: return 0;
    case TRACE_NOTSTARTED: return luaL_error(L, "no trace started");
    case TRACE_IOERR:
      return luaL_error(L, "cannot write the trace: %s", strerror(err));
    default: return lg_raise(L, GO_NOMEM);
  }
}

/* Once per process: GOCHAN_TRACE=<path> starts a trace now; trace.c writes
** it at exit (or when the runtime shuts down) if no trace_stop came first.
** A path that cannot be opened is reported on stderr, and the program runs
** untraced. */
static atomic_flag envdone = ATOMIC_FLAG_INIT;

void ltrace_fromenv (void) {
  if (atomic_flag_test_and_set(&envdone)) return;
  const char *path = getenv("GOCHAN_TRACE");
  if (!path || !*path) return;
  int err = 0;
  if (trace_start(path, &err) == TRACE_IOERR)
    fprintf(stderr, "gochan: GOCHAN_TRACE: cannot open %s: %s\n", path,
            strerror(err));
}

const luaL_Reg ltrace_funcs[] = {
  {"trace_start", lgochan_trace_start}, {"trace_stop", lgochan_trace_stop},
  {NULL, NULL}
};
