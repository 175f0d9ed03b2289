/*
** timer.h: one heap of absolute monotonic deadlines, served by one timer
** thread (started on first use): gochan.after, gochan.timer and
** after_func, tickers, task sleeps and task timeouts. Callbacks run on the
** timer thread with the heap lock held: they must be short, must not
** block, and may take object locks (lock order: timer heap ->
** channel/object -> run queue).
*/
#ifndef GOCHAN_TIMER_H
#define GOCHAN_TIMER_H

#include "core.h"
#include "obj.h"

struct chan;

/* A timer is its owner's while it is not armed. While it is armed the
** heap lock guards 'when' and 'hidx' (the timer thread re-arms a periodic
** one), and 'period', 'fire' and 'ud' are read by the timer thread: the
** owner changes none of them before timer_stop. */
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
/* How many timers are armed, or fired with their function not yet
** called (for deadlock detection). */
size_t timer_pending (void);

/*
** Timers you can stop (gochan.timer, gochan.after, gochan.after_func).
** A channel timer sends go_now() in seconds (float) once on its channel
** (capacity 1), which owns it: the heap holds no reference, and the
** channel's last release stops it, so an abandoned channel costs nothing
** once it is collected. A func timer calls a function instead, on the
** timer thread with no lock held; the heap holds a reference to it while
** it is armed.
** The guarantee: after gtimer_stop or gtimer_reset returns, no value of
** an earlier arming is received from the channel. Both run with the heap
** lock held, as every fire does, and take a value the timer sent that is
** still in the buffer out under the channel's lock: a fire is either
** wholly before them (its value taken out or already received) or wholly
** after (a new arming).
*/
struct gtimer;                                      /* OBJ_TIMER */
struct ctimer;                                      /* its armed part */

/* A channel timer armed for 'ns' from now. refs = 1. NULL: no memory. */
struct gtimer *gtimer_new (int64_t ns);
/* A func timer: when it fires, 'run(arg)' is called on the timer thread
** (short: it starts a task); 'drop(arg)' when the timer is destroyed.
** refs = 1. NULL: no memory ('arg' is still the caller's). */
struct gtimer *gtimer_func (int64_t ns, void (*run) (void *arg),
                            void (*drop) (void *arg), void *arg);
/* Its channel (borrowed), or NULL for a func timer. */
struct chan *gtimer_chan (struct gtimer *g);
/* Disarm. true if no value of this arming had been received: it was
** armed, or its value was still in the channel (now taken out). A func
** timer: true if it was armed (its function not called). */
bool gtimer_stop (struct gtimer *g);
/* Stop as gtimer_stop (*active: its result), then arm for 'ns' from now.
** GO_NOMEM (the heap could not grow) leaves the timer as it was. */
gostatus gtimer_reset (struct gtimer *g, int64_t ns, bool *active);
/* For chan.c: the last release of a timer's channel. */
void ctimer_gone (struct ctimer *ct);

/* A channel of capacity 1 that receives go_now() in seconds (float) once,
** after 'ns' nanoseconds: a channel timer with no handle. refs = 1 for
** the caller. NULL on no memory. */
struct chan *timer_after (int64_t ns);

/* A ticker: 'c' (capacity 1) receives go_now() every 'period' ns; a tick
** that finds the buffer full is dropped. The heap does not hold a
** reference: the ticker stops when stopped or when its last reference goes. */
struct ticker;
struct ticker *ticker_new (int64_t period);           /* refs = 1 */
struct chan *ticker_chan (struct ticker *tk);         /* borrowed */
void ticker_stop (struct ticker *tk);
/* Re-arm (also a stopped ticker): the next tick 'period' ns from now, and
** a tick still in the buffer is taken out. GO_NOMEM leaves it as it was. */
gostatus ticker_reset (struct ticker *tk, int64_t period);

/* Sleep the calling thread until 'deadline' (can be cancelled like any
** op: GO_OK when the time came, else GO_INTERRUPTED/...). */
gostatus go_sleep_until (int64_t deadline);

/* Stop the timer thread and disarm every timer; a func timer's function
** is not called (process exit / module unload). Safe to call when it
** never started. */
void timer_shutdown (void);

#endif
