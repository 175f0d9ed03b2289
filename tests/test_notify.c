/*
** test_notify.c: notifiers (src/core/notify.c) through the public C API
** and the core: the fd turns readable for a watched channel that gets a
** value, room, a blocked peer or a close, at once for one ready already,
** never for an unwatched one, and not again after clear until the next
** change; watching twice adds the direction; unwatch and free give back
** the channels and the fd; bad arguments and an fd closed behind the
** notifier's back; and a producer racing the host's clear/drain loses
** no wake-up.
*/
#include "check.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include "chan.h"
#include "gochan.h"
#include "notify.h"

#define LONG_MS 10000

static bool readable (int fd, int ms) {
  struct pollfd p = { .fd = fd, .events = POLLIN };
  return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

static long refs (struct chan *c) {
  return atomic_load(&((struct obj *)c)->refs);
}

static gochan_value ival (int64_t i) { return gochan_integer(i); }

static void test_new_not_readable (void) {
  gochan_notifier *n = gochan_notifier_new();
  CHECK(n != NULL);
  int fd = gochan_notifier_fd(n);
  CHECK_GE_INT(fd, 0);
  CHECK(!readable(fd, 0));
  CHECK_EQ_INT(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
  CHECK_EQ_INT(gochan_notifier_clear(n), GOCHAN_OK);
  gochan_notifier_free(n);
  CHECK_EQ_INT(fcntl(fd, F_GETFD), -1);    /* the fd went with it */
  CHECK_EQ_INT(errno, EBADF);
  gochan_notifier_free(NULL);
}

static void test_value_arrives (void) {
  gochan_chan *c = gochan_chan_new(2);
  gochan_notifier *n = gochan_notifier_new();
  int fd = gochan_notifier_fd(n);
  CHECK_EQ_INT(gochan_notifier_watch(n, c, GOCHAN_RECV), GOCHAN_OK);
  CHECK(!readable(fd, 0));                 /* empty: not ready */
  gochan_value v = ival(1);
  CHECK_EQ_INT(gochan_send(c, &v, 0), GOCHAN_OK);
  CHECK(readable(fd, 0));
  CHECK(readable(fd, 0));                  /* stays so until cleared */
  CHECK_EQ_INT(gochan_notifier_clear(n), GOCHAN_OK);
  CHECK(!readable(fd, 0));
  CHECK_EQ_INT(gochan_send(c, &v, 0), GOCHAN_OK);
  CHECK(readable(fd, 0));
  CHECK_EQ_INT(gochan_notifier_clear(n), GOCHAN_OK);
  gochan_value out;
  int ok;
  CHECK_EQ_INT(gochan_recv(c, &out, &ok, 0), GOCHAN_OK);   /* room: */
  CHECK(!readable(fd, 0));                 /* not watched for send */
  gochan_notifier_free(n);
  gochan_chan_release(c);
}

static void test_ready_when_watched (void) {
  gochan_chan *c = gochan_chan_new(1);
  gochan_value v = ival(7);
  CHECK_EQ_INT(gochan_send(c, &v, 0), GOCHAN_OK);
  gochan_notifier *n = gochan_notifier_new();
  CHECK_EQ_INT(gochan_notifier_watch(n, c, GOCHAN_SEND), GOCHAN_OK);
  CHECK(!readable(gochan_notifier_fd(n), 0));   /* full: no room */
  CHECK_EQ_INT(gochan_notifier_watch(n, c, GOCHAN_RECV), GOCHAN_OK);
  CHECK(readable(gochan_notifier_fd(n), 0));    /* a value is there */
  CHECK_EQ_INT(notifier_nwatched((struct notifier *)(void *)n), 1);
  gochan_notifier_free(n);
  gochan_chan_release(c);
}

static void test_room_appears (void) {
  gochan_chan *c = gochan_chan_new(1);
  gochan_value v = ival(1), out;
  int ok;
  CHECK_EQ_INT(gochan_send(c, &v, 0), GOCHAN_OK);
  gochan_notifier *n = gochan_notifier_new();
  int fd = gochan_notifier_fd(n);
  CHECK_EQ_INT(gochan_notifier_watch(n, c, GOCHAN_SEND), GOCHAN_OK);
  CHECK(!readable(fd, 0));
  CHECK_EQ_INT(gochan_recv(c, &out, &ok, 0), GOCHAN_OK);
  CHECK(readable(fd, 0));
  gochan_notifier_free(n);
  gochan_chan_release(c);
}

static void test_unwatched_never (void) {
  gochan_chan *a = gochan_chan_new(4), *b = gochan_chan_new(4);
  gochan_notifier *n = gochan_notifier_new();
  int fd = gochan_notifier_fd(n);
  CHECK_EQ_INT(gochan_notifier_watch(n, a, GOCHAN_RECV | GOCHAN_SEND),
               GOCHAN_OK);
  CHECK(readable(fd, 0));                  /* room to send */
  CHECK_EQ_INT(gochan_notifier_clear(n), GOCHAN_OK);
  gochan_value v = ival(1), out;
  int ok;
  CHECK_EQ_INT(gochan_send(b, &v, 0), GOCHAN_OK);
  CHECK_EQ_INT(gochan_recv(b, &out, &ok, 0), GOCHAN_OK);
  CHECK_EQ_INT(gochan_close(b), GOCHAN_OK);
  CHECK(!readable(fd, 0));
  CHECK_EQ_INT(gochan_notifier_unwatch(n, a), GOCHAN_OK);
  CHECK_EQ_INT(gochan_send(a, &v, 0), GOCHAN_OK);
  CHECK(!readable(fd, 0));                 /* unwatched now */
  CHECK_EQ_INT(gochan_notifier_unwatch(n, a), GOCHAN_INVALID);
  gochan_notifier_free(n);
  gochan_chan_release(a);
  gochan_chan_release(b);
}

static void test_close_signals (void) {
  gochan_chan *c = gochan_chan_new(0);
  gochan_notifier *n = gochan_notifier_new();
  int fd = gochan_notifier_fd(n);
  CHECK_EQ_INT(gochan_notifier_watch(n, c, GOCHAN_RECV), GOCHAN_OK);
  CHECK(!readable(fd, 0));
  CHECK_EQ_INT(gochan_close(c), GOCHAN_OK);
  CHECK(readable(fd, 0));
  CHECK_EQ_INT(gochan_notifier_clear(n), GOCHAN_OK);
  gochan_value out;
  int ok = 1;
  CHECK_EQ_INT(gochan_recv(c, &out, &ok, 0), GOCHAN_OK);
  CHECK_EQ_INT(ok, 0);
  CHECK(!readable(fd, 0));
  gochan_notifier_free(n);
  gochan_chan_release(c);
}

/* An unbuffered channel: a blocked sender is a value to receive. */
static void *blocked_sender (void *arg) {
  gochan_value v = ival(42);
  CHECK_EQ_INT(gochan_send(arg, &v, LONG_MS / 1000.0), GOCHAN_OK);
  return NULL;
}

static void test_blocked_peer (void) {
  gochan_chan *c = gochan_chan_new(0);
  gochan_notifier *n = gochan_notifier_new();
  int fd = gochan_notifier_fd(n);
  CHECK_EQ_INT(gochan_notifier_watch(n, c, GOCHAN_RECV), GOCHAN_OK);
  pthread_t th;
  CHECK_SPAWN(&th, blocked_sender, c);
  CHECK(readable(fd, LONG_MS));
  CHECK_EQ_INT(gochan_notifier_clear(n), GOCHAN_OK);
  gochan_value out;
  int ok;
  CHECK_EQ_INT(gochan_recv(c, &out, &ok, 0), GOCHAN_OK);
  CHECK(ok && out.type == GOCHAN_INTEGER && out.integer == 42);
  CHECK_JOIN(th);
  gochan_notifier_free(n);
  gochan_chan_release(c);
}

static void test_refs_given_back (void) {
  struct chan *c = chan_new(1);
  struct notifier *n = notifier_new();
  CHECK_EQ_INT(refs(c), 1);
  CHECK_EQ_ST(notifier_watch(n, c, NOTE_RECV), GO_OK);
  CHECK_EQ_INT(refs(c), 2);
  CHECK_EQ_ST(notifier_watch(n, c, NOTE_SEND), GO_OK);   /* adds */
  CHECK_EQ_INT(refs(c), 2);
  CHECK_EQ_ST(notifier_unwatch(n, c), GO_OK);
  CHECK_EQ_INT(refs(c), 1);
  CHECK_EQ_ST(notifier_unwatch(n, c), GO_AGAIN);
  CHECK_EQ_ST(notifier_watch(n, c, NOTE_RECV), GO_OK);
  CHECK(notifier_close(n));
  CHECK_EQ_INT(refs(c), 1);
  CHECK(!notifier_close(n));
  CHECK(notifier_isclosed(n));
  CHECK_EQ_INT(notifier_fd(n), -1);
  CHECK_EQ_ST(notifier_watch(n, c, NOTE_RECV), GO_CLOSED);
  CHECK_EQ_ST(notifier_unwatch(n, c), GO_CLOSED);
  CHECK_EQ_INT(notifier_clear(n), -1);
  notifier_release(n);
  /* a notifier freed while it watches gives its channels back */
  n = notifier_new();
  CHECK_EQ_ST(notifier_watch(n, c, NOTE_RECV), GO_OK);
  notifier_release(n);
  CHECK_EQ_INT(refs(c), 1);
  chan_release(c);
}

static void test_bad_arguments (void) {
  gochan_chan *c = gochan_chan_new(0);
  gochan_notifier *n = gochan_notifier_new();
  CHECK_EQ_INT(gochan_notifier_watch(NULL, c, GOCHAN_RECV), GOCHAN_INVALID);
  CHECK_EQ_INT(gochan_notifier_watch(n, NULL, GOCHAN_RECV), GOCHAN_INVALID);
  CHECK_EQ_INT(gochan_notifier_watch(n, c, 0), GOCHAN_INVALID);
  CHECK_EQ_INT(gochan_notifier_watch(n, c, 4), GOCHAN_INVALID);
  CHECK_EQ_INT(notifier_nwatched((struct notifier *)(void *)n), 0);
  CHECK_EQ_INT(gochan_notifier_unwatch(NULL, c), GOCHAN_INVALID);
  CHECK_EQ_INT(gochan_notifier_unwatch(n, NULL), GOCHAN_INVALID);
  CHECK_EQ_INT(gochan_notifier_clear(NULL), GOCHAN_INVALID);
  CHECK_EQ_INT(gochan_notifier_fd(NULL), -1);
  /* an fd closed behind the notifier's back: clear says EBADF */
  CHECK_EQ_INT(close(gochan_notifier_fd(n)), 0);
  errno = 0;
  CHECK_EQ_INT(gochan_notifier_clear(n), GOCHAN_INVALID);
  CHECK_EQ_INT(errno, EBADF);
  gochan_notifier_free(n);
  gochan_chan_release(c);
}

/* A producer sends N values while the host clears and drains: every
** value is seen and the fd always tells of what is left (a lost wake-up
** would leave values behind an fd that never turns readable). A third
** thread watches and unwatches another channel meanwhile. */
#define NPROD 20000
static atomic_bool churn_stop;

static void *producer (void *arg) {
  for (int64_t i = 1; i <= NPROD; i++) {
    gochan_value v = ival(i);
    CHECK_EQ_INT(gochan_send(arg, &v, LONG_MS / 1000.0), GOCHAN_OK);
  }
  CHECK_EQ_INT(gochan_close(arg), GOCHAN_OK);
  return NULL;
}

static void *churner (void *arg) {
  gochan_notifier *n = arg;
  gochan_chan *other = gochan_chan_new(1);
  while (!atomic_load(&churn_stop)) {
    CHECK_EQ_INT(gochan_notifier_watch(n, other, GOCHAN_RECV), GOCHAN_OK);
    CHECK_EQ_INT(gochan_notifier_unwatch(n, other), GOCHAN_OK);
  }
  gochan_chan_release(other);
  return NULL;
}

static void test_no_lost_wakeup (void) {
  gochan_chan *c = gochan_chan_new(8);
  gochan_notifier *n = gochan_notifier_new();
  int fd = gochan_notifier_fd(n);
  CHECK_EQ_INT(gochan_notifier_watch(n, c, GOCHAN_RECV), GOCHAN_OK);
  atomic_store(&churn_stop, false);
  pthread_t p, q;
  CHECK_SPAWN(&p, producer, c);
  CHECK_SPAWN(&q, churner, n);
  int64_t next = 1;
  bool closed = false;
  while (!closed) {
    if (!readable(fd, LONG_MS)) { CHECK(!"a wake-up was lost"); break; }
    CHECK_EQ_INT(gochan_notifier_clear(n), GOCHAN_OK);
    gochan_value out;
    int ok;
    while (gochan_recv(c, &out, &ok, 0) == GOCHAN_OK) {
      if (!ok) { closed = true; break; }
      if (out.integer != next) CHECK_EQ_INT(out.integer, next);
      next++;
    }
  }
  CHECK_EQ_INT(next, NPROD + 1);
  atomic_store(&churn_stop, true);
  CHECK_JOIN(p);
  CHECK_JOIN(q);
  gochan_notifier_free(n);
  gochan_chan_release(c);
}

int main (void) {
  check_init();
  RUN(test_new_not_readable);
  RUN(test_value_arrives);
  RUN(test_ready_when_watched);
  RUN(test_room_appears);
  RUN(test_unwatched_never);
  RUN(test_close_signals);
  RUN(test_blocked_peer);
  RUN(test_refs_given_back);
  RUN(test_bad_arguments);
  RUN(test_no_lost_wakeup);
  return check_done();
}
