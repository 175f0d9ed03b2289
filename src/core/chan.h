/*
** chan.h: channels with Go's semantics. Values are 'struct tvalue' moved
** in and out; see select.h for the multi-case wait these are built on.
*/
#ifndef GOCHAN_CHAN_H
#define GOCHAN_CHAN_H

#include "core.h"
#include "gochan.h"
#include "obj.h"
#include "value.h"
#include "waitq.h"

struct chan;

/* The largest capacity chan_new accepts: the buffer's size in bytes
** cannot overflow, and a mistaken capacity fails at once instead of
** reserving gigabytes. Defined once, in include/gochan.h, where hosts
** see it. */
#define CHAN_MAX_CAP GOCHAN_CHAN_MAX_CAP

/* A new channel with 'cap' buffer slots (0 = unbuffered), refs = 1.
** NULL when out of memory or cap > CHAN_MAX_CAP. */
struct chan *chan_new (size_t cap);
/* Directions in which a channel may be ready: to receive, to send (a
** notifier's watch, notify.h; a change chan_impl.h's chan_changed reports). */
enum { NOTE_RECV = 1, NOTE_SEND = 2 };
static inline void chan_retain (struct chan *c) { obj_retain((struct obj *)c); }
static inline void chan_release (struct chan *c) { obj_release((struct obj *)c); }

/* Send '*v'. GO_OK: the channel took the value ('*v' is left nil).
** Otherwise the caller still owns '*v': GO_CLOSED (closed, also while
** waiting), GO_AGAIN (would block, deadline GO_NOW/past), GO_TIMEOUT,
** GO_INTERRUPTED, GO_DEADLOCK. Blocks the calling thread. */
gostatus chan_send (struct chan *c, struct tvalue *v, int64_t deadline);
/* Receive into '*out' (caller owns it after). GO_OK with *ok = true (a
** value) or *ok = false (closed and drained, *out nil). Else as above. */
gostatus chan_recv (struct chan *c, struct tvalue *out, bool *ok,
                    int64_t deadline);
/* One non-blocking step, without the select machinery (the fast path of
** every send and recv): GO_OK, GO_CLOSED (send), or GO_AGAIN. */
gostatus chan_try_send (struct chan *c, struct tvalue *v);
gostatus chan_try_recv (struct chan *c, struct tvalue *out, bool *ok);

/* GO_OK, or GO_CLOSED if already closed. Wakes every blocked receiver
** (nil, false) and sender (GO_CLOSED). */
gostatus chan_close (struct chan *c);

/* chan_try_send that counts a refusal for want of room (GO_AGAIN) in the
** channel's dropped count: a feed that must not block (a message arriving
** from the network) and drops what a full channel cannot take. */
gostatus chan_offer (struct chan *c, struct tvalue *v);
/* How many values chan_offer has dropped, in the channel's lifetime. */
uint64_t chan_dropped (struct chan *c);

size_t chan_len (struct chan *c);
size_t chan_cap (struct chan *c);
/* Receivers and senders queued on the channel now (for tests: poll it to
** know a thread is blocked, instead of sleeping). */
size_t chan_nwaiters (struct chan *c);
bool chan_isclosed (struct chan *c);

#endif
