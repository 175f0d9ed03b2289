/*
** scheduler.h: the M:N scheduler of sched.c (not named sched.h, which
** <pthread.h> includes). Tasks run on N worker threads; a task that
** blocks parks (its op's 'wake' is task_wake) and its worker runs the next
** runnable task. The core knows nothing of Lua: the binding supplies how a
** task runs a slice ('run') and how a task that will never run again is
** freed ('drop'). A monitor thread preempts long slices, replaces workers
** stuck in C calls, and detects deadlock of the main thread.
*/
#ifndef GOCHAN_SCHEDULER_H
#define GOCHAN_SCHEDULER_H

#include <pthread.h>
#include <signal.h>
#include "core.h"
#include "obj.h"
#include "timer.h"
#include "value.h"
#include "waitq.h"

enum { RUN_PARK, RUN_YIELD, RUN_DONE };           /* what a slice ended in */
enum { TASK_RUNNING = 0, TASK_DONE, TASK_FAILED,   /* task->status */
       TASK_CANCELED };
enum { PS_RUNNING = 0, PS_PARKED, PS_WOKEN,       /* task->pstate */
       PS_QUEUED, PS_INSPECT };

struct task {
  struct obj hdr;
  uint64_t id;                /* 1, 2, ... in creation order */
  struct task *next;          /* run-queue link: guarded by that queue's lock */
  struct task *lprev, *lnext; /* live list: guarded by the live lock */
  /* Park handshake between the worker and a waker (see sched.c):
  ** exactly one of them makes the task runnable again. */
  atomic_int pstate;
  atomic_int status;          /* TASK_*; set once, with release, when it ends */
  atomic_bool blocked;        /* parked on an op (for gochan.tasks()) */
  bool affine;                /* queued by a hand-off (sched.c): guarded by
                                 the lock of the queue that holds it */
  _Atomic(const char *) waiting;  /* op.what while parked, else NULL */
  struct op op;               /* the op the task is blocked on, if any */
  struct op *tpark;           /* the op its thread is parked on in a
                                 blocking call it could not park the task
                                 in (sched.c thread_park), or NULL;
                                 guarded by 'jmu' (read by shutdown) */
  struct timer tmo;           /* 'op''s timeout: armed and disarmed only
                                 by the thread running the task's slice
                                 (task_arm/task_disarm); its fields are the
                                 timer thread's while armed (timer.h);
                                 stopped by whoever drops the task */
  void *ud;                   /* the binding's state for the task: touched
                                 only by the thread running its slice (and
                                 by the binding before sched_spawn), and by
                                 'drop' once it will never run again */
  /* results: written once by the task before 'status' leaves RUNNING,
  ** read-only after; 'jmu' guards 'joiners'. */
  golock jmu;
  struct waitq joiners;
  struct tvalue *res;
  int nres;
  /* Cancellation (task_cancel). 'canceled' is set once, under 'jmu', after
  ** 'cancelmsg' (read-only then; freed with the task). 'cop' is the op a
  ** canceler may cancel: &op while the task is parked in a yield (set by
  ** the task, task_parking), COP_BUSY while a canceler works on it, else
  ** NULL or COP_DONE; see sched.c. 'ctx' (gochan.context()): made on
  ** demand under 'jmu', one reference, canceled when the task is canceled
  ** or ends. */
  atomic_bool canceled;
  char *cancelmsg;
  _Atomic(struct op *) cop;
  struct context *ctx;
  /* Looking inside (gochan.tasks, dump). 'name': malloc'd, set before
  ** sched_spawn, read-only after, freed with the task. 'runticks' (time on
  ** a worker, in ticks: task_cpu) and 'switches' (parks) are written only
  ** by the worker running the task's slice, read by anyone (relaxed).
  ** 'busyticks'/'busywarned': that worker's only (the busy warning). */
  char *name;
  _Atomic uint64_t runticks;
  uint64_t busyticks;
  atomic_uint switches;
  bool busywarned;
  /* The memory the task's Lua state holds (the binding's allocator keeps
  ** it): written by the thread that allocates in the state (one at a
  ** time: its worker, or whoever closes it), read by anyone (relaxed);
  ** 'mempeak' kept only under a limit. 'memlimit' (0: none) is set before
  ** sched_spawn, read-only after. */
  _Atomic size_t mem, mempeak;
  size_t memlimit;
  bool limitoff;              /* the state's own thread only: its function
                                 has ended, the limit no longer applies */
#ifdef GOCHAN_TESTING
  atomic_bool inslice;        /* a worker runs its slice: task_claim checks
                                 that it never succeeds then */
#endif
};

struct sched_hooks {
  int (*run) (struct task *t);     /* one slice: RUN_PARK/RUN_YIELD/RUN_DONE */
  void (*drop) (struct task *t);   /* shutdown: free what 'ud' holds; the
                                      task never runs again; its op, if
                                      open, was cancelled with GO_SHUTDOWN */
  /* Preemption request, called in a signal handler on the worker thread
  ** whose slice ran too long (so: async-signal-safe). It arranges for the
  ** running task to reach a point where it checks sched_should_yield. */
  void (*preempt) (void);
  /* On the worker, right after a slice that ended in RUN_YIELD: 't' has
  ** run 'secs' seconds since it last blocked, more than the busy warning
  ** (sched_set_busy_warn). Called once per task; may be NULL. */
  void (*busy) (struct task *t, double secs);
  /* On the monitor thread, after sched_request_dump (SIGQUIT); may be
  ** NULL. The runtime is not stopping while it runs. */
  void (*dump) (void);
};

/* The signal that carries preemption requests to worker threads (as Go
** uses it). Its handler is installed by sched_start. */
#define GOCHAN_PREEMPT_SIGNAL SIGURG

/* Start the runtime once (workers <= 0: the CPUs or GOCHAN_WORKERS). */
gostatus sched_start (int workers, const struct sched_hooks *h);
bool sched_started (void);
int sched_workers (void);
/* Stop: no waiting for tasks (Go's exit from main). Idempotent. */
void sched_shutdown (void);

/* A new task (refs = 1, for the caller), not yet runnable. */
struct task *task_new (void *ud);
/* Make a new task runnable; the scheduler takes its own reference. */
gostatus sched_spawn (struct task *t);
/* The task running a slice on this thread, or NULL (main, host, timer). */
struct task *sched_current (void);
/* In a slice: the monitor asks the running task to yield (it ran > 10 ms,
** or the runtime is stopping). A flag of the worker, not of the task, so
** the monitor never touches a task that may have ended. */
bool sched_should_yield (void);

/* Prepare t->op for a blocking call of the running task: op_init, and the
** task waiter's wake. Then *_begin; GO_AGAIN: arm the timeout, yield. */
void task_prepare (struct task *t);
/* Arm/disarm the timeout of t->op: at 'deadline' the op is cancelled
** with GO_TIMEOUT and the task woken (if no peer fired it first). */
void task_arm (struct task *t, int64_t deadline);
void task_disarm (struct task *t);
void task_wake (struct op *op);   /* op->wake of every task waiter */

/* Called by 'run' before it returns RUN_DONE: stores the results (moved
** in), sets the status and wakes every joiner. */
void task_finish (struct task *t, bool failed, struct tvalue *res, int nres);
int task_status (struct task *t);
/* Join as a blocking op (as select.h): GO_OK at once if done. */
gostatus task_join_begin (struct task *t, struct waiter *w, struct op *op);
gostatus task_join_finish (struct task *t, struct waiter *w, struct op *op);
/* The thread form (as wg_wait): GO_OK once 't' has ended, GO_AGAIN or
** GO_TIMEOUT if 'deadline' came first, or why the wait was cancelled. */
gostatus task_join (struct task *t, int64_t deadline);

/* Ask 't' to stop: its error message 'msg' (malloc'd, taken over; freed
** here if 't' is already canceled or has ended: then nothing happens and
** false is returned). Cancels the op it is parked on now (a yield, or the
** thread form: 'tpark') with GO_CANCELED and its context (task_context).
** Every later blocking call of 't' sees task_canceled. */
bool task_cancel (struct task *t, char *msg);
static inline bool task_canceled (struct task *t) {
  return atomic_load_explicit(&t->canceled, memory_order_acquire);
}
/* The error message once canceled ("canceled" or "canceled: <cause>"). */
static inline const char *task_cancelmsg (struct task *t) {
  return task_canceled(t) ? t->cancelmsg : NULL;
}
/* The running task is about to yield parked on t->op (the binding's
** lpark, after *_begin): from here a cancel may cancel that op. If the
** task was canceled already, the op is cancelled now (its wake-up
** queued), so the park ends at once with GO_CANCELED. */
void task_parking (struct task *t);
/* Resumed from that park: no canceler touches t->op after this returns. */
void task_resumed (struct task *t);
/* The task's own context (gochan.context()): canceled when 't' is
** canceled or ends; made on first call. Borrowed (valid while 't' is);
** NULL when out of memory. */
struct context *task_context (struct task *t);
/* task_finish with a status: TASK_DONE, TASK_FAILED or TASK_CANCELED. */
void task_finish_status (struct task *t, int status, struct tvalue *res,
                         int nres);

/* The thread form of a blocking call (op_park) is about to run on this
** thread: what it waits on ("recv on gochan.chan": a static string; NULL
** once it returned). A task that blocks its worker so is listed as blocked
** on it. Once shutdown has begun, such a call fails at once with
** GO_SHUTDOWN on a worker (a task's, or the finalizers of a state being
** dropped) and on the thread in sched_shutdown; a task that parks by
** yielding then is dropped instead. */
void sched_blocking (const char *what);
/* What this thread's current blocking call waits on (as sched_blocking
** set it), or NULL. */
const char *sched_blocking_what (void);
/* Shutdown has begun: tasks are being dropped. */
bool sched_stopping (void);

/* The thread that runs the main Lua state: its parks with no deadline
** are watched for deadlock and made interruptible by SIGINT. */
void sched_set_main_thread (void);

size_t sched_live (void);

/* The live tasks (gochan.tasks, dump, the deadlock message), each
** retained (obj_release each, then free the array);
** NULL with *n = 0 when there are none or no memory. */
struct task **sched_snapshot (size_t *n);
/*
** Claim 't' so that no worker runs it while the caller reads its state
** (a traceback): possible when it is parked (blocked) or queued, not
** while a slice runs it, nor once it has ended. A worker that picks a
** claimed task waits for task_unclaim; a wake-up during the claim is
** kept and acted on by task_unclaim. '*saved' is for task_unclaim. The
** claim is short: the caller does nothing that blocks while it holds it.
*/
bool task_claim (struct task *t, int *saved);
void task_unclaim (struct task *t, int saved);
/* Seconds 't' has spent running on workers (its CPU, as the runtime
** sees it), and its state: "running", "runnable" or "blocked" (and what it
** waits on, a static string, or NULL). */
double task_cpu (struct task *t);
const char *task_state (struct task *t, const char **what);
/* The busy warning: a task that runs 'secs' (> 0; 0: off) without
** blocking is reported once through hooks.busy. */
void sched_set_busy_warn (double secs);
double sched_busy_warn (void);              /* its setting, 0 when off */
/* From a signal handler (async-signal-safe): run hooks.dump on the
** monitor thread soon. */
void sched_request_dump (void);

#endif
