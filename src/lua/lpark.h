/*
** lpark.h: a task's binding state, and how binding code blocks inside a
** task. A blocking call that runs in a task's own coroutine queues its op
** with the core's *_begin, then parks with lpark, giving the function
** that makes its results: the coroutine yields and the worker runs other
** tasks. When the op fires (or its deadline passes) the task is resumed
** in the one continuation, which calls lpark_finish and then that result
** function. So a blocking call is its begin and its result, nothing else.
** Anywhere else (main state, host thread, a nested coroutine, a C
** boundary) the thread forms of the core are used instead.
*/
#ifndef LPARK_H
#define LPARK_H

#include <lua.h>
#include "lbox.h"
#include "scheduler.h"
#include "select.h"

struct ltask;
struct paths;

/* The results of a blocking call from its status (and the fired select
** case, or -1); what lpark's continuation returns. */
typedef int (*lpark_result) (lua_State *L, struct ltask *lt, gostatus st,
                             int chosen);

/* What a parked task waits on: how lpark_finish (and task_drop) ends it. */
enum { PEND_NONE = 0, PEND_SEL, PEND_WG, PEND_MUTEX, PEND_JOIN, PEND_SLEEP,
       PEND_ONCE, PEND_WLOCK, PEND_RLOCK, PEND_COND, PEND_SEM };

/*
** The binding's half of a task (its task->ud). Nothing in it is locked:
** only the thread running the task's slice (its current worker) touches
** it, and before that the go call that made it (until sched_spawn); once
** the task will never run again, task_drop frees it at shutdown.
*/
struct ltask {
  struct task *t;
  lua_State *L;            /* the task's own state; made by its first slice,
                              on a worker, so that gochan.go is cheap */
  lua_State *co;           /* the thread that runs its function (L's main
                              thread, resumed as a coroutine), once made */
  struct tvalue *vals;     /* until then: the function and its arguments */
  int nvals;
  int nargs;               /* for the first resume */
  struct paths *paths;     /* the caller's package paths (shared; or NULL) */
  struct waitgroup *wg;    /* wg:go: done() when the task ends; owned ref */
  bool started;
  bool parking;            /* set by lpark: the slice ends in RUN_PARK */
  bool keep;               /* this park is not ended by a task cancel
                              (cleared by lpark_prepare, set after it):
                              cond's relock, which must hold the lock
                              again on every path */
  /* the one pending blocking call; its objects are borrowed from boxes on
  ** the coroutine's stack, which stay there while it is parked */
  int pend;                /* PEND_* */
  struct obj *pendobj;     /* what a one-case call waits on (lpark_one) */
  lpark_result result;     /* what the continuation returns */
  struct selcase *cs;      /* 'ncap' cases and waiters, reused: cs1 and */
  struct waiter *ws;       /* ws1 (ncap 1), or allocated for more */
  int ncases, ncap;
  struct selcase cs1[1];
  struct waiter ws1[1];
  struct context *ctx;     /* the pending call's context, or NULL (set by
                              lpark_prepctx; borrowed from a box on the
                              coroutine's stack) */
  struct waiter cw;        /* its waiter on 'ctx' (context.h) */
  void *tstate;            /* L's transfer data (set and cleared by
                              transfer.c), or NULL: a shortcut past the
                              registry, valid while the registry holds it */
  struct boxstats boxstats; /* its state's box cache (lbox.c) */
};

/* The running task if 'L' may park by yielding here, else NULL. */
struct ltask *lpark_current (lua_State *L);
/* Room for 'n' cases and waiters in the task (raises on no memory). The
** caller sets every field of the cases it uses. */
struct selcase *lpark_cases (lua_State *L, struct ltask *lt, int n);
/* Free the cases and waiters lpark_cases allocated (lt's own: nothing). */
void lpark_freecases (struct ltask *lt);
/* Prepare lt->t->op for a blocking call (before *_begin); 'what' is a
** static string, shown by gochan.tasks(). */
void lpark_prepare (struct ltask *lt, const char *what);
/*
** Contexts: the same with the call's context 'ctx' (or NULL). Every kind
** of wait takes one this way: lpark queues one more waiter of the op on
** the context (ctx_begin) after the call's own *_begin queued its
** waiters, and lpark_finish returns GO_CTXDONE when the context fired the
** op (the call's own waiters are dequeued by its *_finish as usual, so a
** *_finish must dequeue its waiter when the op fired through another case:
** waitq_finish1 does). The caller checks ctx_done(ctx) on entry, before
** it tries anything, and reports GO_CTXDONE as its API says. lpark also
** checks task cancellation at every park (task_parking): a canceled task
** ends its park at once with GO_CANCELED, which its result raises
** (lg_raise); on entry the caller calls lg_checkcancel.
*/
void lpark_prepctx (struct ltask *lt, const char *what, struct context *ctx);
/* lpark_one with a context. */
int lpark_onectx (lua_State *L, struct ltask *lt, int pend, struct obj *o,
                  int64_t deadline, struct context *ctx, const char *what,
                  lpark_result result);
/* Park after a *_begin returned GO_AGAIN: arm the timeout and yield. The
** task resumes in the one continuation, which returns
** result(L, lt, lpark_finish(lt, &chosen), chosen). Never returns. */
int lpark (lua_State *L, struct ltask *lt, int pend, struct obj *o,
           int64_t deadline, lpark_result result);
/* Disarm, dequeue what is left, and return the op's outcome (*chosen:
** the fired select case). */
gostatus lpark_finish (struct ltask *lt, int *chosen);
/* A whole one-case call (pend: PEND_WG, PEND_MUTEX, PEND_JOIN, PEND_ONCE,
** PEND_WLOCK or PEND_RLOCK on 'o'):
** prepare, begin, and park if it must; its results are
** result(L, lt, st, -1), now or once resumed (lt->pendobj is 'o'). */
int lpark_one (lua_State *L, struct ltask *lt, int pend, struct obj *o,
               int64_t deadline, const char *what, lpark_result result);

#endif
