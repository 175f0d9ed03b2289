/*
** test_select.c: sel_wait over recv and send cases: readiness, default,
** fairness, off cases, closed channels, blocking and waking from other
** threads, exactly one case firing, and no value lost to a select that has
** already fired; plus the two-phase sel_begin/sel_finish form.
*/
#include "check.h"
#include "select.h"

#define LONG_MS 10000

static gostatus send_int (struct chan *c, int64_t i, int64_t deadline) {
  struct tvalue v;
  tvalue_setint(&v, i);
  gostatus st = chan_send(c, &v, deadline);
  if (st != GO_OK) tvalue_clear(&v);
  return st;
}

/* Receive an int; -1 when nothing (or not an int) came. */
static int64_t recv_int (struct chan *c, gostatus *st, bool *ok,
                         int64_t deadline) {
  struct tvalue v = TVALUE_NIL;
  *ok = false;
  *st = chan_recv(c, &v, ok, deadline);
  int64_t i = (*st == GO_OK && *ok && v.tt == TV_INT) ? v.u.i : -1;
  tvalue_clear(&v);
  return i;
}

static void setcase (struct selcase *cs, struct chan *c, int dir) {
  cs->c = c;
  cs->dir = dir;
  cs->v = TVALUE_NIL;
  cs->ok = false;
}

static const char longtext[] = "a send case's value: long enough for the heap";

static void setlong (struct tvalue *v) {
  CHECK_EQ_ST(tvalue_setstr(v, longtext, sizeof longtext - 1), GO_OK);
}

static void check_long (struct tvalue *v) {
  size_t n;
  const char *s = tvalue_str(v, &n);
  CHECK_EQ_INT(v->tt, TV_LSTR);
  CHECK_EQ_MEM(s, n, longtext, sizeof longtext - 1);
}

/* ------------------------------------------------------------------ */

static void test_ready_cases (void) {
  struct chan *a = chan_new(1), *b = chan_new(1), *full = chan_new(1);
  CHECK_EQ_ST(send_int(b, 7, GO_NOW), GO_OK);
  CHECK_EQ_ST(send_int(full, 1, GO_NOW), GO_OK);
  struct selcase cs[3];
  int chosen = -1;

  /* only the recv on b is ready */
  setcase(&cs[0], a, SEL_RECV);
  setcase(&cs[1], b, SEL_RECV);
  setcase(&cs[2], full, SEL_SEND);
  tvalue_setint(&cs[2].v, 3);
  CHECK_EQ_ST(sel_wait(cs, 3, GO_NOW, &chosen), GO_OK);
  CHECK_EQ_INT(chosen, 1);
  CHECK(cs[1].ok);
  CHECK_EQ_INT(cs[1].v.tt, TV_INT);
  CHECK_EQ_INT(cs[1].v.u.i, 7);
  CHECK_EQ_INT(cs[0].v.tt, TV_NIL);
  CHECK_EQ_INT(cs[2].v.tt, TV_INT);        /* the send did not fire */
  CHECK_EQ_INT(cs[2].v.u.i, 3);
  CHECK_EQ_UINT(chan_len(b), 0);
  CHECK_EQ_UINT(chan_len(full), 1);

  /* only the send on a is ready: the value moves out of the case */
  setcase(&cs[0], b, SEL_RECV);
  setcase(&cs[1], a, SEL_SEND);
  setlong(&cs[1].v);
  chosen = -1;
  CHECK_EQ_ST(sel_wait(cs, 2, check_in_ms(LONG_MS), &chosen), GO_OK);
  CHECK_EQ_INT(chosen, 1);
  CHECK_EQ_INT(cs[1].v.tt, TV_NIL);
  CHECK_EQ_UINT(chan_len(a), 1);
  struct tvalue out = TVALUE_NIL;
  bool ok;
  CHECK_EQ_ST(chan_recv(a, &out, &ok, GO_NOW), GO_OK);
  check_long(&out);
  tvalue_clear(&out);

  chan_release(a);
  chan_release(b);
  chan_release(full);
}

/* GO_NOW with nothing ready is Go's 'default': GO_AGAIN, nothing moved. */
static void test_default (void) {
  struct chan *empty = chan_new(2), *full = chan_new(1), *u = chan_new(0);
  CHECK_EQ_ST(send_int(full, 5, GO_NOW), GO_OK);
  struct selcase cs[4];
  setcase(&cs[0], empty, SEL_RECV);
  setcase(&cs[1], full, SEL_SEND);
  setlong(&cs[1].v);
  setcase(&cs[2], u, SEL_RECV);
  setcase(&cs[3], u, SEL_SEND);
  setlong(&cs[3].v);
  int chosen = -1;
  for (int k = 0; k < 2; k++) {
    int64_t dl = k == 0 ? GO_NOW : go_now() - 1000;   /* past: as GO_NOW */
    CHECK_EQ_ST(sel_wait(cs, 4, dl, &chosen), GO_AGAIN);
    check_long(&cs[1].v);
    check_long(&cs[3].v);
    CHECK_EQ_INT(cs[0].v.tt, TV_NIL);
    CHECK_EQ_INT(cs[2].v.tt, TV_NIL);
    CHECK_EQ_UINT(chan_len(empty), 0);
    CHECK_EQ_UINT(chan_len(full), 1);
  }
  tvalue_clear(&cs[1].v);
  tvalue_clear(&cs[3].v);
  chan_release(empty);
  chan_release(full);
  chan_release(u);
}

/* Two always-ready recv cases: each chosen half the time. */
static void test_fairness_recv (void) {
  struct chan *ch[2] = { chan_new(1), chan_new(1) };
  for (int i = 0; i < 2; i++) CHECK_EQ_ST(send_int(ch[i], i, GO_NOW), GO_OK);
  long count[2] = { 0, 0 };
  const long n = 100000;
  struct selcase cs[2];
  for (long k = 0; k < n; k++) {
    setcase(&cs[0], ch[0], SEL_RECV);
    setcase(&cs[1], ch[1], SEL_RECV);
    int chosen = -1;
    gostatus st = sel_wait(cs, 2, GO_NOW, &chosen);
    if (st != GO_OK || chosen < 0 || chosen > 1) {
      CHECK_EQ_ST(st, GO_OK);
      CHECK(chosen == 0 || chosen == 1);
      break;
    }
    if (cs[chosen].v.u.i != chosen) CHECK_EQ_INT(cs[chosen].v.u.i, chosen);
    count[chosen]++;
    CHECK_EQ_ST(send_int(ch[chosen], chosen, GO_NOW), GO_OK);
  }
  printf("  recv/recv: %ld / %ld\n", count[0], count[1]);
  CHECK_EQ_INT(count[0] + count[1], n);
  CHECK_GE_INT(count[0], n * 47 / 100);
  CHECK_LE_INT(count[0], n * 53 / 100);
  chan_release(ch[0]);
  chan_release(ch[1]);
}

/* A ready recv, a ready send and an off case: 50/50, the off one never. */
static void test_fairness_mixed (void) {
  struct chan *r = chan_new(1), *s = chan_new(1), *off = chan_new(1);
  CHECK_EQ_ST(send_int(r, 1, GO_NOW), GO_OK);
  CHECK_EQ_ST(send_int(off, 9, GO_NOW), GO_OK);
  long count[3] = { 0, 0, 0 };
  const long n = 100000;
  struct selcase cs[3];
  for (long k = 0; k < n; k++) {
    setcase(&cs[0], r, SEL_RECV);
    setcase(&cs[1], off, SEL_OFF);
    setcase(&cs[2], s, SEL_SEND);
    tvalue_setint(&cs[2].v, k);
    int chosen = -1;
    gostatus st = sel_wait(cs, 3, GO_NOW, &chosen);
    if (st != GO_OK || chosen < 0 || chosen > 2) {
      CHECK_EQ_ST(st, GO_OK);
      break;
    }
    count[chosen]++;
    if (chosen == 0) CHECK_EQ_ST(send_int(r, 1, GO_NOW), GO_OK);
    else if (chosen == 2) {
      bool ok; gostatus rst;
      int64_t x = recv_int(s, &rst, &ok, GO_NOW);
      if (x != k) CHECK_EQ_INT(x, k);
    }
  }
  printf("  recv/off/send: %ld / %ld / %ld\n", count[0], count[1], count[2]);
  CHECK_EQ_INT(count[1], 0);
  CHECK_EQ_INT(count[0] + count[2], n);
  CHECK_GE_INT(count[0], n * 47 / 100);
  CHECK_LE_INT(count[0], n * 53 / 100);
  CHECK_EQ_UINT(chan_len(off), 1);
  chan_release(r);
  chan_release(s);
  chan_release(off);
}

/* SEL_OFF cases and cases with a NULL channel never fire, whatever the
** readiness of their channel; with only such cases, a finite deadline gives
** GO_TIMEOUT and GO_NOW gives GO_AGAIN. */
static void test_off_cases (void) {
  struct chan *ready = chan_new(1), *room = chan_new(1), *b = chan_new(1);
  CHECK_EQ_ST(send_int(ready, 1, GO_NOW), GO_OK);
  struct selcase cs[5];
  for (int k = 0; k < 1000; k++) {
    setcase(&cs[0], ready, SEL_OFF);
    setcase(&cs[1], NULL, SEL_RECV);
    setcase(&cs[2], NULL, SEL_SEND);
    tvalue_setint(&cs[2].v, 2);
    setcase(&cs[3], room, SEL_OFF);
    tvalue_setint(&cs[3].v, 3);
    setcase(&cs[4], b, SEL_RECV);
    CHECK_EQ_ST(send_int(b, k, GO_NOW), GO_OK);
    int chosen = -1;
    CHECK_EQ_ST(sel_wait(cs, 5, GO_NOW, &chosen), GO_OK);
    if (chosen != 4) { CHECK_EQ_INT(chosen, 4); break; }
    CHECK_EQ_INT(cs[4].v.u.i, k);
    CHECK_EQ_INT(cs[2].v.tt, TV_INT);
    CHECK_EQ_INT(cs[3].v.tt, TV_INT);
  }
  CHECK_EQ_UINT(chan_len(ready), 1);
  CHECK_EQ_UINT(chan_len(room), 0);

  /* all off */
  int chosen = -1;
  CHECK_EQ_ST(sel_wait(cs, 4, GO_NOW, &chosen), GO_AGAIN);
  int64_t t0 = go_now(), dl = check_in_ms(80);
  CHECK_EQ_ST(sel_wait(cs, 4, dl, &chosen), GO_TIMEOUT);
  CHECK_GE_INT(go_now(), dl);
  CHECK_LT_INT(check_ms_since(t0), 3000);
  CHECK_EQ_UINT(chan_len(ready), 1);
  CHECK_EQ_UINT(chan_len(room), 0);
  CHECK_EQ_INT(cs[2].v.tt, TV_INT);
  chan_release(ready);
  chan_release(room);
  chan_release(b);
}

/* Nothing ready and a finite deadline: GO_TIMEOUT, and no waiter is left
** on any channel (a stale send waiter would still hand its value over). */
static void test_timeout (void) {
  struct chan *u = chan_new(0), *v = chan_new(0), *full = chan_new(1);
  CHECK_EQ_ST(send_int(full, 1, GO_NOW), GO_OK);
  struct selcase cs[3];
  setcase(&cs[0], u, SEL_RECV);
  setcase(&cs[1], v, SEL_SEND);
  setlong(&cs[1].v);
  setcase(&cs[2], full, SEL_SEND);
  tvalue_setint(&cs[2].v, 2);
  int chosen = -1;
  int64_t t0 = go_now(), dl = check_in_ms(80);
  CHECK_EQ_ST(sel_wait(cs, 3, dl, &chosen), GO_TIMEOUT);
  CHECK_GE_INT(go_now(), dl);
  CHECK_LT_INT(check_ms_since(t0), 3000);
  check_long(&cs[1].v);
  CHECK_EQ_INT(cs[2].v.tt, TV_INT);
  CHECK_EQ_ST(send_int(u, 1, GO_NOW), GO_AGAIN);
  bool ok; gostatus st;
  (void)recv_int(v, &st, &ok, GO_NOW);
  CHECK_EQ_ST(st, GO_AGAIN);
  CHECK_EQ_UINT(chan_len(full), 1);
  (void)recv_int(full, &st, &ok, GO_NOW);
  CHECK_EQ_ST(st, GO_OK);
  CHECK_EQ_UINT(chan_len(full), 0);      /* the stale send did not refill */
  tvalue_clear(&cs[1].v);
  chan_release(u);
  chan_release(v);
  chan_release(full);
}

/* A send and a recv case on the same unbuffered channel cannot pair with
** each other (Go: the select blocks). */
static void test_no_self_pairing (void) {
  struct chan *u = chan_new(0);
  struct selcase cs[2];
  setcase(&cs[0], u, SEL_SEND);
  tvalue_setint(&cs[0].v, 1);
  setcase(&cs[1], u, SEL_RECV);
  int chosen = -1;
  CHECK_EQ_ST(sel_wait(cs, 2, check_in_ms(50), &chosen), GO_TIMEOUT);
  CHECK_EQ_INT(cs[0].v.tt, TV_INT);
  CHECK_EQ_INT(cs[1].v.tt, TV_NIL);
  chan_release(u);
}

static void test_closed_cases (void) {
  struct chan *empty = chan_new(0), *c = chan_new(2);
  CHECK_EQ_ST(chan_close(c), GO_OK);
  struct selcase cs[2];
  int chosen = -1;

  /* send on closed: GO_CLOSED with its index, the value still ours */
  for (int k = 0; k < 2; k++) {
    setcase(&cs[0], empty, SEL_RECV);
    setcase(&cs[1], c, SEL_SEND);
    setlong(&cs[1].v);
    chosen = -1;
    CHECK_EQ_ST(sel_wait(cs, 2, k ? check_in_ms(LONG_MS) : GO_NOW, &chosen),
                GO_CLOSED);
    CHECK_EQ_INT(chosen, 1);
    check_long(&cs[1].v);
    tvalue_clear(&cs[1].v);
  }

  /* recv on closed and drained: GO_OK, ok = false, nil */
  setcase(&cs[0], empty, SEL_RECV);
  setcase(&cs[1], c, SEL_RECV);
  cs[1].ok = true;
  CHECK_EQ_ST(sel_wait(cs, 2, GO_NOW, &chosen), GO_OK);
  CHECK_EQ_INT(chosen, 1);
  CHECK(!cs[1].ok);
  CHECK_EQ_INT(cs[1].v.tt, TV_NIL);
  chan_release(c);

  /* closed with values buffered: values first, then ok = false */
  c = chan_new(2);
  CHECK_EQ_ST(send_int(c, 10, GO_NOW), GO_OK);
  CHECK_EQ_ST(send_int(c, 11, GO_NOW), GO_OK);
  CHECK_EQ_ST(chan_close(c), GO_OK);
  for (int i = 0; i < 3; i++) {
    setcase(&cs[0], empty, SEL_RECV);
    setcase(&cs[1], c, SEL_RECV);
    CHECK_EQ_ST(sel_wait(cs, 2, GO_NOW, &chosen), GO_OK);
    CHECK_EQ_INT(chosen, 1);
    CHECK_EQ_INT(cs[1].ok, i < 2);
    if (i < 2) CHECK_EQ_INT(cs[1].v.u.i, 10 + i);
  }
  chan_release(c);
  chan_release(empty);
}

struct selthread {
  struct selcase cs[4];
  int n;
  int64_t deadline_ms;
  gostatus st;
  int chosen;
};

static void *do_select (void *arg) {
  struct selthread *t = arg;
  t->chosen = -1;
  t->st = sel_wait(t->cs, t->n, check_in_ms(t->deadline_ms), &t->chosen);
  return NULL;
}

/* A blocked select is woken by the event of one of its cases. */
static void test_blocked_wakeups (void) {
  struct chan *a = chan_new(0), *b = chan_new(0), *c = chan_new(0);
  pthread_t th;
  struct selthread t;
  bool ok; gostatus st;

  /* a sender on b */
  t.n = 3; t.deadline_ms = LONG_MS;
  setcase(&t.cs[0], a, SEL_RECV);
  setcase(&t.cs[1], b, SEL_RECV);
  setcase(&t.cs[2], c, SEL_SEND);
  tvalue_setint(&t.cs[2].v, 33);
  CHECK_SPAWN(&th, do_select, &t);
  CHECK_UNTIL(chan_nwaiters(t.cs[t.n - 1].c) == 1);   /* queued */
  CHECK_EQ_ST(send_int(b, 22, check_in_ms(LONG_MS)), GO_OK);
  CHECK_JOIN(th);
  CHECK_EQ_ST(t.st, GO_OK);
  CHECK_EQ_INT(t.chosen, 1);
  CHECK(t.cs[1].ok);
  CHECK_EQ_INT(t.cs[1].v.u.i, 22);
  CHECK_EQ_INT(t.cs[2].v.tt, TV_INT);     /* not sent */
  /* afterwards no waiter of that select is left anywhere */
  CHECK_EQ_ST(send_int(a, 1, GO_NOW), GO_AGAIN);
  (void)recv_int(c, &st, &ok, GO_NOW);
  CHECK_EQ_ST(st, GO_AGAIN);

  /* a receiver on c */
  setcase(&t.cs[0], a, SEL_RECV);
  setcase(&t.cs[1], b, SEL_RECV);
  setcase(&t.cs[2], c, SEL_SEND);
  tvalue_setint(&t.cs[2].v, 33);
  CHECK_SPAWN(&th, do_select, &t);
  CHECK_UNTIL(chan_nwaiters(t.cs[t.n - 1].c) == 1);   /* queued */
  int64_t x = recv_int(c, &st, &ok, check_in_ms(LONG_MS));
  CHECK_EQ_ST(st, GO_OK);
  CHECK_EQ_INT(x, 33);
  CHECK_JOIN(th);
  CHECK_EQ_ST(t.st, GO_OK);
  CHECK_EQ_INT(t.chosen, 2);
  CHECK_EQ_INT(t.cs[2].v.tt, TV_NIL);
  CHECK_EQ_ST(send_int(b, 1, GO_NOW), GO_AGAIN);

  /* a close of the channel of a recv case: ok = false */
  setcase(&t.cs[0], a, SEL_RECV);
  setcase(&t.cs[1], b, SEL_RECV);
  t.n = 2;
  CHECK_SPAWN(&th, do_select, &t);
  CHECK_UNTIL(chan_nwaiters(t.cs[t.n - 1].c) == 1);   /* queued */
  CHECK_EQ_ST(chan_close(a), GO_OK);
  CHECK_JOIN(th);
  CHECK_EQ_ST(t.st, GO_OK);
  CHECK_EQ_INT(t.chosen, 0);
  CHECK(!t.cs[0].ok);

  /* a close of the channel of a send case: GO_CLOSED, value still ours */
  setcase(&t.cs[0], b, SEL_RECV);
  setcase(&t.cs[1], c, SEL_SEND);
  setlong(&t.cs[1].v);
  CHECK_SPAWN(&th, do_select, &t);
  CHECK_UNTIL(chan_nwaiters(t.cs[t.n - 1].c) == 1);   /* queued */
  CHECK_EQ_ST(chan_close(c), GO_OK);
  CHECK_JOIN(th);
  CHECK_EQ_ST(t.st, GO_CLOSED);
  CHECK_EQ_INT(t.chosen, 1);
  check_long(&t.cs[1].v);
  tvalue_clear(&t.cs[1].v);

  chan_release(a);
  chan_release(b);
  chan_release(c);
}

/* Two threads each run R blocking selects over the same two unbuffered
** channels while the main thread sends 2R distinct values: every select
** fires exactly one case, so every value is received exactly once. */
struct pairsel {
  struct chan *a, *b;
  int rounds;
  int64_t *got;          /* rounds entries */
  int fails;
};

static void *select_loop (void *arg) {
  struct pairsel *p = arg;
  for (int r = 0; r < p->rounds; r++) {
    struct selcase cs[2];
    setcase(&cs[0], p->a, SEL_RECV);
    setcase(&cs[1], p->b, SEL_RECV);
    int chosen = -1;
    gostatus st = sel_wait(cs, 2, check_in_ms(LONG_MS), &chosen);
    p->got[r] = -1;
    if (st != GO_OK || chosen < 0 || chosen > 1 || !cs[chosen].ok) {
      p->fails++;
      continue;
    }
    int64_t v = cs[chosen].v.u.i;
    /* a's values are even, b's odd: the value says which case fired */
    if ((v & 1) != chosen) p->fails++;
    p->got[r] = v;
    CHECK_EQ_INT(cs[1 - chosen].v.tt, TV_NIL);
  }
  return NULL;
}

static void test_two_selectors (void) {
  const int rounds = CHECK_TSAN ? 10000 : 20000;
  struct chan *a = chan_new(0), *b = chan_new(0);
  struct pairsel p[2];
  pthread_t th[2];
  for (int i = 0; i < 2; i++) {
    p[i] = (struct pairsel){ a, b, rounds, calloc(rounds, sizeof(int64_t)), 0 };
    CHECK_SPAWN(&th[i], select_loop, &p[i]);
  }
  int sendfails = 0;
  for (int64_t v = 0; v < 2 * rounds; v++)
    if (send_int(v & 1 ? b : a, v, check_in_ms(LONG_MS)) != GO_OK) sendfails++;
  CHECK_EQ_INT(sendfails, 0);
  for (int i = 0; i < 2; i++) CHECK_JOIN(th[i]);
  unsigned char *seen = calloc(2 * rounds, 1);
  long dup = 0, bad = 0;
  for (int i = 0; i < 2; i++) {
    CHECK_EQ_INT(p[i].fails, 0);
    for (int r = 0; r < rounds; r++) {
      int64_t v = p[i].got[r];
      if (v < 0 || v >= 2 * rounds) bad++;
      else if (seen[v]++) dup++;
    }
    free(p[i].got);
  }
  CHECK_EQ_INT(bad, 0);
  CHECK_EQ_INT(dup, 0);
  free(seen);
  chan_release(a);
  chan_release(b);
}

/* A select blocked on a and b is fired through a; a value sent to b right
** after must stay in b (buffered) or find no taker (unbuffered), never
** vanish into the waiter the fired select still has queued on b. */
static void test_value_not_lost (void) {
  const int iters = CHECK_TSAN ? 200 : 500;
  for (int k = 0; k < 2; k++) {
    size_t cap = (size_t)k;     /* 0: unbuffered, 1: buffered */
    int lost = 0;
    for (int i = 0; i < iters; i++) {
      struct chan *a = chan_new(cap), *b = chan_new(cap);
      struct selthread t;
      t.n = 2; t.deadline_ms = LONG_MS;
      setcase(&t.cs[0], a, SEL_RECV);
      setcase(&t.cs[1], b, SEL_RECV);
      pthread_t th;
      CHECK_SPAWN(&th, do_select, &t);
      if (i % 4 == 0) check_sleep_ms(1);
      /* unbuffered a: returns once the select has taken the value */
      CHECK_EQ_ST(send_int(a, 1, check_in_ms(LONG_MS)), GO_OK);
      gostatus st = send_int(b, 2, GO_NOW);
      CHECK_JOIN(th);
      CHECK_EQ_ST(t.st, GO_OK);
      bool ok; gostatus rst;
      if (cap == 0) {
        /* the select took a's value; nobody is left to take b's */
        CHECK_EQ_INT(t.chosen, 0);
        CHECK_EQ_INT(t.cs[0].v.u.i, 1);
        CHECK_EQ_INT(t.cs[1].v.tt, TV_NIL);
        CHECK_EQ_ST(st, GO_AGAIN);
        (void)recv_int(b, &rst, &ok, GO_NOW);
        CHECK_EQ_ST(rst, GO_AGAIN);
      } else {
        /* both sends land; the select took one (both may have been
        ** buffered before it looked), the other is still buffered */
        CHECK_EQ_ST(st, GO_OK);
        int ch = t.chosen;
        if (ch != 0 && ch != 1) { CHECK(ch == 0 || ch == 1); lost++; }
        else {
          CHECK_EQ_INT(t.cs[ch].v.u.i, ch + 1);
          CHECK_EQ_INT(t.cs[1 - ch].v.tt, TV_NIL);
          struct chan *other = ch == 0 ? b : a;
          int64_t x = recv_int(other, &rst, &ok, GO_NOW);
          if (rst != GO_OK || x != 2 - ch) lost++;
          CHECK_EQ_UINT(chan_len(a) + chan_len(b), 0);
        }
      }
      chan_release(a);
      chan_release(b);
    }
    CHECK_EQ_INT(lost, 0);
  }
}

/* The same race with both senders concurrent: one selector receives two
** values per round (two selects) from two sender threads. A value handed
** to an already-fired select would be lost: the totals would not match. */
struct seqsend { struct chan *c; int n; int64_t base; int fails; };

static void *seq_sender (void *arg) {
  struct seqsend *s = arg;
  for (int i = 0; i < s->n; i++)
    if (send_int(s->c, s->base + i, check_in_ms(LONG_MS)) != GO_OK) s->fails++;
  return NULL;
}

static void test_racing_senders (void) {
  const int rounds = CHECK_TSAN ? 10000 : 20000;
  for (size_t cap = 0; cap <= 1; cap++) {
    struct chan *a = chan_new(cap), *b = chan_new(cap);
    struct seqsend sa = { .c = a, .n = rounds, .base = 0 },
                   sb = { .c = b, .n = rounds, .base = 1000000 };
    pthread_t th[2];
    CHECK_SPAWN(&th[0], seq_sender, &sa);
    CHECK_SPAWN(&th[1], seq_sender, &sb);
    int64_t next[2] = { 0, 1000000 };
    int fails = 0;
    for (int r = 0; r < 2 * rounds; r++) {
      struct selcase cs[2];
      setcase(&cs[0], a, SEL_RECV);
      setcase(&cs[1], b, SEL_RECV);
      int chosen = -1;
      gostatus st = sel_wait(cs, 2, check_in_ms(LONG_MS), &chosen);
      if (st != GO_OK || chosen < 0 || chosen > 1) { fails++; break; }
      /* per channel, values arrive in the order they were sent */
      if (cs[chosen].v.u.i != next[chosen]) fails++;
      next[chosen]++;
    }
    CHECK_EQ_INT(fails, 0);
    CHECK_EQ_INT(next[0], rounds);
    CHECK_EQ_INT(next[1], 1000000 + rounds);
    CHECK_JOIN(th[0]);
    CHECK_JOIN(th[1]);
    CHECK_EQ_INT(sa.fails + sb.fails, 0);
    CHECK_EQ_UINT(chan_len(a) + chan_len(b), 0);
    chan_release(a);
    chan_release(b);
  }
}

/* The two-phase form with a thread waiter: begin queues, park, finish. */
static void *late_send (void *arg) {
  check_sleep_ms(30);
  CHECK_EQ_ST(send_int(arg, 5, check_in_ms(LONG_MS)), GO_OK);
  return NULL;
}

static void test_two_phase (void) {
  struct chan *a = chan_new(0), *b = chan_new(0);
  struct selcase cs[2];
  struct waiter ws[2];
  struct op op;
  int chosen = -1;

  /* !block: nothing queued */
  setcase(&cs[0], a, SEL_RECV);
  setcase(&cs[1], b, SEL_SEND);
  tvalue_setint(&cs[1].v, 6);
  op_init(&op);
  CHECK_EQ_ST(sel_begin(cs, 2, ws, &op, false, &chosen), GO_AGAIN);
  CHECK_EQ_ST(send_int(a, 1, GO_NOW), GO_AGAIN);

  /* block: queued, fired by another thread */
  op_init(&op);
  pthread_t th;
  CHECK_SPAWN(&th, late_send, a);
  gostatus st = sel_begin(cs, 2, ws, &op, true, &chosen);
  CHECK(st == GO_AGAIN || st == GO_OK);
  if (st == GO_AGAIN) {
    op_park(&op, check_in_ms(LONG_MS));
    st = sel_finish(cs, 2, ws, &op, &chosen);
  }
  CHECK_EQ_ST(st, GO_OK);
  CHECK_EQ_INT(chosen, 0);
  CHECK_EQ_INT(cs[0].v.u.i, 5);
  CHECK_EQ_INT(cs[1].v.tt, TV_INT);
  CHECK_JOIN(th);
  bool ok;
  (void)recv_int(b, &st, &ok, GO_NOW);
  CHECK_EQ_ST(st, GO_AGAIN);           /* the send waiter was dequeued */

  /* block, then the deadline passes: GO_TIMEOUT from finish */
  setcase(&cs[0], a, SEL_RECV);
  op_init(&op);
  CHECK_EQ_ST(sel_begin(cs, 2, ws, &op, true, &chosen), GO_AGAIN);
  int64_t dl = check_in_ms(50);
  op_park(&op, dl);
  CHECK_GE_INT(go_now(), dl);
  CHECK_EQ_ST(sel_finish(cs, 2, ws, &op, &chosen), GO_TIMEOUT);
  CHECK_EQ_INT(cs[1].v.tt, TV_INT);
  CHECK_EQ_ST(send_int(a, 1, GO_NOW), GO_AGAIN);
  (void)recv_int(b, &st, &ok, GO_NOW);
  CHECK_EQ_ST(st, GO_AGAIN);

  chan_release(a);
  chan_release(b);
}

int main (void) {
  check_init();
  RUN(test_ready_cases);
  RUN(test_default);
  RUN(test_fairness_recv);
  RUN(test_fairness_mixed);
  RUN(test_off_cases);
  RUN(test_timeout);
  RUN(test_no_self_pairing);
  RUN(test_closed_cases);
  RUN(test_blocked_wakeups);
  RUN(test_two_selectors);
  RUN(test_value_not_lost);
  RUN(test_racing_senders);
  RUN(test_two_phase);
  return check_done();
}
