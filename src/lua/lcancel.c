/*
** lcancel.c: task cancellation in the binding: task:cancel, gochan.context
** (a task's lifetime as a context), and how a task that ended by its
** cancel is told from one that failed. The flag, the wake-up of a parked
** task and the check at every park are the core's (scheduler.h
** task_cancel); each blocking call checks on entry (lg_checkcancel) and a
** computing task meets it in the preemption hook (ltask.c).
*/
#include <stdlib.h>
#include <string.h>
#include <lua.h>
#include <lauxlib.h>
#include "ltypes.h"
#include "context.h"
#include "lpark.h"

/* task:cancel([cause]): the task raises "canceled" (or "canceled: "
** followed by tostring(cause)) at its current or next blocking call or
** preemption point. Nothing happens if it has ended or was canceled. */
int ltask_cancel (lua_State *L) {
  struct task *t = (struct task *)lbox_check(L, 1, OBJ_TASK);
  const char *msg = "canceled";
  if (!lua_isnoneornil(L, 2))
    msg = lua_pushfstring(L, "canceled: %s", luaL_tolstring(L, 2, NULL));
  size_t len = strlen(msg);
  char *m = malloc(len + 1);
  if (!m) return lg_raise(L, GO_NOMEM);
  memcpy(m, msg, len + 1);
  task_cancel(t, m);                        /* takes 'm' over */
  return 0;
}

/* gochan.context() -> ctx: in a task, canceled when it is canceled or
** ends (the same context every time); elsewhere background. */
static int lgochan_context (lua_State *L) {
  struct task *t = sched_current();
  struct context *ctx = t ? task_context(t) : ctx_background();
  if (!ctx) return lg_raise(L, GO_NOMEM);
  lbox_push(L, (struct obj *)ctx);
  return 1;
}

/* The error is the cancel message, or that message after a position
** ("file:line: canceled": coroutine.wrap adds one when the error passes
** through it). */
bool ltask_endedbycancel (struct ltask *lt) {
  const char *msg = task_cancelmsg(lt->t);
  if (!msg || lua_type(lt->co, -1) != LUA_TSTRING) return false;
  size_t len, mlen = strlen(msg);
  const char *e = lua_tolstring(lt->co, -1, &len);
  if (len == mlen) return memcmp(e, msg, len) == 0;
  return len > mlen + 2 && memcmp(e + len - mlen, msg, mlen) == 0 &&
         memcmp(e + len - mlen - 2, ": ", 2) == 0;
}

void ltask_cancelresults (struct ltask *lt, struct tvalue **res,
                          int *nres) {
  lua_State *L = lt->co;                      /* ... err */
  ltask_pushtraceback(L, lua_gettop(L));      /* before the stack unwinds */
  size_t tblen;
  const char *tb = lua_tolstring(L, -1, &tblen);
  const char *msg = task_cancelmsg(lt->t);
  *res = calloc(2, sizeof **res);
  *nres = 0;
  if (*res && tvalue_setstr(&(*res)[0], msg, strlen(msg)) == GO_OK) {
    *nres = 1;
    if (tb && tvalue_setstr(&(*res)[1], tb, tblen) == GO_OK) *nres = 2;
  }
  lua_pop(L, 1);                              /* ... err */
  int st = lua_status(L);       /* as a failure's: the pending to-be-closed */
  if (st != LUA_OK && st != LUA_YIELD)        /* variables close now */
#if LUA_VERSION_RELEASE_NUM >= 50406
    lua_closethread(L, NULL);
#else
    lua_resetthread(L);
#endif
}

const luaL_Reg lcancel_funcs[] = {
  {"context", lgochan_context}, {NULL, NULL}
};
