/*
** trace.h: the trace recorder (gochan.trace_start). The scheduler calls a
** hook at each slice start and end, wake-up, spawn and task end; each
** hook appends one fixed-size event to a buffer of its thread (a worker's
** own, with no lock; every other thread shares one locked buffer). A full
** buffer is written to a temporary file and reused, so no event is ever
** overwritten or lost; trace_stop merges every buffer in time order and
** writes the Chrome Trace Event JSON (tracejson.c). While no trace runs, a
** hook costs its caller one relaxed load and a branch: TRACE_ON().
*/
#ifndef GOCHAN_TRACE_H
#define GOCHAN_TRACE_H

#include <stdatomic.h>
#include <stdio.h>
#include "core.h"

struct task;
struct op;

/* Set (seq_cst) while a trace records. Read relaxed by TRACE_ON(): a hook
** that sees it late misses an event at a trace's edge, nothing more; the
** recorder itself re-checks it in the handshake with trace_stop. */
extern atomic_bool trace_on;
#define TRACE_ON() atomic_load_explicit(&trace_on, memory_order_relaxed)

/* What trace_start and trace_stop return. */
enum {
  TRACE_OK = 0,
  TRACE_STARTED,      /* trace_start: a trace is already recording */
  TRACE_NOTSTARTED,   /* trace_stop: none is */
  TRACE_IOERR,        /* the file could not be opened or written: *err */
  TRACE_NOMEM
};

/* Start recording into 'path' (opened, truncated, now; written by
** trace_stop). On TRACE_IOERR '*err' is the errno. Live tasks are
** recorded as they are now (blocked, runnable or running). */
int trace_start (const char *path, int *err);
/* Stop, and write the whole trace to the file trace_start opened. The
** trace is over whatever it returns; TRACE_IOERR: writing failed ('*err').
** Blocks while it writes (a second or so per million events). */
int trace_stop (int *err);
/* The process or the runtime is ending: stop a trace that is recording and
** write it, silently (an atexit handler, and sched_shutdown). */
void trace_shutdown (void);

/* The scheduler's hooks, each called as `if (TRACE_ON()) trace_xxx(...)`.
** 'worker' is the worker's index (0, 1, ...). */
void trace_slice_start (int worker, struct task *t);
/* 'r': RUN_PARK (then t->op.what says what it waits on), RUN_YIELD or
** RUN_DONE. Called before anything may requeue or free 't'. */
void trace_slice_end (int worker, struct task *t, int r);
/* Before the wake-up of the task that owns 'op' (task_wake) queues it. */
void trace_wake (struct op *op);
/* Before a new task is first queued (its name, if any, is set). */
void trace_spawn (struct task *t);
/* The task's status is being set (TASK_DONE, TASK_FAILED, TASK_CANCELED). */
void trace_end (struct task *t, int status);
/* op_park's hooks: a thread parks on 'op' ('parking') or resumes. One
** that is not running a task's slice (the main state, a host thread) is
** drawn as the track of tid 0, "main"; a task's slice that blocks its
** worker so is not drawn (it is running). */
void trace_thread_park (struct op *op, bool parking);
/* op_wake's, before it wakes the thread parked on 'op'. */
void trace_thread_wake (struct op *op);

/*
** Between trace.c and tracejson.c: one recorded event, and the JSON
** writer over the events of every buffer merged in time order.
*/
enum { EV_INIT, EV_NAME, EV_SPAWN, EV_START, EV_STOP, EV_WAKE, EV_END,
       EV_TPARK, EV_TRESUME, EV_TWAKE };   /* the last three: a thread's op */

struct tev {
  int64_t ts;             /* go_now() when it happened */
  uint64_t task;          /* the task's id; EV_T*: the op's address */
  uint64_t arg;           /* EV_INIT: TS_* state; EV_STOP: RUN_*; EV_WAKE,
                             EV_TWAKE: the waker's task id (0: main or a
                             host thread); EV_END: TASK_* status; EV_TPARK:
                             1 if a task's slice parks (not drawn) */
  const char *what;       /* EV_INIT (blocked), EV_STOP (parked), EV_WAKE,
                             EV_TPARK, EV_TRESUME: what it waits on (a
                             static string); EV_NAME: a copy of its name,
                             freed after the writer */
  int32_t worker;         /* EV_START, EV_STOP: the worker's index */
  uint8_t kind;           /* EV_* */
  uint8_t handoff;        /* EV_WAKE: a peer fired the op (not a timeout,
                             a cancel or shutdown) */
};

enum { TS_RUNNABLE, TS_BLOCKED, TS_RUNNING };   /* EV_INIT's arg */

/* The next event of the merge into '*e'; false once there is none. */
typedef bool (*trace_next_fn) (void *ud, struct tev *e);

/* Write the JSON of the trace from 't0' to 't1' (go_now() times) to 'f',
** reading events in time order from 'next'; 'nworkers': the workers that
** exist (each gets a track even if it ran nothing). Returns TRACE_OK,
** TRACE_NOMEM, or TRACE_IOERR (errno set) if 'f' failed; 'f' is left
** open. */
int tracejson_write (FILE *f, int64_t t0, int64_t t1, int nworkers,
                     trace_next_fn next, void *ud);

#endif
