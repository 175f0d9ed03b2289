/*
** notify.c: notifiers (notify.h). A notifier lists its watches under
** 'nmu'; each watch is also on its channel's list, c->watch, under c->mu,
** so a channel that changes finds its watchers with the lock it holds
** already and an unwatched channel pays one test of a NULL pointer.
*/
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include "chan_impl.h"
#include "notify.h"

#if !defined(GOCHAN_NOTIFY_PIPE) && !defined(__linux__)
#define GOCHAN_NOTIFY_PIPE 1
#endif
#ifndef GOCHAN_NOTIFY_PIPE
#include <sys/eventfd.h>
#endif

/* One channel watched by one notifier. 'n', 'c' fixed; 'nnext' guarded by
** n->nmu; 'cnext' and 'dirs' by c->mu (written with both held). */
struct notewatch {
  struct notifier *n;
  struct chan *c;                 /* a reference the watch holds */
  int dirs;                       /* NOTE_RECV | NOTE_SEND */
  struct notewatch *nnext, *cnext;
};

/*
** 'nmu' guards 'watches' and 'closed'. 'rfd'/'wfd' are set at creation
** and closed (then -1) only by notifier_close, under 'nmu', after every
** watch left its channel: a signaller (c->mu held, its watch linked)
** always sees them open. 'pending': a signal was written and not cleared
** (so a burst of changes writes once). 'err': the errno a signal met.
** With eventfd, rfd == wfd.
*/
struct notifier {
  struct obj hdr;
  pthread_mutex_t nmu;
  struct notewatch *watches;
  bool closed;
  int rfd, wfd;
  atomic_bool pending;
  atomic_int err;
};

#ifdef GOCHAN_NOTIFY_PIPE
static bool setflags (int fd) {
  int fl = fcntl(fd, F_GETFL);
  return fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0 &&
         fcntl(fd, F_SETFD, FD_CLOEXEC) == 0;
}
#endif

static bool openfds (struct notifier *n) {
#ifdef GOCHAN_NOTIFY_PIPE
  int p[2];
  if (pipe(p) != 0) return false;
  if (!setflags(p[0]) || !setflags(p[1])) {
    int e = errno;
    close(p[0]);
    close(p[1]);
    errno = e;
    return false;
  }
  n->rfd = p[0];
  n->wfd = p[1];
#else
  int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) return false;
  n->rfd = n->wfd = fd;
#endif
  return true;
}

static void closefds (struct notifier *n) {
  if (n->rfd >= 0) close(n->rfd);
  if (n->wfd >= 0 && n->wfd != n->rfd) close(n->wfd);
  n->rfd = n->wfd = -1;
}

static void notifier_destroy (struct obj *o) {
  struct notifier *n = (struct notifier *)o;
  notifier_close(n);
  pthread_mutex_destroy(&n->nmu);
  free(n);
}

struct notifier *notifier_new (void) {
  struct notifier *n = malloc(sizeof *n);
  if (!n) { errno = ENOMEM; return NULL; }
  if (!openfds(n)) {
    int e = errno;
    free(n);
    errno = e;
    return NULL;
  }
  pthread_mutex_init(&n->nmu, NULL);
  n->watches = NULL;
  n->closed = false;
  atomic_init(&n->pending, false);
  atomic_init(&n->err, 0);
  obj_init(&n->hdr, OBJ_NOTIFIER, notifier_destroy, sizeof *n);
  return n;
}

int notifier_fd (struct notifier *n) {
  pthread_mutex_lock(&n->nmu);
  int fd = n->closed ? -1 : n->rfd;
  pthread_mutex_unlock(&n->nmu);
  return fd;
}

/* Make the fd readable unless a signal is pending already. Any thread,
** with the watched channel's mu held (the fds stay open meanwhile). */
static void signal_fd (struct notifier *n) {
  if (atomic_exchange(&n->pending, true)) return;
#ifdef GOCHAN_NOTIFY_PIPE
  char b = 1;
  ssize_t k = write(n->wfd, &b, 1);
#else
  uint64_t one = 1;
  ssize_t k = write(n->wfd, &one, sizeof one);
#endif
  if (k < 0 && errno != EAGAIN && errno != EINTR) atomic_store(&n->err, errno);
}

void notify_chan (struct chan *c, int ev) {
  for (struct notewatch *w = c->watch; w; w = w->cnext)
    if (w->dirs & ev) signal_fd(w->n);
}

/* The directions in which 'c' is ready now; c->mu held. A queued waiter
** may be one that gave up (dropped lazily): then this says "may be". */
static int readiness (struct chan *c) {
  if (c->closed) return NOTE_RECV | NOTE_SEND;
  int r = 0;
  if (c->len > 0 || !waitq_empty(&c->sendq)) r |= NOTE_RECV;
  if (c->len < c->cap || !waitq_empty(&c->recvq)) r |= NOTE_SEND;
  return r;
}

int notify_readiness (struct chan *c) {
  golock_lock(&c->mu);
  int r = readiness(c);
  golock_unlock(&c->mu);
  return r;
}

static struct notewatch *findwatch (struct notifier *n, struct chan *c,
                                    struct notewatch ***link) {
  struct notewatch **p = &n->watches;
  for (; *p; p = &(*p)->nnext)
    if ((*p)->c == c) break;
  if (link) *link = p;
  return *p;
}

gostatus notifier_watch (struct notifier *n, struct chan *c, int dirs) {
  GOCHAN_ASSERT(dirs != 0 && (dirs & ~(NOTE_RECV | NOTE_SEND)) == 0);
  pthread_mutex_lock(&n->nmu);
  if (n->closed) {
    pthread_mutex_unlock(&n->nmu);
    return GO_CLOSED;
  }
  struct notewatch *w = findwatch(n, c, NULL);
  bool isnew = w == NULL;
  if (isnew) {
    if (!(w = malloc(sizeof *w))) {
      pthread_mutex_unlock(&n->nmu);
      return GO_NOMEM;
    }
    chan_retain(c);
    w->n = n;
    w->c = c;
    w->dirs = 0;
    w->nnext = n->watches;
    n->watches = w;
  }
  golock_lock(&c->mu);
  w->dirs |= dirs;
  if (isnew) {
    w->cnext = c->watch;
    c->watch = w;
  }
  if (readiness(c) & dirs) signal_fd(n);
  golock_unlock(&c->mu);
  pthread_mutex_unlock(&n->nmu);
  return GO_OK;
}

/* Take 'w' off its channel's list. n->nmu held. */
static void unlinkchan (struct notewatch *w) {
  struct chan *c = w->c;
  golock_lock(&c->mu);
  struct notewatch **p = &c->watch;
  while (*p != w) p = &(*p)->cnext;
  *p = w->cnext;
  golock_unlock(&c->mu);
}

gostatus notifier_unwatch (struct notifier *n, struct chan *c) {
  pthread_mutex_lock(&n->nmu);
  if (n->closed) {
    pthread_mutex_unlock(&n->nmu);
    return GO_CLOSED;
  }
  struct notewatch **link;
  struct notewatch *w = findwatch(n, c, &link);
  if (w) {
    *link = w->nnext;
    unlinkchan(w);
  }
  pthread_mutex_unlock(&n->nmu);
  if (!w) return GO_AGAIN;
  chan_release(c);              /* no lock held: it may be the last */
  free(w);
  return GO_OK;
}

int notifier_clear (struct notifier *n) {
  pthread_mutex_lock(&n->nmu);
  if (n->closed) {
    pthread_mutex_unlock(&n->nmu);
    return -1;
  }
  int e = 0;
  /* Drain first, then allow the next signal to write: a change made
  ** between the two writes nothing, but it is in its channel before this
  ** returns, where the host's drain that follows finds it. */
  for (;;) {
    uint64_t buf[8];
    ssize_t k = read(n->rfd, buf, sizeof buf);
    if (k > 0) continue;
    if (k < 0 && errno == EINTR) continue;
    if (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK) e = errno;
    break;
  }
  if (!e) e = atomic_exchange(&n->err, 0);
  if (!e) atomic_store(&n->pending, false);
  pthread_mutex_unlock(&n->nmu);
  return e;
}

bool notifier_close (struct notifier *n) {
  pthread_mutex_lock(&n->nmu);
  if (n->closed) {
    pthread_mutex_unlock(&n->nmu);
    return false;
  }
  n->closed = true;
  struct notewatch *list = n->watches;
  n->watches = NULL;
  for (struct notewatch *w = list; w; w = w->nnext) unlinkchan(w);
  closefds(n);               /* no channel can reach this notifier now */
  pthread_mutex_unlock(&n->nmu);
  while (list) {
    struct notewatch *w = list;
    list = w->nnext;
    chan_release(w->c);
    free(w);
  }
  return true;
}

bool notifier_isclosed (struct notifier *n) {
  pthread_mutex_lock(&n->nmu);
  bool b = n->closed;
  pthread_mutex_unlock(&n->nmu);
  return b;
}

size_t notifier_nwatched (struct notifier *n) {
  pthread_mutex_lock(&n->nmu);
  size_t k = 0;
  for (struct notewatch *w = n->watches; w; w = w->nnext) k++;
  pthread_mutex_unlock(&n->nmu);
  return k;
}

/* ---- the public C API (include/gochan.h) ---- */

#include "gochan.h"

#define NOTIFIER(n) ((struct notifier *)(void *)(n))

_Static_assert((int)GOCHAN_RECV == NOTE_RECV && (int)GOCHAN_SEND == NOTE_SEND,
               "the public directions are the core's");

gochan_notifier *gochan_notifier_new (void) {
  return (gochan_notifier *)(void *)notifier_new();
}

int gochan_notifier_fd (gochan_notifier *n) {
  if (!n) { errno = EINVAL; return -1; }
  return notifier_fd(NOTIFIER(n));
}

gochan_status gochan_notifier_watch (gochan_notifier *n, gochan_chan *c,
                                     int dirs) {
  if (!n || !c || dirs == 0 || (dirs & ~(GOCHAN_RECV | GOCHAN_SEND)))
    return GOCHAN_INVALID;
  switch (notifier_watch(NOTIFIER(n), (struct chan *)(void *)c, dirs)) {
    case GO_OK: return GOCHAN_OK;
    case GO_NOMEM: return GOCHAN_NOMEM;
    default: return GOCHAN_INVALID;
  }
}

gochan_status gochan_notifier_unwatch (gochan_notifier *n, gochan_chan *c) {
  if (!n || !c) return GOCHAN_INVALID;
  return notifier_unwatch(NOTIFIER(n), (struct chan *)(void *)c) == GO_OK
         ? GOCHAN_OK : GOCHAN_INVALID;
}

gochan_status gochan_notifier_clear (gochan_notifier *n) {
  if (!n) return GOCHAN_INVALID;
  int e = notifier_clear(NOTIFIER(n));
  if (e == 0) return GOCHAN_OK;
  errno = e > 0 ? e : EBADF;
  return GOCHAN_INVALID;
}

void gochan_notifier_free (gochan_notifier *n) {
  if (!n) return;
  notifier_close(NOTIFIER(n));
  notifier_release(NOTIFIER(n));
}
