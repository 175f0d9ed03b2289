/*
** test_chan.c: channels on OS threads: FIFO order, len/cap, close and
** drain, GO_NOW and timeouts, unbuffered hand-off, string and object
** values and who owns them after each outcome.
*/
#include "check.h"
#include "chan.h"

/* Every blocking call in these tests waits at most this long. */
#define LONG_MS 10000

/* Send an integer; on GO_OK the channel must have taken (niled) it. */
static gostatus send_int (struct chan *c, int64_t i, int64_t deadline) {
  struct tvalue v;
  tvalue_setint(&v, i);
  gostatus st = chan_send(c, &v, deadline);
  if (st == GO_OK) CHECK_EQ_INT(v.tt, TV_NIL);
  else { CHECK_EQ_INT(v.tt, TV_INT); CHECK_EQ_INT(v.u.i, i); }
  return st;
}

/* Receive an integer (or closed: *ok false and the value nil). */
static gostatus recv_int (struct chan *c, int64_t *i, bool *ok,
                          int64_t deadline) {
  struct tvalue v = TVALUE_NIL;
  *ok = false;
  gostatus st = chan_recv(c, &v, ok, deadline);
  *i = -1;
  if (st == GO_OK && *ok) {
    CHECK_EQ_INT(v.tt, TV_INT);
    if (v.tt == TV_INT) *i = v.u.i;
  }
  else CHECK_EQ_INT(v.tt, TV_NIL);   /* nothing received: nothing written */
  tvalue_clear(&v);
  return st;
}

/* A core object that counts its destructions (refcount checks). */
struct tobj {
  struct obj hdr;
  atomic_int *destroyed;
};

static void tobj_destroy (struct obj *o) {
  struct tobj *t = (struct tobj *)o;
  atomic_fetch_add(t->destroyed, 1);
  free(t);
}

static struct tobj *tobj_new (atomic_int *destroyed) {
  struct tobj *t = malloc(sizeof *t);
  if (!t) abort();
  obj_init(&t->hdr, OBJ_TASK, tobj_destroy, sizeof *t);
  t->destroyed = destroyed;
  return t;
}

static long refs_of (void *o) {
  return atomic_load(&((struct obj *)o)->refs);
}

/* ------------------------------------------------------------------ */

static void test_new_len_cap (void) {
  struct chan *u = chan_new(0), *b = chan_new(3);
  CHECK(u != NULL);
  CHECK(b != NULL);
  CHECK_EQ_UINT(chan_cap(u), 0);
  CHECK_EQ_UINT(chan_len(u), 0);
  CHECK_EQ_UINT(chan_cap(b), 3);
  CHECK_EQ_UINT(chan_len(b), 0);
  CHECK(!chan_isclosed(u));
  CHECK(!chan_isclosed(b));
  for (int i = 0; i < 3; i++) {
    CHECK_EQ_ST(send_int(b, i, GO_NOW), GO_OK);
    CHECK_EQ_UINT(chan_len(b), (uint64_t)i + 1);
  }
  CHECK_EQ_UINT(chan_cap(b), 3);
  int64_t x; bool ok;
  CHECK_EQ_ST(recv_int(b, &x, &ok, GO_NOW), GO_OK);
  CHECK_EQ_UINT(chan_len(b), 2);
  chan_release(u);
  chan_release(b);   /* two values still buffered: freed with it */
}

/* Buffered FIFO, with the ring wrapping around many times. */
static void test_fifo_buffered (void) {
  struct chan *c = chan_new(5);
  int64_t next_send = 0, next_recv = 0;
  for (int round = 0; round < 200; round++) {
    int ns = 1 + round % 5, nr = 1 + (round * 7) % 5;
    for (int k = 0; k < ns; k++) {
      gostatus st = send_int(c, next_send, GO_NOW);
      if (chan_len(c) == 5 && st == GO_AGAIN) break;
      CHECK_EQ_ST(st, GO_OK);
      if (st == GO_OK) next_send++;
    }
    CHECK_EQ_UINT(chan_len(c), (uint64_t)(next_send - next_recv));
    for (int k = 0; k < nr && next_recv < next_send; k++) {
      int64_t x; bool ok;
      CHECK_EQ_ST(recv_int(c, &x, &ok, GO_NOW), GO_OK);
      CHECK(ok);
      CHECK_EQ_INT(x, next_recv);
      next_recv++;
    }
  }
  /* full: GO_NOW send would block and leaves the value with the caller */
  while (chan_len(c) < 5) CHECK_EQ_ST(send_int(c, next_send++, GO_NOW), GO_OK);
  CHECK_EQ_ST(send_int(c, 999, GO_NOW), GO_AGAIN);
  CHECK_EQ_UINT(chan_len(c), 5);
  while (next_recv < next_send) {
    int64_t x; bool ok;
    CHECK_EQ_ST(recv_int(c, &x, &ok, GO_NOW), GO_OK);
    CHECK_EQ_INT(x, next_recv);
    next_recv++;
  }
  CHECK_EQ_UINT(chan_len(c), 0);
  chan_release(c);
}

struct seqsend { struct chan *c; int n; int64_t base; };

static void *seq_sender (void *arg) {
  struct seqsend *s = arg;
  for (int i = 0; i < s->n; i++)
    CHECK_EQ_ST(send_int(s->c, s->base + i, check_in_ms(LONG_MS)), GO_OK);
  return NULL;
}

/* Unbuffered FIFO: one sender's values arrive in order. */
static void fifo_threaded (size_t cap) {
  struct chan *c = chan_new(cap);
  struct seqsend s = { c, 20000, 1000 };
  pthread_t th;
  CHECK_SPAWN(&th, seq_sender, &s);
  for (int i = 0; i < s.n; i++) {
    int64_t x; bool ok;
    gostatus st = recv_int(c, &x, &ok, check_in_ms(LONG_MS));
    CHECK_EQ_ST(st, GO_OK);
    if (x != s.base + i) { CHECK_EQ_INT(x, s.base + i); break; }
  }
  CHECK_JOIN(th);
  CHECK_EQ_UINT(chan_len(c), 0);
  chan_release(c);
}

static void test_fifo_unbuffered (void) { fifo_threaded(0); }
static void test_fifo_buffered_threads (void) { fifo_threaded(4); }

static void test_close_drain (void) {
  struct chan *c = chan_new(4);
  for (int i = 1; i <= 3; i++) CHECK_EQ_ST(send_int(c, i, GO_NOW), GO_OK);
  CHECK_EQ_ST(chan_close(c), GO_OK);
  CHECK(chan_isclosed(c));
  CHECK_EQ_UINT(chan_len(c), 3);
  CHECK_EQ_UINT(chan_cap(c), 4);
  for (int i = 1; i <= 3; i++) {
    int64_t x; bool ok;
    CHECK_EQ_ST(recv_int(c, &x, &ok, GO_NOW), GO_OK);
    CHECK(ok);
    CHECK_EQ_INT(x, i);
  }
  CHECK_EQ_UINT(chan_len(c), 0);
  /* drained: (nil, false), again and again, for any deadline */
  for (int k = 0; k < 3; k++) {
    int64_t x; bool ok = true;
    int64_t dl = k == 0 ? GO_NOW : k == 1 ? check_in_ms(LONG_MS) : GO_NEVER;
    int64_t t0 = go_now();
    CHECK_EQ_ST(recv_int(c, &x, &ok, dl), GO_OK);
    CHECK(!ok);
    CHECK_LT_INT(check_ms_since(t0), 1000);
  }
  chan_release(c);

  /* unbuffered: closed and empty at once */
  c = chan_new(0);
  CHECK_EQ_ST(chan_close(c), GO_OK);
  int64_t x; bool ok = true;
  CHECK_EQ_ST(recv_int(c, &x, &ok, GO_NOW), GO_OK);
  CHECK(!ok);
  chan_release(c);
}

static void test_close_twice (void) {
  struct chan *c = chan_new(1);
  CHECK_EQ_ST(chan_close(c), GO_OK);
  CHECK_EQ_ST(chan_close(c), GO_CLOSED);
  CHECK(chan_isclosed(c));
  chan_release(c);
}

static void test_send_on_closed (void) {
  static const char text[] = "a long string that lives on the heap, not inline";
  size_t caps[] = { 0, 2 };
  for (int k = 0; k < 2; k++) {
    struct chan *c = chan_new(caps[k]);
    CHECK_EQ_ST(chan_close(c), GO_OK);
    int64_t dls[] = { GO_NOW, check_in_ms(LONG_MS), GO_NEVER };
    for (int d = 0; d < 3; d++) {
      struct tvalue v;
      CHECK_EQ_ST(tvalue_setstr(&v, text, sizeof text - 1), GO_OK);
      CHECK_EQ_INT(v.tt, TV_LSTR);
      CHECK_EQ_ST(chan_send(c, &v, dls[d]), GO_CLOSED);
      /* still the caller's: intact; clearing it must not double free */
      size_t n;
      const char *s = tvalue_str(&v, &n);
      CHECK_EQ_INT(v.tt, TV_LSTR);
      CHECK_EQ_MEM(s, n, text, sizeof text - 1);
      tvalue_clear(&v);
    }
    CHECK_EQ_UINT(chan_len(c), 0);
    chan_release(c);
  }
}

struct blocked {
  struct chan *c;
  gostatus st;
  bool ok;
  int64_t ms;           /* how long the call took */
  struct tvalue v;
};

static void *blocked_recv (void *arg) {
  struct blocked *b = arg;
  int64_t t0 = go_now();
  b->v = TVALUE_NIL;
  b->ok = true;
  b->st = chan_recv(b->c, &b->v, &b->ok, check_in_ms(LONG_MS));
  b->ms = check_ms_since(t0);
  return NULL;
}

static void *blocked_send (void *arg) {
  struct blocked *b = arg;
  int64_t t0 = go_now();
  b->st = chan_send(b->c, &b->v, check_in_ms(LONG_MS));
  b->ms = check_ms_since(t0);
  return NULL;
}

/* Receivers blocked on an empty channel all get (nil, false) on close. */
static void test_close_wakes_receivers (void) {
  size_t caps[] = { 0, 3 };
  for (int k = 0; k < 2; k++) {
    struct chan *c = chan_new(caps[k]);
    struct blocked b[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
      b[i].c = c;
      CHECK_SPAWN(&th[i], blocked_recv, &b[i]);
    }
    CHECK_UNTIL(chan_nwaiters(c) == 4);   /* all four blocked */
    CHECK_EQ_ST(chan_close(c), GO_OK);
    for (int i = 0; i < 4; i++) {
      CHECK_JOIN(th[i]);
      CHECK_EQ_ST(b[i].st, GO_OK);
      CHECK(!b[i].ok);
      CHECK_EQ_INT(b[i].v.tt, TV_NIL);
      CHECK_LT_INT(b[i].ms, LONG_MS / 2);
    }
    chan_release(c);
  }
}

/* Senders blocked on a full (or unbuffered) channel get GO_CLOSED on close
** and still own their value; buffered values stay receivable. */
static void test_close_wakes_senders (void) {
  static const char text[] = "value of a sender that was blocked on close";
  size_t caps[] = { 0, 1 };
  for (int k = 0; k < 2; k++) {
    struct chan *c = chan_new(caps[k]);
    if (caps[k] == 1) CHECK_EQ_ST(send_int(c, 77, GO_NOW), GO_OK);
    struct blocked b[3];
    pthread_t th[3];
    for (int i = 0; i < 3; i++) {
      b[i].c = c;
      CHECK_EQ_ST(tvalue_setstr(&b[i].v, text, sizeof text - 1), GO_OK);
      CHECK_SPAWN(&th[i], blocked_send, &b[i]);
    }
    CHECK_UNTIL(chan_nwaiters(c) == 3);   /* all three blocked */
    CHECK_EQ_ST(chan_close(c), GO_OK);
    for (int i = 0; i < 3; i++) {
      CHECK_JOIN(th[i]);
      CHECK_EQ_ST(b[i].st, GO_CLOSED);
      CHECK_LT_INT(b[i].ms, LONG_MS / 2);
      size_t n;
      const char *s = tvalue_str(&b[i].v, &n);
      CHECK_EQ_MEM(s, n, text, sizeof text - 1);
      tvalue_clear(&b[i].v);
    }
    int64_t x; bool ok;
    if (caps[k] == 1) {
      CHECK_EQ_ST(recv_int(c, &x, &ok, GO_NOW), GO_OK);
      CHECK(ok);
      CHECK_EQ_INT(x, 77);
    }
    CHECK_EQ_ST(recv_int(c, &x, &ok, GO_NOW), GO_OK);
    CHECK(!ok);
    chan_release(c);
  }
}

static void test_try_now (void) {
  struct chan *u = chan_new(0), *b = chan_new(1);
  int64_t x; bool ok;
  /* nobody waiting: unbuffered send and recv would block */
  CHECK_EQ_ST(send_int(u, 1, GO_NOW), GO_AGAIN);
  CHECK_EQ_ST(recv_int(u, &x, &ok, GO_NOW), GO_AGAIN);
  CHECK_EQ_ST(recv_int(b, &x, &ok, GO_NOW), GO_AGAIN);
  CHECK_EQ_ST(send_int(b, 5, GO_NOW), GO_OK);
  CHECK_EQ_ST(send_int(b, 6, GO_NOW), GO_AGAIN);
  /* a deadline already in the past behaves as GO_NOW */
  CHECK_EQ_ST(send_int(b, 7, go_now() - 1000000), GO_AGAIN);
  CHECK_EQ_ST(send_int(u, 7, 1), GO_AGAIN);
  CHECK_EQ_ST(recv_int(u, &x, &ok, 1), GO_AGAIN);
  CHECK_EQ_UINT(chan_len(b), 1);
  CHECK_EQ_ST(recv_int(b, &x, &ok, GO_NOW), GO_OK);
  CHECK_EQ_INT(x, 5);
  CHECK_EQ_ST(recv_int(b, &x, &ok, 1), GO_AGAIN);
  CHECK_EQ_UINT(chan_len(u), 0);
  CHECK_EQ_UINT(chan_len(b), 0);
  chan_release(u);
  chan_release(b);
}

/* A timed-out call returns GO_TIMEOUT no sooner than its deadline, leaves
** the channel as it was, and leaves no waiter behind. */
static void test_timeouts (void) {
  const long ms = 80;
  int64_t x; bool ok;

  /* recv on empty buffered */
  struct chan *b = chan_new(2);
  int64_t t0 = go_now(), dl = check_in_ms(ms);
  CHECK_EQ_ST(recv_int(b, &x, &ok, dl), GO_TIMEOUT);
  CHECK_GE_INT(go_now(), dl);
  CHECK_LT_INT(check_ms_since(t0), ms + 3000);
  CHECK_EQ_UINT(chan_len(b), 0);
  CHECK(!chan_isclosed(b));
  /* the stale receiver must not swallow the next value */
  CHECK_EQ_ST(send_int(b, 11, GO_NOW), GO_OK);
  CHECK_EQ_UINT(chan_len(b), 1);

  /* send on full buffered: the buffer is unchanged, value still ours */
  CHECK_EQ_ST(send_int(b, 12, GO_NOW), GO_OK);
  t0 = go_now(); dl = check_in_ms(ms);
  CHECK_EQ_ST(send_int(b, 13, dl), GO_TIMEOUT);
  CHECK_GE_INT(go_now(), dl);
  CHECK_LT_INT(check_ms_since(t0), ms + 3000);
  CHECK_EQ_UINT(chan_len(b), 2);
  CHECK_EQ_ST(recv_int(b, &x, &ok, GO_NOW), GO_OK);
  CHECK_EQ_INT(x, 11);
  /* the stale sender must not have pushed 13 in when room appeared */
  CHECK_EQ_UINT(chan_len(b), 1);
  CHECK_EQ_ST(recv_int(b, &x, &ok, GO_NOW), GO_OK);
  CHECK_EQ_INT(x, 12);
  CHECK_EQ_ST(recv_int(b, &x, &ok, GO_NOW), GO_AGAIN);
  chan_release(b);

  /* unbuffered, both directions; afterwards nobody is waiting */
  struct chan *u = chan_new(0);
  t0 = go_now(); dl = check_in_ms(ms);
  CHECK_EQ_ST(recv_int(u, &x, &ok, dl), GO_TIMEOUT);
  CHECK_GE_INT(go_now(), dl);
  CHECK_LT_INT(check_ms_since(t0), ms + 3000);
  CHECK_EQ_ST(send_int(u, 1, GO_NOW), GO_AGAIN);
  t0 = go_now(); dl = check_in_ms(ms);
  CHECK_EQ_ST(send_int(u, 2, dl), GO_TIMEOUT);
  CHECK_GE_INT(go_now(), dl);
  CHECK_LT_INT(check_ms_since(t0), ms + 3000);
  CHECK_EQ_ST(recv_int(u, &x, &ok, GO_NOW), GO_AGAIN);
  CHECK(!chan_isclosed(u));
  chan_release(u);

  /* a long string that timed out is still the caller's */
  static const char text[] = "timed out, and still owned by the caller";
  u = chan_new(0);
  struct tvalue v;
  CHECK_EQ_ST(tvalue_setstr(&v, text, sizeof text - 1), GO_OK);
  CHECK_EQ_ST(chan_send(u, &v, check_in_ms(20)), GO_TIMEOUT);
  size_t n;
  const char *s = tvalue_str(&v, &n);
  CHECK_EQ_MEM(s, n, text, sizeof text - 1);
  tvalue_clear(&v);
  chan_release(u);
}

/* A GO_NOW send on an unbuffered channel succeeds only by handing the value
** straight to a receiver that is already waiting; same for recv. */
static void test_unbuffered_handoff (void) {
  struct chan *u = chan_new(0);
  struct blocked b = { .c = u };
  pthread_t th;
  CHECK_SPAWN(&th, blocked_recv, &b);
  gostatus st = GO_AGAIN;
  int64_t t0 = go_now();
  while (check_ms_since(t0) < LONG_MS / 2) {
    st = send_int(u, 4242, GO_NOW);
    if (st != GO_AGAIN) break;
    check_sleep_ms(1);
  }
  CHECK_EQ_ST(st, GO_OK);
  CHECK_JOIN(th);
  CHECK_EQ_ST(b.st, GO_OK);
  CHECK(b.ok);
  CHECK_EQ_INT(b.v.tt, TV_INT);
  CHECK_EQ_INT(b.v.u.i, 4242);
  CHECK_EQ_UINT(chan_len(u), 0);

  /* the other way round: a waiting sender, a GO_NOW receiver */
  struct blocked s = { .c = u };
  tvalue_setint(&s.v, 99);
  CHECK_SPAWN(&th, blocked_send, &s);
  int64_t x = 0; bool ok = false;
  st = GO_AGAIN;
  t0 = go_now();
  while (check_ms_since(t0) < LONG_MS / 2) {
    st = recv_int(u, &x, &ok, GO_NOW);
    if (st != GO_AGAIN) break;
    check_sleep_ms(1);
  }
  CHECK_EQ_ST(st, GO_OK);
  CHECK(ok);
  CHECK_EQ_INT(x, 99);
  CHECK_JOIN(th);
  CHECK_EQ_ST(s.st, GO_OK);
  CHECK_EQ_INT(s.v.tt, TV_NIL);

  /* buffered, empty, with a receiver waiting: it gets the value and the
  ** buffer stays empty */
  struct chan *c = chan_new(2);
  struct blocked r = { .c = c };
  CHECK_SPAWN(&th, blocked_recv, &r);
  CHECK_UNTIL(chan_nwaiters(c) == 1);     /* the receiver waits */
  CHECK_EQ_ST(send_int(c, 5, GO_NOW), GO_OK);
  CHECK_JOIN(th);
  CHECK_EQ_ST(r.st, GO_OK);
  CHECK(r.ok);
  CHECK_EQ_INT(r.v.u.i, 5);
  CHECK_EQ_UINT(chan_len(c), 0);
  chan_release(c);
  chan_release(u);
}

static void check_string_roundtrip (struct chan *c, const char *s, size_t n,
                                    bool threaded) {
  struct tvalue v;
  CHECK_EQ_ST(tvalue_setstr(&v, s, n), GO_OK);
  CHECK_EQ_INT(v.tt, n <= TV_SSTR_MAX ? TV_SSTR : TV_LSTR);
  struct blocked r = { .c = c };
  pthread_t th;
  if (threaded) CHECK_SPAWN(&th, blocked_recv, &r);
  CHECK_EQ_ST(chan_send(c, &v, check_in_ms(LONG_MS)), GO_OK);
  CHECK_EQ_INT(v.tt, TV_NIL);
  if (threaded) CHECK_JOIN(th);
  else {
    r.v = TVALUE_NIL;
    r.st = chan_recv(c, &r.v, &r.ok, GO_NOW);
  }
  CHECK_EQ_ST(r.st, GO_OK);
  CHECK(r.ok);
  CHECK_EQ_INT(r.v.tt, n <= TV_SSTR_MAX ? TV_SSTR : TV_LSTR);
  size_t m;
  const char *got = tvalue_str(&r.v, &m);
  CHECK_EQ_MEM(got, m, s, n);
  tvalue_clear(&r.v);
}

static void test_strings (void) {
  static char big[100000];
  for (size_t i = 0; i < sizeof big; i++) big[i] = (char)(i * 31 + 7);
  big[10] = '\0';                              /* binary-safe */
  size_t lens[] = { 0, 1, TV_SSTR_MAX - 1, TV_SSTR_MAX, TV_SSTR_MAX + 1,
                    100, sizeof big };
  struct chan *b = chan_new(1), *u = chan_new(0);
  for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
    check_string_roundtrip(b, big + 3, lens[k] > sizeof big - 3 ?
                           sizeof big - 3 : lens[k], false);
    check_string_roundtrip(u, big, lens[k], true);
    check_string_roundtrip(b, big, lens[k], true);
  }
  /* long strings left in a buffer are freed with the channel (ASan) */
  struct chan *c = chan_new(3);
  for (int i = 0; i < 3; i++) {
    struct tvalue v;
    CHECK_EQ_ST(tvalue_setstr(&v, big, 1000), GO_OK);
    CHECK_EQ_ST(chan_send(c, &v, GO_NOW), GO_OK);
  }
  chan_release(c);
  chan_release(b);
  chan_release(u);
}

/* Other scalar types keep their type and value through a channel. */
static void test_scalars (void) {
  struct chan *c = chan_new(8);
  struct tvalue in[5], out;
  tvalue_setnil(&in[0]);
  tvalue_setbool(&in[1], true);
  tvalue_setint(&in[2], INT64_MIN);
  tvalue_setfloat(&in[3], -0.5);
  tvalue_setlud(&in[4], (void *)&out);
  for (int i = 0; i < 5; i++) {
    struct tvalue v = in[i];
    CHECK_EQ_ST(chan_send(c, &v, GO_NOW), GO_OK);
  }
  for (int i = 0; i < 5; i++) {
    bool ok = false;
    out = TVALUE_NIL;
    CHECK_EQ_ST(chan_recv(c, &out, &ok, GO_NOW), GO_OK);
    CHECK(ok);
    CHECK_EQ_INT(out.tt, in[i].tt);
  }
  /* check the payloads in a second pass for clarity */
  for (int i = 0; i < 5; i++) {
    struct tvalue v = in[i];
    CHECK_EQ_ST(chan_send(c, &v, GO_NOW), GO_OK);
  }
  bool ok;
  out = TVALUE_NIL;
  CHECK_EQ_ST(chan_recv(c, &out, &ok, GO_NOW), GO_OK);
  CHECK(ok); CHECK_EQ_INT(out.tt, TV_NIL);      /* nil is a value: ok true */
  CHECK_EQ_ST(chan_recv(c, &out, &ok, GO_NOW), GO_OK);
  CHECK(out.u.b);
  CHECK_EQ_ST(chan_recv(c, &out, &ok, GO_NOW), GO_OK);
  CHECK_EQ_INT(out.u.i, INT64_MIN);
  CHECK_EQ_ST(chan_recv(c, &out, &ok, GO_NOW), GO_OK);
  CHECK_EQ_DBL(out.u.n, -0.5);
  CHECK_EQ_ST(chan_recv(c, &out, &ok, GO_NOW), GO_OK);
  CHECK_EQ_PTR(out.u.p, &out);
  chan_release(c);
}

/* TV_OBJ values: a reference moves with the value; exactly one release
** per reference, whatever happens to the value. */
static void test_object_refcounts (void) {
  atomic_int destroyed = 0;
  struct chan *outer = chan_new(2);

  /* through a buffer and back: the same object, one reference */
  struct tobj *t = tobj_new(&destroyed);
  struct tvalue v;
  tvalue_setobj(&v, &t->hdr);                 /* refs 2 */
  obj_release(&t->hdr);                       /* refs 1, owned by v */
  CHECK_EQ_INT(refs_of(t), 1);
  CHECK_EQ_ST(chan_send(outer, &v, GO_NOW), GO_OK);
  CHECK_EQ_INT(v.tt, TV_NIL);
  CHECK_EQ_INT(refs_of(t), 1);
  bool ok;
  struct tvalue out = TVALUE_NIL;
  CHECK_EQ_ST(chan_recv(outer, &out, &ok, GO_NOW), GO_OK);
  CHECK_EQ_INT(out.tt, TV_OBJ);
  CHECK_EQ_PTR(out.u.o, &t->hdr);
  CHECK_EQ_INT(refs_of(t), 1);
  CHECK_EQ_INT(atomic_load(&destroyed), 0);
  tvalue_clear(&out);
  CHECK_EQ_INT(atomic_load(&destroyed), 1);

  /* refused by a closed channel: the caller still holds the reference */
  struct chan *closed = chan_new(1);
  CHECK_EQ_ST(chan_close(closed), GO_OK);
  t = tobj_new(&destroyed);
  tvalue_setobj(&v, &t->hdr);
  obj_release(&t->hdr);
  CHECK_EQ_ST(chan_send(closed, &v, GO_NOW), GO_CLOSED);
  CHECK_EQ_INT(v.tt, TV_OBJ);
  CHECK_EQ_INT(refs_of(t), 1);
  /* timed out: same */
  struct chan *u = chan_new(0);
  CHECK_EQ_ST(chan_send(u, &v, check_in_ms(20)), GO_TIMEOUT);
  CHECK_EQ_INT(v.tt, TV_OBJ);
  CHECK_EQ_INT(refs_of(t), 1);
  CHECK_EQ_INT(atomic_load(&destroyed), 1);
  tvalue_clear(&v);
  CHECK_EQ_INT(atomic_load(&destroyed), 2);

  /* handed to a receiving thread */
  t = tobj_new(&destroyed);
  tvalue_setobj(&v, &t->hdr);
  obj_release(&t->hdr);
  struct blocked r = { .c = u };
  pthread_t th;
  CHECK_SPAWN(&th, blocked_recv, &r);
  CHECK_EQ_ST(chan_send(u, &v, check_in_ms(LONG_MS)), GO_OK);
  CHECK_JOIN(th);
  CHECK_EQ_ST(r.st, GO_OK);
  CHECK_EQ_PTR(r.v.u.o, &t->hdr);
  CHECK_EQ_INT(refs_of(t), 1);
  tvalue_clear(&r.v);
  CHECK_EQ_INT(atomic_load(&destroyed), 3);

  /* left in the buffer of a channel whose last reference goes, closed or
  ** not: released exactly once with it */
  for (int i = 0; i < 2; i++) {
    t = tobj_new(&destroyed);
    tvalue_setobj(&v, &t->hdr);
    obj_release(&t->hdr);
    CHECK_EQ_ST(chan_send(outer, &v, GO_NOW), GO_OK);
  }
  CHECK_EQ_ST(chan_close(outer), GO_OK);
  CHECK_EQ_INT(atomic_load(&destroyed), 3);
  chan_release(outer);
  CHECK_EQ_INT(atomic_load(&destroyed), 5);

  /* a real channel inside a channel (ASan/LSan check its single free) */
  struct chan *inner = chan_new(1);
  CHECK_EQ_ST(send_int(inner, 8, GO_NOW), GO_OK);   /* inner holds a value */
  outer = chan_new(1);
  tvalue_setobj(&v, (struct obj *)inner);
  CHECK_EQ_INT(refs_of(inner), 2);
  CHECK_EQ_ST(chan_send(outer, &v, GO_NOW), GO_OK);
  CHECK_EQ_INT(refs_of(inner), 2);
  out = TVALUE_NIL;
  CHECK_EQ_ST(chan_recv(outer, &out, &ok, GO_NOW), GO_OK);
  CHECK_EQ_PTR(out.u.o, inner);
  int64_t x;
  CHECK_EQ_ST(recv_int((struct chan *)out.u.o, &x, &ok, GO_NOW), GO_OK);
  CHECK_EQ_INT(x, 8);
  CHECK_EQ_ST(chan_send(outer, &out, GO_NOW), GO_OK);  /* back in */
  chan_release(inner);          /* now only 'outer' holds it */
  chan_release(outer);          /* frees both, each once */

  chan_release(closed);
  chan_release(u);
}

/* Retain/release from several threads: destroyed once, after the last. */
static void *retain_release (void *arg) {
  struct chan *c = arg;
  for (int i = 0; i < 10000; i++) {
    chan_retain(c);
    int64_t x; bool ok;
    (void)recv_int(c, &x, &ok, GO_NOW);
    chan_release(c);
  }
  chan_release(c);     /* the reference main gave this thread */
  return NULL;
}

static void test_refs_threads (void) {
  struct chan *c = chan_new(1);
  pthread_t th[4];
  for (int i = 0; i < 4; i++) {
    chan_retain(c);
    CHECK_SPAWN(&th[i], retain_release, c);
  }
  CHECK_EQ_ST(chan_close(c), GO_OK);
  chan_release(c);
  for (int i = 0; i < 4; i++) CHECK_JOIN(th[i]);
}

int main (void) {
  check_init();
  RUN(test_new_len_cap);
  RUN(test_fifo_buffered);
  RUN(test_fifo_unbuffered);
  RUN(test_fifo_buffered_threads);
  RUN(test_close_drain);
  RUN(test_close_twice);
  RUN(test_send_on_closed);
  RUN(test_close_wakes_receivers);
  RUN(test_close_wakes_senders);
  RUN(test_try_now);
  RUN(test_timeouts);
  RUN(test_unbuffered_handoff);
  RUN(test_strings);
  RUN(test_scalars);
  RUN(test_object_refcounts);
  RUN(test_refs_threads);
  return check_done();
}
