/*
** xsync.c: once, rwmutex, cond and weighted semaphore. They wait through
** the op/waiter mechanism of waitq.h, as sync.c's waitgroup and mutex do,
** so a task parks on them exactly as on a channel.
*/
#include <stdlib.h>
#include "sync.h"
#include "xsync.h"

/* ---------------------------------------------------------------- */
/* shared by the four                                                 */

static bool isopen (const struct waiter *w) {
  return atomic_load_explicit(&w->op->state, memory_order_acquire) == OP_OPEN;
}

/* Drop from the head of 'q' the waiters whose op is no longer open (given
** up, or fired through another of its cases: their owner's finish finds
** them dequeued). True if an open waiter is left at the head. Lock of 'q'
** held. */
static bool prune (struct waitq *q) {
  while (q->head && !isopen(q->head)) waitq_remove(q, q->head);
  return q->head != NULL;
}

/* Whether 'w' is the case that fired 'op' (then its claimer dequeued it
** and set the result). Called by the owner once the op is not open. */
static bool firedhere (const struct waiter *w, const struct op *op) {
  return atomic_load_explicit(&op->state, memory_order_acquire) == OP_FIRED
         && op->fired == w->idx;
}

/* Push 'w' on the front of 'list' (through 'next': 'w' is dequeued). */
static struct waiter *push_wake (struct waiter *list, struct waiter *w) {
  w->next = list;
  return w;
}

/* The finish of a one-case wait on 'q' under 'l' whose giving up lets
** nobody else through: dequeue 'w' unless its claimer did. */
static gostatus finish_one (golock *l, struct waitq *q, struct waiter *w,
                            struct op *op) {
  GOCHAN_ASSERT(atomic_load_explicit(&op->state, memory_order_acquire)
                != OP_OPEN);
  if (!firedhere(w, op)) {
    golock_lock(l);
    waitq_remove(q, w);
    golock_unlock(l);
  }
  return op->result;
}

static size_t qlen (golock *l, const struct waitq *q) {
  golock_lock(l);
  size_t n = waitq_len(q);
  golock_unlock(l);
  return n;
}


/* ---------------------------------------------------------------- */
/* once                                                               */

/* 'mu' guards 'state' and 'waiters'. 'state' goes ONCE_NEW -> RUNNING ->
** DONE and never back. Waiters queue only while RUNNING; DONE implies no
** open waiter. */
struct gonce {
  struct obj hdr;
  golock mu;
  int state;
  struct waitq waiters;
};

static void once_destroy (struct obj *o) {
  struct gonce *once = (struct gonce *)o;
  GOCHAN_ASSERT(waitq_empty(&once->waiters));
  free(once);
}

struct gonce *once_new (void) {
  struct gonce *o = malloc(sizeof *o);
  if (!o) return NULL;
  obj_init(&o->hdr, OBJ_ONCE, once_destroy, sizeof *o);
  golock_init(&o->mu);
  o->state = ONCE_NEW;
  waitq_init(&o->waiters);
  return o;
}

bool once_enter (struct gonce *o) {
  golock_lock(&o->mu);
  bool first = o->state == ONCE_NEW;
  if (first) o->state = ONCE_RUNNING;
  golock_unlock(&o->mu);
  return first;
}

void once_done (struct gonce *o) {
  golock_lock(&o->mu);
  GOCHAN_ASSERT(o->state == ONCE_RUNNING);
  o->state = ONCE_DONE;
  struct waiter *list = waitq_claim_all(&o->waiters, GO_OK, NULL);
  golock_unlock(&o->mu);
  waiters_wake(list);
}

int once_state (struct gonce *o) {
  golock_lock(&o->mu);
  int st = o->state;
  golock_unlock(&o->mu);
  return st;
}

gostatus once_begin (struct gonce *o, struct waiter *w, struct op *op) {
  golock_lock(&o->mu);
  if (o->state == ONCE_DONE) {
    golock_unlock(&o->mu);
    return GO_OK;
  }
  waitq_push1(&o->waiters, w, op);
  golock_unlock(&o->mu);
  return GO_AGAIN;
}

gostatus once_finish (struct gonce *o, struct waiter *w, struct op *op) {
  return finish_one(&o->mu, &o->waiters, w, op);
}

gostatus once_wait (struct gonce *o, int64_t deadline) {
  if (!go_mayblock(deadline))
    return once_state(o) == ONCE_DONE ? GO_OK : GO_AGAIN;
  struct op op;
  struct waiter w;
  op_init(&op);
  gostatus st = once_begin(o, &w, &op);
  if (st != GO_AGAIN) return st;
  op_park(&op, deadline);
  return once_finish(o, &w, &op);
}

size_t once_nwaiters (struct gonce *o) { return qlen(&o->mu, &o->waiters); }


/* ---------------------------------------------------------------- */
/* rwmutex                                                            */

/*
** 'mu' guards every field. 'writer' implies readers == 0. A writer queues
** on 'wq' only while the lock is held or an open writer waits before it; a
** reader queues on 'rq' only while a writer holds the lock or an open
** writer waits (so a stream of readers cannot starve a writer). With 'mu'
** held and !writer, no open writer in 'wq' implies no open reader in 'rq':
** 'grant' restores it after every change. Whoever lets a waiter in does
** its part of the count (writer = true, readers++) before waking it.
*/
struct grwmutex {
  struct obj hdr;
  golock mu;
  int64_t readers;            /* holding the read lock */
  bool writer;                /* a writer holds the lock */
  struct waitq wq, rq;        /* waiting writers, waiting readers: FIFO */
};

static void rw_destroy (struct obj *o) {
  struct grwmutex *rw = (struct grwmutex *)o;
  GOCHAN_ASSERT(waitq_empty(&rw->wq) && waitq_empty(&rw->rq));
  free(rw);
}

struct grwmutex *rw_new (void) {
  struct grwmutex *rw = malloc(sizeof *rw);
  if (!rw) return NULL;
  obj_init(&rw->hdr, OBJ_RWMUTEX, rw_destroy, sizeof *rw);
  golock_init(&rw->mu);
  rw->readers = 0;
  rw->writer = false;
  waitq_init(&rw->wq);
  waitq_init(&rw->rq);
  return rw;
}

/* Let every waiting reader in (mu held); they join 'list'. */
static struct waiter *admit_readers (struct grwmutex *rw,
                                     struct waiter *list) {
  struct waiter *w;
  while ((w = waitq_claim(&rw->rq)) != NULL) {
    rw->readers++;
    waiter_fire(w, GO_OK);
    list = push_wake(list, w);
  }
  return list;
}

/* Let in whoever may enter now (mu held): with the lock free, the first
** waiting writer; with no writer holding or waiting, every waiting
** reader. Returns the waiters to wake, for after unlocking. */
static struct waiter *grant (struct grwmutex *rw) {
  if (rw->writer) return NULL;
  if (prune(&rw->wq)) {
    if (rw->readers > 0) return NULL;     /* it waits for them to leave */
    struct waiter *w = waitq_claim(&rw->wq);
    if (w) {
      rw->writer = true;
      waiter_fire(w, GO_OK);
      return push_wake(NULL, w);
    }                                     /* (gave up meanwhile) */
  }
  return admit_readers(rw, NULL);
}

static bool canlock (struct grwmutex *rw) {
  return !rw->writer && rw->readers == 0 && !prune(&rw->wq);
}

static bool canrlock (struct grwmutex *rw) {
  return !rw->writer && !prune(&rw->wq);
}

bool rw_trylock (struct grwmutex *rw) {
  golock_lock(&rw->mu);
  bool got = canlock(rw);
  if (got) rw->writer = true;
  golock_unlock(&rw->mu);
  return got;
}

bool rw_tryrlock (struct grwmutex *rw) {
  golock_lock(&rw->mu);
  bool got = canrlock(rw);
  if (got) rw->readers++;
  golock_unlock(&rw->mu);
  return got;
}

gostatus rw_unlock (struct grwmutex *rw) {
  golock_lock(&rw->mu);
  if (!rw->writer) {
    golock_unlock(&rw->mu);
    return GO_NOTLOCKED;
  }
  rw->writer = false;
  /* the readers that waited go first (as Go), then the next writer */
  struct waiter *list = admit_readers(rw, NULL);
  if (!list) list = grant(rw);
  golock_unlock(&rw->mu);
  waiters_wake(list);
  return GO_OK;
}

gostatus rw_runlock (struct grwmutex *rw) {
  golock_lock(&rw->mu);
  if (rw->readers == 0) {
    golock_unlock(&rw->mu);
    return GO_NOTLOCKED;
  }
  rw->readers--;
  struct waiter *list = grant(rw);
  golock_unlock(&rw->mu);
  waiters_wake(list);
  return GO_OK;
}

int64_t rw_readers (struct grwmutex *rw) {
  golock_lock(&rw->mu);
  int64_t n = rw->readers;
  golock_unlock(&rw->mu);
  return n;
}

bool rw_islocked (struct grwmutex *rw) {
  golock_lock(&rw->mu);
  bool b = rw->writer;
  golock_unlock(&rw->mu);
  return b;
}

size_t rw_nwriters (struct grwmutex *rw) { return qlen(&rw->mu, &rw->wq); }
size_t rw_nreaders (struct grwmutex *rw) { return qlen(&rw->mu, &rw->rq); }

gostatus rw_lock_begin (struct grwmutex *rw, struct waiter *w,
                        struct op *op) {
  golock_lock(&rw->mu);
  if (canlock(rw)) {
    rw->writer = true;
    golock_unlock(&rw->mu);
    return GO_OK;
  }
  waitq_push1(&rw->wq, w, op);
  golock_unlock(&rw->mu);
  return GO_AGAIN;
}

gostatus rw_rlock_begin (struct grwmutex *rw, struct waiter *w,
                         struct op *op) {
  golock_lock(&rw->mu);
  if (canrlock(rw)) {
    rw->readers++;
    golock_unlock(&rw->mu);
    return GO_OK;
  }
  waitq_push1(&rw->rq, w, op);
  golock_unlock(&rw->mu);
  return GO_AGAIN;
}

/* A waiter that was not let in leaves its queue; a writer that gave up
** may have been holding back readers, so they are let in now. */
static gostatus rw_finish (struct grwmutex *rw, struct waitq *q,
                           struct waiter *w, struct op *op) {
  GOCHAN_ASSERT(atomic_load_explicit(&op->state, memory_order_acquire)
                != OP_OPEN);
  if (firedhere(w, op)) return op->result;    /* GO_OK: let in */
  golock_lock(&rw->mu);
  waitq_remove(q, w);
  struct waiter *list = grant(rw);
  golock_unlock(&rw->mu);
  waiters_wake(list);
  return op->result;
}

gostatus rw_lock_finish (struct grwmutex *rw, struct waiter *w,
                         struct op *op) {
  return rw_finish(rw, &rw->wq, w, op);
}

gostatus rw_rlock_finish (struct grwmutex *rw, struct waiter *w,
                          struct op *op) {
  return rw_finish(rw, &rw->rq, w, op);
}

gostatus rw_lock (struct grwmutex *rw, int64_t deadline) {
  if (!go_mayblock(deadline)) return rw_trylock(rw) ? GO_OK : GO_AGAIN;
  struct op op;
  struct waiter w;
  op_init(&op);
  gostatus st = rw_lock_begin(rw, &w, &op);
  if (st != GO_AGAIN) return st;
  op_park(&op, deadline);
  return rw_lock_finish(rw, &w, &op);
}

gostatus rw_rlock (struct grwmutex *rw, int64_t deadline) {
  if (!go_mayblock(deadline)) return rw_tryrlock(rw) ? GO_OK : GO_AGAIN;
  struct op op;
  struct waiter w;
  op_init(&op);
  gostatus st = rw_rlock_begin(rw, &w, &op);
  if (st != GO_AGAIN) return st;
  op_park(&op, deadline);
  return rw_rlock_finish(rw, &w, &op);
}


/* ---------------------------------------------------------------- */
/* cond                                                               */

/* 'mu' guards 'waiters'. 'lock' (a gmutex or a grwmutex, one reference
** held) is fixed at creation. A waiter is queued before the lock is
** unlocked, so a signal that follows the unlock always finds it. */
struct gcond {
  struct obj hdr;
  golock mu;
  struct obj *lock;
  struct waitq waiters;
};

static void cond_destroy (struct obj *o) {
  struct gcond *c = (struct gcond *)o;
  GOCHAN_ASSERT(waitq_empty(&c->waiters));
  obj_release(c->lock);
  free(c);
}

struct gcond *cond_new (struct obj *lock) {
  GOCHAN_ASSERT(lock->type == OBJ_MUTEX || lock->type == OBJ_RWMUTEX);
  struct gcond *c = malloc(sizeof *c);
  if (!c) return NULL;
  obj_init(&c->hdr, OBJ_COND, cond_destroy, sizeof *c);
  golock_init(&c->mu);
  obj_retain(lock);
  c->lock = lock;
  waitq_init(&c->waiters);
  return c;
}

struct obj *cond_lock (struct gcond *c) { return c->lock; }

static bool lockheld (struct obj *l) {
  return l->type == OBJ_MUTEX ? mutex_islocked((struct gmutex *)l)
                              : rw_islocked((struct grwmutex *)l);
}

bool cond_locked (struct gcond *c) { return lockheld(c->lock); }

gostatus cond_begin (struct gcond *c, struct waiter *w, struct op *op) {
  if (!lockheld(c->lock)) return GO_NOTLOCKED;
  golock_lock(&c->mu);
  waitq_push1(&c->waiters, w, op);
  golock_unlock(&c->mu);
  /* GO_NOTLOCKED here means another party unlocked it meanwhile (the
  ** lock is nobody's): it is unlocked all the same, which is what the
  ** wait needs */
  if (c->lock->type == OBJ_MUTEX) mutex_unlock((struct gmutex *)c->lock);
  else rw_unlock((struct grwmutex *)c->lock);
  return GO_AGAIN;
}

gostatus cond_finish (struct gcond *c, struct waiter *w, struct op *op) {
  return finish_one(&c->mu, &c->waiters, w, op);
}

gostatus cond_relock (struct gcond *c) {
  if (c->lock->type == OBJ_MUTEX)
    return mutex_lock((struct gmutex *)c->lock, GO_NEVER);
  return rw_lock((struct grwmutex *)c->lock, GO_NEVER);
}

gostatus cond_wait (struct gcond *c, int64_t deadline, bool *relocked) {
  struct op op;
  struct waiter w;
  op_init(&op);
  gostatus st = cond_begin(c, &w, &op);
  if (st != GO_AGAIN) {
    *relocked = false;
    return st;                              /* GO_NOTLOCKED */
  }
  op_park(&op, deadline);
  st = cond_finish(c, &w, &op);
  gostatus r = cond_relock(c);
  *relocked = r == GO_OK;
  return r == GO_OK ? st : r;
}

void cond_signal (struct gcond *c) {
  golock_lock(&c->mu);
  struct waiter *w = waitq_claim(&c->waiters);
  if (w) waiter_fire(w, GO_OK);
  golock_unlock(&c->mu);
  if (w) op_wake(w->op);
}

void cond_broadcast (struct gcond *c) {
  golock_lock(&c->mu);
  struct waiter *list = waitq_claim_all(&c->waiters, GO_OK, NULL);
  golock_unlock(&c->mu);
  waiters_wake(list);
}

size_t cond_nwaiters (struct gcond *c) { return qlen(&c->mu, &c->waiters); }


/* ---------------------------------------------------------------- */
/* semaphore                                                          */

/*
** 'mu' guards 'cur' and 'waiters' (and the 'n' of each queued waiter);
** 'size' is fixed. 0 <= cur <= size. FIFO: with 'mu' held, the open
** waiter at the head (if any) asks for more than size - cur units
** ('grant' restores this after every change), and a new request queues
** while any open waiter is queued. A granted waiter's units are added to
** 'cur' by whoever grants it, before the wake-up.
*/
struct gsem {
  struct obj hdr;
  golock mu;
  int64_t size, cur;
  struct waitq waiters;
};

static void sem_destroy (struct obj *o) {
  struct gsem *s = (struct gsem *)o;
  GOCHAN_ASSERT(waitq_empty(&s->waiters));
  free(s);
}

struct gsem *sem_new (int64_t size) {
  GOCHAN_ASSERT(size >= 0);
  struct gsem *s = malloc(sizeof *s);
  if (!s) return NULL;
  obj_init(&s->hdr, OBJ_SEM, sem_destroy, sizeof *s);
  golock_init(&s->mu);
  s->size = size;
  s->cur = 0;
  waitq_init(&s->waiters);
  return s;
}

int64_t sem_size (struct gsem *s) { return s->size; }

int64_t sem_held (struct gsem *s) {
  golock_lock(&s->mu);
  int64_t n = s->cur;
  golock_unlock(&s->mu);
  return n;
}

/* Grant the waiters at the head, in order, while the first open one fits
** (Go's notifyWaiters); mu held. Returns them, to wake after unlocking. */
static struct waiter *sem_grant (struct gsem *s) {
  struct waiter *list = NULL;
  while (prune(&s->waiters)) {
    struct waiter *w = s->waiters.head;
    if (w->n > s->size - s->cur) break;    /* holds up the rest: FIFO */
    int open = OP_OPEN;
    waitq_remove(&s->waiters, w);
    if (!atomic_compare_exchange_strong_explicit(&w->op->state, &open,
            OP_FIRED, memory_order_acq_rel, memory_order_acquire))
      continue;                             /* gave up meanwhile */
    s->cur += w->n;
    waiter_fire(w, GO_OK);
    list = push_wake(list, w);
  }
  return list;
}

static bool canacquire (struct gsem *s, int64_t k) {
  return k == 0 || (k <= s->size - s->cur && !prune(&s->waiters));
}

bool sem_tryacquire (struct gsem *s, int64_t k) {
  GOCHAN_ASSERT(k >= 0);
  if (k > s->size) return false;
  golock_lock(&s->mu);
  bool got = canacquire(s, k);
  if (got) s->cur += k;
  golock_unlock(&s->mu);
  return got;
}

gostatus sem_release (struct gsem *s, int64_t k) {
  GOCHAN_ASSERT(k >= 0);
  golock_lock(&s->mu);
  if (k > s->cur) {
    golock_unlock(&s->mu);
    return GO_NEGATIVE;
  }
  s->cur -= k;
  struct waiter *list = sem_grant(s);
  golock_unlock(&s->mu);
  waiters_wake(list);
  return GO_OK;
}

gostatus sem_begin (struct gsem *s, int64_t k, struct waiter *w,
                    struct op *op) {
  GOCHAN_ASSERT(k >= 0 && k <= s->size);
  golock_lock(&s->mu);
  if (canacquire(s, k)) {
    s->cur += k;
    golock_unlock(&s->mu);
    return GO_OK;
  }
  waitq_push1(&s->waiters, w, op);
  w->n = k;
  golock_unlock(&s->mu);
  return GO_AGAIN;
}

/* A waiter that gave up may have been holding up smaller ones behind it
** (FIFO): they are granted now if they fit. */
gostatus sem_finish (struct gsem *s, struct waiter *w, struct op *op) {
  GOCHAN_ASSERT(atomic_load_explicit(&op->state, memory_order_acquire)
                != OP_OPEN);
  if (firedhere(w, op)) return op->result;    /* GO_OK: granted */
  golock_lock(&s->mu);
  waitq_remove(&s->waiters, w);
  struct waiter *list = sem_grant(s);
  golock_unlock(&s->mu);
  waiters_wake(list);
  return op->result;
}

gostatus sem_acquire (struct gsem *s, int64_t k, int64_t deadline) {
  if (!go_mayblock(deadline) || k == 0)
    return sem_tryacquire(s, k) ? GO_OK : GO_AGAIN;
  struct op op;
  struct waiter w;
  op_init(&op);
  gostatus st = sem_begin(s, k, &w, &op);
  if (st != GO_AGAIN) return st;
  op_park(&op, deadline);
  return sem_finish(s, &w, &op);
}

size_t sem_nwaiters (struct gsem *s) { return qlen(&s->mu, &s->waiters); }
