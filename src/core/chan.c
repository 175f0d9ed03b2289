/*
** chan.c: the channel: a ring buffer and two queues of waiters, one
** mutex. The per-case steps (chan_step_send/_recv) are shared with
** select.c.
*/
#include <pthread.h>
#include <stdlib.h>
#include "alloc.h"
#include "chan_impl.h"
#include "select.h"
#include "timer.h"

static void chan_destroy (struct obj *o) {
  struct chan *c = (struct chan *)o;
  /* refs == 0: nobody else can reach it, and no waiter can be queued
  ** (every waiter's owner holds a reference while it waits). */
  GOCHAN_ASSERT(waitq_empty(&c->recvq) && waitq_empty(&c->sendq));
  GOCHAN_ASSERT(c->watch == NULL);      /* a watch holds a reference */
  if (c->timer) ctimer_gone(c->timer);  /* first: it may be sending now */
  for (size_t i = 0; i < c->len; i++)
    tvalue_clear(&c->buf[(c->head + i) % c->cap]);
  free(c->buf);
  gofree(c, sizeof *c);
}

struct chan *chan_new (size_t cap) {
  if (cap > CHAN_MAX_CAP) return NULL;
  struct chan *c = gocalloc(sizeof *c);
  if (!c) return NULL;
  c->buf = NULL;
  if (cap > 0 && !(c->buf = malloc(cap * sizeof *c->buf))) {
    gofree(c, sizeof *c);
    return NULL;
  }
  obj_init(&c->hdr, OBJ_CHAN, chan_destroy, sizeof *c + cap * sizeof *c->buf);
  c->cap = cap;
  golock_init(&c->mu);
  c->len = c->head = 0;
  waitq_init(&c->recvq);
  waitq_init(&c->sendq);
  c->closed = false;
  c->timer = NULL;
  c->watch = NULL;
  atomic_init(&c->dropped, 0);
  return c;
}

gostatus chan_step_send (struct chan *c, struct tvalue *v,
                         struct op **wake) {
  if (c->closed) return GO_CLOSED;
  struct waiter *w = waitq_claim(&c->recvq);
  if (w) {                        /* hand off straight to a receiver */
    GOCHAN_ASSERT(c->len == 0);
    *w->val = *v;
    *w->ok = true;
    waiter_fire(w, GO_OK);
    *wake = w->op;
  }
  else if (c->len < c->cap) {
    c->buf[(c->head + c->len) % c->cap] = *v;
    c->len++;
    chan_changed(c, NOTE_RECV);
  }
  else return GO_AGAIN;
  tvalue_setnil(v);               /* moved into the channel */
  return GO_OK;
}

gostatus chan_step_recv (struct chan *c, struct tvalue *out, bool *ok,
                         struct op **wake) {
  struct waiter *w;
  if (c->len > 0) {
    *out = c->buf[c->head];
    w = waitq_claim(&c->sendq);
    if (w) {     /* full buffer: the sender's value takes the freed slot */
      GOCHAN_ASSERT(c->len == c->cap);
      c->buf[c->head] = *w->val;
      tvalue_setnil(w->val);
      waiter_fire(w, GO_OK);
      *wake = w->op;
    }
    else {
      c->len--;
      chan_changed(c, NOTE_SEND);
    }
    c->head = (c->head + 1 == c->cap) ? 0 : c->head + 1;
    *ok = true;
  }
  else if ((w = waitq_claim(&c->sendq)) != NULL) {  /* unbuffered */
    *out = *w->val;
    tvalue_setnil(w->val);
    waiter_fire(w, GO_OK);
    *wake = w->op;
    *ok = true;
  }
  else if (c->closed) {
    tvalue_setnil(out);
    *ok = false;
  }
  else return GO_AGAIN;
  return GO_OK;
}

gostatus chan_try_send (struct chan *c, struct tvalue *v) {
  struct op *wake = NULL;
  golock_lock(&c->mu);
  gostatus st = chan_step_send(c, v, &wake);
  golock_unlock(&c->mu);
  if (wake) op_wake(wake);
  return st;
}

gostatus chan_try_recv (struct chan *c, struct tvalue *out, bool *ok) {
  struct op *wake = NULL;
  golock_lock(&c->mu);
  gostatus st = chan_step_recv(c, out, ok, &wake);
  golock_unlock(&c->mu);
  if (wake) op_wake(wake);
  return st;
}

gostatus chan_send (struct chan *c, struct tvalue *v, int64_t deadline) {
  gostatus st = chan_try_send(c, v);
  if (st != GO_AGAIN || deadline == GO_NOW) return st;
  struct selcase sc = { .c = c, .dir = SEL_SEND, .v = *v };
  int chosen;
  st = sel_wait(&sc, 1, deadline, &chosen);
  *v = sc.v;            /* nil if taken; the caller's value otherwise */
  return st;
}

gostatus chan_recv (struct chan *c, struct tvalue *out, bool *ok,
                    int64_t deadline) {
  gostatus st = chan_try_recv(c, out, ok);
  if (st != GO_AGAIN || deadline == GO_NOW) return st;
  struct selcase sc = { .c = c, .dir = SEL_RECV, .v = TVALUE_NIL };
  int chosen;
  st = sel_wait(&sc, 1, deadline, &chosen);
  *out = sc.v;
  *ok = sc.ok;
  return st;
}

gostatus chan_close (struct chan *c) {
  golock_lock(&c->mu);
  if (c->closed) {
    golock_unlock(&c->mu);
    return GO_CLOSED;
  }
  c->closed = true;
  /* Every blocked party can now proceed: receivers get (nil, false),
  ** senders GO_CLOSED. So far the list holds only the receivers. */
  struct waiter *list = waitq_claim_all(&c->recvq, GO_OK, NULL);
  for (struct waiter *w = list; w; w = w->next) {
    tvalue_setnil(w->val);
    *w->ok = false;
  }
  list = waitq_claim_all(&c->sendq, GO_CLOSED, list);
  chan_changed(c, NOTE_RECV | NOTE_SEND);
  golock_unlock(&c->mu);
  waiters_wake(list);
  return GO_OK;
}

size_t chan_len (struct chan *c) {
  golock_lock(&c->mu);
  size_t n = c->len;
  golock_unlock(&c->mu);
  return n;
}

size_t chan_cap (struct chan *c) { return c->cap; }

size_t chan_nwaiters (struct chan *c) {
  golock_lock(&c->mu);
  size_t n = waitq_len(&c->recvq) + waitq_len(&c->sendq);
  golock_unlock(&c->mu);
  return n;
}

gostatus chan_offer (struct chan *c, struct tvalue *v) {
  gostatus st = chan_try_send(c, v);
  if (st == GO_AGAIN)
    atomic_fetch_add_explicit(&c->dropped, 1, memory_order_relaxed);
  return st;
}

uint64_t chan_dropped (struct chan *c) {
  return atomic_load_explicit(&c->dropped, memory_order_relaxed);
}

bool chan_isclosed (struct chan *c) {
  golock_lock(&c->mu);
  bool b = c->closed;
  golock_unlock(&c->mu);
  return b;
}
