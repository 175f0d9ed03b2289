/*
** ltask.h: how binding code blocks inside a task. A blocking call that
** runs in a task (and may yield there) queues its op with the core's
** *_begin, then parks with ltask_park: the task's coroutine yields and its
** worker runs others. When the op fires (or its deadline passes) the task
** is resumed in 'k', which calls ltask_finish and returns the results.
** Anywhere else (main state, host thread, a nested coroutine, a C
** boundary) the thread forms of the core are used instead.
*/
#ifndef LTASK_H
#define LTASK_H

#include <lua.h>
#include "scheduler.h"
#include "select.h"

enum { PEND_NONE = 0, PEND_SEL, PEND_WG, PEND_MUTEX, PEND_JOIN, PEND_SLEEP };

struct ltask {
  struct task *t;
  lua_State *L;            /* the task's own state; made by its first slice,
                              on a worker, so that gochan.go is cheap */
  lua_State *co;           /* the thread that runs its function (L's main
                              thread, resumed as a coroutine), once made */
  struct tvalue *vals;     /* until then: the function and its arguments */
  int nvals;
  struct paths *paths;     /* the caller's package paths (shared; or NULL) */
  int nargs;               /* for the first resume */
  bool started;
  bool parking;            /* set by ltask_park: the slice ends in RUN_PARK */
  struct waitgroup *wg;    /* wg:go: done() when the task ends; owned ref */
  /* the one pending blocking call; its objects are borrowed from boxes on
  ** the coroutine's stack, which stay there while it is parked */
  int pend;
  struct obj *pobj;
  struct selcase *cs;      /* 'ncap' cases and waiters, reused */
  struct waiter *ws;
  int n, ncap;
};

/* The running task if 'L' may park by yielding here, else NULL. */
struct ltask *ltask_current (lua_State *L);
/* Room for 'n' cases and waiters in the task (raises on no memory). The
** caller sets every field of the cases it uses. */
struct selcase *ltask_cases (lua_State *L, struct ltask *lt, int n);
/* Prepare lt->t->op for a blocking call (before *_begin). */
void ltask_prepare (struct ltask *lt, const char *what);
/* Park after a *_begin returned GO_AGAIN: arms the timeout, yields;
** resumes in 'k'. Never returns. */
int ltask_park (lua_State *L, struct ltask *lt, int pend, struct obj *o,
                int64_t deadline, lua_KContext ctx, lua_KFunction k);
/* In 'k': disarm, dequeue what is left, and return the op's outcome
** (*chosen: the fired select case). */
gostatus ltask_finish (struct ltask *lt, int *chosen);

/* Whether a deadline lets a call block at all. */
static inline bool ltask_mayblock (int64_t deadline) {
  return deadline == GO_NEVER || (deadline != GO_NOW && go_now() < deadline);
}

void ltask_open (lua_State *L);
/* Is 'L' a task's state (one made by the scheduler)? */
bool ltask_istaskstate (lua_State *L);

#endif
