/*
** waitq.c: waiter queues, claiming and cancelling ops, and parking a
** thread on an op's futex word. See waitq.h for the protocol.
*/
#include "waitq.h"
#include "trace.h"

_Atomic(go_park_fn) go_park_hook = NULL;

size_t waitq_len (const struct waitq *q) {
  size_t n = 0;
  for (const struct waiter *w = q->head; w; w = w->next) n++;
  return n;
}

void waitq_push (struct waitq *q, struct waiter *w) {
  GOCHAN_ASSERT(!w->inq);
  w->next = NULL;
  w->prev = q->tail;
  if (q->tail) q->tail->next = w; else q->head = w;
  q->tail = w;
  w->inq = true;
}

void waitq_remove (struct waitq *q, struct waiter *w) {
  if (!w->inq) return;
  if (w->prev) w->prev->next = w->next; else q->head = w->next;
  if (w->next) w->next->prev = w->prev; else q->tail = w->prev;
  w->prev = w->next = NULL;
  w->inq = false;
}

struct waiter *waitq_claim (struct waitq *q) {
  struct waiter *w;
  while ((w = q->head) != NULL) {
    waitq_remove(q, w);
    int open = OP_OPEN;
    /* acq_rel: the winner's writes to the case happen before the owner
    ** reads them; a loser sees the owner's (or another peer's) claim. */
    if (atomic_compare_exchange_strong_explicit(&w->op->state, &open,
            OP_FIRED, memory_order_acq_rel, memory_order_acquire))
      return w;
    /* already fired through another case, or cancelled: drop it; its
    ** owner's finish finds it dequeued (inq == false) */
  }
  return NULL;
}

struct waiter *waitq_claim_all (struct waitq *q, gostatus result,
                                struct waiter *list) {
  struct waiter *w;
  while ((w = waitq_claim(q)) != NULL) {
    waiter_fire(w, result);
    w->next = list;
    list = w;
  }
  return list;
}

void waiters_wake (struct waiter *list) {
  while (list) {
    struct waiter *w = list;
    list = w->next;               /* read before the wake: 'w' may vanish */
    op_wake(w->op);
  }
}

void waitq_push1 (struct waitq *q, struct waiter *w, struct op *op) {
  *w = (struct waiter){ .op = op };   /* no value, case 0, not queued */
  waitq_push(q, w);
}

gostatus waitq_finish1 (golock *l, struct waitq *q, struct waiter *w,
                        struct op *op) {
  int state = atomic_load_explicit(&op->state, memory_order_acquire);
  GOCHAN_ASSERT(state != OP_OPEN);
  if (state != OP_FIRED || op->fired != w->idx) {  /* a fired waiter was
                          dequeued by its claimer, before the wake-up; the
                          op may have fired through another case (a
                          context's: context.h) */
    golock_lock(l);
    waitq_remove(q, w);
    golock_unlock(l);
  }
  return op->result;
}

void op_init (struct op *op) {
  atomic_init(&op->state, OP_OPEN);
  op->fired = -1;
  op->result = GO_OK;
  atomic_init(&op->woken, 0);
  op->wake = NULL;
  op->owner = NULL;
  op->deadline = GO_NEVER;
  op->what = NULL;
}

bool op_cancel (struct op *op, gostatus why) {
  int open = OP_OPEN;
  if (!atomic_compare_exchange_strong_explicit(&op->state, &open,
          OP_CANCELLED, memory_order_acq_rel, memory_order_acquire))
    return false;
  op->result = why;     /* read by the owner after its wake-up */
  return true;
}

/*
** 'woken' of a thread waiter: WOKEN_NO, then WOKEN_SLEEPING once the owner
** may be in the futex wait, and WOKEN_YES set by the one waker. The waker
** makes the futex call only when the owner said it sleeps: an owner that
** was still spinning returns as soon as it sees WOKEN_YES, and its op
** (often on its stack) is gone by the time a futex call would be made.
** A sleeping owner leaves only after the wake-up reaches it (or after a
** spurious wake-up or its timeout that finds WOKEN_YES: then the futex
** call may land on reused memory, which is at worst a spurious wake-up
** for whoever uses that word, and every futex wait here re-checks it).
*/
enum { WOKEN_NO = 0, WOKEN_YES = 1, WOKEN_SLEEPING = 2 };

void op_wake (struct op *op) {
  if (op->wake) { op->wake(op); return; }
  if (TRACE_ON()) trace_thread_wake(op);   /* while 'op' surely lives */
  if (atomic_exchange_explicit(&op->woken, WOKEN_YES, memory_order_acq_rel)
      == WOKEN_SLEEPING)
    go_futex_wake(&op->woken, 1);
}

/* Spin a little before sleeping: a peer on another core often answers
** within a few hundred nanoseconds, far less than a sleep/wake pair. */
#define PARK_SPINS 200


/* The sleep of op_park once spinning did not see the wake-up. */
static void park_sleep (struct op *op, int64_t deadline) {
  go_park_fn hook = atomic_load_explicit(&go_park_hook, memory_order_acquire);
  if (hook) hook(op, true);
  for (;;) {
    if (atomic_load_explicit(&op->woken, memory_order_acquire) == WOKEN_YES)
      break;
    if (deadline != GO_NEVER && go_now() >= deadline) {
      if (op_cancel(op, GO_TIMEOUT)) break;   /* nobody will wake us */
      deadline = GO_NEVER;  /* a peer fired the op: wait for its wake-up */
      continue;
    }
    unsigned no = WOKEN_NO;                   /* say we may sleep, then do */
    if (!atomic_compare_exchange_strong_explicit(&op->woken, &no,
            WOKEN_SLEEPING, memory_order_acq_rel, memory_order_acquire) &&
        no == WOKEN_YES)
      break;
    go_futex_wait(&op->woken, WOKEN_SLEEPING, deadline);  /* then re-check */
  }
  if (hook) hook(op, false);            /* the one that saw it park */
}

void op_park (struct op *op, int64_t deadline) {
  GOCHAN_ASSERT(op->wake == NULL);
  if (TRACE_ON()) trace_thread_park(op, true);
  op->deadline = deadline;
  int i = 0;
  while (i < PARK_SPINS &&
         atomic_load_explicit(&op->woken, memory_order_acquire) != WOKEN_YES) {
    cpu_relax();
    i++;
  }
  if (i == PARK_SPINS) park_sleep(op, deadline);
  if (TRACE_ON()) trace_thread_park(op, false);
}
