/*
** select.h: wait on any mix of send and recv cases (Go's select), and the
** two-phase form the scheduler uses to park a task instead of a thread.
*/
#ifndef GOCHAN_SELECT_H
#define GOCHAN_SELECT_H

#include "chan.h"

enum { SEL_OFF = 0, SEL_RECV, SEL_SEND };

struct selcase {
  struct chan *c;          /* NULL: the case is off (Go's nil channel) */
  int dir;                 /* SEL_RECV, SEL_SEND, or SEL_OFF */
  struct tvalue v;         /* send: the value (moved out if this case fires);
                              recv: the value received */
  bool ok;                 /* recv: true = value, false = closed */
  bool mark;               /* the caller's (the binding: has a handler) */
};

/*
** Blocks the calling thread. When several cases are ready one is chosen
** uniformly at random; exactly one fires.
**   GO_OK      case *chosen fired: recv filled v/ok; send moved v out.
**   GO_CLOSED  case *chosen is a send on a closed channel (v still owned).
**   GO_AGAIN   none ready and deadline GO_NOW (the 'default' case).
**   GO_TIMEOUT / GO_INTERRUPTED / GO_DEADLOCK  nothing happened.
** With every case off and deadline GO_NEVER it waits until cancelled.
*/
gostatus sel_wait (struct selcase *cs, int n, int64_t deadline, int *chosen);

/*
** Two-phase form. 'ws' has room for n waiters; 'op' is prepared by the
** caller (op_init, then 'wake'/'owner' for a task). sel_begin tries every
** case; if one fires it returns as sel_wait would. If none is ready and
** 'block', it queues the waiters and returns GO_AGAIN: park, then (woken)
** call sel_finish, which dequeues the rest and returns the outcome.
** If !block it returns GO_AGAIN with nothing queued.
*/
gostatus sel_begin (struct selcase *cs, int n, struct waiter *ws,
                    struct op *op, bool block, int *chosen);
gostatus sel_finish (struct selcase *cs, int n, struct waiter *ws,
                     struct op *op, int *chosen);

#endif
