/*
** test_stress.c: many threads at once.
**   - 8 producers and 8 consumers move N values (default 1,000,000)
**     through one channel, unbuffered and with capacity 64: every value is
**     delivered exactly once, and each consumer sees each producer's values
**     in the order they were sent.
**   - a select storm: threads select over a shared set of channels with
**     random send/recv/off cases and short timeouts, one channel closed
**     part-way; afterwards every value sent was received exactly once.
**   - a sender and a receiver with microsecond deadlines: cancel racing
**     with fire never loses, duplicates or invents a value.
** Sizes: GOCHAN_STRESS_N (values per run), GOCHAN_STRESS_ROUNDS (storm
** rounds per thread), GOCHAN_STRESS_RACE (values per race); smaller
** defaults under ThreadSanitizer.
*/
#include "check.h"
#include "select.h"

#define NPROD 8
#define NCONS 8
#define LONG_MS 30000

/* ------------------------ producers / consumers ------------------- */

struct pc {
  struct chan *c;
  long n;                    /* values in all */
  atomic_uchar *seen;        /* n counters: receptions of each value */
  atomic_long received;
  atomic_int fails;
};

struct prod { struct pc *pc; int id; };

/* Producer 'id' sends id, id + NPROD, id + 2 NPROD, ... < n. */
static void *producer (void *arg) {
  struct prod *p = arg;
  struct pc *pc = p->pc;
  for (long v = p->id; v < pc->n; v += NPROD) {
    struct tvalue tv;
    tvalue_setint(&tv, v);
    gostatus st = chan_send(pc->c, &tv, check_in_ms(LONG_MS));
    if (st != GO_OK) {
      fprintf(stderr, "producer %d: send %ld: %s\n", p->id, v, go_strstatus(st));
      atomic_fetch_add(&pc->fails, 1);
      return NULL;
    }
  }
  return NULL;
}

static void *consumer (void *arg) {
  struct pc *pc = arg;
  long last[NPROD];
  for (int i = 0; i < NPROD; i++) last[i] = -1;
  long mine = 0;
  for (;;) {
    struct tvalue tv = TVALUE_NIL;
    bool ok = false;
    gostatus st = chan_recv(pc->c, &tv, &ok, check_in_ms(LONG_MS));
    if (st != GO_OK) {
      fprintf(stderr, "consumer: recv: %s\n", go_strstatus(st));
      atomic_fetch_add(&pc->fails, 1);
      break;
    }
    if (!ok) break;                          /* closed and drained */
    if (tv.tt != TV_INT || tv.u.i < 0 || tv.u.i >= pc->n) {
      atomic_fetch_add(&pc->fails, 1);
      tvalue_clear(&tv);
      continue;
    }
    long v = (long)tv.u.i;
    int p = (int)(v % NPROD);
    if (v <= last[p]) atomic_fetch_add(&pc->fails, 1);   /* out of order */
    last[p] = v;
    atomic_fetch_add_explicit(&pc->seen[v], 1, memory_order_relaxed);
    mine++;
  }
  atomic_fetch_add(&pc->received, mine);
  return NULL;
}

static void run_pc (size_t cap, long n) {
  struct pc pc;
  pc.c = chan_new(cap);
  pc.n = n;
  pc.seen = calloc((size_t)n, sizeof *pc.seen);
  CHECK(pc.c != NULL && pc.seen != NULL);
  atomic_init(&pc.received, 0);
  atomic_init(&pc.fails, 0);
  pthread_t pt[NPROD], ct[NCONS];
  struct prod pa[NPROD];
  int64_t t0 = go_now();
  for (int i = 0; i < NCONS; i++) CHECK_SPAWN(&ct[i], consumer, &pc);
  for (int i = 0; i < NPROD; i++) {
    pa[i] = (struct prod){ &pc, i };
    CHECK_SPAWN(&pt[i], producer, &pa[i]);
  }
  for (int i = 0; i < NPROD; i++) CHECK_JOIN(pt[i]);
  CHECK_EQ_ST(chan_close(pc.c), GO_OK);      /* wakes idle consumers */
  for (int i = 0; i < NCONS; i++) CHECK_JOIN(ct[i]);
  int64_t ms = check_ms_since(t0);
  long missing = 0, dup = 0;
  for (long v = 0; v < n; v++) {
    unsigned s = atomic_load_explicit(&pc.seen[v], memory_order_relaxed);
    if (s == 0) missing++;
    else if (s > 1) dup++;
  }
  printf("  cap %zu: %ld values in %" PRId64 " ms\n", cap, n, ms);
  CHECK_EQ_INT(atomic_load(&pc.fails), 0);
  CHECK_EQ_INT(atomic_load(&pc.received), n);
  CHECK_EQ_INT(missing, 0);
  CHECK_EQ_INT(dup, 0);
  CHECK_EQ_UINT(chan_len(pc.c), 0);
  free(pc.seen);
  chan_release(pc.c);
}

static long stress_n (long normal, long tsan) {
  return check_env_long("GOCHAN_STRESS_N", CHECK_TSAN ? tsan : normal);
}

static void test_pc_buffered (void) { run_pc(64, stress_n(1000000, 1000000)); }
static void test_pc_unbuffered (void) { run_pc(0, stress_n(1000000, 250000)); }

/* ----------------------------- select storm ----------------------- */

#define SCHANS 4
#define STHREADS 6

/* Values are ids; a third of them travel as long (heap) strings. */
static void make_value (struct tvalue *v, long id) {
  if (id % 3 == 0) {
    char buf[64];
    int len = snprintf(buf, sizeof buf, "storm-value-%012ld", id);
    CHECK_EQ_ST(tvalue_setstr(v, buf, (size_t)len), GO_OK);
  }
  else tvalue_setint(v, id);
}

/* The id a value carries, or -1 if it is not a storm value. */
static long value_id (const struct tvalue *v) {
  if (v->tt == TV_INT) return (long)v->u.i;
  size_t n;
  const char *s = tvalue_str(v, &n);
  if (!s || n != 24 || memcmp(s, "storm-value-", 12) != 0) return -1;
  long id = 0;
  for (size_t i = 12; i < n; i++) id = id * 10 + (s[i] - '0');
  return id;
}

struct storm {
  struct chan *ch[SCHANS];
  int rounds;
  long nids;
  atomic_uchar *sent;        /* per id: 1 if a send case of it fired */
  atomic_uchar *got;         /* per id: receptions */
  atomic_int fails;
  atomic_long nsent, nrecv, nclosed_recv, nclosed_send, ntimeout, nagain;
};

struct stormarg { struct storm *s; int id; };

static void storm_fail (struct storm *s, const char *what, int th, int r) {
  if (atomic_fetch_add(&s->fails, 1) < 10)
    fprintf(stderr, "storm thread %d round %d: %s\n", th, r, what);
}

static void *storm_thread (void *arg) {
  struct stormarg *a = arg;
  struct storm *s = a->s;
  uint32_t rng = 2654435761u * (uint32_t)(a->id + 1);
  for (int r = 0; r < s->rounds; r++) {
    if (a->id == 0 && r == s->rounds * 3 / 4)
      CHECK_EQ_ST(chan_close(s->ch[SCHANS - 1]), GO_OK);
    struct selcase cs[SCHANS];
    for (int j = 0; j < SCHANS; j++) {
      rng = rng * 1664525u + 1013904223u;
      unsigned pick = (rng >> 24) % 5;
      cs[j].c = s->ch[j];
      cs[j].v = TVALUE_NIL;
      cs[j].ok = false;
      if (pick < 2) cs[j].dir = SEL_RECV;
      else if (pick < 4) {
        cs[j].dir = SEL_SEND;
        make_value(&cs[j].v, ((long)a->id * s->rounds + r) * SCHANS + j);
      }
      else {
        cs[j].dir = SEL_OFF;
        if (pick == 4 && (rng & 1)) cs[j].c = NULL;
      }
    }
    rng = rng * 1664525u + 1013904223u;
    unsigned dk = (rng >> 24) % 3;
    int64_t dl = dk == 0 ? GO_NOW
               : check_in_ms(0) + (int64_t)((rng >> 8) % 3000) * 1000;  /* < 3 ms */
    int chosen = -1;
    gostatus st = sel_wait(cs, SCHANS, dl, &chosen);
    switch (st) {
      case GO_OK:
        if (chosen < 0 || chosen >= SCHANS || cs[chosen].dir == SEL_OFF ||
            cs[chosen].c == NULL) {
          storm_fail(s, "GO_OK with a bad chosen case", a->id, r);
          chosen = -1;
        }
        break;
      case GO_CLOSED:
        if (chosen < 0 || chosen >= SCHANS || cs[chosen].dir != SEL_SEND ||
            !chan_isclosed(cs[chosen].c)) {
          storm_fail(s, "GO_CLOSED not from a send on a closed channel", a->id, r);
          chosen = -1;
        }
        else atomic_fetch_add(&s->nclosed_send, 1);
        break;
      case GO_AGAIN:
        if (dl != GO_NOW && dl > go_now()) storm_fail(s, "GO_AGAIN before the deadline", a->id, r);
        atomic_fetch_add(&s->nagain, 1);
        chosen = -1;
        break;
      case GO_TIMEOUT:
        if (dl == GO_NOW) storm_fail(s, "GO_TIMEOUT for GO_NOW", a->id, r);
        if (go_now() < dl) storm_fail(s, "GO_TIMEOUT before the deadline", a->id, r);
        atomic_fetch_add(&s->ntimeout, 1);
        chosen = -1;
        break;
      default:
        storm_fail(s, go_strstatus(st), a->id, r);
        chosen = -1;
        break;
    }
    for (int j = 0; j < SCHANS; j++) {
      struct selcase *c = &cs[j];
      if (j == chosen && st == GO_OK && c->dir == SEL_SEND) {
        if (c->v.tt != TV_NIL) storm_fail(s, "fired send kept its value", a->id, r);
        long id = ((long)a->id * s->rounds + r) * SCHANS + j;
        atomic_store(&s->sent[id], 1);
        atomic_fetch_add(&s->nsent, 1);
      }
      else if (j == chosen && st == GO_OK && c->dir == SEL_RECV) {
        if (!c->ok) {
          if (!chan_isclosed(c->c)) storm_fail(s, "ok=false on an open channel", a->id, r);
          if (c->v.tt != TV_NIL) storm_fail(s, "ok=false with a value", a->id, r);
          atomic_fetch_add(&s->nclosed_recv, 1);
        } else {
          long id = value_id(&c->v);
          if (id < 0 || id >= s->nids) storm_fail(s, "received a bad value", a->id, r);
          else atomic_fetch_add(&s->got[id], 1);
          atomic_fetch_add(&s->nrecv, 1);
        }
      }
      else if (c->dir == SEL_SEND) {
        /* did not fire: still ours, intact */
        long id = ((long)a->id * s->rounds + r) * SCHANS + j;
        if (value_id(&c->v) != id) storm_fail(s, "unfired send lost its value", a->id, r);
      }
      else if (c->v.tt != TV_NIL) storm_fail(s, "unfired recv got a value", a->id, r);
      tvalue_clear(&c->v);
    }
  }
  return NULL;
}

static void test_select_storm (void) {
  static const size_t caps[SCHANS] = { 0, 0, 1, 8 };
  struct storm s;
  memset(&s, 0, sizeof s);
  s.rounds = (int)check_env_long("GOCHAN_STRESS_ROUNDS", CHECK_TSAN ? 15000 : 30000);
  s.nids = (long)STHREADS * s.rounds * SCHANS;
  s.sent = calloc((size_t)s.nids, 1);
  s.got = calloc((size_t)s.nids, 1);
  CHECK(s.sent && s.got);
  for (int j = 0; j < SCHANS; j++) s.ch[j] = chan_new(caps[j]);
  pthread_t th[STHREADS];
  struct stormarg args[STHREADS];
  for (int i = 0; i < STHREADS; i++) {
    args[i] = (struct stormarg){ &s, i };
    CHECK_SPAWN(&th[i], storm_thread, &args[i]);
  }
  for (int i = 0; i < STHREADS; i++) CHECK_JOIN(th[i]);
  /* what is still buffered counts as received */
  long drained = 0;
  for (int j = 0; j < SCHANS; j++) {
    for (;;) {
      struct tvalue v = TVALUE_NIL;
      bool ok = false;
      if (chan_recv(s.ch[j], &v, &ok, GO_NOW) != GO_OK || !ok) break;
      long id = value_id(&v);
      if (id >= 0 && id < s.nids) atomic_fetch_add(&s.got[id], 1);
      else CHECK(id >= 0 && id < s.nids);
      drained++;
      tvalue_clear(&v);
    }
  }
  long lost = 0, dup = 0, phantom = 0;
  for (long id = 0; id < s.nids; id++) {
    unsigned snt = atomic_load(&s.sent[id]), g = atomic_load(&s.got[id]);
    if (snt && g == 0) lost++;
    else if (g > 1) dup++;
    else if (!snt && g) phantom++;
  }
  printf("  %d threads x %d rounds: %ld sent, %ld received + %ld drained, "
         "%ld closed recv, %ld closed send, %ld timeouts, %ld would-block\n",
         STHREADS, s.rounds, atomic_load(&s.nsent), atomic_load(&s.nrecv),
         drained, atomic_load(&s.nclosed_recv), atomic_load(&s.nclosed_send),
         atomic_load(&s.ntimeout), atomic_load(&s.nagain));
  CHECK_EQ_INT(atomic_load(&s.fails), 0);
  CHECK_EQ_INT(lost, 0);
  CHECK_EQ_INT(dup, 0);
  CHECK_EQ_INT(phantom, 0);
  CHECK_EQ_INT(atomic_load(&s.nrecv) + drained, atomic_load(&s.nsent));
  CHECK_GT_INT(atomic_load(&s.nsent), 0);
  CHECK_GT_INT(atomic_load(&s.nclosed_recv), 0);
  for (int j = 0; j < SCHANS; j++) chan_release(s.ch[j]);
  free(s.sent);
  free(s.got);
}

/* --------------------- timeouts racing with hand-offs -------------- */

/* A sender and a receiver with deadlines of a few microseconds race
** cancel against fire: a send reports GO_OK exactly when its value was
** received. The receiver uses chan_recv or a select over two channels. */
struct race {
  struct chan *ch[2];
  long n;
  bool use_select;
  atomic_uchar *sent, *got;
  atomic_int done;
  atomic_int fails;
};

static int64_t tiny_deadline (uint32_t *rng) {
  *rng = *rng * 1664525u + 1013904223u;
  unsigned k = *rng >> 24;
  if (k < 16) return GO_NOW;
  return go_now() + (int64_t)(k % 64) * 2000;        /* 0..126 us */
}

static void *race_sender (void *arg) {
  struct race *r = arg;
  uint32_t rng = 7;
  for (long i = 0; i < r->n; i++) {
    struct tvalue v;
    tvalue_setint(&v, i);
    gostatus st = chan_send(r->ch[i & 1], &v, tiny_deadline(&rng));
    if (st == GO_OK) {
      if (v.tt != TV_NIL) atomic_fetch_add(&r->fails, 1);
      atomic_store(&r->sent[i], 1);
    }
    else if (st != GO_TIMEOUT && st != GO_AGAIN) atomic_fetch_add(&r->fails, 1);
    else if (v.tt != TV_INT || v.u.i != i) atomic_fetch_add(&r->fails, 1);
  }
  atomic_store(&r->done, 1);
  return NULL;
}

static void race_got (struct race *r, struct tvalue *v) {
  if (v->tt != TV_INT || v->u.i < 0 || v->u.i >= r->n) {
    atomic_fetch_add(&r->fails, 1);
    return;
  }
  atomic_fetch_add(&r->got[v->u.i], 1);
}

static void *race_receiver (void *arg) {
  struct race *r = arg;
  uint32_t rng = 99;
  while (!atomic_load(&r->done)) {
    if (r->use_select) {
      struct selcase cs[2] = {
        { .c = r->ch[0], .dir = SEL_RECV }, { .c = r->ch[1], .dir = SEL_RECV } };
      int chosen = -1;
      gostatus st = sel_wait(cs, 2, tiny_deadline(&rng), &chosen);
      if (st == GO_OK && chosen >= 0 && chosen < 2 && cs[chosen].ok) {
        race_got(r, &cs[chosen].v);
        if (cs[1 - chosen].v.tt != TV_NIL) atomic_fetch_add(&r->fails, 1);
      }
      else if (st != GO_TIMEOUT && st != GO_AGAIN) atomic_fetch_add(&r->fails, 1);
      else if (cs[0].v.tt != TV_NIL || cs[1].v.tt != TV_NIL)
        atomic_fetch_add(&r->fails, 1);
    } else {
      struct tvalue v = TVALUE_NIL;
      bool ok = false;
      gostatus st = chan_recv(r->ch[0], &v, &ok, tiny_deadline(&rng));
      if (st == GO_OK && ok) race_got(r, &v);
      else if (st != GO_TIMEOUT && st != GO_AGAIN) atomic_fetch_add(&r->fails, 1);
      else if (v.tt != TV_NIL) atomic_fetch_add(&r->fails, 1);
    }
  }
  return NULL;
}

static void run_race (size_t cap, bool use_select, long n) {
  struct race r;
  memset(&r, 0, sizeof r);
  r.ch[0] = chan_new(cap);
  r.ch[1] = use_select ? chan_new(cap) : r.ch[0];
  if (!use_select) chan_retain(r.ch[0]);
  r.n = n;
  r.use_select = use_select;
  r.sent = calloc((size_t)n, 1);
  r.got = calloc((size_t)n, 1);
  CHECK(r.sent && r.got && r.ch[0] && r.ch[1]);
  pthread_t st, rt;
  CHECK_SPAWN(&rt, race_receiver, &r);
  CHECK_SPAWN(&st, race_sender, &r);
  CHECK_JOIN(st);
  CHECK_JOIN(rt);
  for (int j = 0; j < 2; j++) {            /* buffered leftovers */
    struct tvalue v = TVALUE_NIL;
    bool ok;
    while (chan_recv(r.ch[j], &v, &ok, GO_NOW) == GO_OK && ok) {
      race_got(&r, &v);
      tvalue_clear(&v);
    }
  }
  long nsent = 0, lost = 0, dup = 0, phantom = 0;
  for (long i = 0; i < n; i++) {
    unsigned s = atomic_load(&r.sent[i]), g = atomic_load(&r.got[i]);
    nsent += s;
    if (s && !g) lost++;
    else if (g > 1) dup++;
    else if (!s && g) phantom++;
  }
  printf("  cap %zu, %s: %ld of %ld sends went through\n", cap,
         use_select ? "select" : "recv", nsent, n);
  CHECK_EQ_INT(atomic_load(&r.fails), 0);
  CHECK_EQ_INT(lost, 0);
  CHECK_EQ_INT(dup, 0);
  CHECK_EQ_INT(phantom, 0);
  chan_release(r.ch[0]);
  chan_release(r.ch[1]);
  free(r.sent);
  free(r.got);
}

static void test_timeout_race (void) {
  long n = check_env_long("GOCHAN_STRESS_RACE", CHECK_TSAN ? 5000 : 20000);
  run_race(0, false, n);
  run_race(0, true, n);
  run_race(2, false, n);
  run_race(2, true, n);
}

int main (void) {
  check_init();
  RUN(test_pc_buffered);
  RUN(test_pc_unbuffered);
  RUN(test_select_storm);
  RUN(test_timeout_race);
  return check_done();
}
