/*
** embed_select.c: gochan_select and named channels from a host that
** embeds Lua. select: argument checks (nothing sent on bad input), timeout
** 0 and a timeout, a send case on a closed channel, a closed receive,
** uniform choice among ready cases, and host threads selecting against
** Lua tasks. Named channels: one per name between C, the main state and
** tasks; capacity rules and bad names. Deadlock: the main state waiting
** on a named channel or on one the host holds is not told "deadlock"
** while a host thread feeds it late; waiting on a plain channel is.
*/
#include "embed.h"
#include <math.h>

#define T 10.0                 /* seconds: a wait that should be short */
#define N 2000                 /* values each way, host threads against tasks */

static void sleep_ms (long ms) {
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  nanosleep(&ts, NULL);
}

static void test_select_arguments (void) {
  gochan_chan *c = gochan_chan_new(1);
  size_t chosen = 99;
  gochan_case cs[2] = {
    { .op = GOCHAN_SEND, .ch = c, .value = gochan_integer(1) },
    { .op = GOCHAN_RECV, .ch = c, .value = gochan_nil() },
  };
  CHECK_EQ_INT(gochan_select(NULL, 1, 0, &chosen), GOCHAN_INVALID);
  CHECK_EQ_INT(gochan_select(cs, 2, 0, NULL), GOCHAN_INVALID);
  CHECK_EQ_INT(gochan_select(cs, 2, NAN, &chosen), GOCHAN_INVALID);
  cs[1].ch = NULL;
  CHECK_EQ_INT(gochan_select(cs, 2, 0, &chosen), GOCHAN_INVALID);
  cs[1].ch = c;
  cs[1].op = 7;
  CHECK_EQ_INT(gochan_select(cs, 2, 0, &chosen), GOCHAN_INVALID);
  cs[1].op = 0;
  CHECK_EQ_INT(gochan_select(cs, 2, 0, &chosen), GOCHAN_INVALID);
  cs[1].op = GOCHAN_RECV;
  cs[0].value = gochan_string(NULL, 3);          /* a send value refused */
  CHECK_EQ_INT(gochan_select(cs, 2, 0, &chosen), GOCHAN_INVALID);
  cs[0].value.type = GOCHAN_OTHER;
  CHECK_EQ_INT(gochan_select(cs, 2, 0, &chosen), GOCHAN_INVALID);
  CHECK_EQ_INT(gochan_len(c), 0);                /* nothing was sent */
  CHECK_EQ_INT(chosen, 99);                      /* nothing was set */
  /* timeout 0 tries once; a timeout waits */
  cs[0] = (gochan_case){ GOCHAN_RECV, c, gochan_nil(), 5 };
  CHECK_EQ_INT(gochan_select(cs, 1, 0, &chosen), GOCHAN_TIMEOUT);
  CHECK_EQ_INT(chosen, 99);
  CHECK_EQ_INT(cs[0].ok, 5);
  int64_t t0 = go_now();
  CHECK_EQ_INT(gochan_select(cs, 1, 0.05, &chosen), GOCHAN_TIMEOUT);
  CHECK_GE_INT(go_now() - t0, 40000000);
  CHECK_EQ_INT(gochan_select(NULL, 0, 0.02, &chosen), GOCHAN_TIMEOUT);
  /* a ready case: a send then a receive */
  cs[0] = (gochan_case){ GOCHAN_SEND, c, gochan_string("abc", 3), 0 };
  cs[1] = (gochan_case){ GOCHAN_RECV, c, gochan_nil(), 0 };
  CHECK_EQ_INT(gochan_select(cs, 2, 0, &chosen), GOCHAN_OK);
  CHECK_EQ_INT(chosen, 0);                       /* only the send was ready */
  CHECK_EQ_INT(gochan_select(cs, 2, 0, &chosen), GOCHAN_OK);
  CHECK_EQ_INT(chosen, 1);                       /* the buffer is full */
  CHECK(cs[1].ok == 1 && cs[1].value.type == GOCHAN_STRING &&
        strcmp(cs[1].value.string, "abc") == 0);
  gochan_value_free(&cs[1].value);
  /* closed: a send case gives GOCHAN_CLOSED with *chosen; a receive, ok 0 */
  CHECK_EQ_INT(gochan_close(c), GOCHAN_OK);
  chosen = 99;
  CHECK_EQ_INT(gochan_select(cs, 1, -1, &chosen), GOCHAN_CLOSED);
  CHECK_EQ_INT(chosen, 0);
  cs[1].ok = 7;
  CHECK_EQ_INT(gochan_select(&cs[1], 1, -1, &chosen), GOCHAN_OK);
  CHECK(chosen == 0 && cs[1].ok == 0 && cs[1].value.type == GOCHAN_NIL);
  gochan_chan_release(c);
}

static void test_select_uniform (void) {
  enum { K = 3, ROUNDS = 3000 };
  gochan_chan *cs[K];
  gochan_case cases[K];
  int count[K] = { 0 };
  for (int i = 0; i < K; i++) {
    cs[i] = gochan_chan_new(1);
    gochan_value v = gochan_integer(i);
    CHECK_EQ_INT(gochan_send(cs[i], &v, 0), GOCHAN_OK);
    cases[i] = (gochan_case){ GOCHAN_RECV, cs[i], gochan_nil(), 0 };
  }
  for (int r = 0; r < ROUNDS; r++) {
    size_t k = 99;
    CHECK_EQ_INT(gochan_select(cases, K, 0, &k), GOCHAN_OK);
    if (k >= K) break;
    CHECK_EQ_INT(cases[k].value.integer, (int64_t)k);
    count[k]++;
    CHECK_EQ_INT(gochan_send(cs[k], &cases[k].value, 0), GOCHAN_OK);  /* refill */
  }
  for (int i = 0; i < K; i++) {
    CHECK_GT_INT(count[i], ROUNDS / K - ROUNDS / 10);   /* ~1000 each */
    gochan_chan_release(cs[i]);
  }
}

/* Host threads against Lua tasks: each host thread selects between
** receiving from 'from' (fed by a task) and sending to 'to' (drained by a
** task) until it has received N/2 and sent N/2. */
static gochan_chan *from, *to;
static atomic_long hsum;

static void *selector (void *arg) {
  (void)arg;
  int got = 0, sent = 0;
  long sum = 0;
  while (got < N / 2 || sent < N / 2) {
    gochan_case cs[2];
    size_t n = 0, k;
    int recv_at = -1;
    if (got < N / 2) {
      recv_at = (int)n;
      cs[n++] = (gochan_case){ GOCHAN_RECV, from, gochan_nil(), 0 };
    }
    if (sent < N / 2)
      cs[n++] = (gochan_case){ GOCHAN_SEND, to, gochan_integer(sent + 1), 0 };
    gochan_status st = gochan_select(cs, n, T, &k);
    CHECK_EQ_INT(st, GOCHAN_OK);
    if (st != GOCHAN_OK) break;
    if ((int)k == recv_at) {
      CHECK(cs[k].ok && cs[k].value.type == GOCHAN_INTEGER);
      sum += (long)cs[k].value.integer;
      got++;
    }
    else sent++;
  }
  atomic_fetch_add(&hsum, sum);
  return NULL;
}

static void test_select_against_tasks (void) {
  lua_State *L = newstate();
  from = gochan_chan_new(0);
  to = gochan_chan_new(0);
  gochan_pushchan(L, from);
  gochan_pushchan(L, to);
  lua_pushinteger(L, N);
  run_lua(L, "local from, to, n = ...\n"
             "producer = gochan.go(function () for i = 1, n do from:send(i) end end)\n"
             "consumer = gochan.go(function ()\n"
             "  local s = 0\n"
             "  for _ = 1, n do s = s + to:recv() end\n"
             "  return s\n"
             "end)", 3, 0);
  pthread_t th[2];
  for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, selector, NULL);
  for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
  CHECK_EQ_INT(atomic_load(&hsum), (long)N * (N + 1) / 2);
  run_lua(L, "assert(producer:join(10)); return select(2, consumer:join(10))", 0, 1);
  CHECK_EQ_INT(lua_tointeger(L, -1), 2 * ((long)N / 2) * (N / 2 + 1) / 2);
  lua_close(L);
  gochan_chan_release(from);
  gochan_chan_release(to);
}

static void test_named (void) {
  gochan_chan *a = NULL, *b = NULL;
  CHECK_EQ_INT(gochan_named("jobs", 4, &a), GOCHAN_OK);
  CHECK(a != NULL && gochan_cap(a) == 4);
  CHECK_EQ_INT(gochan_named("jobs", GOCHAN_ANYCAP, &b), GOCHAN_OK);
  CHECK(b == a);
  gochan_chan_release(b);
  b = (gochan_chan *)1;
  CHECK_EQ_INT(gochan_named("jobs", 5, &b), GOCHAN_INVALID);   /* not 4 */
  CHECK(b == NULL);
  CHECK_EQ_INT(gochan_named("jobs", 0, &b), GOCHAN_INVALID);
  CHECK_EQ_INT(gochan_named("", 0, &b), GOCHAN_INVALID);
  CHECK_EQ_INT(gochan_named("bad\xff", 0, &b), GOCHAN_INVALID);
  CHECK_EQ_INT(gochan_named("\xc0\x80", 0, &b), GOCHAN_INVALID);  /* overlong */
  CHECK_EQ_INT(gochan_named("\xed\xa0\x80", 0, &b), GOCHAN_INVALID); /* surrogate */
  CHECK_EQ_INT(gochan_named(NULL, 0, &b), GOCHAN_INVALID);
  CHECK_EQ_INT(gochan_named("x", 0, NULL), GOCHAN_INVALID);
  CHECK_EQ_INT(gochan_named("big", GOCHAN_CHAN_MAX_CAP + 1, &b), GOCHAN_INVALID);
  CHECK_EQ_INT(gochan_named("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", GOCHAN_ANYCAP, &b),
               GOCHAN_OK);
  CHECK_EQ_INT(gochan_cap(b), 0);                 /* new, no capacity: 0 */
  gochan_chan_release(b);
  /* the host and Lua meet by name: a task answers on 'done' */
  lua_State *L = newstate();
  run_lua(L, "worker = gochan.go(function ()\n"
             "  local g = require 'gochan'\n"
             "  local jobs, done = g.named('jobs'), g.named('done', 1)\n"
             "  for v in jobs:range() do done:send(v * 2) end\n"
             "end)\n"
             "return gochan.named('jobs'):cap(), gochan.named('jobs') == gochan.named('jobs', 4)",
          0, 2);
  CHECK_EQ_INT(lua_tointeger(L, -2), 4);
  CHECK(lua_toboolean(L, -1));
  lua_settop(L, 0);
  gochan_chan *done = NULL;
  CHECK_EQ_INT(gochan_named("done", 1, &done), GOCHAN_OK);
  for (int i = 1; i <= 5; i++) {
    gochan_value v = gochan_integer(i), got;
    int ok;
    CHECK_EQ_INT(gochan_send(a, &v, T), GOCHAN_OK);
    CHECK_EQ_INT(gochan_recv(done, &got, &ok, T), GOCHAN_OK);
    CHECK(ok && got.type == GOCHAN_INTEGER && got.integer == 2 * i);
  }
  CHECK_EQ_INT(gochan_close(a), GOCHAN_OK);
  run_lua(L, "return worker:join(10)", 0, 1);
  CHECK(lua_toboolean(L, -1));
  lua_close(L);
  gochan_chan_release(a);
  gochan_chan_release(done);
}

/* A host thread that sends 42 on 'c' after 'late' ms. */
struct late { gochan_chan *c; long ms; };
static void *late_sender (void *arg) {
  struct late *l = (struct late *)arg;
  sleep_ms(l->ms);
  gochan_value v = gochan_integer(42);
  CHECK_EQ_INT(gochan_send(l->c, &v, T), GOCHAN_OK);
  return NULL;
}

static void test_deadlock_rules (void) {
  lua_State *L = newstate();
  /* a named channel: fed late from a host thread, the wait is no deadlock */
  gochan_chan *c = NULL;
  CHECK_EQ_INT(gochan_named("late", 0, &c), GOCHAN_OK);
  struct late l = { c, 300 };
  pthread_t th;
  pthread_create(&th, NULL, late_sender, &l);
  run_lua(L, "return gochan.named('late'):recv()", 0, 1);
  CHECK_EQ_INT(lua_tointeger(L, -1), 42);
  lua_settop(L, 0);
  pthread_join(th, NULL);
  /* the same from a select in the main state */
  pthread_create(&th, NULL, late_sender, &l);
  run_lua(L, "return select(2, gochan.select{ {'recv', gochan.named('late')} })", 0, 1);
  CHECK_EQ_INT(lua_tointeger(L, -1), 42);
  lua_settop(L, 0);
  pthread_join(th, NULL);
  gochan_chan_release(c);
  /* a channel the host made and holds */
  c = gochan_chan_new(0);
  gochan_pushchan(L, c);
  l.c = c;
  pthread_create(&th, NULL, late_sender, &l);
  run_lua(L, "local c = ... return c:recv()", 1, 1);
  CHECK_EQ_INT(lua_tointeger(L, -1), 42);
  lua_settop(L, 0);
  pthread_join(th, NULL);
  /* one the host got from Lua and retained */
  run_lua(L, "held = gochan.chan() return held", 0, 1);
  gochan_chan *h = gochan_tochan(L, -1);
  gochan_chan_retain(h);
  lua_settop(L, 0);
  l.c = h;
  pthread_create(&th, NULL, late_sender, &l);
  run_lua(L, "return held:recv()", 0, 1);
  CHECK_EQ_INT(lua_tointeger(L, -1), 42);
  lua_settop(L, 0);
  pthread_join(th, NULL);
  gochan_chan_release(h);
  /* released by the host: waiting on it again is a deadlock */
  run_lua(L, "local ok, err = pcall(held.recv, held)\n"
             "return ok, err", 0, 2);
  CHECK(!lua_toboolean(L, -2));
  CHECK(lua_isstring(L, -1) && strstr(lua_tostring(L, -1), "deadlock") != NULL);
  lua_settop(L, 0);
  lua_close(L);
  gochan_chan_release(c);
}

int main (void) {
  check_init();
  RUN(test_select_arguments);
  RUN(test_select_uniform);
  RUN(test_select_against_tasks);
  RUN(test_named);
  RUN(test_deadlock_rules);
  return check_done();
}
