/*
** test_xsync.c: once (one runner, waiters until it finishes), rwmutex
** (readers share, writers exclude, a waiting writer keeps new readers out,
** a writer that gives up lets them in, unlock errors), cond (signal wakes
** one, broadcast all, no lost signal between unlock and wait, relock on
** timeout, not locked), semaphore (weights, FIFO, try while others wait,
** a head that gives up lets smaller ones through, release errors), and
** each of them waiting with a context (context.h's hook): a cancel ends
** the wait with nothing taken and lets through whoever it held up.
*/
#include "check.h"
#include "context.h"
#include "sync.h"
#include "xsync.h"

#define LONG_MS 10000
#define NTHREADS 8

/* ------------------------------ once ------------------------------ */

struct oncearg {
  struct gonce *o;
  atomic_int *ran;
  atomic_int *finished;     /* set by the runner before once_done */
  int saw_finished;
  gostatus st;
};

static void *once_caller (void *arg) {
  struct oncearg *a = arg;
  if (once_enter(a->o)) {
    atomic_fetch_add(a->ran, 1);
    check_sleep_ms(20);                     /* others must wait for this */
    atomic_store(a->finished, 1);
    once_done(a->o);
    a->st = GO_OK;
    a->saw_finished = 1;
    return NULL;
  }
  a->st = once_wait(a->o, check_in_ms(LONG_MS));
  a->saw_finished = atomic_load(a->finished);
  return NULL;
}

static void test_once_racing (void) {
  for (int round = 0; round < 20; round++) {
    struct gonce *o = once_new();
    atomic_int ran = 0, finished = 0;
    struct oncearg a[NTHREADS];
    pthread_t th[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
      a[i] = (struct oncearg){ .o = o, .ran = &ran, .finished = &finished };
      CHECK_SPAWN(&th[i], once_caller, &a[i]);
    }
    for (int i = 0; i < NTHREADS; i++) {
      CHECK_JOIN(th[i]);
      CHECK_EQ_ST(a[i].st, GO_OK);
      CHECK_EQ_INT(a[i].saw_finished, 1);
    }
    CHECK_EQ_INT(atomic_load(&ran), 1);
    CHECK_EQ_INT(once_state(o), ONCE_DONE);
    CHECK(!once_enter(o));
    CHECK_EQ_ST(once_wait(o, GO_NOW), GO_OK);
    CHECK_RELEASE(o);
  }
}

static void test_once_wait_timeout (void) {
  struct gonce *o = once_new();
  CHECK_EQ_INT(once_state(o), ONCE_NEW);
  CHECK(once_enter(o));
  CHECK_EQ_INT(once_state(o), ONCE_RUNNING);
  CHECK_EQ_ST(once_wait(o, GO_NOW), GO_AGAIN);
  CHECK_EQ_ST(once_wait(o, check_in_ms(30)), GO_TIMEOUT);
  CHECK_EQ_INT(once_nwaiters(o), 0);
  once_done(o);
  CHECK_EQ_ST(once_wait(o, check_in_ms(30)), GO_OK);
  CHECK_RELEASE(o);
}

/* ----------------------------- rwmutex ---------------------------- */

static void test_rw_basic (void) {
  struct grwmutex *rw = rw_new();
  CHECK(rw_tryrlock(rw));
  CHECK(rw_tryrlock(rw));
  CHECK_EQ_INT(rw_readers(rw), 2);
  CHECK(!rw_trylock(rw));
  CHECK_EQ_ST(rw_lock(rw, check_in_ms(20)), GO_TIMEOUT);
  CHECK_EQ_ST(rw_runlock(rw), GO_OK);
  CHECK_EQ_ST(rw_runlock(rw), GO_OK);
  CHECK_EQ_ST(rw_runlock(rw), GO_NOTLOCKED);     /* nothing changed */
  CHECK_EQ_INT(rw_readers(rw), 0);
  CHECK_EQ_ST(rw_unlock(rw), GO_NOTLOCKED);
  CHECK(rw_trylock(rw));
  CHECK(rw_islocked(rw));
  CHECK(!rw_tryrlock(rw));
  CHECK(!rw_trylock(rw));
  CHECK_EQ_ST(rw_rlock(rw, check_in_ms(20)), GO_TIMEOUT);
  CHECK_EQ_ST(rw_runlock(rw), GO_NOTLOCKED);     /* write-locked only */
  CHECK(rw_islocked(rw));
  CHECK_EQ_ST(rw_unlock(rw), GO_OK);
  CHECK(!rw_islocked(rw));
  CHECK_EQ_INT(rw_nwriters(rw) + rw_nreaders(rw), 0);
  CHECK_RELEASE(rw);
}

struct rwarg {
  struct grwmutex *rw;
  bool write;
  gostatus st;
  atomic_int *order;        /* where this one came in */
  int pos;
};

static void *rw_taker (void *arg) {
  struct rwarg *a = arg;
  a->st = a->write ? rw_lock(a->rw, check_in_ms(LONG_MS))
                   : rw_rlock(a->rw, check_in_ms(LONG_MS));
  a->pos = atomic_fetch_add(a->order, 1);
  return NULL;
}

/* A writer that waits for a reader keeps later readers out; when the
** reader leaves, the writer goes before them. */
static void test_rw_writer_first (void) {
  struct grwmutex *rw = rw_new();
  atomic_int order = 0;
  CHECK_EQ_ST(rw_rlock(rw, GO_NOW), GO_OK);
  struct rwarg w = { .rw = rw, .write = true, .st = GO_OK, .order = &order, .pos = -1 };
  pthread_t tw, tr[3];
  CHECK_SPAWN(&tw, rw_taker, &w);
  CHECK_UNTIL(rw_nwriters(rw) == 1);
  CHECK(!rw_tryrlock(rw));                /* a writer waits: no new reader */
  struct rwarg r[3];
  for (int i = 0; i < 3; i++) {
    r[i] = (struct rwarg){ rw, false, GO_OK, &order, -1 };
    CHECK_SPAWN(&tr[i], rw_taker, &r[i]);
  }
  CHECK_UNTIL(rw_nreaders(rw) == 3);
  CHECK_EQ_ST(rw_runlock(rw), GO_OK);     /* the writer goes */
  CHECK_JOIN(tw);
  CHECK_EQ_ST(w.st, GO_OK);
  CHECK_EQ_INT(w.pos, 0);
  CHECK(rw_islocked(rw));
  CHECK_EQ_INT(rw_nreaders(rw), 3);       /* still out */
  CHECK_EQ_ST(rw_unlock(rw), GO_OK);      /* all three readers together */
  for (int i = 0; i < 3; i++) {
    CHECK_JOIN(tr[i]);
    CHECK_EQ_ST(r[i].st, GO_OK);
  }
  CHECK_EQ_INT(rw_readers(rw), 3);
  for (int i = 0; i < 3; i++) CHECK_EQ_ST(rw_runlock(rw), GO_OK);
  CHECK_RELEASE(rw);
}

/* A waiting writer that gives up lets in the readers it held back. */
static void test_rw_writer_gives_up (void) {
  struct grwmutex *rw = rw_new();
  atomic_int order = 0;
  CHECK_EQ_ST(rw_rlock(rw, GO_NOW), GO_OK);
  struct rwarg r = { .rw = rw, .write = false, .st = GO_OK, .order = &order, .pos = -1 };
  pthread_t tr;
  struct op op;
  struct waiter w;
  op_init(&op);
  CHECK_EQ_ST(rw_lock_begin(rw, &w, &op), GO_AGAIN);
  CHECK_SPAWN(&tr, rw_taker, &r);
  CHECK_UNTIL(rw_nreaders(rw) == 1);
  CHECK(op_cancel(&op, GO_TIMEOUT));
  CHECK_EQ_ST(rw_lock_finish(rw, &w, &op), GO_TIMEOUT);
  CHECK_JOIN(tr);
  CHECK_EQ_ST(r.st, GO_OK);
  CHECK_EQ_INT(rw_readers(rw), 2);
  CHECK_EQ_ST(rw_runlock(rw), GO_OK);
  CHECK_EQ_ST(rw_runlock(rw), GO_OK);
  CHECK_RELEASE(rw);
}

struct rwload {
  struct grwmutex *rw;
  long *shared;             /* written by writers only, under the lock */
  atomic_int *stop;
  atomic_int *inside;       /* writers inside: must stay <= 1, 0 with readers */
  int bad, wrote;
};

static void *rw_reader_loop (void *arg) {
  struct rwload *a = arg;
  while (!atomic_load(a->stop)) {
    if (rw_rlock(a->rw, check_in_ms(LONG_MS)) != GO_OK) { a->bad++; continue; }
    if (atomic_load(a->inside) != 0) a->bad++;
    long v = *a->shared;
    (void)v;
    if (rw_runlock(a->rw) != GO_OK) a->bad++;
  }
  return NULL;
}

static void *rw_writer_loop (void *arg) {
  struct rwload *a = arg;
  for (int i = 0; i < 200; i++) {
    if (rw_lock(a->rw, check_in_ms(LONG_MS)) != GO_OK) { a->bad++; continue; }
    if (atomic_fetch_add(a->inside, 1) != 0) a->bad++;
    (*a->shared)++;
    atomic_fetch_sub(a->inside, 1);
    if (rw_unlock(a->rw) != GO_OK) a->bad++;
    a->wrote++;
  }
  return NULL;
}

/* Writers get through a steady stream of readers (no starvation), and
** never overlap a reader or each other. */
static void test_rw_no_starvation (void) {
  struct grwmutex *rw = rw_new();
  long shared = 0;
  atomic_int stop = 0, inside = 0;
  struct rwload rd[6], wr[2];
  pthread_t tr[6], tw[2];
  for (int i = 0; i < 6; i++) {
    rd[i] = (struct rwload){ rw, &shared, &stop, &inside, 0, 0 };
    CHECK_SPAWN(&tr[i], rw_reader_loop, &rd[i]);
  }
  for (int i = 0; i < 2; i++) {
    wr[i] = (struct rwload){ rw, &shared, &stop, &inside, 0, 0 };
    CHECK_SPAWN(&tw[i], rw_writer_loop, &wr[i]);
  }
  for (int i = 0; i < 2; i++) CHECK_JOIN(tw[i]);   /* while readers read */
  atomic_store(&stop, 1);
  for (int i = 0; i < 6; i++) {
    CHECK_JOIN(tr[i]);
    CHECK_EQ_INT(rd[i].bad, 0);
  }
  for (int i = 0; i < 2; i++) {
    CHECK_EQ_INT(wr[i].bad, 0);
    CHECK_EQ_INT(wr[i].wrote, 200);
  }
  CHECK_EQ_INT(shared, 400);
  CHECK_EQ_INT(rw_readers(rw), 0);
  CHECK(!rw_islocked(rw));
  CHECK_RELEASE(rw);
}

/* ------------------------------ cond ------------------------------ */

struct condarg {
  struct gcond *c;
  struct gmutex *m;
  int *ready;               /* guarded by m */
  int64_t ms;
  gostatus st;
  bool relocked;
  int saw;
};

/* The Go pattern: lock; while !ready wait; unlock. */
static void *cond_waiter (void *arg) {
  struct condarg *a = arg;
  CHECK_EQ_ST(mutex_lock(a->m, check_in_ms(LONG_MS)), GO_OK);
  a->st = GO_OK;
  while (!*a->ready && a->st == GO_OK)
    a->st = cond_wait(a->c, check_in_ms(LONG_MS), &a->relocked);
  a->saw = *a->ready;
  if (*a->ready) (*a->ready)--;             /* take one */
  CHECK_EQ_ST(mutex_unlock(a->m), GO_OK);
  return NULL;
}

static void test_cond_signal_broadcast (void) {
  struct gmutex *m = mutex_new();
  struct gcond *c = cond_new((struct obj *)m);
  CHECK_RELEASE(m);                         /* the cond holds it */
  int ready = 0;
  struct condarg a[4];
  pthread_t th[4];
  for (int i = 0; i < 4; i++) {
    a[i] = (struct condarg){ .c = c, .m = m, .ready = &ready };
    CHECK_SPAWN(&th[i], cond_waiter, &a[i]);
  }
  CHECK_UNTIL(cond_nwaiters(c) == 4);
  CHECK(!mutex_islocked(m));                /* each wait unlocked it */
  CHECK_EQ_ST(mutex_lock(m, GO_NOW), GO_OK);
  ready = 1;
  CHECK_EQ_ST(mutex_unlock(m), GO_OK);
  cond_signal(c);                           /* one leaves */
  CHECK_UNTIL(cond_nwaiters(c) == 3);
  CHECK_EQ_ST(mutex_lock(m, check_in_ms(LONG_MS)), GO_OK);
  ready += 3;                 /* the first may not have taken its yet */
  CHECK_EQ_ST(mutex_unlock(m), GO_OK);
  cond_broadcast(c);                        /* the three others */
  for (int i = 0; i < 4; i++) {
    CHECK_JOIN(th[i]);
    CHECK_EQ_ST(a[i].st, GO_OK);
    CHECK(a[i].relocked);
    CHECK_EQ_INT(a[i].saw > 0, 1);
  }
  CHECK_EQ_INT(ready, 0);
  CHECK(!mutex_islocked(m));
  CHECK_RELEASE(c);
}

/* Queued before the unlock: a signal sent as soon as the lock is free
** (with no lock taken by the signaller) is never lost. */
static void test_cond_no_lost_signal (void) {
  struct gmutex *m = mutex_new();
  struct gcond *c = cond_new((struct obj *)m);
  for (int round = 0; round < (CHECK_TSAN ? 50 : 500); round++) {
    CHECK_EQ_ST(mutex_lock(m, GO_NOW), GO_OK);
    struct op op;
    struct waiter w;
    op_init(&op);
    CHECK_EQ_ST(cond_begin(c, &w, &op), GO_AGAIN);
    CHECK(!mutex_islocked(m));
    cond_signal(c);
    op_park(&op, check_in_ms(LONG_MS));
    CHECK_EQ_ST(cond_finish(c, &w, &op), GO_OK);
    CHECK_EQ_ST(cond_relock(c), GO_OK);
    CHECK_EQ_ST(mutex_unlock(m), GO_OK);
  }
  CHECK_EQ_INT(cond_nwaiters(c), 0);
  CHECK_RELEASE(c);
  CHECK_RELEASE(m);
}

static void test_cond_timeout_and_unlocked (void) {
  struct grwmutex *rw = rw_new();
  struct gcond *c = cond_new((struct obj *)rw);
  bool relocked = true;
  CHECK_EQ_ST(cond_wait(c, check_in_ms(20), &relocked), GO_NOTLOCKED);
  CHECK(!relocked);
  CHECK_EQ_INT(cond_nwaiters(c), 0);
  CHECK_EQ_ST(rw_rlock(rw, GO_NOW), GO_OK);  /* a read lock is not it */
  CHECK_EQ_ST(cond_wait(c, check_in_ms(20), &relocked), GO_NOTLOCKED);
  CHECK_EQ_INT(rw_readers(rw), 1);
  CHECK_EQ_ST(rw_runlock(rw), GO_OK);
  CHECK_EQ_ST(rw_lock(rw, GO_NOW), GO_OK);
  int64_t t0 = go_now();
  CHECK_EQ_ST(cond_wait(c, check_in_ms(40), &relocked), GO_TIMEOUT);
  CHECK_GE_INT(check_ms_since(t0), 39);
  CHECK(relocked);
  CHECK(rw_islocked(rw));                    /* held again */
  CHECK_EQ_INT(cond_nwaiters(c), 0);
  cond_signal(c);                            /* nobody waits: no-op */
  cond_broadcast(c);
  CHECK_EQ_ST(rw_unlock(rw), GO_OK);
  CHECK_RELEASE(c);
  CHECK_RELEASE(rw);
}

/* ---------------------------- semaphore --------------------------- */

static void test_sem_basic (void) {
  struct gsem *s = sem_new(5);
  CHECK_EQ_INT(sem_size(s), 5);
  CHECK(sem_tryacquire(s, 0));
  CHECK(sem_tryacquire(s, 3));
  CHECK(!sem_tryacquire(s, 3));
  CHECK(!sem_tryacquire(s, 6));              /* more than its size */
  CHECK(sem_tryacquire(s, 2));
  CHECK_EQ_INT(sem_held(s), 5);
  CHECK_EQ_ST(sem_acquire(s, 1, check_in_ms(20)), GO_TIMEOUT);
  CHECK_EQ_ST(sem_acquire(s, 0, GO_NEVER), GO_OK);
  CHECK_EQ_ST(sem_release(s, 6), GO_NEGATIVE);  /* nothing changed */
  CHECK_EQ_INT(sem_held(s), 5);
  CHECK_EQ_ST(sem_release(s, 5), GO_OK);
  CHECK_EQ_ST(sem_release(s, 1), GO_NEGATIVE);
  CHECK_EQ_INT(sem_held(s), 0);
  CHECK_EQ_INT(sem_nwaiters(s), 0);
  CHECK_RELEASE(s);
}

struct semarg {
  struct gsem *s;
  int64_t k;
  gostatus st;
  atomic_int *order;
  int pos;
};

static void *sem_taker (void *arg) {
  struct semarg *a = arg;
  a->st = sem_acquire(a->s, a->k, check_in_ms(LONG_MS));
  a->pos = atomic_fetch_add(a->order, 1);
  return NULL;
}

/* FIFO with weights: a large request at the head holds up a small one
** that would fit; try_acquire fails while they wait. */
static void test_sem_fifo (void) {
  struct gsem *s = sem_new(4);
  atomic_int order = 0;
  CHECK(sem_tryacquire(s, 3));               /* 1 free */
  struct semarg big = { .s = s, .k = 4, .st = GO_OK, .order = &order, .pos = -1 };
  struct semarg small = { .s = s, .k = 1, .st = GO_OK, .order = &order, .pos = -1 };
  pthread_t tb, ts;
  CHECK_SPAWN(&tb, sem_taker, &big);
  CHECK_UNTIL(sem_nwaiters(s) == 1);
  CHECK_SPAWN(&ts, sem_taker, &small);
  CHECK_UNTIL(sem_nwaiters(s) == 2);
  CHECK(!sem_tryacquire(s, 1));              /* others wait: FIFO */
  CHECK_EQ_INT(sem_held(s), 3);
  CHECK_EQ_ST(sem_release(s, 3), GO_OK);     /* the big one, only */
  CHECK_JOIN(tb);
  CHECK_EQ_ST(big.st, GO_OK);
  CHECK_EQ_INT(big.pos, 0);
  CHECK_EQ_INT(sem_held(s), 4);
  CHECK_EQ_ST(sem_release(s, 4), GO_OK);
  CHECK_JOIN(ts);
  CHECK_EQ_ST(small.st, GO_OK);
  CHECK_EQ_INT(small.pos, 1);
  CHECK_EQ_ST(sem_release(s, 1), GO_OK);
  CHECK_RELEASE(s);
}

/* A head request that gives up lets the smaller ones behind it in. */
static void test_sem_head_gives_up (void) {
  struct gsem *s = sem_new(4);
  atomic_int order = 0;
  CHECK(sem_tryacquire(s, 2));
  struct op op;
  struct waiter w;
  op_init(&op);
  CHECK_EQ_ST(sem_begin(s, 4, &w, &op), GO_AGAIN);
  struct semarg small = { .s = s, .k = 2, .st = GO_OK, .order = &order, .pos = -1 };
  pthread_t ts;
  CHECK_SPAWN(&ts, sem_taker, &small);
  CHECK_UNTIL(sem_nwaiters(s) == 2);
  CHECK(op_cancel(&op, GO_TIMEOUT));
  CHECK_EQ_ST(sem_finish(s, &w, &op), GO_TIMEOUT);
  CHECK_JOIN(ts);
  CHECK_EQ_ST(small.st, GO_OK);
  CHECK_EQ_INT(sem_held(s), 4);
  CHECK_EQ_ST(sem_release(s, 4), GO_OK);
  CHECK_RELEASE(s);
}

struct semload { struct gsem *s; atomic_int *inside; int bad; };

static void *sem_loop (void *arg) {
  struct semload *a = arg;
  for (int i = 0; i < (CHECK_TSAN ? 200 : 2000); i++) {
    int64_t k = 1 + i % 3;
    if (sem_acquire(a->s, k, check_in_ms(LONG_MS)) != GO_OK) { a->bad++; continue; }
    if (atomic_fetch_add(a->inside, (int)k) + k > 3) a->bad++;
    atomic_fetch_sub(a->inside, (int)k);
    if (sem_release(a->s, k) != GO_OK) a->bad++;
  }
  return NULL;
}

/* Never more than 'size' units out at once, under contention. */
static void test_sem_bound (void) {
  struct gsem *s = sem_new(3);
  atomic_int inside = 0;
  struct semload a[NTHREADS];
  pthread_t th[NTHREADS];
  for (int i = 0; i < NTHREADS; i++) {
    a[i] = (struct semload){ s, &inside, 0 };
    CHECK_SPAWN(&th[i], sem_loop, &a[i]);
  }
  for (int i = 0; i < NTHREADS; i++) {
    CHECK_JOIN(th[i]);
    CHECK_EQ_INT(a[i].bad, 0);
  }
  CHECK_EQ_INT(sem_held(s), 0);
  CHECK_EQ_INT(sem_nwaiters(s), 0);
  CHECK_RELEASE(s);
}

/* ---------------------------- contexts ---------------------------- */

/* ctx_wait's begin/finish shapes over the four kinds of wait. */
struct semreq { struct gsem *s; int64_t k; };
static gostatus semreq_begin (void *o, struct waiter *w, struct op *op) {
  struct semreq *r = o;
  return sem_begin(r->s, r->k, w, op);
}
static gostatus semreq_finish (void *o, struct waiter *w, struct op *op) {
  return sem_finish(((struct semreq *)o)->s, w, op);
}
static gostatus wl_begin (void *o, struct waiter *w, struct op *op) {
  return rw_lock_begin(o, w, op);
}
static gostatus wl_finish (void *o, struct waiter *w, struct op *op) {
  return rw_lock_finish(o, w, op);
}
static gostatus cw_begin (void *o, struct waiter *w, struct op *op) {
  return cond_begin(o, w, op);
}
static gostatus cw_finish (void *o, struct waiter *w, struct op *op) {
  return cond_finish(o, w, op);
}
static gostatus ow_begin (void *o, struct waiter *w, struct op *op) {
  return once_begin(o, w, op);
}
static gostatus ow_finish (void *o, struct waiter *w, struct op *op) {
  return once_finish(o, w, op);
}

struct ctxarg {
  struct context *ctx;
  ctx_beginfn begin, finish;
  void *o;
  gostatus st;
};

static void *ctx_waiter (void *arg) {
  struct ctxarg *a = arg;
  a->st = ctx_wait(a->ctx, check_in_ms(LONG_MS), "test", a->begin,
                   a->finish, a->o);
  return NULL;
}

/* A writer waiting with a context that is canceled takes nothing and lets
** in the reader it held back. */
static void test_ctx_rw (void) {
  struct grwmutex *rw = rw_new();
  struct context *ctx = ctx_new(ctx_background(), GO_NEVER);
  atomic_int order = 0;
  CHECK_EQ_ST(rw_rlock(rw, GO_NOW), GO_OK);
  struct ctxarg w = { .ctx = ctx, .begin = wl_begin, .finish = wl_finish, .o = rw, .st = GO_OK };
  pthread_t tw, tr;
  CHECK_SPAWN(&tw, ctx_waiter, &w);
  CHECK_UNTIL(rw_nwriters(rw) == 1);
  struct rwarg r = { .rw = rw, .write = false, .st = GO_OK, .order = &order, .pos = -1 };
  CHECK_SPAWN(&tr, rw_taker, &r);
  CHECK_UNTIL(rw_nreaders(rw) == 1);
  CHECK(ctx_cancel(ctx, CTX_CANCELED, NULL));
  CHECK_JOIN(tw);
  CHECK_EQ_ST(w.st, GO_CTXDONE);
  CHECK_JOIN(tr);
  CHECK_EQ_ST(r.st, GO_OK);
  CHECK_EQ_INT(rw_readers(rw), 2);
  CHECK(!rw_islocked(rw));
  CHECK_EQ_INT(rw_nwriters(rw), 0);
  /* done on entry: gives up at once even though it could lock */
  CHECK_EQ_ST(rw_runlock(rw), GO_OK);
  CHECK_EQ_ST(rw_runlock(rw), GO_OK);
  CHECK_EQ_ST(ctx_wait(ctx, GO_NEVER, "test", wl_begin, wl_finish, rw),
              GO_CTXDONE);
  CHECK(!rw_islocked(rw));
  ctx_release(ctx);
  CHECK_RELEASE(rw);
}

/* The head of the semaphore's queue gives up through its context: the
** smaller request behind it is granted. */
static void test_ctx_sem (void) {
  struct gsem *s = sem_new(4);
  struct context *ctx = ctx_new(ctx_background(), GO_NEVER);
  atomic_int order = 0;
  CHECK(sem_tryacquire(s, 2));
  struct semreq req = { s, 4 };
  struct ctxarg big = { .ctx = ctx, .begin = semreq_begin,
                        .finish = semreq_finish, .o = &req, .st = GO_OK };
  pthread_t tb, ts;
  CHECK_SPAWN(&tb, ctx_waiter, &big);
  CHECK_UNTIL(sem_nwaiters(s) == 1);
  struct semarg small = { .s = s, .k = 2, .st = GO_OK, .order = &order, .pos = -1 };
  CHECK_SPAWN(&ts, sem_taker, &small);
  CHECK_UNTIL(sem_nwaiters(s) == 2);
  CHECK(ctx_cancel(ctx, CTX_CANCELED, NULL));
  CHECK_JOIN(tb);
  CHECK_EQ_ST(big.st, GO_CTXDONE);
  CHECK_JOIN(ts);
  CHECK_EQ_ST(small.st, GO_OK);
  CHECK_EQ_INT(sem_held(s), 4);
  CHECK_EQ_INT(sem_nwaiters(s), 0);
  ctx_release(ctx);
  CHECK_RELEASE(s);
}

struct racearg { struct context *ctx; atomic_int *go; };

static void *race_cancel (void *arg) {
  struct racearg *a = arg;
  while (!atomic_load(a->go)) cpu_relax();
  ctx_cancel(a->ctx, CTX_CANCELED, NULL);
  return NULL;
}

/* A release racing a cancel: the waiter is granted its unit or gives it
** up, never both (what is held says which). */
static void test_ctx_sem_race (void) {
  struct gsem *s = sem_new(1);
  int granted = 0, gaveup = 0;
  for (int round = 0; round < (CHECK_TSAN ? 100 : 1000); round++) {
    struct context *ctx = ctx_new(ctx_background(), GO_NEVER);
    CHECK(sem_tryacquire(s, 1));
    struct semreq req = { s, 1 };
    struct ctxarg w = { .ctx = ctx, .begin = semreq_begin,
                        .finish = semreq_finish, .o = &req, .st = GO_OK };
    atomic_int go = 0;
    struct racearg ra = { ctx, &go };
    pthread_t tw, tc;
    CHECK_SPAWN(&tw, ctx_waiter, &w);
    CHECK_UNTIL(sem_nwaiters(s) == 1);
    CHECK_SPAWN(&tc, race_cancel, &ra);
    atomic_store(&go, 1);
    CHECK_EQ_ST(sem_release(s, 1), GO_OK);
    CHECK_JOIN(tw);
    CHECK_JOIN(tc);
    if (w.st == GO_OK) { granted++; CHECK_EQ_INT(sem_held(s), 1); }
    else {
      gaveup++;
      CHECK_EQ_ST(w.st, GO_CTXDONE);
      CHECK_EQ_INT(sem_held(s), 0);
    }
    if (sem_held(s) == 1) CHECK_EQ_ST(sem_release(s, 1), GO_OK);
    CHECK_EQ_INT(sem_nwaiters(s), 0);
    ctx_release(ctx);
  }
  CHECK_EQ_INT(granted + gaveup, CHECK_TSAN ? 100 : 1000);
  CHECK_RELEASE(s);
}

/* A cond waiter whose context is canceled leaves the queue (a later
** signal is not spent on it); a once waiter likewise. */
static void test_ctx_cond_once (void) {
  struct gmutex *m = mutex_new();
  struct gcond *c = cond_new((struct obj *)m);
  struct context *ctx = ctx_new(ctx_background(), GO_NEVER);
  CHECK_EQ_ST(mutex_lock(m, GO_NOW), GO_OK);
  struct ctxarg w = { .ctx = ctx, .begin = cw_begin, .finish = cw_finish, .o = c, .st = GO_OK };
  pthread_t tw;
  CHECK_SPAWN(&tw, ctx_waiter, &w);
  CHECK_UNTIL(cond_nwaiters(c) == 1);       /* queued, and unlocked it */
  CHECK(!mutex_islocked(m));
  CHECK(ctx_cancel(ctx, CTX_CANCELED, NULL));
  CHECK_JOIN(tw);
  CHECK_EQ_ST(w.st, GO_CTXDONE);
  CHECK_EQ_INT(cond_nwaiters(c), 0);
  CHECK_EQ_ST(cond_relock(c), GO_OK);      /* what the binding does next */
  CHECK_EQ_ST(mutex_unlock(m), GO_OK);
  ctx_release(ctx);
  CHECK_RELEASE(c);
  CHECK_RELEASE(m);

  struct gonce *o = once_new();
  ctx = ctx_new(ctx_background(), GO_NEVER);
  CHECK(once_enter(o));
  struct ctxarg ow = { .ctx = ctx, .begin = ow_begin, .finish = ow_finish, .o = o, .st = GO_OK };
  CHECK_SPAWN(&tw, ctx_waiter, &ow);
  CHECK_UNTIL(once_nwaiters(o) == 1);
  CHECK(ctx_cancel(ctx, CTX_CANCELED, NULL));
  CHECK_JOIN(tw);
  CHECK_EQ_ST(ow.st, GO_CTXDONE);
  CHECK_EQ_INT(once_nwaiters(o), 0);
  once_done(o);
  ctx_release(ctx);
  CHECK_RELEASE(o);
}

int main (void) {
  check_init();
  RUN(test_once_racing);
  RUN(test_once_wait_timeout);
  RUN(test_rw_basic);
  RUN(test_rw_writer_first);
  RUN(test_rw_writer_gives_up);
  RUN(test_rw_no_starvation);
  RUN(test_cond_signal_broadcast);
  RUN(test_cond_no_lost_signal);
  RUN(test_cond_timeout_and_unlocked);
  RUN(test_sem_basic);
  RUN(test_sem_fifo);
  RUN(test_sem_head_gives_up);
  RUN(test_sem_bound);
  RUN(test_ctx_rw);
  RUN(test_ctx_sem);
  RUN(test_ctx_sem_race);
  RUN(test_ctx_cond_once);
  return check_done();
}
