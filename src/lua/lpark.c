/*
** lpark.c: how a blocking call parks a task by yielding, and the one
** continuation that finishes every kind of wait (lpark.h).
*/
#include <stdlib.h>
#include <lua.h>
#include "lbox.h"
#include "context.h"
#include "lpark.h"
#include "sync.h"
#include "xsync.h"

struct ltask *lpark_current (lua_State *L) {
  struct task *t = sched_current();
  if (!t) return NULL;
  struct ltask *lt = t->ud;
  /* only the task's own coroutine parks by yielding: a yield inside a
  ** nested coroutine would return to the user's resume instead */
  return (L == lt->co && lua_isyieldable(L)) ? lt : NULL;
}

/* Room for 'n' > lt->ncap cases: lt's own one (most calls have one
** case), else allocated; the caller sets every field of the cases it
** uses, so the old contents need not be kept. */
static void growcases (lua_State *L, struct ltask *lt, int n) {
  if (n == 1) {                       /* ncap was 0 */
    lt->cs = lt->cs1;
    lt->ws = lt->ws1;
    lt->ncap = 1;
    return;
  }
  int ncap = n < 4 ? 4 : n;
  struct selcase *cs = malloc((size_t)ncap * sizeof *cs);
  struct waiter *ws = malloc((size_t)ncap * sizeof *ws);
  if (!cs || !ws) {
    free(cs);
    free(ws);
    lg_raise(L, GO_NOMEM);
  }
  lpark_freecases(lt);
  lt->cs = cs;
  lt->ws = ws;
  lt->ncap = ncap;
}

struct selcase *lpark_cases (lua_State *L, struct ltask *lt, int n) {
  if (n > lt->ncap) growcases(L, lt, n);
  lt->ncases = n;
  return lt->cs;
}

void lpark_freecases (struct ltask *lt) {
  if (lt->cs != lt->cs1) {
    free(lt->cs);
    free(lt->ws);
  }
}

void lpark_prepare (struct ltask *lt, const char *what) {
  task_prepare(lt->t);
  lt->t->op.what = what;          /* a static string: no formatting here */
  lt->ctx = NULL;
  lt->keep = false;
}

void lpark_prepctx (struct ltask *lt, const char *what, struct context *ctx) {
  lpark_prepare(lt, what);
  lt->ctx = ctx;
}

/* Dequeue the pending call's waiters; the op is no longer open. */
static gostatus finish_pending (struct ltask *lt, int *chosen) {
  struct task *t = lt->t;
  struct waiter *w = lt->ws;
  gostatus st = t->op.result;
  switch (lt->pend) {
    case PEND_SEL:
      st = sel_finish(lt->cs, lt->ncases, w, &t->op, chosen);
      break;
    case PEND_WG:
      st = wg_finish((struct waitgroup *)lt->pendobj, w, &t->op);
      break;
    case PEND_MUTEX:
      st = mutex_finish((struct gmutex *)lt->pendobj, w, &t->op);
      break;
    case PEND_JOIN:
      st = task_join_finish((struct task *)lt->pendobj, w, &t->op);
      break;
    case PEND_ONCE:
      st = once_finish((struct gonce *)lt->pendobj, w, &t->op);
      break;
    case PEND_WLOCK:
      st = rw_lock_finish((struct grwmutex *)lt->pendobj, w, &t->op);
      break;
    case PEND_RLOCK:
      st = rw_rlock_finish((struct grwmutex *)lt->pendobj, w, &t->op);
      break;
    case PEND_COND:
      st = cond_finish((struct gcond *)lt->pendobj, w, &t->op);
      break;
    case PEND_SEM:
      st = sem_finish((struct gsem *)lt->pendobj, w, &t->op);
      break;
    case PEND_SLEEP:                  /* its timeout is the time coming */
      st = t->op.result == GO_TIMEOUT ? GO_OK : t->op.result;
      break;
    default: break;
  }
  lt->pend = PEND_NONE;
  return st;
}

gostatus lpark_finish (struct ltask *lt, int *chosen) {
  task_disarm(lt->t);
  task_resumed(lt->t);
  bool byctx = lt->ctx && ctx_finish(lt->ctx, &lt->cw, &lt->t->op);
  gostatus st = finish_pending(lt, chosen);
  if (byctx) { st = GO_CTXDONE; *chosen = -1; }
  return st;
}

/* The continuation of every park: 'ctx' is the task's ltask. */
static int resume_k (lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  struct ltask *lt = (struct ltask *)ctx;
  int chosen = -1;
  gostatus st = lpark_finish(lt, &chosen);
  return lt->result(L, lt, st, chosen);
}

int lpark (lua_State *L, struct ltask *lt, int pend, struct obj *o,
           int64_t deadline, lpark_result result) {
  lt->pend = pend;
  lt->pendobj = o;
  lt->result = result;
  lt->parking = true;
  if (lt->ctx) ctx_begin(lt->ctx, &lt->cw, &lt->t->op);  /* GO_CTXDONE:
                                           the op is closed and woken */
  task_arm(lt->t, deadline);
  if (!lt->keep) task_parking(lt->t);   /* a cancel may end it */
  return lua_yieldk(L, 0, (lua_KContext)lt, resume_k);
}

int lpark_one (lua_State *L, struct ltask *lt, int pend, struct obj *o,
               int64_t deadline, const char *what, lpark_result result) {
  return lpark_onectx(L, lt, pend, o, deadline, NULL, what, result);
}

int lpark_onectx (lua_State *L, struct ltask *lt, int pend, struct obj *o,
                  int64_t deadline, struct context *ctx, const char *what,
                  lpark_result result) {
  lpark_cases(L, lt, 1);                      /* may raise: nothing held */
  lpark_prepctx(lt, what, ctx);
  lt->pendobj = o;
  struct waiter *w = lt->ws;
  struct op *op = &lt->t->op;
  gostatus st;
  switch (pend) {
    case PEND_WG: st = wg_begin((struct waitgroup *)o, w, op); break;
    case PEND_MUTEX: st = mutex_begin((struct gmutex *)o, w, op); break;
    case PEND_ONCE: st = once_begin((struct gonce *)o, w, op); break;
    case PEND_WLOCK: st = rw_lock_begin((struct grwmutex *)o, w, op); break;
    case PEND_RLOCK: st = rw_rlock_begin((struct grwmutex *)o, w, op); break;
    default:
      GOCHAN_ASSERT(pend == PEND_JOIN);
      st = task_join_begin((struct task *)o, w, op);
      break;
  }
  if (st == GO_AGAIN) return lpark(L, lt, pend, o, deadline, result);
  return result(L, lt, st, -1);
}
