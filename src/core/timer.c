/*
** timer.c: a binary min-heap of armed timers and the timer thread that
** fires them. 'tmu' guards the heap, every armed timer's 'when'/'hidx',
** and the thread's state; 'fire' callbacks run with 'tmu' held, so after
** timer_stop returns a callback for that timer is neither running nor due.
*/
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include "chan_impl.h"
#include "obj.h"
#include "timer.h"

static pthread_mutex_t tmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t tcv;              /* CLOCK_MONOTONIC; see init_cv */
static pthread_once_t tcv_once = PTHREAD_ONCE_INIT;
static struct timer **heap;             /* heap[0] is the earliest */
static size_t hlen, hcap;
static bool thread_running, stopping;
static pthread_t tthread;
/* When the thread wakes next by itself: a new timer due before then must
** signal it, one due later need not (it will look at the heap then). With
** no timer it still wakes every LINGER_NS, so that arming a timeout of a
** few seconds (a task parking with a timeout, each time) does not wake it
** every time the heap goes from empty to one timer. */
#define LINGER_NS 1000000000
static int64_t wake_at;

/*
** The armed part of a gtimer. A channel timer's belongs to its channel
** (chan->timer; freed by ctimer_gone), a func timer's to its gtimer.
** 'last'/'has' are guarded by 'tmu': the value its last fire put in 'c'
** ('has': and it may still be in the buffer, not yet received); so is
** 'next'. 'c', 'holder', 'run', 'drop' and 'arg' are fixed at creation.
*/
struct ctimer {
  struct timer t;                 /* t.ud = this */
  struct chan *c;                 /* channel timer: its channel (not a
                                     reference: it owns this); else NULL */
  double last;
  bool has;
  struct obj *holder;             /* func timer: its gtimer, of which the
                                     heap holds one reference while armed
                                     and 'due' one until 'run' was called */
  void (*run) (void *arg);
  void (*drop) (void *arg);
  void *arg;
  struct ctimer *next;            /* in 'due' */
};

/* 'c' and 'ct' are fixed at creation; 'ct' is guarded as above. */
struct gtimer {
  struct obj hdr;
  struct chan *c;                 /* one reference; NULL: a func timer */
  struct ctimer *ct;
};

/* Func timers that fired, whose 'run' the thread calls outside 'tmu' (it
** starts a task) and whose reference it then releases (which may destroy
** values that stop other timers). Guarded by 'tmu'. */
static struct ctimer *due;
static size_t ndue;                     /* fired, 'run' not called yet: still
                                           pending for deadlock detection */

static void init_cv (void) {
  pthread_condattr_t a;
  pthread_condattr_init(&a);
  pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
  pthread_cond_init(&tcv, &a);
  pthread_condattr_destroy(&a);
}

/* ---- heap, all with tmu held ---- */

static void place (size_t i, struct timer *t) { heap[i] = t; t->hidx = i + 1; }

static void sift_up (size_t i) {
  struct timer *t = heap[i];
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (heap[p]->when <= t->when) break;
    place(i, heap[p]);
    i = p;
  }
  place(i, t);
}

static void sift_down (size_t i) {
  struct timer *t = heap[i];
  for (;;) {
    size_t l = 2 * i + 1, m = i;
    int64_t best = t->when;
    if (l < hlen && heap[l]->when < best) { m = l; best = heap[l]->when; }
    if (l + 1 < hlen && heap[l + 1]->when < best) m = l + 1;
    if (m == i) break;
    place(i, heap[m]);
    i = m;
  }
  place(i, t);
}

static void heap_remove (struct timer *t) {
  size_t i = t->hidx - 1;
  t->hidx = 0;
  struct timer *last = heap[--hlen];
  if (i == hlen) return;
  heap[i] = last;
  last->hidx = i + 1;
  sift_up(i);
  sift_down(last->hidx - 1);
}

/* Room for one more timer: false if the heap cannot grow. */
static bool heap_reserve (void) {
  if (hlen < hcap) return true;
  size_t ncap = hcap ? 2 * hcap : 64;
  struct timer **nh = realloc(heap, ncap * sizeof *nh);
  if (!nh) return false;
  heap = nh; hcap = ncap;
  return true;
}

static gostatus heap_push (struct timer *t) {
  if (!heap_reserve()) return GO_NOMEM;
  place(hlen++, t);
  sift_up(hlen - 1);
  return GO_OK;
}

/* Call the 'run' of every func timer that fired, then release the
** reference 'due' held. tmu NOT held. */
static void run_due (void) {
  pthread_mutex_lock(&tmu);
  struct ctimer *ct = due;
  due = NULL;
  pthread_mutex_unlock(&tmu);
  while (ct) {
    struct ctimer *next = ct->next;  /* the release may free 'ct' */
    ct->run(ct->arg);                /* its task is live from here on */
    pthread_mutex_lock(&tmu);
    ndue--;
    pthread_mutex_unlock(&tmu);
    obj_release(ct->holder);
    ct = next;
  }
}

/*
** The thread works in laps. A lap fires only timers due at its start
** ('now'), at most LAP_MAX of them, and re-arms a periodic timer no sooner
** than MIN_REARM_NS after 'now': so each timer fires at most once a lap,
** and a lap ends whatever the periods. Between laps the thread always
** gives up 'tmu' in pthread_cond_timedwait: until the next deadline, or,
** when timers are still due (a lap was cut at LAP_MAX, or took longer than
** MIN_REARM_NS), for MIN_REARM_NS. So 'tmu' is held for at most LAP_MAX
** callbacks at a time, and timer_start/timer_stop always get it within a
** lap and a wait. A period shorter than MIN_REARM_NS (Linux's default
** timer slack: a shorter sleep is not kept more exactly) drops the ticks
** in between, as a ticker drops ticks its reader is too slow for.
*/
#define LAP_MAX 64
#define MIN_REARM_NS 50000

/* The first time after 'now' + MIN_REARM_NS that is 't->when' plus a
** multiple of the period (the missed ticks are skipped); tmu held. */
static void rearm (struct timer *t, int64_t now) {
  int64_t floor = now + MIN_REARM_NS;
  t->when += t->period;
  if (t->when <= floor)
    t->when += ((floor - t->when) / t->period + 1) * t->period;
}

static void *timer_main (void *arg) {
  (void)arg;
  pthread_mutex_lock(&tmu);
  while (!stopping) {
    int64_t now = go_now();
    int fired = 0;
    struct timer *t;
    while (fired < LAP_MAX && hlen > 0 && (t = heap[0])->when <= now) {
      if (t->period > 0) {    /* re-arm first: 'fire' may stop it */
        rearm(t, now);
        sift_down(0);
      }
      else heap_remove(t);
      t->fire(t, now);
      fired++;
    }
    if (due) {
      pthread_mutex_unlock(&tmu);
      run_due();
      pthread_mutex_lock(&tmu);
      if (stopping) break;
    }
    now = go_now();
    if (hlen == 0) wake_at = now + LINGER_NS;
    else if (heap[0]->when > now) wake_at = heap[0]->when;
    else wake_at = now + MIN_REARM_NS;      /* still due: a breather */
    struct timespec ts = { (time_t)(wake_at / 1000000000),
                           (long)(wake_at % 1000000000) };
    pthread_cond_timedwait(&tcv, &tmu, &ts);
    wake_at = 0;                  /* awake: it looks at the heap anyway */
  }
  pthread_mutex_unlock(&tmu);
  return NULL;
}

/* Start the thread with every signal blocked: signals (SIGINT) belong to
** the program's own threads. tmu held. */
static gostatus ensure_thread (void) {
  if (thread_running) return GO_OK;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int rc = pthread_create(&tthread, NULL, timer_main, NULL);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc != 0) return GO_NOMEM;
  thread_running = true;
  return GO_OK;
}

/* Arm 't' (not armed); tmu held. */
static gostatus arm (struct timer *t) {
  GOCHAN_ASSERT(t->hidx == 0);
  gostatus st = ensure_thread();
  if (st == GO_OK) st = heap_push(t);
  if (st == GO_OK && t->when < wake_at)     /* due before the thread wakes */
    pthread_cond_signal(&tcv);
  return st;
}

gostatus timer_start (struct timer *t) {
  pthread_once(&tcv_once, init_cv);
  pthread_mutex_lock(&tmu);
  gostatus st = arm(t);
  pthread_mutex_unlock(&tmu);
  return st;
}

bool timer_stop (struct timer *t) {
  pthread_mutex_lock(&tmu);
  bool armed = t->hidx != 0;
  if (armed) heap_remove(t);
  pthread_mutex_unlock(&tmu);
  return armed;
}

size_t timer_pending (void) {
  pthread_mutex_lock(&tmu);
  size_t n = hlen + ndue;
  pthread_mutex_unlock(&tmu);
  return n;
}

/* ---- timers you can stop ---- */

/* Send go_now() on 'c' if it has room or a receiver (else drop it, as
** Go's ticker does); remember it in '*last' and '*has'. tmu held (so: a fire). */
static void send_now (struct chan *c, int64_t now, double *last, bool *has) {
  struct tvalue v;
  double s = (double)now / 1e9;
  tvalue_setfloat(&v, s);
  struct op *wake = NULL;
  golock_lock(&c->mu);
  if (chan_step_send(c, &v, &wake) == GO_OK) { *last = s; *has = true; }
  golock_unlock(&c->mu);
  if (wake) op_wake(wake);
}

/* Take the value the timer last sent on 'c' out of its buffer if it is
** still there (the head slot: capacity 1; a value the program sent on
** the channel is never taken). true if it was. tmu held, so no fire runs
** meanwhile. */
static bool discard (struct chan *c, double *last, bool *has) {
  if (!*has) return false;
  *has = false;
  bool found = false;
  struct op *wake = NULL;
  golock_lock(&c->mu);
  if (c->len > 0) {
    struct tvalue *v = &c->buf[c->head];
    if (v->tt == TV_FLOAT && v->u.n == *last) {
      struct tvalue out;
      bool ok;
      chan_step_recv(c, &out, &ok, &wake);   /* also lets a blocked sender in */
      tvalue_clear(&out);
      found = true;
    }
  }
  golock_unlock(&c->mu);
  if (wake) op_wake(wake);
  return found;
}

static void chan_fire (struct timer *t, int64_t now) {
  struct ctimer *ct = t->ud;
  send_now(ct->c, now, &ct->last, &ct->has);
}

static void func_fire (struct timer *t, int64_t now) {
  (void)now;
  struct ctimer *ct = t->ud;        /* the heap's reference goes to 'due' */
  ct->next = due;
  due = ct;
  ndue++;
}

/* Disarm 'ct' and take its sent value out; tmu held. *unheld: a func
** timer's reference the heap no longer holds, for the caller to release
** once tmu is unlocked. */
static bool stop_locked (struct ctimer *ct, struct obj **unheld) {
  bool armed = ct->t.hidx != 0;
  if (armed) heap_remove(&ct->t);
  if (ct->c) return discard(ct->c, &ct->last, &ct->has) || armed;
  if (armed) *unheld = ct->holder;
  return armed;
}

static struct ctimer *ctimer_new (int64_t ns) {
  struct ctimer *ct = calloc(1, sizeof *ct);
  if (!ct) return NULL;
  ct->t.when = go_now() + (ns > 0 ? ns : 0);
  ct->t.fire = chan_fire;
  ct->t.ud = ct;
  return ct;
}

/* A new channel with a new timer for 'ns' from now, not armed yet. */
static struct chan *timerchan (int64_t ns) {
  struct chan *c = chan_new(1);
  struct ctimer *ct = ctimer_new(ns);
  if (!c || !ct) { free(ct); if (c) chan_release(c); return NULL; }
  ct->c = c;
  c->timer = ct;                    /* not shared yet */
  return c;
}

void ctimer_gone (struct ctimer *ct) {
  timer_stop(&ct->t);               /* waits for a fire running now */
  free(ct);
}

struct chan *timer_after (int64_t ns) {
  struct chan *c = timerchan(ns);
  if (c && timer_start(&c->timer->t) != GO_OK) { chan_release(c); c = NULL; }
  return c;
}

static void gtimer_destroy (struct obj *o) {
  struct gtimer *g = (struct gtimer *)o;
  if (g->c) chan_release(g->c);     /* its ctimer goes with the channel */
  else {                            /* unarmed: the heap would hold 'g' */
    GOCHAN_ASSERT(g->ct->t.hidx == 0);
    g->ct->drop(g->ct->arg);
    free(g->ct);
  }
  free(g);
}

struct gtimer *gtimer_new (int64_t ns) {
  struct gtimer *g = malloc(sizeof *g);
  struct chan *c = g ? timerchan(ns) : NULL;
  if (!c) { free(g); return NULL; }
  obj_init(&g->hdr, OBJ_TIMER, gtimer_destroy, sizeof *g + sizeof *g->ct);
  g->c = c;
  g->ct = c->timer;
  if (timer_start(&g->ct->t) != GO_OK) { obj_release(&g->hdr); return NULL; }
  return g;
}

struct gtimer *gtimer_func (int64_t ns, void (*run) (void *arg),
                            void (*drop) (void *arg), void *arg) {
  struct gtimer *g = malloc(sizeof *g);
  struct ctimer *ct = g ? ctimer_new(ns) : NULL;
  if (!ct) { free(g); return NULL; }
  ct->t.fire = func_fire;
  ct->holder = &g->hdr;
  ct->run = run;
  ct->drop = drop;
  ct->arg = arg;
  obj_init(&g->hdr, OBJ_TIMER, gtimer_destroy, sizeof *g + sizeof *ct);
  g->c = NULL;
  g->ct = ct;
  obj_retain(&g->hdr);              /* the heap's */
  if (timer_start(&ct->t) != GO_OK) {
    obj_count(OBJ_TIMER, -1);       /* never was: 'arg' stays the caller's */
    free(ct); free(g);
    return NULL;
  }
  return g;
}

struct chan *gtimer_chan (struct gtimer *g) { return g->c; }

bool gtimer_stop (struct gtimer *g) {
  struct obj *unheld = NULL;
  pthread_mutex_lock(&tmu);
  bool active = stop_locked(g->ct, &unheld);
  pthread_mutex_unlock(&tmu);
  if (unheld) obj_release(unheld);  /* not the last: the caller holds 'g' */
  return active;
}

gostatus gtimer_reset (struct gtimer *g, int64_t ns, bool *active) {
  struct ctimer *ct = g->ct;
  pthread_once(&tcv_once, init_cv);
  pthread_mutex_lock(&tmu);
  if (ct->t.hidx == 0 && !heap_reserve()) {
    pthread_mutex_unlock(&tmu);
    return GO_NOMEM;                /* nothing changed */
  }
  struct obj *unheld = NULL;
  *active = stop_locked(ct, &unheld);
  ct->t.when = go_now() + (ns > 0 ? ns : 0);
  gostatus st = arm(&ct->t);        /* room reserved: only the thread may fail */
  if (st == GO_OK && ct->holder) {  /* the heap holds it again */
    if (unheld) unheld = NULL;
    else obj_retain(ct->holder);
  }
  pthread_mutex_unlock(&tmu);
  if (unheld) obj_release(unheld);
  return st;
}

/* ---- ticker ---- */

struct ticker {
  struct obj hdr;
  struct timer t;             /* not a reference: destroy stops it */
  struct chan *c;             /* one reference; fixed at creation */
  double last;                /* tmu: the last tick sent on 'c' ('has': */
  bool has;                   /* it may still be in the buffer) */
};

static void tick (struct timer *t, int64_t now) {
  struct ticker *tk = t->ud;
  send_now(tk->c, now, &tk->last, &tk->has);
}

static void ticker_destroy (struct obj *o) {
  struct ticker *tk = (struct ticker *)o;
  timer_stop(&tk->t);
  chan_release(tk->c);
  free(tk);
}

struct ticker *ticker_new (int64_t period) {
  if (period <= 0) return NULL;
  struct ticker *tk = malloc(sizeof *tk);
  struct chan *c = chan_new(1);
  if (!tk || !c) { free(tk); if (c) chan_release(c); return NULL; }
  obj_init(&tk->hdr, OBJ_TICKER, ticker_destroy, sizeof *tk);
  tk->c = c;
  tk->has = false;
  tk->t.period = period;
  tk->t.when = go_now() + period;
  tk->t.fire = tick;
  tk->t.ud = tk;
  tk->t.hidx = 0;
  if (timer_start(&tk->t) != GO_OK) {
    chan_release(c); free(tk);
    return NULL;
  }
  return tk;
}

struct chan *ticker_chan (struct ticker *tk) { return tk->c; }
void ticker_stop (struct ticker *tk) { timer_stop(&tk->t); }

gostatus ticker_reset (struct ticker *tk, int64_t period) {
  pthread_once(&tcv_once, init_cv);
  pthread_mutex_lock(&tmu);
  if (tk->t.hidx == 0 && !heap_reserve()) {
    pthread_mutex_unlock(&tmu);
    return GO_NOMEM;                /* nothing changed */
  }
  if (tk->t.hidx != 0) heap_remove(&tk->t);
  discard(tk->c, &tk->last, &tk->has);   /* a stale tick */
  tk->t.period = period;
  tk->t.when = go_now() + period;
  gostatus st = arm(&tk->t);
  pthread_mutex_unlock(&tmu);
  return st;
}

/* ---- sleep and shutdown ---- */

gostatus go_sleep_until (int64_t deadline) {
  if (deadline == GO_NOW) return GO_OK;
  struct op op;
  op_init(&op);
  op_park(&op, deadline);     /* nothing fires it: only a cancel ends it */
  return op.result == GO_TIMEOUT ? GO_OK : op.result;
}

void timer_shutdown (void) {
  pthread_mutex_lock(&tmu);
  if (!thread_running) { pthread_mutex_unlock(&tmu); return; }
  stopping = true;
  pthread_cond_signal(&tcv);
  pthread_mutex_unlock(&tmu);
  pthread_join(tthread, NULL);
  pthread_mutex_lock(&tmu);
  /* Disarm everything. Every timer belongs to its owner, who may still
  ** stop it (a no-op now); the heap's references to func timers, and
  ** those of 'due', are released without calling their functions. */
  struct ctimer *held = due;
  due = NULL;
  ndue = 0;
  while (hlen > 0) {
    struct timer *t = heap[hlen - 1];
    heap_remove(t);
    if (t->fire == func_fire) {
      struct ctimer *ct = t->ud;
      ct->next = held; held = ct;
    }
  }
  free(heap);
  heap = NULL; hcap = 0;
  thread_running = false;
  stopping = false;
  pthread_mutex_unlock(&tmu);
  while (held) {
    struct ctimer *next = held->next;
    obj_release(held->holder);
    held = next;
  }
}
