/*
** chan_impl.h: the channel's layout and per-case steps, shared by chan.c,
** select.c and timer.c (a timer's send, and the discard of its value).
*/
#ifndef GOCHAN_CHAN_IMPL_H
#define GOCHAN_CHAN_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include "chan.h"

/*
** 'mu' guards every field but 'cap' (fixed at creation), 'timer' and
** 'dropped' (each says who touches it). With 'mu' held and ignoring
** waiters whose op is no longer OP_OPEN (dropped lazily): len > 0 implies
** recvq has no open waiter; len < cap implies sendq has none; 'closed' is
** never cleared once set; a closed channel has no open waiter at all.
*/
struct chan {
  struct obj hdr;               /* refcount and type; see obj.h */
  size_t cap;                   /* buffer slots; 0 = unbuffered */
  golock mu;
  size_t len, head;             /* 'len' values starting at buf[head] */
  struct tvalue *buf;           /* 'cap' slots; small values inline */
  struct waitq recvq, sendq;    /* blocked receivers / senders, FIFO */
  bool closed;
  struct ctimer *timer;         /* the timer that sends on it (timer.c), or
                                   NULL: set before the channel is shared,
                                   fixed after; the last release stops it */
  struct notewatch *watch;      /* the notifiers watching it (notify.c),
                                   NULL for almost every channel */
  atomic_ullong dropped;        /* values chan_offer could not place (the
                                   channel was full); never under 'mu' */
};

/* A change that may have made 'c' ready to receive (ev NOTE_RECV) or to
** send (NOTE_SEND): tell its notifiers. c->mu held. An unwatched channel
** pays this one test. */
void notify_chan (struct chan *c, int ev);
static inline void chan_changed (struct chan *c, int ev) {
  if (__builtin_expect(c->watch != NULL, 0)) notify_chan(c, ev);
}

/* One step of a case; the caller holds c->mu (chan_try_send/_recv in
** chan.h take it themselves). GO_OK: done (a send moved '*v' out);
** GO_CLOSED: send on closed; GO_AGAIN: would block. When a waiting peer
** was completed, '*wake' is its op, to op_wake after unlocking. */
gostatus chan_step_send (struct chan *c, struct tvalue *v, struct op **wake);
gostatus chan_step_recv (struct chan *c, struct tvalue *out, bool *ok,
                         struct op **wake);

#endif
