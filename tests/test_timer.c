/*
** test_timer.c: the timer heap and what is built on it: raw timers (order,
** one-shot, periodic, stop), timer_after, tickers (interval, dropping ticks
** when full, stop, last release, periods below a microsecond),
** timers you can stop (gtimer: stop/reset and the no-stale-value rule
** against the fire in many rounds, func timers, a collected channel's
** timer gone), ticker_reset, go_sleep_until, timer_pending, and
** timer_shutdown last so leak checkers see nothing left.
*/
#include "check.h"
#include "chan.h"
#include "timer.h"

#define LONG_MS 10000
#define MS ((int64_t)1000000)

static double now_s (void) { return (double)go_now() / 1e9; }

/* Receive a float tick (the sender's go_now() in seconds); -1 if none. */
static double recv_tick (struct chan *c, gostatus *st, int64_t deadline) {
  struct tvalue v = TVALUE_NIL;
  bool ok = false;
  *st = chan_recv(c, &v, &ok, deadline);
  double t = -1;
  if (*st == GO_OK) {
    CHECK(ok);
    CHECK_EQ_INT(v.tt, TV_FLOAT);
    if (v.tt == TV_FLOAT) t = v.u.n;
  }
  tvalue_clear(&v);
  return t;
}

/* Wait (polling, bounded) until *n reaches 'want'. */
static bool wait_count (atomic_int *n, int want, long ms) {
  int64_t t0 = go_now();
  while (atomic_load(n) < want) {
    if (check_ms_since(t0) > ms) return false;
    check_sleep_ms(1);
  }
  return true;
}

/* ---------------------------- raw timers -------------------------- */

/* Records each firing: order, and how late relative to 'when'. Written
** only on the timer thread; read after the test synchronises on 'fired'. */
struct rec {
  struct timer t;
  int id;
  int64_t scheduled;
  int64_t fired_at;
  int *order;             /* shared log of ids */
  atomic_int *fired;      /* shared count, also the log's length */
};

static void rec_fire (struct timer *t, int64_t now) {
  struct rec *r = t->ud;
  int k = atomic_load(r->fired);
  r->order[k] = r->id;
  r->fired_at = now;
  atomic_store(r->fired, k + 1);   /* callbacks never run concurrently */
}

static void test_timer_order (void) {
  enum { N = 200 };
  static struct rec recs[N];
  static int order[N];
  atomic_int fired = 0;
  size_t base = timer_pending();
  int64_t t0 = go_now();
  uint32_t seed = 12345;
  for (int i = 0; i < N; i++) {
    seed = seed * 1103515245u + 12345u;
    recs[i] = (struct rec){ .id = i, .order = order, .fired = &fired };
    recs[i].t.when = t0 + 200 * MS + (int64_t)(seed >> 8) % (100 * MS / 1000) * 1000;
    recs[i].t.period = 0;
    recs[i].t.fire = rec_fire;
    recs[i].t.ud = &recs[i];
    recs[i].scheduled = recs[i].t.when;
    CHECK_EQ_ST(timer_start(&recs[i].t), GO_OK);
  }
  /* the checks of order and count need every timer armed before the
  ** first could fire; a very slow run (sanitizers, load) skips them */
  bool armed_in_time = go_now() < t0 + 200 * MS;
  if (armed_in_time) CHECK_EQ_UINT(timer_pending(), base + N);
  else printf("  arming was slow: order checks skipped\n");
  CHECK(wait_count(&fired, N, LONG_MS));
  CHECK_EQ_UINT(timer_pending(), base);
  int early = 0, disorder = 0;
  for (int k = 0; k < N; k++) {
    struct rec *r = &recs[order[k]];
    if (r->fired_at < r->scheduled) early++;
    if (armed_in_time && k > 0 && recs[order[k - 1]].scheduled > r->scheduled)
      disorder++;
  }
  CHECK_EQ_INT(early, 0);
  CHECK_EQ_INT(disorder, 0);
  /* fired one-shots are no longer armed */
  CHECK(!timer_stop(&recs[0].t));
  CHECK_EQ_INT(recs[0].t.hidx, 0);
}

static void test_timer_stop (void) {
  atomic_int fired = 0;
  int order[4];
  size_t base = timer_pending();
  struct rec r = { .id = 0, .order = order, .fired = &fired };
  r.t.when = go_now() + 50 * MS;
  r.t.fire = rec_fire;
  r.t.ud = &r;
  CHECK_EQ_ST(timer_start(&r.t), GO_OK);
  CHECK_EQ_UINT(timer_pending(), base + 1);
  CHECK(timer_stop(&r.t));
  CHECK_EQ_UINT(timer_pending(), base);
  CHECK(!timer_stop(&r.t));
  check_sleep_ms(100);
  CHECK_EQ_INT(atomic_load(&fired), 0);
}

struct counter { struct timer t; atomic_int n; };

static void count_fire (struct timer *t, int64_t now) {
  (void)now;
  struct counter *c = t->ud;
  atomic_fetch_add(&c->n, 1);
}

static void test_timer_periodic (void) {
  size_t base = timer_pending();
  struct counter c;
  memset(&c, 0, sizeof c);
  atomic_init(&c.n, 0);
  c.t.when = go_now() + 5 * MS;
  c.t.period = 5 * MS;
  c.t.fire = count_fire;
  c.t.ud = &c;
  int64_t t0 = go_now();
  CHECK_EQ_ST(timer_start(&c.t), GO_OK);
  CHECK(wait_count(&c.n, 5, LONG_MS));
  CHECK_GE_INT(check_ms_since(t0), 5 * 5 - 1);
  CHECK_EQ_UINT(timer_pending(), base + 1);          /* still armed */
  CHECK(timer_stop(&c.t));
  int n = atomic_load(&c.n);
  check_sleep_ms(50);
  CHECK_EQ_INT(atomic_load(&c.n), n);                /* no fire after stop */
  CHECK_EQ_UINT(timer_pending(), base);
}

/* ------------------------------ after ----------------------------- */

static void test_after (void) {
  double t0 = now_s();
  int64_t t0ns = go_now();
  struct chan *c = timer_after(100 * MS);
  CHECK(c != NULL);
  CHECK_EQ_UINT(chan_cap(c), 1);
  gostatus st;
  double t = recv_tick(c, &st, check_in_ms(LONG_MS));
  CHECK_EQ_ST(st, GO_OK);
  int64_t ms = check_ms_since(t0ns);
  CHECK_GE_INT(ms, 100);
  CHECK_LT_INT(ms, 100 + 3000);
  CHECK(t >= t0 + 0.1);
  CHECK(t <= now_s());
  /* once only */
  (void)recv_tick(c, &st, check_in_ms(150));
  CHECK_EQ_ST(st, GO_TIMEOUT);
  CHECK_EQ_UINT(chan_len(c), 0);
  CHECK(!chan_isclosed(c));                          /* never closed */
  chan_release(c);

  /* zero delay: soon, and the value is a time */
  t0 = now_s();
  c = timer_after(0);
  t = recv_tick(c, &st, check_in_ms(LONG_MS));
  CHECK_EQ_ST(st, GO_OK);
  CHECK(t >= t0);
  chan_release(c);
}

/* The caller may drop its channel before the timer fires. */
static void test_after_released_early (void) {
  size_t base = timer_pending();
  for (int i = 0; i < 20; i++) {
    struct chan *c = timer_after((int64_t)(i % 4) * 5 * MS);
    chan_release(c);
  }
  int64_t t0 = go_now();                 /* all due within 15 ms */
  while (timer_pending() > base && check_ms_since(t0) < LONG_MS)
    check_sleep_ms(5);
  CHECK_EQ_UINT(timer_pending(), base);
}

/* ------------------------ timers you can stop ---------------------- */

static void test_gtimer_basic (void) {
  size_t base = timer_pending();
  struct gtimer *g = gtimer_new(10000 * MS);
  CHECK(g != NULL);
  struct chan *c = gtimer_chan(g);
  CHECK_EQ_UINT(chan_cap(c), 1);
  CHECK_EQ_UINT(timer_pending(), base + 1);
  CHECK(gtimer_stop(g));                       /* pending: true */
  CHECK_EQ_UINT(timer_pending(), base);
  CHECK(!gtimer_stop(g));                      /* already stopped */
  bool active = true;
  CHECK_EQ_ST(gtimer_reset(g, 0, &active), GO_OK);
  CHECK(!active);
  int64_t t0 = go_now();                       /* fired, not received */
  while (chan_len(c) == 0 && check_ms_since(t0) < LONG_MS) check_sleep_ms(1);
  CHECK(gtimer_stop(g));                       /* discarded: true */
  CHECK_EQ_UINT(chan_len(c), 0);
  CHECK_EQ_ST(gtimer_reset(g, 0, &active), GO_OK);
  gostatus st;
  (void)recv_tick(c, &st, check_in_ms(LONG_MS));
  CHECK_EQ_ST(st, GO_OK);
  CHECK(!gtimer_stop(g));                      /* received: false */
  obj_release((struct obj *)g);
  CHECK_EQ_UINT(timer_pending(), base);
}

/* stop and reset racing the fire: after either returns, nothing from the
** old arming is received, and stop's result says whether it was. */
static void test_gtimer_race (void) {
  const int rounds = CHECK_TSAN ? 300 : 3000;
  struct gtimer *g = gtimer_new(0);
  struct chan *c = gtimer_chan(g);
  int got = 0, stopped = 0;
  for (int i = 0; i < rounds; i++) {
    bool active;
    CHECK_EQ_ST(gtimer_reset(g, (i % 3) * 20000, &active), GO_OK);
    if (i % 7) for (volatile int k = 0; k < (i % 50) * 100; k++) {}
    struct tvalue v = TVALUE_NIL;
    bool ok;
    bool received = chan_try_recv(c, &v, &ok) == GO_OK;
    tvalue_clear(&v);
    bool s = gtimer_stop(g);
    CHECK(!(received && s));                   /* never both */
    CHECK(received || s);                      /* one of the two */
    CHECK_EQ_UINT(chan_len(c), 0);             /* nothing stale left */
    got += received;
    stopped += s;
  }
  check_sleep_ms(5);
  CHECK_EQ_UINT(chan_len(c), 0);
  CHECK_EQ_INT(got + stopped, rounds);
  obj_release((struct obj *)g);
}

static atomic_int func_runs;
static atomic_int func_drops;
static void func_run (void *arg) { (void)arg; atomic_fetch_add(&func_runs, 1); }
static void func_drop (void *arg) { (void)arg; atomic_fetch_add(&func_drops, 1); }

static void test_gtimer_func (void) {
  size_t base = timer_pending();
  atomic_store(&func_runs, 0);
  atomic_store(&func_drops, 0);
  struct gtimer *g = gtimer_func(10000 * MS, func_run, func_drop, NULL);
  CHECK(g != NULL);
  CHECK(gtimer_chan(g) == NULL);
  CHECK(gtimer_stop(g));                       /* never runs */
  CHECK_EQ_UINT(timer_pending(), base);
  bool active = true;
  CHECK_EQ_ST(gtimer_reset(g, 1 * MS, &active), GO_OK);
  CHECK(!active);
  CHECK(wait_count(&func_runs, 1, LONG_MS));
  CHECK(!gtimer_stop(g));                      /* it ran */
  CHECK_EQ_ST(gtimer_reset(g, 1 * MS, &active), GO_OK);   /* runs again */
  CHECK(wait_count(&func_runs, 2, LONG_MS));
  /* dropped while armed: the heap keeps it until it fires */
  CHECK_EQ_ST(gtimer_reset(g, 20 * MS, &active), GO_OK);
  obj_release((struct obj *)g);
  CHECK_EQ_INT(atomic_load(&func_drops), 0);
  CHECK(wait_count(&func_runs, 3, LONG_MS));
  CHECK(wait_count(&func_drops, 1, LONG_MS));
  CHECK_EQ_UINT(timer_pending(), base);
}

/* A timer's channel released by everyone: its timer is gone at once. */
static void test_gtimer_collected (void) {
  size_t base = timer_pending();
  for (int i = 0; i < 1000; i++) {
    struct gtimer *g = gtimer_new(10000 * MS);
    struct chan *c = gtimer_chan(g);
    chan_retain(c);
    obj_release((struct obj *)g);              /* t.c still held: armed */
    CHECK_EQ_UINT(timer_pending(), base + 1);
    chan_release(c);
    CHECK_EQ_UINT(timer_pending(), base);
  }
}

/* ----------------------------- tickers ---------------------------- */

static void test_ticker_reset (void) {
  struct ticker *tk = ticker_new(1 * MS);
  struct chan *c = ticker_chan(tk);
  int64_t t0 = go_now();
  while (chan_len(c) == 0 && check_ms_since(t0) < LONG_MS) check_sleep_ms(1);
  CHECK_EQ_ST(ticker_reset(tk, 200 * MS), GO_OK);
  CHECK_EQ_UINT(chan_len(c), 0);               /* the stale tick dropped */
  t0 = go_now();
  gostatus st;
  (void)recv_tick(c, &st, check_in_ms(LONG_MS));
  CHECK_EQ_ST(st, GO_OK);
  CHECK_GE_INT(check_ms_since(t0), 150);       /* one new interval later */
  ticker_stop(tk);
  CHECK_EQ_ST(ticker_reset(tk, 1 * MS), GO_OK);   /* a stopped one restarts */
  (void)recv_tick(c, &st, check_in_ms(LONG_MS));
  CHECK_EQ_ST(st, GO_OK);
  obj_release((struct obj *)tk);
}


static void test_ticker_interval (void) {
  const int64_t period = 20 * MS;
  int64_t t0 = go_now();
  struct ticker *tk = ticker_new(period);
  CHECK(tk != NULL);
  struct chan *c = ticker_chan(tk);
  CHECK_EQ_UINT(chan_cap(c), 1);
  double prev = 0;
  int bad = 0;
  for (int i = 0; i < 5; i++) {
    gostatus st;
    double t = recv_tick(c, &st, check_in_ms(LONG_MS));
    CHECK_EQ_ST(st, GO_OK);
    if (!(t > prev)) bad++;
    prev = t;
  }
  CHECK_EQ_INT(bad, 0);
  int64_t ms = check_ms_since(t0);
  CHECK_GE_INT(ms, 5 * 20 - 1);
  CHECK_LT_INT(ms, 5 * 20 + 3000);
  ticker_stop(tk);
  CHECK_RELEASE(tk);
}

/* Ticks that find the buffer full are dropped: the buffered one is the
** oldest; only one is ever buffered. */
static void test_ticker_drops (void) {
  double t0 = now_s();
  struct ticker *tk = ticker_new(10 * MS);
  struct chan *c = ticker_chan(tk);
  check_sleep_ms(500);
  double look = now_s();
  CHECK_EQ_UINT(chan_len(c), 1);
  gostatus st;
  double t = recv_tick(c, &st, GO_NOW);
  CHECK_EQ_ST(st, GO_OK);
  CHECK(t >= t0 + 0.01);
  /* the first tick, kept while ~50 later ones were dropped; a ticker that
  ** replaced the buffered tick would show one about 10 ms old */
  CHECK(t < look - 0.25);
  /* ticking goes on afterwards */
  double t2 = recv_tick(c, &st, check_in_ms(LONG_MS));
  CHECK_EQ_ST(st, GO_OK);
  CHECK(t2 > t);
  ticker_stop(tk);
  CHECK_RELEASE(tk);
}

static void test_ticker_stop (void) {
  size_t base = timer_pending();
  struct ticker *tk = ticker_new(10 * MS);
  struct chan *c = ticker_chan(tk);
  gostatus st;
  (void)recv_tick(c, &st, check_in_ms(LONG_MS));
  CHECK_EQ_ST(st, GO_OK);
  ticker_stop(tk);
  CHECK_EQ_UINT(timer_pending(), base);
  (void)recv_tick(c, &st, GO_NOW);      /* at most one tick was buffered */
  (void)recv_tick(c, &st, check_in_ms(80));
  CHECK_EQ_ST(st, GO_TIMEOUT);
  CHECK(!chan_isclosed(c));
  CHECK_RELEASE(tk);
}

/* The heap holds no reference: the last release stops the ticker; a
** retained channel outlives it and just gets no more ticks. */
static void test_ticker_last_release (void) {
  size_t base = timer_pending();
  struct ticker *tk = ticker_new(5 * MS);
  struct chan *c = ticker_chan(tk);
  chan_retain(c);
  gostatus st;
  (void)recv_tick(c, &st, check_in_ms(LONG_MS));
  CHECK_EQ_ST(st, GO_OK);
  CHECK_RELEASE(tk);                     /* not stopped first */
  CHECK_EQ_UINT(timer_pending(), base);
  (void)recv_tick(c, &st, GO_NOW);
  (void)recv_tick(c, &st, check_in_ms(50));
  CHECK_EQ_ST(st, GO_TIMEOUT);
  chan_release(c);

  /* many short-lived tickers */
  for (int i = 0; i < 50; i++) {
    tk = ticker_new(1 * MS);
    if (i % 2) check_sleep_ms(2);
    if (i % 3) ticker_stop(tk);
    CHECK_RELEASE(tk);
  }
  CHECK_EQ_UINT(timer_pending(), base);
}

/* Periods far below a microsecond (any positive one is legal, as Go's
** time.NewTicker(1)): the ticks in between are dropped, and the timer
** thread still gives up its lock, so every other timer call returns
** soon. More such timers than one lap fires make a lap cut short. */
struct prober {
  atomic_int done;
  int64_t worst_ns;           /* longest timer_pending() call */
  gostatus after_st, sleep_st;
};

static void *probe (void *arg) {
  struct prober *p = arg;
  for (int i = 0; i < 200; i++) {
    int64_t t0 = go_now();
    (void)timer_pending();              /* takes the heap lock */
    int64_t d = go_now() - t0;
    if (d > p->worst_ns) p->worst_ns = d;
  }
  struct chan *c = timer_after(1 * MS);
  gostatus st = GO_OK;
  p->after_st = c ? (recv_tick(c, &st, check_in_ms(LONG_MS)), st) : GO_NOMEM;
  if (c) chan_release(c);
  p->sleep_st = go_sleep_until(check_in_ms(5));
  atomic_store(&p->done, 1);
  return NULL;
}

static void test_short_periods (void) {
  enum { NRAW = 200 };        /* more than one lap fires */
  static struct counter raw[NRAW];
  size_t base = timer_pending();
  static const int64_t periods[] = { 1, 10, 999 };
  struct ticker *tk[3];
  for (int i = 0; i < 3; i++) {
    tk[i] = ticker_new(periods[i]);
    CHECK(tk[i] != NULL);
  }
  int64_t armed = go_now();
  for (int i = 0; i < NRAW; i++) {
    memset(&raw[i], 0, sizeof raw[i]);
    atomic_init(&raw[i].n, 0);
    raw[i].t.when = go_now();
    raw[i].t.period = 1;
    raw[i].t.fire = count_fire;
    raw[i].t.ud = &raw[i];
    CHECK_EQ_ST(timer_start(&raw[i].t), GO_OK);
  }
  for (int i = 0; i < 3; i++) {         /* each ticks, more than once */
    gostatus st;
    for (int k = 0; k < 3; k++) {
      (void)recv_tick(ticker_chan(tk[i]), &st, check_in_ms(LONG_MS));
      CHECK_EQ_ST(st, GO_OK);
    }
  }
  struct prober p = { .done = 0 };
  pthread_t th;
  int64_t t0 = go_now();
  CHECK_SPAWN(&th, probe, &p);
  while (!atomic_load(&p.done) && check_ms_since(t0) < 5000)
    check_sleep_ms(1);
  if (!atomic_load(&p.done)) {          /* the timer thread keeps its lock */
    check_fail(__FILE__, __LINE__, "timer calls blocked for 5 s");
    _exit(check_done());                /* nothing below can return */
  }
  CHECK_JOIN(th);
  CHECK_EQ_ST(p.after_st, GO_OK);
  CHECK_EQ_ST(p.sleep_st, GO_OK);
  CHECK_LT_INT(p.worst_ns, 1000 * MS);  /* a lap, not the test's length */
  /* ticks in between are dropped: far fewer fires than microseconds */
  int n0 = atomic_load(&raw[0].n);
  CHECK_GT_INT(n0, 0);
  CHECK_LT_INT(n0, 1 + (go_now() - armed) / 1000);
  for (int i = 0; i < 3; i++) {
    ticker_stop(tk[i]);
    CHECK_RELEASE(tk[i]);
  }
  for (int i = 0; i < NRAW; i++) CHECK(timer_stop(&raw[i].t));
  CHECK_EQ_UINT(timer_pending(), base);
}

/* ------------------------------ sleep ----------------------------- */

static void test_sleep_until (void) {
  int64_t dl = check_in_ms(50), t0 = go_now();
  CHECK_EQ_ST(go_sleep_until(dl), GO_OK);
  CHECK_GE_INT(go_now(), dl);
  CHECK_LT_INT(check_ms_since(t0), 3000);
  t0 = go_now();
  CHECK_EQ_ST(go_sleep_until(go_now() - 10 * MS), GO_OK);   /* past */
  CHECK_EQ_ST(go_sleep_until(GO_NOW), GO_OK);
  CHECK_LT_INT(check_ms_since(t0), 50);
}

struct sleeper { int64_t deadline; gostatus st; int64_t woke; };

static void *sleeper (void *arg) {
  struct sleeper *s = arg;
  s->st = go_sleep_until(s->deadline);
  s->woke = go_now();
  return NULL;
}

/* Several threads sleeping at once each wake at their own deadline. */
static void test_sleep_threads (void) {
  enum { N = 6 };
  struct sleeper s[N];
  pthread_t th[N];
  int64_t t0 = go_now();
  for (int i = 0; i < N; i++) {
    s[i].deadline = t0 + (int64_t)(N - i) * 15 * MS;
    CHECK_SPAWN(&th[i], sleeper, &s[i]);
  }
  for (int i = 0; i < N; i++) {
    CHECK_JOIN(th[i]);
    CHECK_EQ_ST(s[i].st, GO_OK);
    CHECK_GE_INT(s[i].woke, s[i].deadline);
    CHECK_LT_INT(s[i].woke - s[i].deadline, 3000 * MS);
  }
}

/* Last: shutdown drops armed 'after' timers (leak checkers must see none)
** and leaves nothing pending. */
static void test_shutdown (void) {
  struct chan *c = timer_after(10000 * MS);
  chan_release(c);                       /* only the heap holds it now */
  struct chan *kept = timer_after(10000 * MS);
  timer_shutdown();
  CHECK_EQ_UINT(timer_pending(), 0);
  CHECK_EQ_UINT(chan_len(kept), 0);
  chan_release(kept);
  timer_shutdown();                      /* twice is harmless */
}

int main (void) {
  check_init();
  RUN(test_timer_order);
  RUN(test_timer_stop);
  RUN(test_timer_periodic);
  RUN(test_after);
  RUN(test_after_released_early);
  RUN(test_gtimer_basic);
  RUN(test_gtimer_race);
  RUN(test_gtimer_func);
  RUN(test_gtimer_collected);
  RUN(test_ticker_reset);
  RUN(test_ticker_interval);
  RUN(test_ticker_drops);
  RUN(test_ticker_stop);
  RUN(test_ticker_last_release);
  RUN(test_short_periods);
  RUN(test_sleep_until);
  RUN(test_sleep_threads);
  RUN(test_shutdown);
  return check_done();
}
