/*
** context.h: Go's context in the core: a tree of cancellation signals
** with deadlines and values, and the hook by which any blocking call
** waits on one as one more case of its wait (not a poll).
**
** The tree. A context holds a reference to its parent; a parent lists its
** children without owning them (a child unlinks itself when destroyed).
** Cancelling a context sets its error and cause, claims and wakes the
** waiters queued on it, closes its done channel (if one was made), then
** does the same to every descendant before returning, giving each the
** same error and cause, and finally unlinks it from its parent. A context
** that can never be canceled (background, and a value context below one)
** keeps no list: its children are roots of their own trees.
**
** The wait hook. A blocking call that takes a context queues its own
** waiters with its *_begin as usual; if that returned GO_AGAIN it calls
**     ctx_begin(ctx, &cw, op)
** which queues one more waiter 'cw' of the same op on the context (index
** CTX_CASE), or, when the context is already done, claims the op itself
** and wakes its owner. It parks as usual, then, woken, calls
**     byctx = ctx_finish(ctx, &cw, op)
** before its own *_finish, and reports GO_CTXDONE when 'byctx' (the op was
** fired by the context: nothing was sent, taken or locked). One op, one
** fire: a value is never both delivered and given up. A one-case finish
** (waitq_finish1) dequeues its waiter when the op fired through another
** case; sel_finish does the same by index. Before all that, a call whose
** context is already done gives up at once (ctx_done), even if it could
** complete. ctx_wait is the whole thread form for one begin/finish pair.
**
** Locks. Each context's 'mu' guards its children list, its waiters, 'done'
** and the setting of 'err'/'cause'; a child's sibling links are guarded by
** its parent's 'mu'. Order: parent before child (a cancel holds the locks
** of the path from where it started down to the node it cancels), then a
** channel's lock (the done channel), then run queues (a wake-up). The
** deadline timer's callback runs with the timer heap lock held and takes
** context locks below it, so nothing calls timer_start/timer_stop with a
** context lock held.
*/
#ifndef GOCHAN_CONTEXT_H
#define GOCHAN_CONTEXT_H

#include "core.h"
#include "obj.h"
#include "value.h"
#include "waitq.h"

struct context;
struct chan;

/* err(): 0 while live */
enum { CTX_LIVE = 0, CTX_CANCELED, CTX_DEADLINE };

/* The case index of a context's waiter in an op (never a select case). */
#define CTX_CASE (-2)

/* The root: never canceled, no deadline, no values. One static object;
** borrowed (retain it to keep it, as any other). */
struct context *ctx_background (void);
/* A cancelable child of 'parent' (refs = 1). 'deadline' GO_NEVER: none;
** else it cancels itself with CTX_DEADLINE then (at once if past).
** NULL when out of memory. */
struct context *ctx_new (struct context *parent, int64_t deadline);
/* A child carrying 'key' -> 'val' (both moved in, left nil); it cannot be
** canceled by itself. Keys are compared by ctx_keyeq. NULL: no memory
** ('key' and 'val' are then still the caller's). */
struct context *ctx_with_value (struct context *parent, struct tvalue *key,
                                struct tvalue *val);

/* Cancel 'c' and its descendants with 'err' (CTX_CANCELED/CTX_DEADLINE)
** and 'cause' (moved in if this call cancels, else cleared; NULL: none).
** False if it was done already (nothing changes). Never blocks for long;
** not with any context lock held. */
bool ctx_cancel (struct context *c, int err, struct tvalue *cause);
bool ctx_cancelable (const struct context *c);   /* by itself: not a
                                                    background or value */
static inline void ctx_retain (struct context *c) { obj_retain((struct obj *)c); }
static inline void ctx_release (struct context *c) { obj_release((struct obj *)c); }

/* CTX_LIVE, CTX_CANCELED or CTX_DEADLINE (acquire: once not live, the
** cause may be read). */
int ctx_err (const struct context *c);
static inline bool ctx_done (const struct context *c) {
  return c != NULL && ctx_err(c) != CTX_LIVE;
}
/* The cause given to the cancel that reached 'c', or NULL (none given,
** or still live). Borrowed: valid while 'c' is. */
const struct tvalue *ctx_cause (const struct context *c);
/* The earliest deadline of 'c' and its ancestors, GO_NEVER if none. */
int64_t ctx_deadline (const struct context *c);
/* The value of the nearest context from 'c' up whose key equals 'key',
** or NULL. Borrowed: valid while 'c' is. */
const struct tvalue *ctx_value (const struct context *c,
                                const struct tvalue *key);
/* Keys: nil, booleans, integers, floats, strings, by value (an integral
** float is expected as an integer: the binding normalises). */
bool ctx_keyeq (const struct tvalue *a, const struct tvalue *b);
/* The done channel, made on first call (closed already if 'c' is done);
** borrowed. NULL for background (never done) or when out of memory
** (*nomem set). */
struct chan *ctx_donechan (struct context *c, bool *nomem);
/* Waiters queued on 'c' now (for tests: poll instead of sleeping). */
size_t ctx_nwaiters (struct context *c);

/* The wait hook (see above). ctx_begin: GO_AGAIN (queued) or GO_CTXDONE
** (the op is no longer open: claimed here and its owner woken, or fired
** or cancelled by someone else who wakes it); either way park next.
** 'c' may be NULL or background: GO_AGAIN, nothing queued. */
gostatus ctx_begin (struct context *c, struct waiter *cw, struct op *op);
/* After the wake-up, before the call's own finish: dequeue 'cw' unless
** its claimer did; true when the op was fired by the context. */
bool ctx_finish (struct context *c, struct waiter *cw, struct op *op);

/* The thread form of a wait on one object with a context (begin/finish
** as wg_begin/wg_finish; 'begin' NULL: nothing but the context and the
** deadline, as a sleep). GO_CTXDONE if 'c' was done first (also on
** entry), else what 'finish' returns (GO_TIMEOUT at 'deadline'). 'what'
** is shown by gochan.tasks(). */
typedef gostatus (*ctx_beginfn) (void *o, struct waiter *w, struct op *op);
gostatus ctx_wait (struct context *c, int64_t deadline, const char *what,
                   ctx_beginfn begin, ctx_beginfn finish, void *o);

#endif
