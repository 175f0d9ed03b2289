/*
** sync.h: waitgroup, mutex and atomic integer, as shared objects.
** Blocking calls come in a thread form and a two-phase (begin/finish)
** form for task waiters, as in select.h.
*/
#ifndef GOCHAN_SYNC_H
#define GOCHAN_SYNC_H

#include "core.h"
#include "obj.h"
#include "waitq.h"

struct waitgroup;
struct waitgroup *wg_new (void);                      /* refs = 1 */
/* GO_OK, or GO_NEGATIVE (counter would drop below 0; left unchanged).
** Reaching zero wakes every waiter. */
gostatus wg_add (struct waitgroup *wg, int64_t delta);
int64_t wg_count (struct waitgroup *wg);
gostatus wg_wait (struct waitgroup *wg, int64_t deadline);  /* GO_OK/AGAIN/TIMEOUT... */
gostatus wg_begin (struct waitgroup *wg, struct waiter *w, struct op *op);
gostatus wg_finish (struct waitgroup *wg, struct waiter *w, struct op *op);

/* A mutex not owned by any thread or task (as Go's sync.Mutex): unlock
** hands it straight to the first waiter, FIFO, so nobody starves. */
struct gmutex;
struct gmutex *mutex_new (void);                      /* refs = 1 */
gostatus mutex_lock (struct gmutex *m, int64_t deadline);
bool mutex_trylock (struct gmutex *m);
gostatus mutex_unlock (struct gmutex *m);             /* GO_NOTLOCKED */
bool mutex_islocked (struct gmutex *m);
/* Threads or tasks queued now (for tests: poll instead of sleeping). */
size_t mutex_nwaiters (struct gmutex *m);
size_t wg_nwaiters (struct waitgroup *wg);
gostatus mutex_begin (struct gmutex *m, struct waiter *w, struct op *op);
gostatus mutex_finish (struct gmutex *m, struct waiter *w, struct op *op);

struct gatomic;
struct gatomic *gatomic_new (int64_t n);              /* refs = 1 */
int64_t gatomic_get (struct gatomic *a);
void gatomic_set (struct gatomic *a, int64_t n);
int64_t gatomic_add (struct gatomic *a, int64_t d);   /* new value, wraps */
/* If the value is still 'old', make it 'desired': true; else false. */
bool gatomic_cas (struct gatomic *a, int64_t old, int64_t desired);

#endif
