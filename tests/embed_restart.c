/*
** embed_restart.c: a host that restarts its Lua runtime while one of its
** own threads is blocked in the C API. Each round a host thread blocks in
** gochan_recv or gochan_send on an unbuffered channel; the host closes its
** Lua state and opens a new one (or opens the new one first), which
** registers the main thread again; then C, the new state's main code or a
** task of it unblocks the host thread, and the value must arrive exactly
** once. Under ThreadSanitizer this is what found the main-thread fields
** of src/core/sched.c read by host threads' parks without synchronisation.
*/
#include "embed.h"
#include "chan_impl.h"

#define T 10.0                 /* seconds: a wait that should be short */
#define ROUNDS (CHECK_TSAN || CHECK_ASAN ? 24 : 36)

static void sleep_ns (long ns) {
  struct timespec ts = { 0, ns };
  nanosleep(&ts, NULL);
}

/* A main state with gochan loaded and its runtime started (a task ran). */
static lua_State *open_state (void) {
  lua_State *L = newstate();
  run_lua(L, "return gochan.go(function() gochan.sleep(0) return 1 end):join(10)",
          0, 2);
  CHECK(lua_toboolean(L, -2));
  CHECK_EQ_INT(lua_tointeger(L, -1), 1);
  lua_settop(L, 0);
  return L;
}

enum { HOST_RECV, HOST_SEND };

struct host {
  gochan_chan *ch;
  int mode;                    /* HOST_RECV or HOST_SEND */
  int64_t value;               /* what a sending host sends */
  gochan_status st;            /* written by the host thread, read after join */
  gochan_value got;
  int ok;
};

static void *host_main (void *arg) {
  struct host *h = arg;
  if (h->mode == HOST_RECV)
    h->st = gochan_recv(h->ch, &h->got, &h->ok, T);
  else {
    gochan_value v = gochan_integer(h->value);
    h->st = gochan_send(h->ch, &v, T);
  }
  return NULL;
}

/* Wait until a thread is queued on 'c' (as a receiver or a sender), then
** a little more for it to reach its futex wait. */
static void wait_blocked (gochan_chan *ch, int mode) {
  struct chan *c = (struct chan *)(void *)ch;
  int64_t give_up = go_now() + (int64_t)(T * 1e9);
  for (;;) {
    golock_lock(&c->mu);
    bool queued = !waitq_empty(mode == HOST_RECV ? &c->recvq : &c->sendq);
    golock_unlock(&c->mu);
    if (queued) break;
    if (go_now() > give_up) {
      check_fail(__FILE__, __LINE__, "the host thread never blocked");
      return;
    }
    sleep_ns(100000);
  }
  sleep_ns(2000000);
}

/* Unblock the host thread from 'L''s thread, in one of three ways:
** 0 the C API, 1 the state's main code, 2 a task of the state. */
static void unblock (lua_State *L, struct host *h, int how) {
  static const char *const lua_send[] = { NULL,
    "local ch, v = ... return ch:send(v, 10)\n",
    "local ch, v = ...\n"
    "local ok, r = gochan.go(function(c, x) return c:send(x, 10) end, ch, v):join(10)\n"
    "return ok and r\n" };
  static const char *const lua_recv[] = { NULL,
    "local ch = ... local v, ok = ch:recv(10) return v, ok\n",
    "local ch = ...\n"
    "local ok, v, got = gochan.go(function(c) return c:recv(10) end, ch):join(10)\n"
    "if not ok then return nil, false end\n"
    "return v, got\n" };
  if (h->mode == HOST_RECV) {                 /* give it h->value */
    if (how == 0) {
      gochan_value v = gochan_integer(h->value);
      CHECK_EQ_INT(gochan_send(h->ch, &v, T), GOCHAN_OK);
    }
    else {
      gochan_pushchan(L, h->ch);
      lua_pushinteger(L, h->value);
      run_lua(L, lua_send[how], 2, 1);
      CHECK(lua_toboolean(L, -1));
      lua_settop(L, 0);
    }
  }
  else {                                      /* take its value */
    if (how == 0) {
      gochan_value got;
      int ok;
      CHECK_EQ_INT(gochan_recv(h->ch, &got, &ok, T), GOCHAN_OK);
      CHECK(ok && got.type == GOCHAN_INTEGER);
      CHECK_EQ_INT(got.integer, h->value);
      gochan_value_free(&got);
    }
    else {
      gochan_pushchan(L, h->ch);
      run_lua(L, lua_recv[how], 1, 2);
      CHECK(lua_toboolean(L, -1));
      CHECK(lua_isinteger(L, -2));
      CHECK_EQ_INT(lua_tointeger(L, -2), h->value);
      lua_settop(L, 0);
    }
  }
}

static void test_restart_while_host_blocked (void) {
  lua_State *L = open_state();
  for (int i = 0; i < ROUNDS; i++) {
    struct host h = {
      .ch = gochan_chan_new(0), .mode = i % 2 ? HOST_SEND : HOST_RECV,
      .value = 1000 + i, .st = GOCHAN_INVALID, .got = gochan_nil(), .ok = -1
    };
    int how = (i / 2) % 3;                    /* who unblocks it */
    bool close_first = (i / 6) % 2 == 0;      /* the runtime really stops */
    CHECK(h.ch != NULL);
    if (!h.ch) break;
    pthread_t th;
    CHECK_EQ_INT(pthread_create(&th, NULL, host_main, &h), 0);
    wait_blocked(h.ch, h.mode);
    /* a new runtime while the host thread is blocked */
    if (close_first) { lua_close(L); L = open_state(); }
    else { lua_State *old = L; L = open_state(); lua_close(old); }
    unblock(L, &h, how);
    pthread_join(th, NULL);
    CHECK_EQ_INT(h.st, GOCHAN_OK);
    if (h.mode == HOST_RECV) {
      CHECK(h.ok == 1 && h.got.type == GOCHAN_INTEGER);
      CHECK_EQ_INT(h.got.integer, h.value);
      gochan_value_free(&h.got);
    }
    /* exactly once: nothing else is on the channel or waiting on it */
    gochan_value extra;
    int ok;
    CHECK_EQ_INT(gochan_recv(h.ch, &extra, &ok, 0), GOCHAN_TIMEOUT);
    CHECK(!ok && extra.type == GOCHAN_NIL);
    CHECK_EQ_INT(gochan_len(h.ch), 0);
    gochan_chan_release(h.ch);
  }
  lua_close(L);
}

int main (void) {
  check_init();
  RUN(test_restart_while_host_blocked);
  return check_done();
}
