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
#include "chan.h"
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

/* One-shot timers whose owner must be released outside 'tmu' (releasing
** a channel may destroy values that stop other timers). */
struct after { struct timer t; struct chan *c; struct after *next; };
static struct after *graveyard;         /* guarded by 'tmu' */

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

static gostatus heap_push (struct timer *t) {
  if (hlen == hcap) {
    size_t ncap = hcap ? 2 * hcap : 64;
    struct timer **nh = realloc(heap, ncap * sizeof *nh);
    if (!nh) return GO_NOMEM;
    heap = nh; hcap = ncap;
  }
  place(hlen++, t);
  sift_up(hlen - 1);
  return GO_OK;
}

static void bury (void) {           /* tmu NOT held */
  pthread_mutex_lock(&tmu);
  struct after *a = graveyard;
  graveyard = NULL;
  pthread_mutex_unlock(&tmu);
  while (a) {
    struct after *next = a->next;
    chan_release(a->c);
    free(a);
    a = next;
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
    if (graveyard) {
      pthread_mutex_unlock(&tmu);
      bury();
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

gostatus timer_start (struct timer *t) {
  pthread_once(&tcv_once, init_cv);
  pthread_mutex_lock(&tmu);
  GOCHAN_ASSERT(t->hidx == 0);
  gostatus st = ensure_thread();
  if (st == GO_OK) st = heap_push(t);
  if (st == GO_OK && t->when < wake_at)     /* due before the thread wakes */
    pthread_cond_signal(&tcv);
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
  size_t n = hlen;
  pthread_mutex_unlock(&tmu);
  return n;
}

/* ---- after ---- */

static void send_now (struct chan *c, int64_t now) {
  struct tvalue v;
  tvalue_setfloat(&v, (double)now / 1e9);
  chan_send(c, &v, GO_NOW);   /* full (someone else sent): drop, as Go */
}

static void after_fire (struct timer *t, int64_t now) {
  struct after *a = t->ud;
  send_now(a->c, now);
  a->next = graveyard;        /* released by the thread outside tmu */
  graveyard = a;
}

struct chan *timer_after (int64_t ns) {
  struct after *a = malloc(sizeof *a);
  struct chan *c = chan_new(1);
  if (!a || !c) { free(a); if (c) chan_release(c); return NULL; }
  chan_retain(c);                         /* one for the timer */
  a->c = c;
  a->next = NULL;
  a->t.when = go_now() + (ns > 0 ? ns : 0);
  a->t.period = 0;
  a->t.fire = after_fire;
  a->t.ud = a;
  a->t.hidx = 0;
  if (timer_start(&a->t) != GO_OK) {
    chan_release(c); chan_release(c); free(a);
    return NULL;
  }
  return c;
}

/* ---- ticker ---- */

struct ticker {
  struct obj hdr;
  struct timer t;             /* not a reference: destroy stops it */
  struct chan *c;
};

static void tick (struct timer *t, int64_t now) {
  send_now(((struct ticker *)t->ud)->c, now);
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
  /* Disarm everything. 'after' timers are owned by the heap: free them;
  ** tickers and task timers belong to their owners, who may still call
  ** timer_stop (a no-op now). */
  while (hlen > 0) {
    struct timer *t = heap[hlen - 1];
    heap_remove(t);
    if (t->fire == after_fire) {
      struct after *a = t->ud;
      a->next = graveyard; graveyard = a;
    }
  }
  free(heap);
  heap = NULL; hcap = 0;
  thread_running = false;
  stopping = false;
  pthread_mutex_unlock(&tmu);
  bury();
}
