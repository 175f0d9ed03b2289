/*
** select.c: Go's select over send and recv cases, polled in a uniform
** random order. Pass 0 tries each case under its own channel's lock alone
** and completes the first ready one. Otherwise pass 1 locks every channel
** (in address order, so two selects never deadlock on each other) and
** polls them all again; if none is ready, pass 2 queues one waiter per
** case, all sharing one op, and the caller parks; the first peer to claim
** the op fires exactly that case.
*/
#include <stdlib.h>
#include "chan_impl.h"
#include "select.h"

#define SEL_STACK 16   /* cases handled without allocating */

static inline bool active (const struct selcase *sc) {
  return sc->dir != SEL_OFF && sc->c != NULL;
}

static inline struct waitq *queue_of (struct selcase *sc) {
  return sc->dir == SEL_RECV ? &sc->c->recvq : &sc->c->sendq;
}

static inline gostatus trycase (struct selcase *sc, struct op **wake) {
  return sc->dir == SEL_RECV ? chan_step_recv(sc->c, &sc->v, &sc->ok, wake)
                             : chan_step_send(sc->c, &sc->v, wake);
}

static inline void enqueue (struct selcase *sc, struct waiter *w,
                            struct op *op, int idx) {
  *w = (struct waiter){ .op = op, .val = &sc->v, .ok = &sc->ok, .idx = idx };
  waitq_push(queue_of(sc), w);
  /* a blocked receiver is room to send; a blocked sender, a value */
  chan_changed(sc->c, sc->dir == SEL_RECV ? NOTE_SEND : NOTE_RECV);
}

/* One channel: no ordering work at all (chan_send/chan_recv use this). */
static gostatus begin1 (struct selcase *sc, struct waiter *w, struct op *op,
                        bool block, int *chosen) {
  if (!active(sc)) return GO_AGAIN;   /* off: only a cancel can end it */
  struct chan *c = sc->c;
  struct op *wake = NULL;
  golock_lock(&c->mu);
  gostatus st = trycase(sc, &wake);
  if (st == GO_AGAIN && block) enqueue(sc, w, op, 0);
  golock_unlock(&c->mu);
  if (wake) op_wake(wake);
  if (st != GO_AGAIN) *chosen = 0;
  return st;
}

static int cmpchan (const void *a, const void *b) {
  uintptr_t x = (uintptr_t)*(struct chan *const *)a;
  uintptr_t y = (uintptr_t)*(struct chan *const *)b;
  return (x > y) - (x < y);
}

/* Passes 1 and 2 over the 'na' active cases, polled in the order 'poll';
** 'locks' holds their channels (sorted here). */
static gostatus pollall (struct selcase *cs, const int *poll, int na,
                         struct chan **locks, struct waiter *ws,
                         struct op *op, bool block, int *chosen,
                         struct op **wake) {
  /* lock order: by address, each channel once */
  int nl = 0;
  if (na > 0) {
    if (na <= SEL_STACK)                /* few: insertion sort, no calls */
      for (int i = 1; i < na; i++) {
        struct chan *x = locks[i];
        int j = i;
        for (; j > 0 && (uintptr_t)locks[j - 1] > (uintptr_t)x; j--)
          locks[j] = locks[j - 1];
        locks[j] = x;
      }
    else qsort(locks, (size_t)na, sizeof *locks, cmpchan);
    nl = 1;
    for (int i = 1; i < na; i++)
      if (locks[i] != locks[nl - 1]) locks[nl++] = locks[i];
  }
  for (int i = 0; i < nl; i++) golock_lock(&locks[i]->mu);
  gostatus st = GO_AGAIN;
  for (int k = 0; k < na; k++) {                    /* pass 1 */
    int i = poll[k];
    st = trycase(&cs[i], wake);
    if (st != GO_AGAIN) { *chosen = i; break; }
  }
  if (st == GO_AGAIN && block)                      /* pass 2 */
    for (int k = 0; k < na; k++) enqueue(&cs[poll[k]], &ws[poll[k]], op, poll[k]);
  for (int i = nl - 1; i >= 0; i--) golock_unlock(&locks[i]->mu);
  return st;
}

gostatus sel_begin (struct selcase *cs, int n, struct waiter *ws,
                    struct op *op, bool block, int *chosen) {
  if (n == 1) return begin1(cs, ws, op, block, chosen);
  int pollbuf[SEL_STACK];
  struct chan *lockbuf[SEL_STACK];
  int *poll = pollbuf;
  struct chan **locks = lockbuf;
  if (n > SEL_STACK) {
    poll = malloc((size_t)n * sizeof *poll);
    locks = malloc((size_t)n * sizeof *locks);
    if (!poll || !locks) { free(poll); free(locks); return GO_NOMEM; }
  }
  /* poll order: a uniform random permutation of the active cases, so the
  ** first ready case met is uniform among the ready ones */
  int na = 0;
  for (int i = 0; i < n; i++) {
    if (!active(&cs[i])) continue;
    int j = na == 0 ? 0 : (int)go_randn((uint32_t)na + 1);
    poll[na] = poll[j];
    poll[j] = i;
    locks[na++] = cs[i].c;
  }
  /* pass 0: one lock at a time. A ready case completes as it would under
  ** every lock (readiness is decided under its channel's lock, in the same
  ** order). Finding none ready proves nothing: a case seen not ready may
  ** have become ready before a later one was seen. So that answer (the
  ** default case, or a park) is left to pass 1, which sees every case at
  ** one instant. */
  gostatus st = GO_AGAIN;
  struct op *wake = NULL;
  for (int k = 0; k < na && st == GO_AGAIN; k++) {
    int i = poll[k];
    struct chan *c = cs[i].c;
    golock_lock(&c->mu);
    st = trycase(&cs[i], &wake);
    golock_unlock(&c->mu);
    if (st != GO_AGAIN) *chosen = i;
  }
  if (st == GO_AGAIN)
    st = pollall(cs, poll, na, locks, ws, op, block, chosen, &wake);
  if (wake) op_wake(wake);
  if (poll != pollbuf) { free(poll); free(locks); }
  return st;
}

gostatus sel_finish (struct selcase *cs, int n, struct waiter *ws,
                     struct op *op, int *chosen) {
  int state = atomic_load_explicit(&op->state, memory_order_acquire);
  GOCHAN_ASSERT(state != OP_OPEN);
  /* No one can claim the op any more; unlink the waiters still queued
  ** before their memory goes. The fired one was dequeued by its claimer,
  ** before the wake-up that let us run: no lock needed to skip it. */
  int fired = state == OP_FIRED ? op->fired : -1;
  for (int i = 0; i < n; i++) {
    if (!active(&cs[i]) || i == fired) continue;
    struct chan *c = cs[i].c;
    golock_lock(&c->mu);
    waitq_remove(queue_of(&cs[i]), &ws[i]);
    golock_unlock(&c->mu);
  }
  if (state == OP_FIRED) *chosen = op->fired;
  return op->result;
}

gostatus sel_wait (struct selcase *cs, int n, int64_t deadline, int *chosen) {
  bool block = go_mayblock(deadline);
  struct op op;
  struct waiter wsbuf[SEL_STACK];
  struct waiter *ws = wsbuf;
  if (block && n > SEL_STACK && !(ws = malloc((size_t)n * sizeof *ws)))
    return GO_NOMEM;
  op_init(&op);
  gostatus st = sel_begin(cs, n, ws, &op, block, chosen);
  if (st == GO_AGAIN && block) {
    op_park(&op, deadline);
    st = sel_finish(cs, n, ws, &op, chosen);
  }
  if (ws != wsbuf) free(ws);
  return st;
}
