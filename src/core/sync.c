/*
** sync.c: waitgroup, mutex and atomic integer. Waitgroup and mutex wait
** through the same op/waiter mechanism as channels (waitq.h), so a task
** can park on them exactly as on a channel.
*/
#include <pthread.h>
#include <stdlib.h>
#include "sync.h"

/* ---------------------------------------------------------------- */
/* waitgroup                                                          */

/* 'mu' guards 'count' and 'waiters'. count >= 0 always; count == 0
** implies 'waiters' holds no open waiter. */
struct waitgroup {
  struct obj hdr;
  golock mu;
  int64_t count;
  struct waitq waiters;
};

static void wg_destroy (struct obj *o) {
  struct waitgroup *wg = (struct waitgroup *)o;
  GOCHAN_ASSERT(waitq_empty(&wg->waiters));
  free(wg);
}

struct waitgroup *wg_new (void) {
  struct waitgroup *wg = malloc(sizeof *wg);
  if (!wg) return NULL;
  obj_init(&wg->hdr, OBJ_WAITGROUP, wg_destroy, sizeof *wg);
  golock_init(&wg->mu);
  wg->count = 0;
  waitq_init(&wg->waiters);
  return wg;
}

gostatus wg_add (struct waitgroup *wg, int64_t delta) {
  struct waiter *list = NULL;
  golock_lock(&wg->mu);
  int64_t n;
  if (__builtin_add_overflow(wg->count, delta, &n) || n < 0) {
    golock_unlock(&wg->mu);
    return GO_NEGATIVE;           /* (overflow upwards is reported so too) */
  }
  wg->count = n;
  if (n == 0) list = waitq_claim_all(&wg->waiters, GO_OK, NULL);
  golock_unlock(&wg->mu);
  waiters_wake(list);
  return GO_OK;
}

int64_t wg_count (struct waitgroup *wg) {
  golock_lock(&wg->mu);
  int64_t n = wg->count;
  golock_unlock(&wg->mu);
  return n;
}

gostatus wg_begin (struct waitgroup *wg, struct waiter *w, struct op *op) {
  golock_lock(&wg->mu);
  if (wg->count == 0) {
    golock_unlock(&wg->mu);
    return GO_OK;
  }
  waitq_push1(&wg->waiters, w, op);
  golock_unlock(&wg->mu);
  return GO_AGAIN;
}

gostatus wg_finish (struct waitgroup *wg, struct waiter *w, struct op *op) {
  return waitq_finish1(&wg->mu, &wg->waiters, w, op);
}

gostatus wg_wait (struct waitgroup *wg, int64_t deadline) {
  if (!go_mayblock(deadline))
    return wg_count(wg) == 0 ? GO_OK : GO_AGAIN;
  struct op op;
  struct waiter w;
  op_init(&op);
  gostatus st = wg_begin(wg, &w, &op);
  if (st != GO_AGAIN) return st;
  op_park(&op, deadline);
  return wg_finish(wg, &w, &op);
}

/* ---------------------------------------------------------------- */
/* mutex                                                              */

/* 'mu' guards 'locked' and 'waiters'. !locked implies no open waiter.
** unlock with waiters passes the lock to the first one: 'locked' stays
** true and the claimed waiter owns it when it wakes (FIFO, no barging). */
struct gmutex {
  struct obj hdr;
  golock mu;
  bool locked;
  struct waitq waiters;
};

static void mutex_destroy (struct obj *o) {
  struct gmutex *m = (struct gmutex *)o;
  GOCHAN_ASSERT(waitq_empty(&m->waiters));
  free(m);
}

struct gmutex *mutex_new (void) {
  struct gmutex *m = malloc(sizeof *m);
  if (!m) return NULL;
  obj_init(&m->hdr, OBJ_MUTEX, mutex_destroy, sizeof *m);
  golock_init(&m->mu);
  m->locked = false;
  waitq_init(&m->waiters);
  return m;
}

bool mutex_trylock (struct gmutex *m) {
  golock_lock(&m->mu);
  bool got = !m->locked;
  m->locked = true;
  golock_unlock(&m->mu);
  return got;
}

gostatus mutex_unlock (struct gmutex *m) {
  golock_lock(&m->mu);
  if (!m->locked) {
    golock_unlock(&m->mu);
    return GO_NOTLOCKED;
  }
  struct waiter *w = waitq_claim(&m->waiters);
  if (w) waiter_fire(w, GO_OK);     /* 'locked' stays: w's owner has it */
  else m->locked = false;
  golock_unlock(&m->mu);
  if (w) op_wake(w->op);
  return GO_OK;
}

size_t mutex_nwaiters (struct gmutex *m) {
  golock_lock(&m->mu);
  size_t n = waitq_len(&m->waiters);
  golock_unlock(&m->mu);
  return n;
}

size_t wg_nwaiters (struct waitgroup *wg) {
  golock_lock(&wg->mu);
  size_t n = waitq_len(&wg->waiters);
  golock_unlock(&wg->mu);
  return n;
}

bool mutex_islocked (struct gmutex *m) {
  golock_lock(&m->mu);
  bool b = m->locked;
  golock_unlock(&m->mu);
  return b;
}

gostatus mutex_begin (struct gmutex *m, struct waiter *w, struct op *op) {
  golock_lock(&m->mu);
  if (!m->locked) {
    m->locked = true;
    golock_unlock(&m->mu);
    return GO_OK;
  }
  waitq_push1(&m->waiters, w, op);
  golock_unlock(&m->mu);
  return GO_AGAIN;
}

gostatus mutex_finish (struct gmutex *m, struct waiter *w, struct op *op) {
  return waitq_finish1(&m->mu, &m->waiters, w, op);  /* GO_OK: the
                                        unlocker handed us the lock */
}

gostatus mutex_lock (struct gmutex *m, int64_t deadline) {
  if (!go_mayblock(deadline))
    return mutex_trylock(m) ? GO_OK : GO_AGAIN;
  struct op op;
  struct waiter w;
  op_init(&op);
  gostatus st = mutex_begin(m, &w, &op);
  if (st != GO_AGAIN) return st;
  op_park(&op, deadline);
  return mutex_finish(m, &w, &op);
}

/* ---------------------------------------------------------------- */
/* atomic                                                             */

struct gatomic {
  struct obj hdr;
  _Atomic int64_t v;
};

static void gatomic_destroy (struct obj *o) { free(o); }

struct gatomic *gatomic_new (int64_t n) {
  struct gatomic *a = malloc(sizeof *a);
  if (!a) return NULL;
  obj_init(&a->hdr, OBJ_ATOMIC, gatomic_destroy, sizeof *a);
  atomic_init(&a->v, n);
  return a;
}

int64_t gatomic_get (struct gatomic *a) { return atomic_load(&a->v); }
void gatomic_set (struct gatomic *a, int64_t n) { atomic_store(&a->v, n); }

int64_t gatomic_add (struct gatomic *a, int64_t d) {
  /* wraps like Lua integers (two's complement), never UB */
  return (int64_t)((uint64_t)atomic_fetch_add(&a->v, d) + (uint64_t)d);
}

bool gatomic_cas (struct gatomic *a, int64_t old, int64_t desired) {
  return atomic_compare_exchange_strong(&a->v, &old, desired);
}
