/*
** hostref.h: the channels a host holds through the C API (gochan.h). Such
** a channel may be fed from outside the tasks (a host thread, an event
** loop), so a wait on it is never a deadlock: the check asks
** hostref_waiting.
*/
#ifndef GOCHAN_HOSTREF_H
#define GOCHAN_HOSTREF_H

#include "chan.h"

/* The host took one more reference to 'c' (it holds one of its own, so
** 'c' lives while counted here). Out of memory 'c' is not counted: only
** the deadlock check misses it. */
void hostref_add (struct chan *c);
/* The host gives one back (before it releases it). A channel not counted
** is ignored. */
void hostref_drop (struct chan *c);
/* Whether a channel the host holds has a queued waiter now. */
bool hostref_waiting (void);

#endif
