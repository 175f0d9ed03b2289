/*
** xsync.h: once, rwmutex, cond and weighted semaphore, as shared objects
** (Go's sync.Once, sync.RWMutex, sync.Cond, x/sync/semaphore). Blocking
** calls come in a thread form (a deadline) and a two-phase begin/finish
** form for task waiters, as in sync.h. Every finish copes with an op that
** was fired through another of its cases (a context): its waiter is
** dequeued and whatever it was holding up is let through.
*/
#ifndef GOCHAN_XSYNC_H
#define GOCHAN_XSYNC_H

#include "core.h"
#include "obj.h"
#include "waitq.h"

/* ---- once ---- */

enum { ONCE_NEW = 0, ONCE_RUNNING, ONCE_DONE };

struct gonce;
struct gonce *once_new (void);                        /* refs = 1 */
/* True for the first call only: the caller runs the function and then
** calls once_done (also when the function failed). */
bool once_enter (struct gonce *o);
/* The first call has finished: wake every waiter. Once only. */
void once_done (struct gonce *o);
int once_state (struct gonce *o);                     /* ONCE_* */
/* Wait until the first call has finished: GO_OK; or GO_AGAIN/GO_TIMEOUT
** if 'deadline' came first, or why the wait was cancelled. */
gostatus once_wait (struct gonce *o, int64_t deadline);
gostatus once_begin (struct gonce *o, struct waiter *w, struct op *op);
gostatus once_finish (struct gonce *o, struct waiter *w, struct op *op);
size_t once_nwaiters (struct gonce *o);

/* ---- rwmutex ---- */

/* Not owned by any thread or task. A writer that waits keeps new readers
** out; unlock lets in every reader that waited, else hands the lock to
** the first waiting writer; the last runlock hands it to that writer. */
struct grwmutex;
struct grwmutex *rw_new (void);                       /* refs = 1 */
gostatus rw_lock (struct grwmutex *rw, int64_t deadline);
gostatus rw_rlock (struct grwmutex *rw, int64_t deadline);
bool rw_trylock (struct grwmutex *rw);
bool rw_tryrlock (struct grwmutex *rw);
gostatus rw_unlock (struct grwmutex *rw);             /* GO_NOTLOCKED */
gostatus rw_runlock (struct grwmutex *rw);            /* GO_NOTLOCKED */
/* Now: readers holding it, and whether a writer holds it. */
int64_t rw_readers (struct grwmutex *rw);
bool rw_islocked (struct grwmutex *rw);
/* Writers and readers queued now (for tests: poll instead of sleeping). */
size_t rw_nwriters (struct grwmutex *rw);
size_t rw_nreaders (struct grwmutex *rw);
gostatus rw_lock_begin (struct grwmutex *rw, struct waiter *w, struct op *op);
gostatus rw_lock_finish (struct grwmutex *rw, struct waiter *w, struct op *op);
gostatus rw_rlock_begin (struct grwmutex *rw, struct waiter *w, struct op *op);
gostatus rw_rlock_finish (struct grwmutex *rw, struct waiter *w, struct op *op);

/* ---- cond ---- */

/* A cond over 'lock': a gmutex (sync.h) or a grwmutex's write lock. */
struct gcond;
/* refs = 1; takes a reference to 'lock' (OBJ_MUTEX or OBJ_RWMUTEX). */
struct gcond *cond_new (struct obj *lock);
struct obj *cond_lock (struct gcond *c);              /* borrowed */
/* Whether the lock is locked now (a read lock of an rwmutex is not). */
bool cond_locked (struct gcond *c);
/* Queue 'w' and then unlock the lock, so that every signal or broadcast
** made after this call sees the waiter: GO_AGAIN, park, cond_finish, then
** lock again (cond_relock*). GO_NOTLOCKED if the lock is not locked:
** nothing queued, nothing changed. */
gostatus cond_begin (struct gcond *c, struct waiter *w, struct op *op);
/* Dequeue: GO_OK (signalled), or why the wait ended. The lock is not
** held: relock it, on every path. */
gostatus cond_finish (struct gcond *c, struct waiter *w, struct op *op);
/* Lock the cond's lock again (thread form; deadline GO_NEVER, as Go). */
gostatus cond_relock (struct gcond *c);
/* The thread form of the whole wait: the wait's outcome (GO_OK,
** GO_TIMEOUT...; GO_NOTLOCKED: nothing changed), with '*relocked' telling
** whether the lock is held again (false only if relocking was cancelled:
** interrupt, deadlock, shutdown; then the result is that status). */
gostatus cond_wait (struct gcond *c, int64_t deadline, bool *relocked);
void cond_signal (struct gcond *c);                   /* wakes one */
void cond_broadcast (struct gcond *c);                /* wakes all */
size_t cond_nwaiters (struct gcond *c);

/* ---- semaphore ---- */

/* Weighted, FIFO (as x/sync/semaphore): a request at the head that does
** not fit holds up later ones, even small ones. */
struct gsem;
struct gsem *sem_new (int64_t size);                  /* size >= 0; refs = 1 */
int64_t sem_size (struct gsem *s);
int64_t sem_held (struct gsem *s);
/* 0 <= k <= size (the caller checks). k == 0 succeeds at once. */
gostatus sem_acquire (struct gsem *s, int64_t k, int64_t deadline);
/* False when k > size, when k units are not free, or while others wait. */
bool sem_tryacquire (struct gsem *s, int64_t k);
/* GO_OK, or GO_NEGATIVE: more than held (nothing changed). */
gostatus sem_release (struct gsem *s, int64_t k);
size_t sem_nwaiters (struct gsem *s);
gostatus sem_begin (struct gsem *s, int64_t k, struct waiter *w,
                    struct op *op);
gostatus sem_finish (struct gsem *s, struct waiter *w, struct op *op);

#endif
