/*
** test_context.c: the context tree (cancel reaches every descendant, not
** the parent; cause and error inherited; a child of a done parent starts
** done), deadlines, values, the done channel, and the wait hook: a wait
** gives up when its context is done (before or while it waits), and a
** cancel racing a delivery never both delivers and gives up.
*/
#include "check.h"
#include "chan.h"
#include "context.h"
#include "select.h"
#include "sync.h"

static void test_tree (void) {
  struct context *bg = ctx_background();
  CHECK(!ctx_done(bg));
  CHECK(!ctx_cancelable(bg));
  CHECK(!ctx_cancel(bg, CTX_CANCELED, NULL));
  CHECK_EQ_INT(ctx_deadline(bg), GO_NEVER);
  struct context *a = ctx_new(bg, GO_NEVER);
  struct context *b = ctx_new(a, GO_NEVER);
  struct context *c = ctx_new(b, GO_NEVER);
  struct context *d = ctx_new(a, GO_NEVER);
  CHECK(ctx_cancelable(a));
  CHECK_EQ_INT(ctx_err(c), CTX_LIVE);
  struct tvalue cause;
  CHECK_EQ_ST(tvalue_setstr(&cause, "stop", 4), GO_OK);
  CHECK(ctx_cancel(b, CTX_CANCELED, &cause));       /* b and c, not a, d */
  CHECK_EQ_INT(cause.tt, TV_NIL);                    /* moved in */
  CHECK_EQ_INT(ctx_err(b), CTX_CANCELED);
  CHECK_EQ_INT(ctx_err(c), CTX_CANCELED);
  CHECK_EQ_INT(ctx_err(a), CTX_LIVE);
  CHECK_EQ_INT(ctx_err(d), CTX_LIVE);
  size_t len;
  const struct tvalue *cv = ctx_cause(c);
  CHECK(cv != NULL);
  CHECK_EQ_MEM(tvalue_str(cv, &len), len, "stop", 4);
  CHECK(!ctx_cancel(b, CTX_DEADLINE, NULL));         /* once */
  CHECK_EQ_INT(ctx_err(b), CTX_CANCELED);
  CHECK(ctx_cancel(a, CTX_DEADLINE, NULL));
  CHECK_EQ_INT(ctx_err(d), CTX_DEADLINE);
  CHECK(ctx_cause(d) == NULL);
  struct context *e = ctx_new(d, GO_NEVER);          /* under a done parent */
  CHECK_EQ_INT(ctx_err(e), CTX_DEADLINE);
  CHECK_RELEASE(e); CHECK_RELEASE(d); CHECK_RELEASE(c); CHECK_RELEASE(b);
  CHECK_RELEASE(a);
}

static void test_values (void) {
  struct tvalue k, v;
  tvalue_setint(&k, 7);
  CHECK_EQ_ST(tvalue_setstr(&v, "seven", 5), GO_OK);
  struct context *a = ctx_with_value(ctx_background(), &k, &v);
  CHECK(!ctx_cancelable(a));
  CHECK(!ctx_cancel(a, CTX_CANCELED, NULL));         /* below background */
  struct context *b = ctx_new(a, GO_NEVER);
  CHECK_EQ_ST(tvalue_setstr(&k, "a long key, longer than sixteen", 31), GO_OK);
  tvalue_setbool(&v, true);
  struct context *c = ctx_with_value(b, &k, &v);
  struct tvalue q;
  tvalue_setint(&q, 7);
  size_t len;
  CHECK_EQ_MEM(tvalue_str(ctx_value(c, &q), &len), len, "seven", 5);
  CHECK_EQ_ST(tvalue_setstr(&q, "a long key, longer than sixteen", 31), GO_OK);
  CHECK(ctx_value(c, &q)->u.b);
  CHECK(ctx_value(b, &q) == NULL);
  tvalue_clear(&q);
  tvalue_setfloat(&q, 7.5);
  CHECK(ctx_value(c, &q) == NULL);
  CHECK(ctx_cancel(b, CTX_CANCELED, NULL));          /* reaches c */
  CHECK_EQ_INT(ctx_err(c), CTX_CANCELED);
  CHECK_RELEASE(c); CHECK_RELEASE(b); CHECK_RELEASE(a);
}

static void test_deadline (void) {
  struct context *a = ctx_new(ctx_background(), check_in_ms(50));
  struct context *b = ctx_new(a, check_in_ms(10000));   /* parent's wins */
  CHECK_EQ_INT(ctx_deadline(b), ctx_deadline(a));
  bool nomem;
  struct chan *done = ctx_donechan(b, &nomem);
  CHECK(done != NULL);
  CHECK(ctx_donechan(b, &nomem) == done);               /* the same one */
  struct tvalue v = TVALUE_NIL;
  bool ok = true;
  CHECK_EQ_ST(chan_recv(done, &v, &ok, check_in_ms(5000)), GO_OK);
  CHECK(!ok);                                           /* closed */
  CHECK_EQ_INT(ctx_err(a), CTX_DEADLINE);
  CHECK_EQ_INT(ctx_err(b), CTX_DEADLINE);
  struct context *c = ctx_new(ctx_background(), go_now() - 1);  /* past */
  CHECK_EQ_INT(ctx_err(c), CTX_DEADLINE);
  CHECK(ctx_donechan(ctx_background(), &nomem) == NULL);
  CHECK_RELEASE(c); CHECK_RELEASE(b); CHECK_RELEASE(a);
}

/* begin/finish of one channel recv for ctx_wait */
struct recvarg { struct selcase sc; struct waiter ws[1]; int chosen; };

static gostatus recv_begin (void *o, struct waiter *w, struct op *op) {
  (void)w;
  struct recvarg *r = o;
  return sel_begin(&r->sc, 1, r->ws, op, true, &r->chosen);
}

static gostatus recv_finish (void *o, struct waiter *w, struct op *op) {
  (void)w;
  struct recvarg *r = o;
  return sel_finish(&r->sc, 1, r->ws, op, &r->chosen);
}

static gostatus wg_b (void *o, struct waiter *w, struct op *op) {
  return wg_begin(o, w, op);
}
static gostatus wg_f (void *o, struct waiter *w, struct op *op) {
  return wg_finish(o, w, op);
}

struct canceler { struct context *c; long delay_ms; };

static void *cancel_later (void *arg) {
  struct canceler *k = arg;
  if (k->delay_ms) check_sleep_ms(k->delay_ms);
  ctx_cancel(k->c, CTX_CANCELED, NULL);
  return NULL;
}

static void test_wait_hook (void) {
  struct context *a = ctx_new(ctx_background(), GO_NEVER);
  struct waitgroup *wg = wg_new();
  CHECK_EQ_ST(wg_add(wg, 1), GO_OK);
  /* a cancel while it waits */
  struct canceler k = { a, 0 };
  pthread_t th;
  CHECK_SPAWN(&th, cancel_later, &k);
  CHECK_EQ_ST(ctx_wait(a, check_in_ms(10000), "wait", wg_b, wg_f, wg),
              GO_CTXDONE);
  CHECK_JOIN(th);
  CHECK_EQ_INT(wg_nwaiters(wg), 0);                 /* dequeued */
  CHECK_EQ_INT(ctx_nwaiters(a), 0);
  /* already done: at once, even though it could complete */
  CHECK_EQ_ST(wg_add(wg, -1), GO_OK);
  CHECK_EQ_ST(ctx_wait(a, GO_NEVER, "wait", wg_b, wg_f, wg), GO_CTXDONE);
  /* live: completes, nothing left queued on the context */
  struct context *b = ctx_new(ctx_background(), GO_NEVER);
  CHECK_EQ_ST(wg_add(wg, 1), GO_OK);
  struct chan *ch = chan_new(0);
  struct recvarg r = { .sc = { .c = ch, .dir = SEL_RECV } };
  CHECK_EQ_ST(ctx_wait(b, check_in_ms(30), "recv", recv_begin, recv_finish,
                       &r), GO_TIMEOUT);
  CHECK_EQ_INT(ctx_nwaiters(b), 0);
  CHECK_EQ_INT(chan_nwaiters(ch), 0);
  /* a sleep: only the context or the time ends it */
  struct context *c = ctx_new(ctx_background(), check_in_ms(20));
  CHECK_EQ_ST(ctx_wait(c, GO_NEVER, "sleep", NULL, NULL, NULL), GO_CTXDONE);
  CHECK_EQ_ST(ctx_wait(b, check_in_ms(5), "sleep", NULL, NULL, NULL),
              GO_TIMEOUT);
  CHECK_EQ_ST(wg_add(wg, -1), GO_OK);
  CHECK_RELEASE(c); CHECK_RELEASE(ch); CHECK_RELEASE(wg);
  CHECK_RELEASE(b); CHECK_RELEASE(a);
}

/* A sender and a canceler race a receiver with a context: each round the
** value is either received or left with the sender, never both, never
** lost. */
struct sender { struct chan *ch; atomic_int sent; };

static void *send_one (void *arg) {
  struct sender *s = arg;
  struct tvalue v;
  tvalue_setint(&v, 42);
  gostatus st = chan_send(s->ch, &v, check_in_ms(10000));
  atomic_store(&s->sent, st == GO_OK);   /* else GO_CLOSED: not taken */
  return NULL;
}

static void test_race (void) {
  const int rounds = CHECK_TSAN ? 100 : 1000;
  int got = 0, gaveup = 0;
  for (int i = 0; i < rounds; i++) {
    struct context *a = ctx_new(ctx_background(), GO_NEVER);
    struct chan *ch = chan_new(0);
    struct sender s = { ch, 0 };
    struct canceler k = { a, 0 };
    pthread_t t1, t2;
    CHECK_SPAWN(&t1, send_one, &s);
    CHECK_SPAWN(&t2, cancel_later, &k);
    struct recvarg r = { .sc = { .c = ch, .dir = SEL_RECV } };
    gostatus st = ctx_wait(a, check_in_ms(10000), "recv", recv_begin,
                           recv_finish, &r);
    chan_close(ch);                 /* a sender still waiting: GO_CLOSED */
    CHECK_JOIN(t1);
    CHECK_JOIN(t2);
    if (st == GO_OK) {
      got++;
      CHECK_EQ_INT(r.sc.v.u.i, 42);
      CHECK_EQ_INT(atomic_load(&s.sent), 1);
    }
    else {
      gaveup++;
      CHECK_EQ_ST(st, GO_CTXDONE);
      CHECK_EQ_INT(atomic_load(&s.sent), 0);      /* it stayed with it */
    }
    CHECK_RELEASE(ch);
    CHECK_RELEASE(a);
  }
  CHECK_EQ_INT(got + gaveup, rounds);
  printf("     race: %d received, %d gave up\n", got, gaveup);
}

/* Many threads wait on one context; one cancel wakes all. */
static void *waiter_main (void *arg) {
  struct context *a = arg;
  gostatus st = ctx_wait(a, check_in_ms(20000), "sleep", NULL, NULL, NULL);
  CHECK_EQ_ST(st, GO_CTXDONE);
  return NULL;
}

static void test_many (void) {
  enum { N = 16 };
  struct context *a = ctx_new(ctx_background(), GO_NEVER);
  struct context *b = ctx_new(a, GO_NEVER);
  pthread_t th[N];
  for (int i = 0; i < N; i++) CHECK_SPAWN(&th[i], waiter_main, i % 2 ? a : b);
  CHECK_UNTIL(ctx_nwaiters(a) + ctx_nwaiters(b) == N);
  CHECK(ctx_cancel(a, CTX_CANCELED, NULL));
  for (int i = 0; i < N; i++) CHECK_JOIN(th[i]);
  CHECK_RELEASE(b); CHECK_RELEASE(a);
}

static void test_descendants (void) {
#ifdef GOCHAN_TESTING
  long live0 = atomic_load(&obj_live[OBJ_CONTEXT]);
#endif
  enum { N = 10000 };
  static struct context *all[N];
  struct context *root = ctx_new(ctx_background(), GO_NEVER);
  for (int i = 0; i < N; i++)    /* a wide and deep mix */
    all[i] = ctx_new(i % 3 == 0 || i == 0 ? root : all[i - 1],
                     i % 7 == 0 ? check_in_ms(600000) : GO_NEVER);
  CHECK(ctx_cancel(root, CTX_CANCELED, NULL));
  int done = 0;
  for (int i = 0; i < N; i++) done += ctx_done(all[i]);
  CHECK_EQ_INT(done, N);
  for (int i = N - 1; i >= 0; i--) CHECK_RELEASE(all[i]);
  CHECK_RELEASE(root);
#ifdef GOCHAN_TESTING
  CHECK_EQ_INT(atomic_load(&obj_live[OBJ_CONTEXT]), live0);
#endif
  /* dropped live, in any order: each unlinks itself */
  root = ctx_new(ctx_background(), GO_NEVER);
  for (int i = 0; i < N; i++) all[i] = ctx_new(root, GO_NEVER);
  for (int i = 0; i < N; i += 2) CHECK_RELEASE(all[i]);
  CHECK(ctx_cancel(root, CTX_CANCELED, NULL));
  for (int i = 1; i < N; i += 2) CHECK(ctx_done(all[i]));
  for (int i = 1; i < N; i += 2) CHECK_RELEASE(all[i]);
  CHECK_RELEASE(root);
#ifdef GOCHAN_TESTING
  CHECK_EQ_INT(atomic_load(&obj_live[OBJ_CONTEXT]), live0);
#endif
}

int main (void) {
  check_init();
  RUN(test_tree);
  RUN(test_values);
  RUN(test_deadline);
  RUN(test_wait_hook);
  RUN(test_race);
  RUN(test_many);
  RUN(test_descendants);
  return check_done();
}
