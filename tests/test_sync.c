/*
** test_sync.c: waitgroup (add/done/wait, negative, timeouts, many
** waiters), mutex (mutual exclusion across threads, trylock, unlock of an
** unlocked mutex, timeouts, hand-off racing cancel), the two-phase
** begin/park/finish forms, and atomic integers from threads.
*/
#include "check.h"
#include "sync.h"

#define LONG_MS 10000
#define NTHREADS 8

/* ---------------------------- waitgroup --------------------------- */

static void test_wg_basic (void) {
  struct waitgroup *wg = wg_new();
  CHECK(wg != NULL);
  CHECK_EQ_INT(wg_count(wg), 0);
  CHECK_EQ_ST(wg_wait(wg, GO_NOW), GO_OK);          /* zero: no wait */
  CHECK_EQ_ST(wg_wait(wg, check_in_ms(LONG_MS)), GO_OK);
  CHECK_EQ_ST(wg_add(wg, 3), GO_OK);
  CHECK_EQ_INT(wg_count(wg), 3);
  CHECK_EQ_ST(wg_wait(wg, GO_NOW), GO_AGAIN);
  CHECK_EQ_ST(wg_add(wg, -1), GO_OK);
  CHECK_EQ_INT(wg_count(wg), 2);
  CHECK_EQ_ST(wg_add(wg, 0), GO_OK);
  CHECK_EQ_INT(wg_count(wg), 2);
  CHECK_EQ_ST(wg_add(wg, -2), GO_OK);
  CHECK_EQ_INT(wg_count(wg), 0);
  CHECK_EQ_ST(wg_wait(wg, GO_NOW), GO_OK);
  CHECK_RELEASE(wg);
}

static void test_wg_negative (void) {
  struct waitgroup *wg = wg_new();
  CHECK_EQ_ST(wg_add(wg, -1), GO_NEGATIVE);
  CHECK_EQ_INT(wg_count(wg), 0);
  CHECK_EQ_ST(wg_add(wg, 3), GO_OK);
  CHECK_EQ_ST(wg_add(wg, -4), GO_NEGATIVE);
  CHECK_EQ_INT(wg_count(wg), 3);
  CHECK_EQ_ST(wg_add(wg, INT64_MIN), GO_NEGATIVE);
  CHECK_EQ_INT(wg_count(wg), 3);
  CHECK_EQ_ST(wg_wait(wg, GO_NOW), GO_AGAIN);        /* still waiting on 3 */
  CHECK_EQ_ST(wg_add(wg, -3), GO_OK);
  CHECK_EQ_INT(wg_count(wg), 0);
  CHECK_RELEASE(wg);
}

static void test_wg_timeout (void) {
  struct waitgroup *wg = wg_new();
  CHECK_EQ_ST(wg_add(wg, 1), GO_OK);
  int64_t t0 = go_now(), dl = check_in_ms(80);
  CHECK_EQ_ST(wg_wait(wg, dl), GO_TIMEOUT);
  CHECK_GE_INT(go_now(), dl);
  CHECK_LT_INT(check_ms_since(t0), 3000);
  CHECK_EQ_INT(wg_count(wg), 1);
  CHECK_EQ_ST(wg_wait(wg, go_now() - 1), GO_AGAIN);  /* past: as GO_NOW */
  CHECK_EQ_ST(wg_add(wg, -1), GO_OK);
  CHECK_EQ_ST(wg_wait(wg, GO_NOW), GO_OK);
  CHECK_RELEASE(wg);
}

struct wgarg {
  struct waitgroup *wg;
  atomic_int *released;   /* set before the last done */
  gostatus st;
  int saw_released;
  int64_t ms;
};

static void *wg_waiter (void *arg) {
  struct wgarg *a = arg;
  int64_t t0 = go_now();
  a->st = wg_wait(a->wg, check_in_ms(LONG_MS));
  a->ms = check_ms_since(t0);
  a->saw_released = atomic_load(a->released);
  return NULL;
}

/* Many waiters are all woken when the counter reaches zero, not before. */
static void test_wg_many_waiters (void) {
  struct waitgroup *wg = wg_new();
  atomic_int released = 0;
  CHECK_EQ_ST(wg_add(wg, 2), GO_OK);
  struct wgarg a[NTHREADS];
  pthread_t th[NTHREADS];
  for (int i = 0; i < NTHREADS; i++) {
    a[i] = (struct wgarg){ .wg = wg, .released = &released };
    CHECK_SPAWN(&th[i], wg_waiter, &a[i]);
  }
  CHECK_UNTIL(wg_nwaiters(wg) == NTHREADS);  /* all of them wait */
  CHECK_EQ_ST(wg_add(wg, -1), GO_OK);       /* 1 left: nobody may leave */
  check_sleep_ms(50);                       /* (time for a wrong wake-up) */
  atomic_store(&released, 1);
  CHECK_EQ_ST(wg_add(wg, -1), GO_OK);
  for (int i = 0; i < NTHREADS; i++) {
    CHECK_JOIN(th[i]);
    CHECK_EQ_ST(a[i].st, GO_OK);
    CHECK_EQ_INT(a[i].saw_released, 1);
    CHECK_LT_INT(a[i].ms, LONG_MS / 2);
  }
  CHECK_RELEASE(wg);
}

struct wgworker { struct waitgroup *wg; atomic_long *work; };

static void *wg_worker (void *arg) {
  struct wgworker *w = arg;
  for (int i = 0; i < 1000; i++) atomic_fetch_add(w->work, 1);
  CHECK_EQ_ST(wg_add(w->wg, -1), GO_OK);
  return NULL;
}

/* The Go pattern: add(n), n threads each done(), main waits. */
static void test_wg_workers (void) {
  for (int round = 0; round < 20; round++) {
    struct waitgroup *wg = wg_new();
    atomic_long work = 0;
    struct wgworker w = { wg, &work };
    pthread_t th[NTHREADS];
    CHECK_EQ_ST(wg_add(wg, NTHREADS), GO_OK);
    for (int i = 0; i < NTHREADS; i++) CHECK_SPAWN(&th[i], wg_worker, &w);
    CHECK_EQ_ST(wg_wait(wg, check_in_ms(LONG_MS)), GO_OK);
    CHECK_EQ_INT(atomic_load(&work), NTHREADS * 1000);
    CHECK_EQ_INT(wg_count(wg), 0);
    for (int i = 0; i < NTHREADS; i++) CHECK_JOIN(th[i]);
    CHECK_RELEASE(wg);
  }
}

/* A waiter that timed out leaves no trace: reuse works afterwards. */
static void test_wg_reuse_after_timeout (void) {
  struct waitgroup *wg = wg_new();
  CHECK_EQ_ST(wg_add(wg, 1), GO_OK);
  CHECK_EQ_ST(wg_wait(wg, check_in_ms(20)), GO_TIMEOUT);
  CHECK_EQ_ST(wg_add(wg, -1), GO_OK);
  CHECK_EQ_ST(wg_add(wg, 1), GO_OK);
  CHECK_EQ_ST(wg_wait(wg, GO_NOW), GO_AGAIN);
  CHECK_EQ_ST(wg_add(wg, -1), GO_OK);
  CHECK_EQ_ST(wg_wait(wg, GO_NOW), GO_OK);
  CHECK_RELEASE(wg);
}

/* ------------------------------ mutex ----------------------------- */

struct mxarg {
  struct gmutex *m;
  long *counter;          /* plain memory: only the mutex orders access */
  int iters;
  int fails;
};

static void *mx_incr (void *arg) {
  struct mxarg *a = arg;
  for (int i = 0; i < a->iters; i++) {
    if (mutex_lock(a->m, check_in_ms(LONG_MS)) != GO_OK) { a->fails++; continue; }
    long v = *a->counter;
    *a->counter = v + 1;
    if (mutex_unlock(a->m) != GO_OK) a->fails++;
  }
  return NULL;
}

static void test_mutex_exclusion (void) {
  struct gmutex *m = mutex_new();
  CHECK(m != NULL);
  long counter = 0;
  const int iters = CHECK_TSAN ? 5000 : 20000;
  struct mxarg a[NTHREADS];
  pthread_t th[NTHREADS];
  for (int i = 0; i < NTHREADS; i++) {
    a[i] = (struct mxarg){ m, &counter, iters, 0 };
    CHECK_SPAWN(&th[i], mx_incr, &a[i]);
  }
  for (int i = 0; i < NTHREADS; i++) {
    CHECK_JOIN(th[i]);
    CHECK_EQ_INT(a[i].fails, 0);
  }
  CHECK_EQ_INT(counter, (long)NTHREADS * iters);
  CHECK(!mutex_islocked(m));
  CHECK_RELEASE(m);
}

static void test_mutex_try_unlock (void) {
  struct gmutex *m = mutex_new();
  CHECK(!mutex_islocked(m));
  CHECK_EQ_ST(mutex_unlock(m), GO_NOTLOCKED);
  CHECK(!mutex_islocked(m));
  CHECK(mutex_trylock(m));
  CHECK(mutex_islocked(m));
  CHECK(!mutex_trylock(m));
  CHECK(mutex_islocked(m));
  CHECK_EQ_ST(mutex_lock(m, GO_NOW), GO_AGAIN);
  CHECK_EQ_ST(mutex_unlock(m), GO_OK);
  CHECK(!mutex_islocked(m));
  CHECK_EQ_ST(mutex_unlock(m), GO_NOTLOCKED);
  CHECK(!mutex_islocked(m));
  CHECK_EQ_ST(mutex_lock(m, GO_NOW), GO_OK);
  CHECK(mutex_islocked(m));
  CHECK_EQ_ST(mutex_unlock(m), GO_OK);
  CHECK_RELEASE(m);
}

static void test_mutex_timeout (void) {
  struct gmutex *m = mutex_new();
  CHECK(mutex_trylock(m));
  int64_t t0 = go_now(), dl = check_in_ms(80);
  CHECK_EQ_ST(mutex_lock(m, dl), GO_TIMEOUT);
  CHECK_GE_INT(go_now(), dl);
  CHECK_LT_INT(check_ms_since(t0), 3000);
  CHECK(mutex_islocked(m));
  /* the timed-out waiter must not be handed the lock on unlock */
  CHECK_EQ_ST(mutex_unlock(m), GO_OK);
  CHECK(!mutex_islocked(m));
  CHECK(mutex_trylock(m));
  CHECK_EQ_ST(mutex_unlock(m), GO_OK);
  CHECK_RELEASE(m);
}

struct lockarg { struct gmutex *m; gostatus st; int64_t ms; };

static void *locker (void *arg) {
  struct lockarg *a = arg;
  int64_t t0 = go_now();
  a->st = mutex_lock(a->m, check_in_ms(LONG_MS));
  a->ms = check_ms_since(t0);
  return NULL;
}

/* Unlock hands the mutex to a waiter; any thread may unlock (not owned). */
static void test_mutex_handoff (void) {
  struct gmutex *m = mutex_new();
  CHECK(mutex_trylock(m));
  struct lockarg a = { m, GO_AGAIN, 0 };
  pthread_t th;
  CHECK_SPAWN(&th, locker, &a);
  CHECK_UNTIL(mutex_nwaiters(m) == 1);      /* it waits for the lock */
  CHECK_EQ_ST(mutex_unlock(m), GO_OK);
  CHECK_JOIN(th);
  CHECK_EQ_ST(a.st, GO_OK);
  CHECK_LT_INT(a.ms, LONG_MS / 2);
  CHECK(mutex_islocked(m));              /* held on the waiter's behalf */
  CHECK(!mutex_trylock(m));
  CHECK_EQ_ST(mutex_unlock(m), GO_OK);   /* by a thread that did not lock */
  CHECK(!mutex_islocked(m));
  CHECK_RELEASE(m);
}

/* Lockers with deadlines of microseconds race unlock's hand-off against
** their own cancel: a GO_OK lock always owns the mutex (the plain counter
** stays exact), a GO_TIMEOUT one never does (the mutex ends unlocked). */
struct mxrace {
  struct gmutex *m;
  long *counter;
  int iters;
  long nok, ntimeout;
  int fails;
  uint32_t rng;
};

static void *mx_racer (void *arg) {
  struct mxrace *a = arg;
  for (int i = 0; i < a->iters; i++) {
    a->rng = a->rng * 1664525u + 1013904223u;
    int64_t dl = go_now() + (int64_t)((a->rng >> 24) % 50) * 1000;  /* < 50 us */
    gostatus st = mutex_lock(a->m, dl);
    if (st == GO_OK) {
      long v = *a->counter;
      if ((a->rng >> 8) % 4 == 0) check_sleep_ms(0);
      *a->counter = v + 1;
      a->nok++;
      if (mutex_unlock(a->m) != GO_OK) a->fails++;
    }
    else if (st == GO_TIMEOUT || st == GO_AGAIN) a->ntimeout++;
    else a->fails++;
  }
  return NULL;
}

static void test_mutex_timeout_race (void) {
  struct gmutex *m = mutex_new();
  long counter = 0;
  const int iters = CHECK_TSAN ? 1500 : 5000;
  enum { N = 4 };
  struct mxrace a[N];
  pthread_t th[N];
  for (int i = 0; i < N; i++) {
    a[i] = (struct mxrace){ .m = m, .counter = &counter, .iters = iters,
                            .rng = 17u * (uint32_t)i + 1 };
    CHECK_SPAWN(&th[i], mx_racer, &a[i]);
  }
  long nok = 0, nto = 0;
  for (int i = 0; i < N; i++) {
    CHECK_JOIN(th[i]);
    CHECK_EQ_INT(a[i].fails, 0);
    nok += a[i].nok;
    nto += a[i].ntimeout;
  }
  printf("  %ld locked, %ld timed out\n", nok, nto);
  CHECK_EQ_INT(counter, nok);
  CHECK_EQ_INT(nok + nto, (long)N * iters);
  CHECK(!mutex_islocked(m));
  CHECK(mutex_trylock(m));
  CHECK_EQ_ST(mutex_unlock(m), GO_OK);
  CHECK_RELEASE(m);
}

/* The two-phase forms with a thread waiter: begin, park, finish. */
static void *wg_done_later (void *arg) {
  check_sleep_ms(30);
  CHECK_EQ_ST(wg_add(arg, -1), GO_OK);
  return NULL;
}

static void *unlock_later (void *arg) {
  check_sleep_ms(30);
  CHECK_EQ_ST(mutex_unlock(arg), GO_OK);
  return NULL;
}

static void test_two_phase (void) {
  struct op op;
  struct waiter w;
  pthread_t th;

  struct waitgroup *wg = wg_new();
  op_init(&op);
  CHECK_EQ_ST(wg_begin(wg, &w, &op), GO_OK);        /* zero: done at once */
  CHECK_EQ_ST(wg_add(wg, 1), GO_OK);
  op_init(&op);
  CHECK_SPAWN(&th, wg_done_later, wg);
  gostatus st = wg_begin(wg, &w, &op);
  CHECK(st == GO_AGAIN || st == GO_OK);
  if (st == GO_AGAIN) {
    op_park(&op, check_in_ms(LONG_MS));
    st = wg_finish(wg, &w, &op);
  }
  CHECK_EQ_ST(st, GO_OK);
  CHECK_EQ_INT(wg_count(wg), 0);
  CHECK_JOIN(th);
  /* timing out */
  CHECK_EQ_ST(wg_add(wg, 1), GO_OK);
  op_init(&op);
  CHECK_EQ_ST(wg_begin(wg, &w, &op), GO_AGAIN);
  op_park(&op, check_in_ms(30));
  CHECK_EQ_ST(wg_finish(wg, &w, &op), GO_TIMEOUT);
  CHECK_EQ_ST(wg_add(wg, -1), GO_OK);
  CHECK_RELEASE(wg);

  struct gmutex *m = mutex_new();
  op_init(&op);
  CHECK_EQ_ST(mutex_begin(m, &w, &op), GO_OK);      /* free: taken at once */
  CHECK(mutex_islocked(m));
  op_init(&op);
  CHECK_SPAWN(&th, unlock_later, m);
  CHECK_EQ_ST(mutex_begin(m, &w, &op), GO_AGAIN);
  op_park(&op, check_in_ms(LONG_MS));
  CHECK_EQ_ST(mutex_finish(m, &w, &op), GO_OK);     /* handed over */
  CHECK(mutex_islocked(m));
  CHECK_JOIN(th);
  op_init(&op);
  CHECK_EQ_ST(mutex_begin(m, &w, &op), GO_AGAIN);
  op_park(&op, check_in_ms(30));
  CHECK_EQ_ST(mutex_finish(m, &w, &op), GO_TIMEOUT);
  CHECK_EQ_ST(mutex_unlock(m), GO_OK);
  CHECK(!mutex_islocked(m));                        /* not handed to it */
  CHECK_RELEASE(m);
}

/* ------------------------------ atomic ---------------------------- */

static void test_atomic_basic (void) {
  struct gatomic *a = gatomic_new(5);
  CHECK(a != NULL);
  CHECK_EQ_INT(gatomic_get(a), 5);
  gatomic_set(a, 7);
  CHECK_EQ_INT(gatomic_get(a), 7);
  CHECK_EQ_INT(gatomic_add(a, 3), 10);
  CHECK_EQ_INT(gatomic_add(a, -12), -2);
  CHECK(gatomic_cas(a, -2, 20));
  CHECK_EQ_INT(gatomic_get(a), 20);
  CHECK(!gatomic_cas(a, -2, 30));
  CHECK_EQ_INT(gatomic_get(a), 20);
  gatomic_set(a, INT64_MAX);
  CHECK_EQ_INT(gatomic_add(a, 1), INT64_MIN);   /* wraps, no UB */
  CHECK_EQ_INT(gatomic_add(a, -1), INT64_MAX);
  CHECK_RELEASE(a);
}

struct atarg { struct gatomic *a; int iters; };

static void *at_adder (void *arg) {
  struct atarg *t = arg;
  for (int i = 0; i < t->iters; i++) gatomic_add(t->a, 2);
  return NULL;
}

static void *at_casser (void *arg) {
  struct atarg *t = arg;
  for (int i = 0; i < t->iters; i++) {
    int64_t v;
    do v = gatomic_get(t->a); while (!gatomic_cas(t->a, v, v + 1));
  }
  return NULL;
}

static void test_atomic_threads (void) {
  const int iters = CHECK_TSAN ? 20000 : 100000;
  struct gatomic *a = gatomic_new(0);
  struct atarg t = { a, iters };
  pthread_t th[NTHREADS];
  for (int i = 0; i < NTHREADS; i++)
    CHECK_SPAWN(&th[i], i % 2 ? at_casser : at_adder, &t);
  for (int i = 0; i < NTHREADS; i++) CHECK_JOIN(th[i]);
  /* half add 2 per step, half add 1 by CAS */
  CHECK_EQ_INT(gatomic_get(a), (int64_t)(NTHREADS / 2) * iters * 3);
  CHECK_RELEASE(a);
}

int main (void) {
  check_init();
  RUN(test_wg_basic);
  RUN(test_wg_negative);
  RUN(test_wg_timeout);
  RUN(test_wg_many_waiters);
  RUN(test_wg_workers);
  RUN(test_wg_reuse_after_timeout);
  RUN(test_mutex_exclusion);
  RUN(test_mutex_try_unlock);
  RUN(test_mutex_timeout);
  RUN(test_mutex_handoff);
  RUN(test_mutex_timeout_race);
  RUN(test_two_phase);
  RUN(test_atomic_basic);
  RUN(test_atomic_threads);
  return check_done();
}
