/*
** context.c: the context tree (context.h): cancelation down the tree
** under parent-before-child locks, deadlines on the core's timer, values,
** and the wait hook every blocking call uses.
*/
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "chan.h"
#include "context.h"
#include "timer.h"

/*
** 'mu' guards 'children', 'waiters', 'done', 'causer' and the writing
** of 'err', 'hascause' and 'cause' (each set once, the cause before err;
** 'err' is published with release, so a reader that sees it done reads the
** cause without the lock). 'cprev'/'cnext'/'linked' are guarded by the
** parent's 'mu'. Fixed once the constructor returns: 'parent', 'never',
** 'cancelable', 'deadline', 'hasvalue', 'key', 'val'. 'tmr' is set up by
** ctx_new before it returns and is the timer thread's while armed
** (timer.h); cancel and destroy stop it.
** Invariants: a done context has no open waiter and an empty children
** list; a 'never' context is never done and lists no children.
*/
struct context {
  struct obj hdr;
  golock mu;
  struct context *parent;      /* one reference; NULL for background */
  struct context *children;    /* not owned: each unlinks itself */
  struct context *cprev, *cnext;
  bool linked;                 /* in the parent's list */
  bool never;                  /* can never be canceled (background, or a
                                  value context below such) */
  bool cancelable;             /* by itself: made by ctx_new */
  atomic_int err;              /* CTX_* */
  bool hascause;
  struct tvalue cause;         /* given to the cancel that started here */
  struct context *causer;      /* canceled through an ancestor: the one
                                  holding the cause (a reference) */
  struct chan *done;           /* made on demand; one reference */
  struct waitq waiters;        /* ops waiting on this context */
  int64_t deadline;            /* earliest of its own and its ancestors' */
  struct timer tmr;            /* its own deadline; not a reference:
                                  destroy stops it */
  bool hasvalue;
  struct tvalue key, val;
};

static struct context background;
static pthread_once_t background_once = PTHREAD_ONCE_INIT;

static void background_init (void) {
  obj_init(&background.hdr, OBJ_CONTEXT, NULL, sizeof background);
  /* never destroyed, and not counted as live by the tests' counts */
  obj_count(OBJ_CONTEXT, -1);
  golock_init(&background.mu);
  background.never = true;
  atomic_init(&background.err, CTX_LIVE);
  waitq_init(&background.waiters);
  background.deadline = GO_NEVER;
}

struct context *ctx_background (void) {
  pthread_once(&background_once, background_init);
  return &background;
}

static void ctx_destroy (struct obj *o) {
  struct context *c = (struct context *)o;
  /* refs == 0: no waiter (its owner holds a reference), no child (each
  ** holds one). A cancel may still be at 'c': its deadline callback (stop
  ** it first: that waits for it), or a cancel of its parent (it holds the
  ** parent's lock). Past both, nobody else can reach 'c'. */
  if (c->tmr.fire) timer_stop(&c->tmr);
  struct context *p = c->parent;
  golock_lock(&p->mu);
  if (c->linked) {
    if (c->cprev) c->cprev->cnext = c->cnext; else p->children = c->cnext;
    if (c->cnext) c->cnext->cprev = c->cprev;
    c->linked = false;
  }
  golock_unlock(&p->mu);
  golock_lock(&c->mu);               /* a cancel's writes happen before */
  GOCHAN_ASSERT(waitq_empty(&c->waiters) && c->children == NULL);
  golock_unlock(&c->mu);
  if (c->done) chan_release(c->done);
  if (c->causer) ctx_release(c->causer);
  tvalue_clear(&c->cause);
  tvalue_clear(&c->key);
  tvalue_clear(&c->val);
  free(c);
  ctx_release(p);
}

/* A new child of 'p' (not yet linked), or NULL. */
static struct context *newchild (struct context *p) {
  struct context *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  obj_init(&c->hdr, OBJ_CONTEXT, ctx_destroy, sizeof *c);
  golock_init(&c->mu);
  ctx_retain(p);
  c->parent = p;
  atomic_init(&c->err, CTX_LIVE);
  waitq_init(&c->waiters);
  c->deadline = p->deadline;
  return c;
}

/*
** Cancel 'c' with 'c->mu' held (and the locks of its ancestors up to
** where the cancel started): set its error, wake its waiters, close its
** done channel, recurse into its children and empty its list. 'src' is
** the context holding the cause (NULL: none). Children whose count is
** already zero are being destroyed, waiting for this lock to unlink:
** canceling them is harmless, and their memory lives until then.
*/
static void cancel_locked (struct context *c, int err, struct context *src) {
  if (src && src != c) {
    ctx_retain(src);
    c->causer = src;
  }
  atomic_store_explicit(&c->err, err, memory_order_release);
  struct waiter *list = waitq_claim_all(&c->waiters, GO_OK, NULL);
  waiters_wake(list);                 /* they dequeue nothing of ours */
  if (c->done) chan_close(c->done);
  for (struct context *k = c->children; k; ) {
    struct context *next = k->cnext;
    golock_lock(&k->mu);
    k->linked = false;
    k->cprev = k->cnext = NULL;
    if (atomic_load_explicit(&k->err, memory_order_relaxed) == CTX_LIVE)
      cancel_locked(k, err, src);
    golock_unlock(&k->mu);
    k = next;
  }
  c->children = NULL;
}

/* ctx_cancel without stopping the deadline timer (its own callback). */
static bool cancel (struct context *c, int err, struct tvalue *cause) {
  if (c->never) {
    if (cause) tvalue_clear(cause);
    return false;
  }
  golock_lock(&c->mu);
  if (atomic_load_explicit(&c->err, memory_order_relaxed) != CTX_LIVE) {
    golock_unlock(&c->mu);
    if (cause) tvalue_clear(cause);
    return false;
  }
  if (cause && cause->tt != TV_NIL) {
    c->cause = *cause;
    c->hascause = true;
    tvalue_setnil(cause);
  }
  cancel_locked(c, err, c->hascause ? c : NULL);
  golock_unlock(&c->mu);
  struct context *p = c->parent;      /* alive: 'c' holds it */
  golock_lock(&p->mu);
  if (c->linked) {
    if (c->cprev) c->cprev->cnext = c->cnext; else p->children = c->cnext;
    if (c->cnext) c->cnext->cprev = c->cprev;
    c->linked = false;
  }
  golock_unlock(&p->mu);
  return true;
}

bool ctx_cancel (struct context *c, int err, struct tvalue *cause) {
  if (!cancel(c, err, cause)) return false;
  /* its own timer is of no use now (the descendants' stay armed until
  ** they fire or their context goes: stopping them here would take the
  ** timer lock under context locks) */
  if (c->tmr.fire) timer_stop(&c->tmr);
  return true;
}

/* The deadline's callback, on the timer thread (heap lock held): 'c' is
** alive (destroy stops this timer first). */
static void deadline_fire (struct timer *t, int64_t now) {
  (void)now;
  cancel((struct context *)t->ud, CTX_DEADLINE, NULL);
}

/* Link 'c' under its parent, or start it done if the parent is done. */
static void attach (struct context *c) {
  struct context *p = c->parent;
  if (p->never) return;
  golock_lock(&p->mu);
  int perr = atomic_load_explicit(&p->err, memory_order_relaxed);
  if (perr != CTX_LIVE) {
    golock_lock(&c->mu);
    cancel_locked(c, perr, p->causer ? p->causer : p->hascause ? p : NULL);
    golock_unlock(&c->mu);
  }
  else {
    c->cnext = p->children;
    if (p->children) p->children->cprev = c;
    p->children = c;
    c->linked = true;
  }
  golock_unlock(&p->mu);
}

struct context *ctx_new (struct context *parent, int64_t deadline) {
  struct context *c = newchild(parent);
  if (!c) return NULL;
  c->cancelable = true;
  attach(c);
  if (deadline != GO_NEVER && deadline < c->deadline) {
    c->deadline = deadline;
    if (deadline <= go_now()) ctx_cancel(c, CTX_DEADLINE, NULL);
    else if (!ctx_done(c)) {
      c->tmr.when = deadline;
      c->tmr.period = 0;
      c->tmr.fire = deadline_fire;
      c->tmr.ud = c;
      if (timer_start(&c->tmr) != GO_OK) {  /* no memory: a deadline */
        c->tmr.fire = NULL;                 /* that cannot wait is now */
        ctx_cancel(c, CTX_DEADLINE, NULL);
      }
    }
  }
  return c;
}

struct context *ctx_with_value (struct context *parent, struct tvalue *key,
                                struct tvalue *val) {
  struct context *c = newchild(parent);
  if (!c) return NULL;
  c->never = parent->never;
  c->hasvalue = true;
  c->key = *key;
  c->val = *val;
  tvalue_setnil(key);
  tvalue_setnil(val);
  attach(c);
  return c;
}

bool ctx_cancelable (const struct context *c) { return c->cancelable; }

int ctx_err (const struct context *c) {
  return atomic_load_explicit(&c->err, memory_order_acquire);
}

const struct tvalue *ctx_cause (const struct context *c) {
  if (ctx_err(c) == CTX_LIVE) return NULL;
  if (c->hascause) return &c->cause;
  if (c->causer) return &c->causer->cause;
  return NULL;
}

int64_t ctx_deadline (const struct context *c) { return c->deadline; }

bool ctx_keyeq (const struct tvalue *a, const struct tvalue *b) {
  size_t la, lb;
  const char *sa = tvalue_str(a, &la), *sb = tvalue_str(b, &lb);
  if (sa || sb) return sa && sb && la == lb && memcmp(sa, sb, la) == 0;
  if (a->tt != b->tt) return false;
  switch (a->tt) {
    case TV_NIL: return true;
    case TV_BOOL: return a->u.b == b->u.b;
    case TV_INT: return a->u.i == b->u.i;
    case TV_FLOAT: return a->u.n == b->u.n;
    default: return false;
  }
}

const struct tvalue *ctx_value (const struct context *c,
                                const struct tvalue *key) {
  for (; c; c = c->parent)
    if (c->hasvalue && ctx_keyeq(&c->key, key)) return &c->val;
  return NULL;
}

struct chan *ctx_donechan (struct context *c, bool *nomem) {
  *nomem = false;
  if (c->never) return NULL;
  golock_lock(&c->mu);
  if (!c->done) {
    c->done = chan_new(0);
    if (!c->done) *nomem = true;
    else if (atomic_load_explicit(&c->err, memory_order_relaxed) != CTX_LIVE)
      chan_close(c->done);
  }
  struct chan *d = c->done;
  golock_unlock(&c->mu);
  return d;
}

size_t ctx_nwaiters (struct context *c) {
  golock_lock(&c->mu);
  size_t n = waitq_len(&c->waiters);
  golock_unlock(&c->mu);
  return n;
}


/* ---- the wait hook ---- */

gostatus ctx_begin (struct context *c, struct waiter *cw, struct op *op) {
  *cw = (struct waiter){ .op = op, .idx = CTX_CASE };
  if (!c || c->never) return GO_AGAIN;
  golock_lock(&c->mu);
  if (atomic_load_explicit(&c->err, memory_order_relaxed) == CTX_LIVE) {
    waitq_push(&c->waiters, cw);
    golock_unlock(&c->mu);
    return GO_AGAIN;
  }
  golock_unlock(&c->mu);
  int open = OP_OPEN;                 /* done: fire the op as a cancel would */
  if (atomic_compare_exchange_strong_explicit(&op->state, &open, OP_FIRED,
          memory_order_acq_rel, memory_order_acquire)) {
    waiter_fire(cw, GO_OK);
    op_wake(op);
  }
  return GO_CTXDONE;
}

bool ctx_finish (struct context *c, struct waiter *cw, struct op *op) {
  int state = atomic_load_explicit(&op->state, memory_order_acquire);
  GOCHAN_ASSERT(state != OP_OPEN);
  if (state == OP_FIRED && op->fired == CTX_CASE) return true;  /* its
                                           claimer dequeued it */
  if (c && !c->never) {       /* a cancel may be dropping it: locked */
    golock_lock(&c->mu);
    waitq_remove(&c->waiters, cw);
    golock_unlock(&c->mu);
  }
  return false;
}

gostatus ctx_wait (struct context *c, int64_t deadline, const char *what,
                   ctx_beginfn begin, ctx_beginfn finish, void *o) {
  if (ctx_done(c)) return GO_CTXDONE;
  struct op op;
  struct waiter w, cw;
  op_init(&op);
  op.what = what;
  gostatus st = begin ? begin(o, &w, &op) : GO_AGAIN;
  if (st != GO_AGAIN) return st;
  ctx_begin(c, &cw, &op);
  op_park(&op, deadline);
  bool byctx = ctx_finish(c, &cw, &op);
  st = finish ? finish(o, &w, &op) : op.result;
  return byctx ? GO_CTXDONE : st;
}
