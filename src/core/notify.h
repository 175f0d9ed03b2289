/*
** notify.h: the notifier, a file descriptor an event loop can poll that
** becomes readable whenever a channel it watches may have become ready
** (a value arrived, room appeared, it was closed). Linux: an eventfd;
** elsewhere, or built with GOCHAN_NOTIFY_PIPE, a pipe.
**
** Lock order: a notifier's 'nmu' before a channel's 'mu', never the
** reverse. A channel signals its watchers with its own 'mu' held and
** touches only their atomics and fds there, never 'nmu'.
*/
#ifndef GOCHAN_NOTIFY_H
#define GOCHAN_NOTIFY_H

#include "chan.h"

struct notifier;   /* an obj (OBJ_NOTIFIER), refcounted */

/* A new notifier with no watch, held by the caller; NULL with errno set
** (EMFILE, ENOMEM...). */
struct notifier *notifier_new (void);
static inline void notifier_release (struct notifier *n) {
  obj_release((struct obj *)n);
}
/* The fd to poll for readability; -1 once closed. */
int notifier_fd (struct notifier *n);
/* Watch 'c' for 'dirs' (NOTE_RECV | NOTE_SEND; watching again adds
** them). The notifier holds a reference to 'c' while it watches it. If
** 'c' is ready already in a direction now watched, the fd is signalled.
** GO_OK; GO_NOMEM (nothing changed); GO_CLOSED: the notifier is closed. */
gostatus notifier_watch (struct notifier *n, struct chan *c, int dirs);
/* Stop watching 'c'. GO_OK; GO_AGAIN: it was not watched; GO_CLOSED. */
gostatus notifier_unwatch (struct notifier *n, struct chan *c);
/* Make the fd unreadable until the next change (then drain the channels:
** a change made before clear returns is in them). 0, or an errno: EBADF
** when the fd was closed behind the notifier's back (also when a signal
** met that). -1: the notifier is closed. */
int notifier_clear (struct notifier *n);
/* Stop watching everything and close the fd(s); the object lives on
** until its last release. false if it was closed already. */
bool notifier_close (struct notifier *n);
bool notifier_isclosed (struct notifier *n);
/* The directions (NOTE_RECV | NOTE_SEND) in which 'c' is ready now, as a
** watch sees them: a queued waiter that gave up may still count (so
** "may be"; the next try on 'c' drops it). Takes c->mu. */
int notify_readiness (struct chan *c);
size_t notifier_nwatched (struct notifier *n);

#endif
