/*
** sched.c: workers, run queues, the park/wake handshake, the monitor
** (preemption, stuck workers, deadlock) and shutdown: one concept, the
** scheduler, in one file because the queues, the monitor and shutdown
** share the same statics and counters, whose orderings are explained here
** once (as Go keeps its scheduler and sysmon in proc.go).
**
** Queues. Each worker has a 'runnext' slot and a FIFO local queue, both
** guarded by its 'mu'; the global FIFO is guarded by 'smu'. A task woken
** by a task goes to the waker's runnext, so a hand-off between two tasks
** on one worker is a coroutine switch, not an OS wake-up; one woken by a
** thread that is no worker goes to the woken queue (guarded by 'smu'),
** which workers take from first when a slice ends. Idle workers
** steal from local queues; what a hand-off queued (runnext, and an older
** runnext it pushed into the local queue: 'affine') only from a worker
** that is idle or that thieves have seen in one slice for > HELD_NS.
** Tasks that talk to each other so stay on one worker, as Go's runtime
** keeps them on one P: stealing them spread a fan-in over both CPUs,
** where every message then moved the channel's cache line between them
** (bench/README.md has the measurement), while a task that computes for
** long still lets the others go. An idle worker with such tasks about
** looks again every HELD_NS.
**
** Counters (seq_cst, read by the monitor): 'nqueued' tasks in any queue,
** 'nrunning' slices being run and not parked in op_park, 'progress'
** bumped at every queue or slice event. nrunning is raised before
** nqueued is lowered, so a task in transit is always counted somewhere.
**
** Idle. A worker publishes itself idle (nidle++) then re-checks nqueued;
** a pusher bumps nqueued then checks nidle: with seq_cst one of the two
** sees the other, so no push goes unnoticed while every worker sleeps.
*/
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include "alloc.h"
#include "context.h"
#include "hostref.h"
#include "named.h"
#include "scheduler.h"
#include "trace.h"

#define MAXW 256                    /* workers, spares included */
#define SLICE_NS 10000000           /* preempt after 10 ms */
#define STUCK_NS 20000000           /* replace a worker after 20 ms */
#define HELD_NS 1000000             /* what a hand-off queued (runnext,
                                       affine) waits at most for its busy
                                       worker before another may take it */
#define MONITOR_NS 2000000          /* monitor period */

struct worker {
  int id;
  pthread_t th;
  golock mu;                        /* guards runnext, lq_head, lq_tail */
  struct task *runnext;
  struct task *lq_head, *lq_tail;
  atomic_uint wakeword;             /* futex word for idle parking */
  _Atomic(struct task *) cur;       /* the slice being run, or NULL */
  atomic_ulong slices;              /* bumped at every slice start */
  /* the monitor's own view (monitor thread only): the slice it saw last
  ** and when it first saw it; a slice seen for long is long */
  unsigned long seen_slice;
  int64_t seen_since;
  /* what thieves saw (guarded by 'mu'): the slice running at their last
  ** look and since when; a slice seen for long holds its queue too long */
  unsigned long thief_slice;
  int64_t thief_since;
  atomic_bool stuck;                /* counted in nstuck */
  atomic_bool preempt;              /* the running slice should yield */
  unsigned long signalled;          /* monitor only: the slice it signalled */
  bool idle;                        /* on the idle stack; guarded by smu */
  struct worker *idle_next;         /* guarded by smu */
  unsigned tick;                    /* slices run; own thread only */
};

/* 'hooks' and 'target' are written once, by sched_start under smu, before
** any worker or the monitor exists and before 'started' is stored (seq_cst);
** after that they are read-only and read without a lock: a worker or the
** monitor was created after the writes (pthread_create orders them), and
** any other reader loads 'started' first (sched_workers). */
static struct sched_hooks hooks;
static int target;                  /* workers that may run at once */
static atomic_bool started, shutting;
static pthread_mutex_t smu = PTHREAD_MUTEX_INITIALIZER;
static struct task *gq_head, *gq_tail;          /* guarded by smu */
/* The woken queue: tasks that a thread which is no worker (the main
** state, a host thread, the timer thread) woke from a park. FIFO, guarded
** by smu, counted in nqueued and never held; 'nwoken' is its length,
** changed under smu and read without it only to skip an empty queue.
** Invariant: a task in it waits for the slice that runs now on the worker
** that takes it, not for the tasks queued elsewhere: find_work takes it
** before the worker's own queues and the global queue, but for the turns
** that keep those from starving (every 61st the global queue, every 31st
** the worker's own queues come first), so a woken task waits for about
** one slice (a second or third on those turns) and for the woken tasks
** ahead of it. Go's ready() puts such a goroutine in runnext. */
static struct task *wq_head, *wq_tail;          /* guarded by smu */
static atomic_long nwoken;
static struct worker *workers[MAXW];            /* guarded by smu */
static atomic_int nw;               /* workers[0..nw) exist */
static struct worker *idle_top;                 /* guarded by smu */
static atomic_int nidle, nstuck, nexited;
static atomic_long nqueued, nrunning;
static atomic_long nheld;            /* of nqueued, those a hand-off queued
                                       ('affine': in a runnext slot, or an
                                       older runnext in a local queue): not
                                       work an idle worker may take at once */
static atomic_ulong progress;

/* initial-exec: a plain %fs load, not a __tls_get_addr call per access;
** every thread-local here has it (LTO may otherwise pick local-exec,
** which a shared object cannot use: the link of core.so fails) */
#define TLS_IE __attribute__((tls_model("initial-exec")))
static _Thread_local TLS_IE struct worker *self_worker;
static _Thread_local TLS_IE struct task *self_task;
/* what the thread form of a blocking call about to run on this thread
** waits on (sched_blocking): a static string, or NULL */
static _Thread_local TLS_IE const char *self_what;
/* this thread is in sched_shutdown: the states it drops close here */
static _Thread_local TLS_IE bool self_stopping;

/* live tasks, for gochan.tasks(), deadlock messages and shutdown */
static pthread_mutex_t livemu = PTHREAD_MUTEX_INITIALIZER;
static struct task *live_head;                  /* guarded by livemu */
static size_t nlive;                            /* guarded by livemu */
static atomic_ullong next_id = 1;

/*
** The main thread: the thread that last opened a main Lua state
** (sched_set_main_thread). Its parks are watched (deadlock, SIGINT); any
** other thread's are not. Other threads park and wake while it is set
** again (a host whose thread is blocked in gochan_recv closes its state
** and opens a new one), so who is main is no plain variable: 'main_gen'
** counts the registrations (atomic; 0: none yet) and each thread keeps,
** in its own 'main_self', the number it registered under. A thread is the
** main thread iff its number is that last one. Nothing else is read on
** the strength of that comparison (what a watched park shares is under
** mainmu or its own thread's), so it is a relaxed load.
*/
static atomic_ulong main_gen;
static _Thread_local TLS_IE struct {
  unsigned long gen;              /* main_gen at its registration; 0: none */
  bool watched;                   /* in a park watched as the main thread's:
                                     its wake-up undoes the watch, even if
                                     another thread has become main since */
  bool sigint_installed;          /* on_sigint installed by that park */
  struct sigaction old_sigint;    /* what to restore then */
} main_self;
static pthread_mutex_t mainmu = PTHREAD_MUTEX_INITIALIZER;
static struct op *main_op;        /* guarded by mainmu: the op of the park
                                     being watched, or NULL */
static struct op *volatile sig_op;              /* main thread + its handler */

static pthread_t monitor_th;
static bool monitor_running;                    /* guarded by mainmu */
static atomic_bool monitor_stop;

static int ncpus (void) {
  const char *e = getenv("GOCHAN_WORKERS");
  if (e) {
    long n = strtol(e, NULL, 10);
    if (n > 0 && n < MAXW / 2) return (int)n;
  }
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)(n < MAXW / 2 ? n : MAXW / 2) : 1;
}

/* ---------------------------------------------------------------- */
/* live list                                                          */

static void live_add (struct task *t) {
  pthread_mutex_lock(&livemu);
  t->lprev = NULL;
  t->lnext = live_head;
  if (live_head) live_head->lprev = t;
  live_head = t;
  nlive++;
  pthread_mutex_unlock(&livemu);
}

static void live_remove (struct task *t) {
  pthread_mutex_lock(&livemu);
  if (t->lprev) t->lprev->lnext = t->lnext; else live_head = t->lnext;
  if (t->lnext) t->lnext->lprev = t->lprev;
  t->lprev = t->lnext = NULL;
  nlive--;
  pthread_mutex_unlock(&livemu);
}

size_t sched_live (void) {
  pthread_mutex_lock(&livemu);
  size_t n = nlive;
  pthread_mutex_unlock(&livemu);
  return n;
}

/* ---------------------------------------------------------------- */
/* tasks                                                              */

static void task_destroy (struct obj *o) {
  struct task *t = (struct task *)o;
  free(t->cancelmsg);
  free(t->name);
  if (t->ctx) ctx_release(t->ctx);
  for (int i = 0; i < t->nres; i++) tvalue_clear(&t->res[i]);
  free(t->res);
  gofree(t, sizeof *t);
}

struct task *task_new (void *ud) {
  struct task *t = gocalloc(sizeof *t);
  if (!t) return NULL;
  obj_init(&t->hdr, OBJ_TASK, task_destroy, sizeof *t);
  t->id = atomic_fetch_add(&next_id, 1);
  atomic_init(&t->pstate, PS_QUEUED);    /* runnable once spawned */
  atomic_init(&t->status, TASK_RUNNING);
  atomic_init(&t->runticks, 0);
  atomic_init(&t->switches, 0);
  atomic_init(&t->mem, 0);
  atomic_init(&t->mempeak, 0);
#ifdef GOCHAN_TESTING
  atomic_init(&t->inslice, false);
#endif
  atomic_init(&t->blocked, false);
  atomic_init(&t->waiting, NULL);
  atomic_init(&t->canceled, false);
  atomic_init(&t->cop, NULL);
  op_init(&t->op);
  t->ud = ud;
  golock_init(&t->jmu);
  waitq_init(&t->joiners);
  return t;
}

struct task *sched_current (void) { return self_task; }

bool sched_should_yield (void) {
  struct worker *w = self_worker;
  return w && atomic_load_explicit(&w->preempt, memory_order_relaxed);
}

static void tmo_fire (struct timer *tm, int64_t now) {
  (void)now;
  struct task *t = tm->ud;
  if (op_cancel(&t->op, GO_TIMEOUT)) op_wake(&t->op);
}

void task_prepare (struct task *t) {
  op_init(&t->op);
  t->op.wake = task_wake;
  t->op.owner = t;
}

void task_arm (struct task *t, int64_t deadline) {
  t->op.deadline = deadline;
  if (deadline == GO_NEVER) return;
  t->tmo.when = deadline;
  t->tmo.period = 0;
  t->tmo.fire = tmo_fire;
  t->tmo.ud = t;
  if (timer_start(&t->tmo) != GO_OK)   /* no memory: time out at once */
    if (op_cancel(&t->op, GO_TIMEOUT)) op_wake(&t->op);
}

void task_disarm (struct task *t) {
  if (t->op.deadline != GO_NEVER) timer_stop(&t->tmo);
}

void sched_blocking (const char *what) { self_what = what; }
const char *sched_blocking_what (void) { return self_what; }

bool sched_stopping (void) { return atomic_load(&shutting); }

/*
** A thread of ours parks on the op of a blocking call's thread form, or
** wakes (op_park calls this through park_hook): a task that cannot yield
** where it blocks (a nested coroutine, a C boundary, a finalizer) blocks
** its worker so, and the state of a task dropped by shutdown runs its
** __close and finalizers so, on a worker or on the thread in
** sched_shutdown. While parked, the task is listed as blocked on that op
** ('tpark', under its 'jmu', where shutdown finds it to cancel it). Once
** shutdown has begun, such a park fails at once with GO_SHUTDOWN: exit
** never waits for one. Shutdown sets 'shutting' before it reads each
** task's 'tpark' under its 'jmu', and a park reads 'shutting' under that
** lock: one of the two sees the other.
*/
static void thread_park (struct op *op, bool parking) {
  struct task *t = self_task;     /* NULL: a state that shutdown closes */
  if (self_worker) {              /* the slice no longer runs meanwhile */
    if (parking) atomic_fetch_sub(&nrunning, 1);
    else atomic_fetch_add(&nrunning, 1);
    atomic_fetch_add(&progress, 1);
  }
  if (t) golock_lock(&t->jmu);
  if (parking) {
    if (atomic_load(&shutting)) {
      if (op_cancel(op, GO_SHUTDOWN)) op_wake(op);   /* op_park returns */
    }
    else if (t && atomic_load(&t->canceled)) {      /* set under jmu */
      if (op_cancel(op, GO_CANCELED)) op_wake(op);
    }
    else if (t) {
      t->tpark = op;
      atomic_store(&t->waiting, self_what ? self_what : op->what);
      atomic_store(&t->blocked, true);
    }
  }
  else if (t && t->tpark == op) {
    t->tpark = NULL;
    atomic_store(&t->blocked, false);
    atomic_store(&t->waiting, NULL);
  }
  if (t) golock_unlock(&t->jmu);
}

int task_status (struct task *t) { return atomic_load(&t->status); }

void task_finish_status (struct task *t, int status, struct tvalue *res,
                         int nres) {
  t->res = res;
  t->nres = nres;
  if (TRACE_ON()) trace_end(t, status);
  golock_lock(&t->jmu);
  atomic_store_explicit(&t->status, status, memory_order_release);
  struct waiter *list = waitq_claim_all(&t->joiners, GO_OK, NULL);
  /* its context is done before a joiner runs, and a task_context that
  ** comes after sees the status (both under jmu) */
  if (t->ctx) ctx_cancel(t->ctx, CTX_CANCELED, NULL);
  golock_unlock(&t->jmu);
  waiters_wake(list);
}

void task_finish (struct task *t, bool failed, struct tvalue *res, int nres) {
  task_finish_status(t, failed ? TASK_FAILED : TASK_DONE, res, nres);
}

/*
** Canceling a parked task. A canceler may cancel t->op only while the
** task is parked on it, never the op of a later call: the task publishes
** &t->op in 'cop' (task_parking) before it yields and takes it back
** (task_resumed) before it prepares another op. A canceler swaps 'cop'
** for COP_BUSY, cancels that op, and stores COP_DONE; a task that takes
** back COP_BUSY waits for that store. The canceler's store of 'canceled'
** and the task's store of 'cop' are seq_cst, each followed by a load of
** the other: one of the two sees the other, so no park is missed (both
** may try the op: op_cancel lets one win).
*/
#define COP_BUSY ((struct op *)1)
#define COP_DONE ((struct op *)2)

static void cancel_parked (struct task *t) {
  struct op *op = atomic_load(&t->cop);
  while (op != NULL && op != COP_BUSY && op != COP_DONE &&
         !atomic_compare_exchange_weak(&t->cop, &op, COP_BUSY))
    ;
  if (op == NULL || op == COP_BUSY || op == COP_DONE) return;
  if (op_cancel(op, GO_CANCELED)) op_wake(op);
  atomic_store(&t->cop, COP_DONE);
}

void task_parking (struct task *t) {
  atomic_store(&t->cop, &t->op);
  if (atomic_load(&t->canceled)) cancel_parked(t);
}

void task_resumed (struct task *t) {
  if (atomic_exchange(&t->cop, NULL) != COP_BUSY) return;
  while (atomic_load(&t->cop) != COP_DONE) cpu_relax();
  atomic_store(&t->cop, NULL);
}

bool task_cancel (struct task *t, char *msg) {
  golock_lock(&t->jmu);
  if (atomic_load(&t->canceled) || atomic_load(&t->status) != TASK_RUNNING) {
    golock_unlock(&t->jmu);
    free(msg);
    return false;
  }
  t->cancelmsg = msg;
  atomic_store(&t->canceled, true);
  struct op *tp = t->tpark;                  /* a thread form, parked */
  if (tp && op_cancel(tp, GO_CANCELED)) op_wake(tp);
  struct context *ctx = t->ctx;
  golock_unlock(&t->jmu);
  cancel_parked(t);                          /* a yield, parked */
  if (ctx) ctx_cancel(ctx, CTX_CANCELED, NULL);
  return true;
}

struct context *task_context (struct task *t) {
  golock_lock(&t->jmu);
  struct context *ctx = t->ctx;
  bool made = false;
  if (!ctx && (ctx = ctx_new(ctx_background(), GO_NEVER)) != NULL) {
    t->ctx = ctx;
    made = true;
  }
  bool over = atomic_load(&t->canceled) ||
              atomic_load(&t->status) != TASK_RUNNING;
  golock_unlock(&t->jmu);
  if (made && over) ctx_cancel(ctx, CTX_CANCELED, NULL);
  return ctx;
}

gostatus task_join_begin (struct task *t, struct waiter *w, struct op *op) {
  golock_lock(&t->jmu);
  if (atomic_load(&t->status) != TASK_RUNNING) {
    golock_unlock(&t->jmu);
    return GO_OK;
  }
  waitq_push1(&t->joiners, w, op);
  golock_unlock(&t->jmu);
  return GO_AGAIN;
}

gostatus task_join_finish (struct task *t, struct waiter *w, struct op *op) {
  return waitq_finish1(&t->jmu, &t->joiners, w, op);
}

gostatus task_join (struct task *t, int64_t deadline) {
  if (!go_mayblock(deadline))
    return task_status(t) != TASK_RUNNING ? GO_OK : GO_AGAIN;
  struct op op;
  struct waiter w;
  op_init(&op);
  op.what = "join on gochan.task";
  gostatus st = task_join_begin(t, &w, &op);
  if (st != GO_AGAIN) return st;
  op_park(&op, deadline);
  return task_join_finish(t, &w, &op);
}

/* ---------------------------------------------------------------- */
/* queues                                                             */

static void wake_idle (void);

static void gq_push (struct task *t) {
  pthread_mutex_lock(&smu);
  t->next = NULL;
  if (gq_tail) gq_tail->next = t; else gq_head = t;
  gq_tail = t;
  pthread_mutex_unlock(&smu);
  atomic_fetch_add(&nqueued, 1);
  atomic_fetch_add(&progress, 1);
  if (atomic_load(&nidle) > 0) wake_idle();
}

static struct task *gq_pop (void) {       /* smu held */
  struct task *t = gq_head;
  if (t) {
    gq_head = t->next;
    if (!gq_head) gq_tail = NULL;
    t->next = NULL;
  }
  return t;
}

/* A wake-up from a thread that is no worker: into the woken queue. */
static void wq_push (struct task *t) {
  pthread_mutex_lock(&smu);
  t->next = NULL;
  if (wq_tail) wq_tail->next = t; else wq_head = t;
  wq_tail = t;
  atomic_fetch_add(&nwoken, 1);
  pthread_mutex_unlock(&smu);
  atomic_fetch_add(&nqueued, 1);
  atomic_fetch_add(&progress, 1);
  if (atomic_load(&nidle) > 0) wake_idle();
}

static struct task *wq_pop (void) {       /* smu held */
  struct task *t = wq_head;
  if (t) {
    wq_head = t->next;
    if (!wq_head) wq_tail = NULL;
    t->next = NULL;
    atomic_fetch_sub(&nwoken, 1);
  }
  return t;
}

static void lq_append (struct worker *w, struct task *t) {  /* w->mu held */
  t->next = NULL;
  if (w->lq_tail) w->lq_tail->next = t; else w->lq_head = t;
  w->lq_tail = t;
}

/* The first task of w's local queue that no hand-off queued, unlinked;
** NULL if none. w->mu held. */
static struct task *lq_take_unaffine (struct worker *w) {
  struct task *prev = NULL;
  for (struct task *t = w->lq_head; t; prev = t, t = t->next) {
    if (t->affine) continue;
    if (prev) prev->next = t->next; else w->lq_head = t->next;
    if (w->lq_tail == t) w->lq_tail = prev;
    t->next = NULL;
    return t;
  }
  return NULL;
}

static struct task *take_runnext (struct worker *w) {   /* w->mu held */
  struct task *t = w->runnext;
  if (t) {
    w->runnext = NULL;
    GOCHAN_ASSERT(atomic_fetch_sub(&nheld, 1) > 0);   /* counted when held */
  }
  return t;
}

static struct task *lq_pop (struct worker *w) {   /* w->mu held */
  struct task *t = w->lq_head;
  if (t) {
    w->lq_head = t->next;
    if (!w->lq_head) w->lq_tail = NULL;
    t->next = NULL;
    if (t->affine) GOCHAN_ASSERT(atomic_fetch_sub(&nheld, 1) > 0);
  }
  return t;
}

/* Make 't' runnable from the current thread. 'next': a wake-up; from a
** task on this worker it is a hand-off, run next (runnext); from a thread
** that is no worker it goes to the woken queue. */
static void make_runnable (struct task *t, bool next) {
  struct worker *w = self_worker;
  if (!w || atomic_load(&shutting)) {
    if (next && !w && !atomic_load(&shutting)) wq_push(t);
    else gq_push(t);
    return;
  }
  golock_lock(&w->mu);
  t->affine = next;              /* guarded by the queue's lock (w->mu) */
  if (next) {
    /* A hand-off: no idle worker is woken, not even when an older runnext
    ** moves to the local queue. Waking one here pulls tasks that talk to
    ** each other apart across threads (every hand-off then costs an OS
    ** wake-up; see bench/README.md); if this worker stays busy,
    ** the monitor wakes an idle one for the local queue within ~2 ms. */
    struct task *old = w->runnext;
    w->runnext = t;
    if (old) lq_append(w, old);  /* still affine: still held */
    atomic_fetch_add(&nheld, 1);
  }
  else lq_append(w, t);
  golock_unlock(&w->mu);
  atomic_fetch_add(&nqueued, 1);
  atomic_fetch_add_explicit(&progress, 1, memory_order_relaxed);
  if (!next && atomic_load(&nidle) > 0) wake_idle();
}

void task_wake (struct op *op) {
  struct task *t = op->owner;
  if (TRACE_ON()) trace_wake(op);        /* before it may run again */
  /* Exactly one of the waker and the parking worker requeues the task:
  ** whoever comes second in the pstate exchange (see worker_loop). A task
  ** claimed by an inspector (PS_INSPECT) is requeued by task_unclaim. */
  if (atomic_exchange(&t->pstate, PS_WOKEN) == PS_PARKED) {
    atomic_store_explicit(&t->pstate, PS_QUEUED, memory_order_release);
    make_runnable(t, true);
  }
}

/* ---------------------------------------------------------------- */
/* workers                                                            */

static int running_capacity (void) {     /* workers that may run now */
  return atomic_load(&nw) - atomic_load(&nidle) - atomic_load(&nstuck);
}

/* Wake one idle worker if fewer than 'target' are able to run. */
static void wake_idle (void) {
  pthread_mutex_lock(&smu);
  struct worker *w = NULL;
  if (idle_top && running_capacity() < target) {
    w = idle_top;
    idle_top = w->idle_next;
    w->idle = false;
    atomic_fetch_sub(&nidle, 1);
  }
  pthread_mutex_unlock(&smu);
  if (w) {
    atomic_store(&w->wakeword, 1);
    go_futex_wake(&w->wakeword, 1);
  }
}

static struct task *steal (struct worker *self) {
  int n = atomic_load(&nw);
  int start = (int)go_randn((uint32_t)n);
  int64_t now = go_now();
  for (int k = 0; k < n; k++) {
    struct worker *v = workers[(start + k) % n];
    if (v == self) continue;
    golock_lock(&v->mu);
    bool busy = atomic_load(&v->cur) != NULL;
    unsigned long sl = atomic_load(&v->slices);
    if (sl != v->thief_slice) { v->thief_slice = sl; v->thief_since = now; }
    bool stuck = busy && now - v->thief_since > HELD_NS;
    struct task *t = (!busy || stuck) ? lq_pop(v) : lq_take_unaffine(v);
    if (!t && stuck) t = take_runnext(v);  /* its worker is busy: don't
                                              let it wait */
    golock_unlock(&v->mu);
    if (t) return t;
  }
  return NULL;
}

/* This worker's own next task: runnext first, then the local queue; but
** now and then the local queue first: two tasks that hand off to each
** other keep runnext full for ever, and a task queued behind them would
** wait until they stop (with one worker, or when it is affine). */
static struct task *pop_own (struct worker *w) {
  golock_lock(&w->mu);
  struct task *t = w->tick % 31 == 0 ? lq_pop(w) : NULL;
  if (!t) t = take_runnext(w);
  if (!t) t = lq_pop(w);
  golock_unlock(&w->mu);
  return t;
}

/* Take a task to run; raises nrunning before lowering nqueued. The woken
** queue first, but for the turns of the global queue (61st) and of the
** worker's own (31st, in pop_own), which woken tasks must not starve. */
static struct task *find_work (struct worker *w) {
  struct task *t = NULL;
  unsigned tick = ++w->tick;
  if (tick % 61 == 0) {            /* now and then the global queue first */
    pthread_mutex_lock(&smu);
    t = gq_pop();
    pthread_mutex_unlock(&smu);
  }
  if (!t && atomic_load_explicit(&nwoken, memory_order_relaxed) > 0 &&
      tick % 31 != 0) {
    pthread_mutex_lock(&smu);
    t = wq_pop();
    pthread_mutex_unlock(&smu);
  }
  if (!t) t = pop_own(w);
  if (!t) {
    pthread_mutex_lock(&smu);
    t = wq_pop();
    if (!t) t = gq_pop();
    pthread_mutex_unlock(&smu);
  }
  if (!t) t = steal(w);
  if (t) {
    atomic_fetch_add(&nrunning, 1);
    atomic_fetch_sub(&nqueued, 1);
  }
  return t;
}

static void drop_task (struct task *t) {
  timer_stop(&t->tmo);            /* a timeout may still be armed */
  hooks.drop(t);
  live_remove(t);
  obj_release(&t->hdr);
}

/* Park until woken. Returns false if the worker should exit. */
static bool idle_park (struct worker *w) {
  pthread_mutex_lock(&smu);
  if (gq_head || wq_head) { pthread_mutex_unlock(&smu); return true; }
  atomic_store(&w->wakeword, 0);
  w->idle = true;
  w->idle_next = idle_top;
  idle_top = w;
  atomic_fetch_add(&nidle, 1);
  pthread_mutex_unlock(&smu);
  /* Sleep unless there is work it could take. Tasks a hand-off queued
  ** are not such work while their worker runs the slice that queued them:
  ** then look again after HELD_NS (steal takes them from a slice that
  ** lasts longer). */
  long held = atomic_load(&nheld);
  if (atomic_load(&nqueued) - held <= 0 && !atomic_load(&shutting)) {
    int64_t until = held > 0 ? go_now() + HELD_NS : GO_NEVER;
    while (atomic_load(&w->wakeword) == 0 && !atomic_load(&shutting) &&
           go_futex_wait(&w->wakeword, 0, until))
      ;
  }
  pthread_mutex_lock(&smu);
  if (w->idle) {                 /* woke by itself: leave the idle stack */
    struct worker **p = &idle_top;
    while (*p != w) p = &(*p)->idle_next;
    *p = w->idle_next;
    w->idle = false;
    atomic_fetch_sub(&nidle, 1);
  }
  pthread_mutex_unlock(&smu);
  return true;
}

/* A worker over capacity (a stuck one came back) sleeps on the idle stack
** until the monitor or a pusher needs it. The decision is taken under smu,
** so of several workers over capacity only as many retire as needed. */
static void retire (struct worker *w) {
  bool retired = false;
  pthread_mutex_lock(&smu);
  if (running_capacity() > target) {
    atomic_store(&w->wakeword, 0);
    w->idle = true;
    w->idle_next = idle_top;
    idle_top = w;
    atomic_fetch_add(&nidle, 1);
    retired = true;
  }
  pthread_mutex_unlock(&smu);
  if (!retired) return;
  while (atomic_load(&w->wakeword) == 0 && !atomic_load(&shutting))
    go_futex_wait(&w->wakeword, 0, GO_NEVER);
  pthread_mutex_lock(&smu);
  if (w->idle) {                 /* shutting down: leave the idle stack */
    struct worker **p = &idle_top;
    while (*p != w) p = &(*p)->idle_next;
    *p = w->idle_next;
    w->idle = false;
    atomic_fetch_sub(&nidle, 1);
  }
  pthread_mutex_unlock(&smu);
}

/* GOCHAN_PREEMPT_SIGNAL: on a worker thread, pass the request on to the
** binding (the monitor has set w->preempt first). Elsewhere: nothing. */
static void on_preempt (int sig) {
  (void)sig;
  int saved = errno;
  if (self_worker && self_task && hooks.preempt) hooks.preempt();
  errno = saved;
}

/* ---- time on workers, claims, the busy warning ---- */

/*
** A slice is timed in ticks: the TSC on x86-64 (a few cycles to read,
** cheaper than clock_gettime twice per slice: bench/README.md),
** nanoseconds elsewhere. Ticks become seconds by the rate measured between
** sched_start ('tick0', 'ns0': written once before any worker exists)
** and the moment of reading.
*/
static uint64_t tick0;
static int64_t ns0;
static _Atomic int64_t busy_warn_ns;       /* 0: off */

static inline uint64_t ticks_now (void) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  return __builtin_ia32_rdtsc();
#else
  return (uint64_t)go_now();
#endif
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
/* Until the runtime has run 100 ms, the rate of a 2 ms spin (once). */
static double spin_rate;
static pthread_once_t spin_once = PTHREAD_ONCE_INIT;
static void spin_calibrate (void) {
  int64_t n0 = go_now(), n1;
  uint64_t k0 = ticks_now();
  while ((n1 = go_now()) - n0 < 2000000) cpu_relax();
  spin_rate = (double)(ticks_now() - k0) * 1e9 / (double)(n1 - n0);
}
#endif

static double ticks_per_sec (void) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  if (atomic_load(&started)) {
    int64_t dns = go_now() - ns0;
    uint64_t dt = ticks_now() - tick0;
    if (dns >= 100000000 && dt > 0) return (double)dt * 1e9 / (double)dns;
  }
  pthread_once(&spin_once, spin_calibrate);
  return spin_rate > 0 ? spin_rate : 1e9;
#else
  return 1e9;
#endif
}

double task_cpu (struct task *t) {
  return (double)atomic_load_explicit(&t->runticks, memory_order_relaxed) /
         ticks_per_sec();
}

double sched_busy_warn (void) {
  return (double)atomic_load(&busy_warn_ns) / 1e9;
}

void sched_set_busy_warn (double secs) {
  int64_t v = 0;
  if (secs > 0) v = secs >= 9e9 ? INT64_MAX : secs < 1e-9 ? 1 : (int64_t)(secs * 1e9);
  atomic_store(&busy_warn_ns, v);
}

/* Before a slice: PS_RUNNING, waiting out an inspector's claim. Acquire:
** what an inspector did to the task's state happens before it runs. */
static void start_slice (struct task *t) {
  int s = atomic_load_explicit(&t->pstate, memory_order_relaxed);
  for (;;) {
    if (s == PS_INSPECT) {
      cpu_relax();
      s = atomic_load_explicit(&t->pstate, memory_order_relaxed);
      continue;
    }
    GOCHAN_ASSERT(s == PS_QUEUED);     /* in a queue: nothing else */
    if (atomic_compare_exchange_weak_explicit(&t->pstate, &s, PS_RUNNING,
            memory_order_acquire, memory_order_relaxed)) {
#ifdef GOCHAN_TESTING
      atomic_store(&t->inslice, true);
#endif
      return;
    }
  }
}

/* After a slice of 'dt' ticks that ended in 'r' (worker only). */
static void end_slice (struct task *t, int r, uint64_t dt) {
#ifdef GOCHAN_TESTING
  atomic_store(&t->inslice, false);
#endif
  atomic_store_explicit(&t->runticks,
      atomic_load_explicit(&t->runticks, memory_order_relaxed) + dt,
      memory_order_relaxed);
  if (r == RUN_PARK) {
    atomic_store_explicit(&t->switches,
        atomic_load_explicit(&t->switches, memory_order_relaxed) + 1,
        memory_order_relaxed);
    t->busyticks = 0;
    return;
  }
  t->busyticks += dt;
  int64_t lim = atomic_load_explicit(&busy_warn_ns, memory_order_relaxed);
  if (r == RUN_YIELD && lim && !t->busywarned && hooks.busy) {
    double secs = (double)t->busyticks / ticks_per_sec();
    if (secs * 1e9 >= (double)lim) {
      t->busywarned = true;
      hooks.busy(t, secs);
    }
  }
}

/*
** The claim is one more pstate: PS_PARKED (blocked: its worker has
** finished the park exchange) or PS_QUEUED (in a run queue) becomes
** PS_INSPECT. While it is, a worker that took the task spins in
** start_slice, and a waker's exchange sees PS_INSPECT (not PS_PARKED)
** and leaves the requeue to task_unclaim, which sees its PS_WOKEN.
** Nothing else writes pstate then: a queued task has no waker, a parked
** one no worker.
*/
/* 'inspectmu' is held from a claim to its unclaim, and taken once by
** sched_shutdown after it sets 'shutting': so no claim is held while
** shutdown drops tasks, and none starts after (a worker that drops a
** task it took from a queue first waits out a claim in start_slice). */
static pthread_mutex_t inspectmu = PTHREAD_MUTEX_INITIALIZER;

bool task_claim (struct task *t, int *saved) {
  pthread_mutex_lock(&inspectmu);
  int s = atomic_load_explicit(&t->pstate, memory_order_relaxed);
  if (atomic_load(&shutting) ||
      atomic_load_explicit(&t->status, memory_order_acquire) != TASK_RUNNING ||
      (s != PS_PARKED && s != PS_QUEUED) ||
      !atomic_compare_exchange_strong_explicit(&t->pstate, &s, PS_INSPECT,
          memory_order_acquire, memory_order_relaxed)) {
    pthread_mutex_unlock(&inspectmu);
    return false;
  }
  *saved = s;
#ifdef GOCHAN_TESTING
  GOCHAN_ASSERT(!atomic_load(&t->inslice));      /* no slice runs it */
#endif
  return true;
}

void task_unclaim (struct task *t, int saved) {
  if (saved == PS_QUEUED)
    atomic_store_explicit(&t->pstate, PS_QUEUED, memory_order_release);
  else if (atomic_exchange_explicit(&t->pstate, PS_PARKED,
               memory_order_acq_rel) == PS_WOKEN) {   /* woken meanwhile */
    atomic_store_explicit(&t->pstate, PS_QUEUED, memory_order_release);
    make_runnable(t, false);
  }
  pthread_mutex_unlock(&inspectmu);
}

const char *task_state (struct task *t, const char **what) {
  bool blocked = atomic_load(&t->blocked);
  *what = blocked ? atomic_load(&t->waiting) : NULL;   /* a static string */
  if (blocked) return "blocked";
  int s = atomic_load(&t->pstate);
  return s == PS_RUNNING ? "running" : "runnable";
}

struct task **sched_snapshot (size_t *n) {
  pthread_mutex_lock(&livemu);
  size_t k = 0, cap = nlive;
  struct task **a = cap ? malloc(cap * sizeof *a) : NULL;
  if (a)
    for (struct task *t = live_head; t && k < cap; t = t->lnext) {
      obj_retain(&t->hdr);
      a[k++] = t;
    }
  pthread_mutex_unlock(&livemu);
  *n = k;
  return a;
}

/* After a slice that parked: PS_RUNNING becomes PS_PARKED, true; or a
** waker came first (PS_WOKEN), false: the worker requeues the task.
** A compare-and-swap, not an exchange: PS_PARKED must never be seen by
** an inspector (task_claim) while the task is about to be requeued. */
static bool park_state (struct task *t) {
  int s = PS_RUNNING;
  if (atomic_compare_exchange_strong(&t->pstate, &s, PS_PARKED)) return true;
  GOCHAN_ASSERT(s == PS_WOKEN);
  return false;
}

static atomic_bool dump_requested;

void sched_request_dump (void) { atomic_store(&dump_requested, true); }

static void *worker_main (void *arg) {
  struct worker *w = arg;
  self_worker = w;
  sigset_t s;                       /* the only signal a worker takes */
  sigemptyset(&s);
  sigaddset(&s, GOCHAN_PREEMPT_SIGNAL);
  pthread_sigmask(SIG_UNBLOCK, &s, NULL);
  for (;;) {
    if (running_capacity() > target && !atomic_load(&shutting)) {
      /* too many runners (a stuck one came back): retire, but first hand
      ** this worker's queued tasks to the others through the global queue */
      struct task *t;
      while ((t = pop_own(w)) != NULL) {
        atomic_fetch_sub(&nqueued, 1);
        gq_push(t);
      }
      retire(w);
      continue;
    }
    struct task *t = find_work(w);
    if (!t) {
      if (atomic_load(&shutting)) break;
      idle_park(w);
      continue;
    }
    start_slice(t);                 /* (also waits out an inspector) */
    if (atomic_load(&shutting)) {
      atomic_fetch_sub(&nrunning, 1);
      drop_task(t);
      continue;
    }
    atomic_store_explicit(&t->blocked, false, memory_order_relaxed);
    atomic_store_explicit(&t->waiting, NULL, memory_order_relaxed);
    atomic_store_explicit(&w->preempt, false, memory_order_relaxed);
    self_task = t;
    /* this worker is the only writer: a plain store, no locked add */
    atomic_store_explicit(&w->slices,
        atomic_load_explicit(&w->slices, memory_order_relaxed) + 1,
        memory_order_relaxed);
    atomic_store_explicit(&w->cur, t, memory_order_release);
    if (TRACE_ON()) trace_slice_start(w->id, t);
    uint64_t t0 = ticks_now();
    int r = hooks.run(t);
    end_slice(t, r, ticks_now() - t0);
    if (TRACE_ON()) trace_slice_end(w->id, t, r);
    atomic_store_explicit(&w->cur, NULL, memory_order_release);
    self_task = NULL;
    if (atomic_load_explicit(&w->stuck, memory_order_relaxed) &&
        atomic_exchange(&w->stuck, false))
      atomic_fetch_sub(&nstuck, 1);
    if (atomic_load(&shutting) && r != RUN_DONE) {
      if (r == RUN_PARK) {
        /* Shutdown may have scanned for blocked tasks before this one
        ** parked: cancel its op here. Won: nobody will wake it, drop it
        ** now. Lost: a peer fired it and its wake-up requeues the task
        ** (the pstate handshake), where a worker drops it. */
        if (op_cancel(&t->op, GO_SHUTDOWN)) drop_task(t);
        else if (!park_state(t))
          drop_task(t);
      }
      else drop_task(t);
    }
    else if (r == RUN_PARK) {
      /* same thread as the task; release: a reader that sees 'blocked'
      ** sees the op the task parked on */
      atomic_store_explicit(&t->waiting, t->op.what, memory_order_release);
      atomic_store_explicit(&t->blocked, true, memory_order_release);
      if (!park_state(t)) {
        atomic_store_explicit(&t->blocked, false, memory_order_relaxed);
        atomic_store_explicit(&t->pstate, PS_QUEUED, memory_order_release);
        make_runnable(t, false);   /* woken before it finished parking */
      }
    }
    else if (r == RUN_YIELD) {
      atomic_store_explicit(&t->pstate, PS_QUEUED, memory_order_release);
      gq_push(t);
    }
    else { live_remove(t); obj_release(&t->hdr); }
    atomic_fetch_sub(&nrunning, 1);
    atomic_fetch_add_explicit(&progress, 1, memory_order_relaxed);
  }
  atomic_fetch_add(&nexited, 1);
  return NULL;
}

static gostatus add_worker (void) {      /* smu held */
  int i = atomic_load(&nw);
  if (i >= MAXW) return GO_NOMEM;
  struct worker *w = calloc(1, sizeof *w);
  if (!w) return GO_NOMEM;
  w->id = i;
  golock_init(&w->mu);
  atomic_init(&w->wakeword, 0);
  atomic_init(&w->cur, NULL);
  atomic_init(&w->stuck, false);
  sigset_t all, old;
  sigfillset(&all);               /* signals belong to the program's threads */
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int rc = pthread_create(&w->th, NULL, worker_main, w);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc != 0) { free(w); return GO_NOMEM; }
  workers[i] = w;
  atomic_store(&nw, i + 1);
  return GO_OK;
}

/* ---------------------------------------------------------------- */
/* the monitor                                                        */

static bool dl_armed;                           /* guarded by mainmu */
static unsigned long dl_progress;               /* guarded by mainmu */

/* Quiet: the main thread waits without a time limit, no task runs or is
** queued, no timer is pending, and no one waits on a channel that may be
** fed from outside the tasks (a named channel, one a host holds through
** the C API: a host thread or its event loop may send on it any time).
** Those last two take their registry's lock and then each channel's, so
** they come last (only when all else is quiet). */
static void check_deadlock (void) {
  pthread_mutex_lock(&mainmu);
  struct op *op = main_op;
  bool quiet = op && op->deadline == GO_NEVER &&
               atomic_load(&nrunning) == 0 && atomic_load(&nqueued) == 0 &&
               timer_pending() == 0 && !named_waiting() && !hostref_waiting();
  if (!quiet) dl_armed = false;
  else {
    unsigned long p = atomic_load(&progress);
    if (dl_armed && p == dl_progress) {   /* two quiet looks in a row */
      dl_armed = false;
      if (op_cancel(op, GO_DEADLOCK)) op_wake(op);
    }
    else { dl_armed = true; dl_progress = p; }
  }
  pthread_mutex_unlock(&mainmu);
}

static void check_workers (void) {
  int64_t now = go_now();
  int n = atomic_load(&nw);
  for (int i = 0; i < n; i++) {
    struct worker *w = workers[i];
    struct task *t = atomic_load(&w->cur);
    unsigned long s = atomic_load_explicit(&w->slices, memory_order_relaxed);
    if (!t || s != w->seen_slice) {     /* a new slice since the last look */
      /* a mark set just as that slice ended (the worker checked before the
      ** mark): clear it here, or nstuck stays high; one of the two
      ** exchanges wins */
      if (atomic_load(&w->stuck) && atomic_exchange(&w->stuck, false))
        atomic_fetch_sub(&nstuck, 1);
      w->seen_slice = s;
      w->seen_since = now;
      continue;
    }
    int64_t el = now - w->seen_since;
    if (el > SLICE_NS) {
      atomic_store(&w->preempt, true);
      if (w->signalled != s) {        /* once per slice */
        w->signalled = s;
        pthread_kill(w->th, GOCHAN_PREEMPT_SIGNAL);
      }
    }
    if (el > STUCK_NS && !atomic_load(&w->stuck)) {
      atomic_store(&w->stuck, true);   /* in a C call, or blocked in one */
      atomic_fetch_add(&nstuck, 1);
    }
  }
  /* keep 'target' workers able to run while there is work another worker
  ** could take (a task in a runnext slot waits for its own worker, unless
  ** that worker is busy for long: see steal) */
  long held = atomic_load(&nheld);
  long stealable = atomic_load(&nqueued) - held;
  if ((stealable > 0 || held > 0) && running_capacity() < target) {
    if (atomic_load(&nidle) > 0) wake_idle();
    else {
      pthread_mutex_lock(&smu);
      if (!atomic_load(&shutting)) add_worker();
      pthread_mutex_unlock(&smu);
    }
  }
  else if (stealable > 0 && atomic_load(&nidle) > 0) wake_idle();
}

static void *monitor_main (void *arg) {
  (void)arg;
  struct timespec ts = { 0, MONITOR_NS };
  while (!atomic_load(&monitor_stop)) {
    nanosleep(&ts, NULL);
    if (atomic_load(&started)) check_workers();
    check_deadlock();
    if (atomic_load(&dump_requested) && atomic_exchange(&dump_requested, false)
        && hooks.dump && !atomic_load(&shutting))
      hooks.dump();
  }
  return NULL;
}

static void monitor_ensure (void) {      /* mainmu held */
  if (monitor_running) return;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  atomic_store(&monitor_stop, false);
  if (pthread_create(&monitor_th, NULL, monitor_main, NULL) == 0)
    monitor_running = true;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* ---------------------------------------------------------------- */
/* the main thread: deadlock watch and SIGINT                         */

static void on_sigint (int sig) {
  (void)sig;
  struct op *op = sig_op;         /* this thread's own parked op, or NULL */
  if (op && op_cancel(op, GO_INTERRUPTED)) op_wake(op);
}

static void park_hook (struct op *op, bool parking) {
  if (self_worker || self_stopping) {   /* a task's thread, or shutdown's */
    thread_park(op, parking);
    return;
  }
  if (parking) {
    if (main_self.gen == 0 ||
        main_self.gen != atomic_load_explicit(&main_gen, memory_order_relaxed))
      return;                     /* not the main thread: not watched */
    main_self.watched = true;
    pthread_mutex_lock(&mainmu);
    main_op = op;
    dl_armed = false;
    if (op->deadline == GO_NEVER) monitor_ensure();
    pthread_mutex_unlock(&mainmu);
    struct sigaction sa;
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;              /* no SA_RESTART: the futex wait returns */
    sig_op = op;
    if (sigaction(SIGINT, &sa, &main_self.old_sigint) == 0) {
      main_self.sigint_installed = true;
      if (main_self.old_sigint.sa_handler == SIG_IGN) {  /* stays ignored */
        sigaction(SIGINT, &main_self.old_sigint, NULL);
        main_self.sigint_installed = false;
      }
    }
  }
  else {
    if (!main_self.watched) return;
    main_self.watched = false;
    if (main_self.sigint_installed)
      sigaction(SIGINT, &main_self.old_sigint, NULL);
    main_self.sigint_installed = false;
    sig_op = NULL;
    pthread_mutex_lock(&mainmu);
    if (main_op == op) main_op = NULL;   /* not a newer main thread's */
    pthread_mutex_unlock(&mainmu);
  }
}

/* Make the calling thread the main thread (see main_gen). Any thread may
** be parked meanwhile: it reads only main_gen and the hook, both atomic. */
void sched_set_main_thread (void) {
  main_self.gen = atomic_fetch_add(&main_gen, 1) + 1;
  atomic_store_explicit(&go_park_hook, park_hook, memory_order_release);
}

/* ---------------------------------------------------------------- */
/* start, spawn, shutdown                                             */

static char pin_anchor;      /* an address inside this shared object */

static void pin_library (void) {
  /* Never let the shared object that holds this code be unloaded while
  ** one of its threads may still run (a worker stuck in a C call). */
  Dl_info info;
  if (dladdr(&pin_anchor, &info) && info.dli_fname)
    dlopen(info.dli_fname, RTLD_NOW | RTLD_NODELETE | RTLD_NOLOAD);
}

gostatus sched_start (int n, const struct sched_hooks *h) {
  pthread_mutex_lock(&smu);
  if (atomic_load(&started)) { pthread_mutex_unlock(&smu); return GO_OK; }
  hooks = *h;
  tick0 = ticks_now();
  ns0 = go_now();
  target = n > 0 ? (n < MAXW / 2 ? n : MAXW / 2) : ncpus();
  struct sigaction sa;             /* SA_RESTART: C calls in tasks go on */
  sa.sa_handler = on_preempt;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(GOCHAN_PREEMPT_SIGNAL, &sa, NULL);
  gostatus st = GO_OK;
  for (int i = atomic_load(&nw); i < target && st == GO_OK; i++)
    st = add_worker();
  if (st == GO_OK) atomic_store(&started, true);
  pthread_mutex_unlock(&smu);
  if (st != GO_OK) return st;
  pin_library();
  pthread_mutex_lock(&mainmu);
  monitor_ensure();
  pthread_mutex_unlock(&mainmu);
  return GO_OK;
}

bool sched_started (void) { return atomic_load(&started); }
int sched_workers (void) { return atomic_load(&started) ? target : ncpus(); }

gostatus sched_spawn (struct task *t) {
  if (atomic_load(&shutting)) return GO_SHUTDOWN;
  obj_retain(&t->hdr);              /* the scheduler's reference */
  live_add(t);
  if (TRACE_ON()) trace_spawn(t);
  make_runnable(t, false);
  return GO_OK;
}

void sched_shutdown (void) {
  trace_shutdown();                 /* a trace still recording is written */
  pthread_mutex_lock(&mainmu);
  bool mon = monitor_running;
  monitor_running = false;
  pthread_mutex_unlock(&mainmu);
  if (mon) {
    atomic_store(&monitor_stop, true);
    pthread_join(monitor_th, NULL);
  }
  if (!atomic_load(&started)) return;
  self_stopping = true;
  atomic_store(&shutting, true);
  pthread_mutex_lock(&inspectmu);       /* no claim is held after this */
  pthread_mutex_unlock(&inspectmu);
  /* Cancel every parked task's op: the wake-up puts it in a queue, where a
  ** worker drops it instead of running it. A task whose thread is parked
  ** (thread_park) gets GO_SHUTDOWN from its call instead, and ends its
  ** slice. */
  pthread_mutex_lock(&livemu);
  for (struct task *t = live_head; t; t = t->lnext) {
    golock_lock(&t->jmu);
    struct op *op = t->tpark;
    if (op && op_cancel(op, GO_SHUTDOWN)) op_wake(op);
    golock_unlock(&t->jmu);
    if (!op && atomic_load(&t->blocked) && op_cancel(&t->op, GO_SHUTDOWN))
      op_wake(&t->op);
  }
  pthread_mutex_unlock(&livemu);
  /* wake every worker; they drain the queues and exit */
  int n = atomic_load(&nw);
  for (int i = 0; i < n; i++) {
    atomic_store(&workers[i]->wakeword, 1);
    go_futex_wake(&workers[i]->wakeword, 1);
  }
  /* Join the workers that are not inside a long C call; a worker that is
  ** will drop its task and exit when the call returns (the library is
  ** pinned). Wait a little for slices to reach a preemption point. */
  int64_t give_up = go_now() + 2000000000;
  while (atomic_load(&nexited) < n && go_now() < give_up) {
    for (int i = 0; i < n; i++) {
      struct worker *w = workers[i];
      atomic_store(&w->preempt, true);          /* reach a yield point */
      if (atomic_load(&w->cur)) pthread_kill(w->th, GOCHAN_PREEMPT_SIGNAL);
      atomic_store(&w->wakeword, 1);
      go_futex_wake(&w->wakeword, 1);
    }
    struct timespec ts = { 0, 1000000 };
    nanosleep(&ts, NULL);
  }
  if (atomic_load(&nexited) < n) {
    /* a worker is still in a C call: leave everything to it */
    for (int i = 0; i < n; i++) pthread_detach(workers[i]->th);
    self_stopping = false;
    return;
  }
  for (int i = 0; i < n; i++) {
    pthread_join(workers[i]->th, NULL);
    free(workers[i]);
    workers[i] = NULL;
  }
  /* What is left on the live list never ran, or is parked with an op no
  ** one cancelled yet: close the op (its timer first, so no timeout fires
  ** meanwhile), then drop the task. */
  for (;;) {
    pthread_mutex_lock(&livemu);
    struct task *t = live_head;
    pthread_mutex_unlock(&livemu);
    if (!t) break;
    timer_stop(&t->tmo);
    op_cancel(&t->op, GO_SHUTDOWN);   /* lost: already fired or cancelled */
    drop_task(t);
  }
  atomic_store(&nw, 0);
  atomic_store(&nexited, 0);
  atomic_store(&nidle, 0);
  atomic_store(&nstuck, 0);
  atomic_store(&nqueued, 0);
  atomic_store(&nheld, 0);
  idle_top = NULL;
  gq_head = gq_tail = NULL;
  wq_head = wq_tail = NULL;
  atomic_store(&nwoken, 0);
  atomic_store(&started, false);
  atomic_store(&shutting, false);
  self_stopping = false;
}
