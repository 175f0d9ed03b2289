/*
** test_sched.c: the M:N scheduler without Lua. A fake task is a small
** state machine whose 'run' hook takes steps on channels with the
** two-phase select (sel_begin, park, sel_finish), as the binding does.
*/
#include "check.h"
#include "scheduler.h"
#include "select.h"

struct ftask {
  struct chan *in, *out;   /* recv on 'in', then send on 'out' (or the reverse) */
  bool sender_first;
  int n, i, phase;         /* round i of n; phase 0/1 within a round */
  bool pending, yielded;
  int64_t timeout_ns;      /* > 0: every recv has this timeout */
  int timeouts;
  long sum;
  struct selcase cs;
  struct waiter w;
};

static atomic_int drops;

static void step_done (struct ftask *f, gostatus st) {
  if (st == GO_TIMEOUT) { f->timeouts++; f->i = f->n; return; }
  CHECK_EQ_INT(st, GO_OK);
  if (f->cs.dir == SEL_RECV) { CHECK(f->cs.ok); f->sum += f->cs.v.u.i; }
  if (++f->phase == 2) { f->phase = 0; f->i++; f->yielded = false; }
}

static int frun (struct task *t) {
  struct ftask *f = t->ud;
  int chosen;
  if (f->pending) {
    task_disarm(t);
    f->pending = false;
    step_done(f, sel_finish(&f->cs, 1, &f->w, &t->op, &chosen));
  }
  for (;;) {
    if (f->i >= f->n) {
      task_finish(t, false, NULL, 0);
      return RUN_DONE;
    }
    if (f->i % 97 == 13 && !f->yielded) { f->yielded = true; return RUN_YIELD; }
    bool send = (f->phase == 0) == f->sender_first;
    f->cs.c = send ? f->out : f->in;
    f->cs.dir = send ? SEL_SEND : SEL_RECV;
    if (send) tvalue_setint(&f->cs.v, f->i);
    else tvalue_setnil(&f->cs.v);
    task_prepare(t);
    gostatus st = sel_begin(&f->cs, 1, &f->w, &t->op, true, &chosen);
    if (st == GO_AGAIN) {
      f->pending = true;
      task_arm(t, (!send && f->timeout_ns) ? go_now() + f->timeout_ns : GO_NEVER);
      return RUN_PARK;
    }
    step_done(f, st);
  }
}

static void fdrop (struct task *t) {
  struct ftask *f = t->ud;
  int chosen;
  if (f->pending) {
    gostatus st = sel_finish(&f->cs, 1, &f->w, &t->op, &chosen);
    if (st == GO_OK && f->cs.dir == SEL_RECV) tvalue_clear(&f->cs.v);
    f->pending = false;
  }
  atomic_fetch_add(&drops, 1);
  task_finish(t, true, NULL, 0);
}

static const struct sched_hooks hooks = { .run = frun, .drop = fdrop };

static struct task *spawn (struct ftask *f) {
  struct task *t = task_new(f);
  CHECK(t != NULL);
  CHECK_EQ_INT(sched_spawn(t), GO_OK);
  return t;
}

static gostatus join (struct task *t, int64_t deadline) {
  struct op op;
  struct waiter w;
  op_init(&op);
  gostatus st = task_join_begin(t, &w, &op);
  if (st == GO_AGAIN) {
    op_park(&op, deadline);
    st = task_join_finish(t, &w, &op);
  }
  return st;
}

/* Pairs of tasks ping-pong over unbuffered channels; every value arrives. */
static void test_pingpong (void) {
  enum { PAIRS = 8 };
  int n = CHECK_TSAN ? 2000 : 20000;
  struct ftask f[2 * PAIRS];
  struct task *t[2 * PAIRS];
  struct chan *ch[2 * PAIRS];
  for (int p = 0; p < PAIRS; p++) {
    ch[2 * p] = chan_new(0);
    ch[2 * p + 1] = chan_new(p % 2 ? 4 : 0);
    f[2 * p] = (struct ftask){ .in = ch[2 * p + 1], .out = ch[2 * p],
                               .sender_first = true, .n = n };
    f[2 * p + 1] = (struct ftask){ .in = ch[2 * p], .out = ch[2 * p + 1],
                                   .sender_first = false, .n = n };
  }
  for (int i = 0; i < 2 * PAIRS; i++) t[i] = spawn(&f[i]);
  long want = (long)n * (n - 1) / 2;
  for (int i = 0; i < 2 * PAIRS; i++) {
    CHECK_EQ_INT(join(t[i], go_deadline_in(30)), GO_OK);
    CHECK_EQ_INT(task_status(t[i]), TASK_DONE);
    CHECK_EQ_INT(f[i].sum, want);
    obj_release(&t[i]->hdr);
  }
  for (int i = 0; i < 2 * PAIRS; i++) chan_release(ch[i]);
}

/* A task's recv times out through the timer heap, and the runtime carries on. */
static void test_task_timeout (void) {
  struct chan *c = chan_new(0), *d = chan_new(0);
  struct ftask f = { .in = c, .out = d, .sender_first = false, .n = 1,
                     .timeout_ns = 20000000 };
  int64_t t0 = go_now();
  struct task *t = spawn(&f);
  CHECK_EQ_INT(join(t, go_deadline_in(5)), GO_OK);
  CHECK_EQ_INT(f.timeouts, 1);
  CHECK(go_now() - t0 >= 15000000);
  CHECK_EQ_INT(chan_len(c), 0);
  obj_release(&t->hdr);
  chan_release(c);
  chan_release(d);
}

/* A join with a timeout on a task that never ends times out. */
static void test_join_timeout (void) {
  struct chan *c = chan_new(0), *d = chan_new(0);
  struct ftask f = { .in = c, .out = d, .sender_first = false, .n = 1 };
  struct task *t = spawn(&f);
  CHECK_EQ_INT(join(t, go_deadline_in(0.02)), GO_TIMEOUT);
  struct tvalue v;
  tvalue_setint(&v, 7);                       /* release it */
  CHECK_EQ_INT(chan_send(c, &v, go_deadline_in(5)), GO_OK);
  struct tvalue r; bool ok;
  CHECK_EQ_INT(chan_recv(d, &r, &ok, go_deadline_in(5)), GO_OK);
  CHECK_EQ_INT(join(t, go_deadline_in(5)), GO_OK);
  CHECK_EQ_INT(f.sum, 7);
  obj_release(&t->hdr);
  chan_release(c);
  chan_release(d);
}

/* Shutdown with tasks blocked forever drops each exactly once. */
static void test_shutdown (void) {
  enum { N = 10 };
  struct chan *c = chan_new(0), *d = chan_new(0);
  struct ftask f[N];
  struct task *t[N];
  for (int i = 0; i < N; i++) {
    f[i] = (struct ftask){ .in = c, .out = d, .sender_first = false, .n = 1 };
    t[i] = spawn(&f[i]);
  }
  /* let them all park */
  for (int k = 0; k < 500 && sched_live() > 0; k++) {
    int blocked = 0;
    for (int i = 0; i < N; i++) blocked += atomic_load(&t[i]->blocked);
    if (blocked == N) break;
    go_sleep_until(go_deadline_in(0.002));
  }
  atomic_store(&drops, 0);
  sched_shutdown();
  CHECK_EQ_INT(atomic_load(&drops), N);
  CHECK_EQ_INT(sched_live(), 0);
  for (int i = 0; i < N; i++) {
    CHECK_EQ_INT(task_status(t[i]), TASK_FAILED);
    obj_release(&t[i]->hdr);
  }
  chan_release(c);
  chan_release(d);
}

int main (void) {
  check_init();
  CHECK_EQ_INT(sched_start(2, &hooks), GO_OK);
  RUN(test_pingpong);
  RUN(test_task_timeout);
  RUN(test_join_timeout);
  RUN(test_shutdown);
  timer_shutdown();
  return check_done();
}
