/*
** timer.h: one heap of absolute monotonic deadlines, served by one timer
** thread (started on first use): gochan.after, tickers, task sleeps and
** task timeouts. Callbacks run on the timer thread with the heap lock
** held: they must be short, must not block, and may take object locks
** (lock order: timer heap -> channel/object -> run queue).
*/
#ifndef GOCHAN_TIMER_H
#define GOCHAN_TIMER_H

#include "core.h"
#include "obj.h"

struct chan;

struct timer {
  int64_t when;                       /* absolute deadline, ns */
  int64_t period;                     /* > 0: re-armed every period */
  void (*fire) (struct timer *t, int64_t now);
  void *ud;                           /* for 'fire' */
  size_t hidx;                        /* heap index + 1; 0 = not armed */
};

/* Arm 't' (t->when, t->fire set). GO_NOMEM if the heap cannot grow. */
gostatus timer_start (struct timer *t);
/* Disarm; true if it was armed. After it returns 'fire' is not running
** and will not run for 't'. Not to be called from a 'fire' callback. */
bool timer_stop (struct timer *t);
/* How many timers are armed (for deadlock detection). */
size_t timer_pending (void);

/* A channel of capacity 1 that receives go_now() in seconds (float) once,
** after 'ns' nanoseconds. refs = 1 for the caller. NULL on no memory. */
struct chan *timer_after (int64_t ns);

/* A ticker: 'c' (capacity 1) receives go_now() every 'period' ns; a tick
** that finds the buffer full is dropped. The heap does not hold a
** reference: the ticker stops when stopped or when its last reference goes. */
struct ticker;
struct ticker *ticker_new (int64_t period);           /* refs = 1 */
struct chan *ticker_chan (struct ticker *tk);         /* borrowed */
void ticker_stop (struct ticker *tk);

/* Sleep the calling thread until 'deadline' (can be cancelled like any
** op: GO_OK when the time came, else GO_INTERRUPTED/...). */
gostatus go_sleep_until (int64_t deadline);

/* Stop the timer thread and drop every armed 'after' (process exit /
** module unload). Safe to call when it never started. */
void timer_shutdown (void);

#endif
