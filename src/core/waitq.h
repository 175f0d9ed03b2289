/*
** waitq.h: the one waiting mechanism (Go's sudog).
**
** A blocking call is an 'op' (one per call of select, recv, wait, lock...).
** It puts one 'waiter' per case on the queue of each object it waits for,
** then parks. Whoever can make progress takes a waiter off a queue and
** *claims* its op with a CAS OP_OPEN -> OP_FIRED; only the winner completes
** the case (moves the value, sets 'fired' and 'result') and then wakes the
** op's owner. The owner gives up (timeout, interrupt, deadlock) with a CAS
** OP_OPEN -> OP_CANCELLED; if that CAS fails, a peer has fired the op and
** will wake it, so the owner waits for that wake-up before it reads the
** result. So exactly one case fires, or none, and no wake-up is lost.
**
** Two kinds of owner park on an op:
**   - a thread waiter ('wake' == NULL): the main Lua state or a host thread
**     sleeps on the futex word 'woken';
**   - a task waiter ('wake' != NULL, set by the scheduler): the task's
**     coroutine has yielded; 'wake' puts the task on a run queue.
**
** Lifetime: the op and its waiters belong to the owner and stay valid until
** the owner has been woken (thread) or resumed (task) and has called the
** matching *_finish, which dequeues every waiter still queued.
*/
#ifndef GOCHAN_WAITQ_H
#define GOCHAN_WAITQ_H

#include <stdatomic.h>
#include "core.h"
#include "value.h"

enum { OP_OPEN = 0, OP_FIRED, OP_CANCELLED };

struct op {
  atomic_int state;        /* OP_OPEN -> OP_FIRED | OP_CANCELLED, once */
  int fired;               /* index of the fired case; written by the claimer
                              before the wake-up */
  gostatus result;         /* of the fired case (GO_OK, GO_CLOSED), or the
                              reason for cancelling (GO_TIMEOUT, ...) */
  atomic_uint woken;       /* thread waiters: the futex word (0 not yet, 1
                              woken, 2 the owner may sleep; see op_wake) */
  void (*wake) (struct op *op);  /* NULL: thread waiter; else task waiter */
  void *owner;             /* for 'wake': the task */
  int64_t deadline;        /* set by op_park: GO_NEVER = no time limit */
  const char *what;        /* what is waited on, for gochan.tasks() */
};

/*
** One case of an op on one object's queue. 'prev', 'next' and 'inq' are
** guarded by the lock of the object whose queue holds the waiter.
*/
struct waiter {
  struct waiter *prev, *next;
  struct op *op;
  struct tvalue *val;      /* send: the value to hand over; recv: where the
                              value goes */
  bool *ok;                /* recv: true = a value, false = closed */
  int idx;                 /* case index reported in op->fired */
  int64_t n;               /* a weighted wait (semaphore): units asked for */
  bool inq;
};

struct waitq { struct waiter *head, *tail; };

static inline void waitq_init (struct waitq *q) { q->head = q->tail = NULL; }
static inline bool waitq_empty (const struct waitq *q) { return !q->head; }
/* How many waiters the queue holds (those of finished selects included
** until they are dropped); caller holds the queue's lock. O(n): for tests
** and inspection, never on a hot path. */
size_t waitq_len (const struct waitq *q);

/* All of these need the lock of the object that owns 'q'. */
void waitq_push (struct waitq *q, struct waiter *w);
void waitq_remove (struct waitq *q, struct waiter *w);  /* no-op if !inq */
/* Dequeue the first waiter whose op this call claims (OP_OPEN -> OP_FIRED),
** dropping waiters of ops already fired or cancelled. NULL if none. The
** caller completes the case, sets op->fired/result, and after releasing the
** object lock calls op_wake. */
struct waiter *waitq_claim (struct waitq *q);

/* The verbs of a claimer. 'w' is a waiter whose op this caller claimed
** (waitq_claim); with the queue's lock still held, waiter_fire completes
** the case: what the owner reads after its wake-up. */
static inline void waiter_fire (struct waiter *w, gostatus result) {
  w->op->fired = w->idx;
  w->op->result = result;
}
/* Claim and fire with 'result' every open waiter of 'q' (its lock held),
** each pushed on the front of 'list' through its 'next' (free once it is
** dequeued). Returns the new list, for waiters_wake after unlocking. */
struct waiter *waitq_claim_all (struct waitq *q, gostatus result,
                                struct waiter *list);
/* op_wake every waiter of a list made by waitq_claim_all, with no lock
** held. The list must not be touched after: a woken owner may free it. */
void waiters_wake (struct waiter *list);

/* Queue the only waiter of a one-case op on 'q' (lock of 'q' held). */
void waitq_push1 (struct waitq *q, struct waiter *w, struct op *op);
/* The finish of an op's case queued on 'q' under lock 'l' (by
** waitq_push1, or with its own index): dequeue it unless its claimer did,
** and return the op's result. The op may have more cases (a context). */
gostatus waitq_finish1 (golock *l, struct waitq *q, struct waiter *w,
                        struct op *op);

/* Prepare an op for a thread waiter (wake == NULL). */
void op_init (struct op *op);
/* The owner (or a timer acting for it) gives up: true if the CAS won, with
** op->result = why. False: a peer fired the op first. */
bool op_cancel (struct op *op, gostatus why);
/* Wake the owner after a successful claim or cancel. Must be the last touch
** of the op by the waker. */
void op_wake (struct op *op);
/* Thread waiters: sleep until woken. If 'deadline' passes first, cancel
** with GO_TIMEOUT; if that loses, keep sleeping until the peer's wake-up.
** Returns with op->state != OP_OPEN and the wake-up (if any) consumed. */
void op_park (struct op *op, int64_t deadline);

/* Hook for the runtime: called by op_park when a thread is about to sleep,
** and after it wakes (deadlock detection, interrupts). NULL by default.
** Atomic: the runtime sets it (every time a main Lua state opens) while
** other threads may be parked or parking (a host's thread in gochan_recv).
** Set with release and loaded with acquire, so a thread that calls it sees
** what the setter wrote before. A park loads it once and calls that same
** function after waking: the two calls of one park always pair. */
typedef void (*go_park_fn) (struct op *op, bool parking);
extern _Atomic(go_park_fn) go_park_hook;

#endif
