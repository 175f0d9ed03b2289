/*
** trace.c: the recorder of trace.h: per-thread buffers, their handshake
** with trace_stop, full buffers spilled to a temporary file, and the merge
** in time order that feeds the JSON writer (tracejson.c).
**
** Buffers ('struct tslot'). A worker appends to a buffer of its own,
** registered at its first slice of a trace; any other thread (the main
** state, a host thread, the timer thread) appends to 'shared' under 'shmu'.
** A buffer's events are in time order: an own buffer has one writer, and
** the shared one reads the clock under its lock. A full buffer is written
** at the end of the temporary file (pwrite at an offset reserved with one
** atomic add: no lock) and reused; it remembers where its full buffers
** went, in order. So every event is kept, and the memory a trace holds is
** one buffer per thread, whatever its length.
**
** The handshake. An owner appends between 'busy' = 1 and 'busy' = 0 and
** only if 'trace_on' is still set after busy = 1 (both seq_cst).
** trace_stop clears 'trace_on', then waits for each buffer's 'busy' to be
** 0: of an owner's store of busy and the stopper's load of it, one comes
** first, so either the stopper waits for that append or the owner sees
** trace_on clear and appends nothing. After that the stopper owns every
** buffer until the next trace_start sets trace_on (seq_cst: an owner that
** sees it set sees the buffers as the stopper left them, emptied).
*/
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "scheduler.h"
#include "trace.h"

#define CHUNK 4096                  /* events per buffer (160 KB) */
#define TLS_IE __attribute__((tls_model("initial-exec")))

struct tslot {
  struct tslot *next;               /* the registry: guarded by regmu */
  atomic_int busy;                  /* its owner is appending (above) */
  /* the owner's while it is busy and a trace records; the stopper's
  ** between trace_stop and the next trace_start */
  size_t n;                         /* events in buf */
  off_t *spills;                    /* where its full buffers went */
  size_t nspill, capspill;
  struct tev buf[CHUNK];
};

/* A copy of a task's name (EV_NAME points into it), freed after the
** writer. Pushed by any recorder (a CAS on 'names'), taken by the stopper. */
struct tname { struct tname *next; char s[]; };

atomic_bool trace_on;

/* 'ctlmu' guards every field of the session: held by trace_start and
** trace_stop throughout, so they never overlap. A recorder reads 'spillfd'
** only while it appends (trace_on seen set: they were written before). */
static pthread_mutex_t ctlmu = PTHREAD_MUTEX_INITIALIZER;
static FILE *out;                   /* the JSON file; NULL: no trace */
static FILE *spillf;                /* the temporary file */
static int spillfd;
static int64_t t0;                  /* go_now() at trace_start */
static atomic_llong spilloff;       /* the end of the temporary file */
static atomic_int spillerr;         /* first errno of a spill, or 0 */
static _Atomic(struct tname *) names;

static pthread_mutex_t regmu = PTHREAD_MUTEX_INITIALIZER;
static struct tslot *slots;         /* every own buffer; guarded by regmu */
static _Thread_local TLS_IE struct tslot *self_slot;

static pthread_mutex_t shmu = PTHREAD_MUTEX_INITIALIZER;
static struct tslot shared;         /* guarded by shmu ('busy' unused) */

static void spill_failed (int err) {
  int none = 0;
  atomic_compare_exchange_strong(&spillerr, &none, err);
}

/* Write the full buffer 's' to the temporary file and empty it. */
static void spill (struct tslot *s) {
  size_t bytes = sizeof s->buf;
  s->n = 0;
  if (s->nspill == s->capspill) {
    size_t cap = s->capspill ? 2 * s->capspill : 16;
    off_t *p = realloc(s->spills, cap * sizeof *p);
    if (!p) { spill_failed(ENOMEM); return; }
    s->spills = p;
    s->capspill = cap;
  }
  off_t off = (off_t)atomic_fetch_add(&spilloff, (long long)bytes);
  const char *p = (const char *)s->buf;
  for (size_t done = 0; done < bytes; ) {
    ssize_t k = pwrite(spillfd, p + done, bytes - done, off + (off_t)done);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) { spill_failed(k < 0 ? errno : EIO); return; }
    done += (size_t)k;
  }
  s->spills[s->nspill++] = off;
}

/* Append one event to 's' (its owner busy, or shmu held, a trace on).
** 'name': copied for an EV_NAME event. */
static void put (struct tslot *s, int64_t ts, int kind, int worker,
                 uint64_t task, uint64_t arg, const char *what, bool handoff,
                 const char *name) {
  if (name) {
    size_t len = strlen(name);
    struct tname *nm = malloc(sizeof *nm + len + 1);
    if (!nm) return;                /* the task keeps its number */
    memcpy(nm->s, name, len + 1);
    nm->next = atomic_load(&names);
    while (!atomic_compare_exchange_weak(&names, &nm->next, nm))
      ;
    what = nm->s;
  }
  struct tev *e = &s->buf[s->n++];
  e->ts = ts;
  e->task = task;
  e->arg = arg;
  e->what = what;
  e->worker = worker;
  e->kind = (uint8_t)kind;
  e->handoff = handoff;
  if (s->n == CHUNK) spill(s);
}

static void record (int kind, int worker, uint64_t task, uint64_t arg,
                    const char *what, bool handoff, const char *name) {
  struct tslot *s = self_slot;
  if (s) {
    atomic_store(&s->busy, 1);
    if (atomic_load(&trace_on))
      put(s, go_now(), kind, worker, task, arg, what, handoff, name);
    atomic_store_explicit(&s->busy, 0, memory_order_release);
    return;
  }
  pthread_mutex_lock(&shmu);
  if (atomic_load(&trace_on))
    put(&shared, go_now(), kind, worker, task, arg, what, handoff, name);
  pthread_mutex_unlock(&shmu);
}

/* ---------------------------------------------------------------- */
/* the hooks                                                          */

void trace_slice_start (int worker, struct task *t) {
  if (!self_slot) {                 /* a worker's first slice: its buffer */
    struct tslot *s = calloc(1, sizeof *s);
    if (s) {                        /* else it shares the locked one */
      pthread_mutex_lock(&regmu);
      s->next = slots;
      slots = s;
      pthread_mutex_unlock(&regmu);
      self_slot = s;
    }
  }
  record(EV_START, worker, t->id, 0, NULL, false, NULL);
}

void trace_slice_end (int worker, struct task *t, int r) {
  record(EV_STOP, worker, t->id, (uint64_t)r,
         r == RUN_PARK ? t->op.what : NULL, false, NULL);
}

void trace_wake (struct op *op) {
  struct task *t = op->owner, *by = sched_current();
  record(EV_WAKE, -1, t->id, by ? by->id : 0, op->what,
         atomic_load_explicit(&op->state, memory_order_relaxed) == OP_FIRED,
         NULL);
}

void trace_spawn (struct task *t) {
  if (t->name) record(EV_NAME, -1, t->id, 0, NULL, false, t->name);
  record(EV_SPAWN, -1, t->id, 0, NULL, false, NULL);
}

void trace_end (struct task *t, int status) {
  record(EV_END, -1, t->id, (uint64_t)status, NULL, false, NULL);
}

/* A thread's park is known by its op's address: unique while it parks.
** A task's slice that parks is recorded too (arg 1), so that the writer
** drops a wake-up recorded before that park instead of keeping it for a
** later op at the same address. */
void trace_thread_park (struct op *op, bool parking) {
  bool intask = sched_current() != NULL;
  if (intask && !parking) return;
  const char *what = sched_blocking_what();
  record(parking ? EV_TPARK : EV_TRESUME, -1, (uint64_t)(uintptr_t)op,
         intask, what ? what : op->what, false, NULL);
}

/* Only a task's hand-off is drawn: another thread is main's row too. */
void trace_thread_wake (struct op *op) {
  struct task *by = sched_current();
  if (by && atomic_load_explicit(&op->state, memory_order_relaxed)
            == OP_FIRED)
    record(EV_TWAKE, -1, (uint64_t)(uintptr_t)op, by->id, NULL, true, NULL);
}

/* ---------------------------------------------------------------- */
/* the merge                                                          */

/* One buffer's events, read in order: its spilled buffers, then what it
** holds. 'cur' points at slot->buf or at 'chunk' (a spilled one read). */
struct stream {
  struct tslot *slot;
  size_t next;                      /* the next spilled buffer to read */
  const struct tev *cur;
  size_t pos, len;
  struct tev *chunk;
};

struct merge {
  struct stream *st;
  size_t n;
  int err;                          /* errno of a failed read, or 0 */
};

/* Load the next part of stream 'st' (a read error is noted in 'm'); false
** once there is none. */
static bool refill (struct merge *m, struct stream *st) {
  struct tslot *s = st->slot;
  while (st->next < s->nspill) {
    off_t off = s->spills[st->next++];
    size_t bytes = sizeof s->buf, done = 0;
    char *p = (char *)st->chunk;
    while (done < bytes) {
      ssize_t k = pread(spillfd, p + done, bytes - done, off + (off_t)done);
      if (k < 0 && errno == EINTR) continue;
      if (k <= 0) break;
      done += (size_t)k;
    }
    if (done < bytes) { m->err = errno ? errno : EIO; continue; }
    st->cur = st->chunk;
    st->pos = 0;
    st->len = CHUNK;
    return true;
  }
  if (st->next == s->nspill && s->n > 0 && st->cur != s->buf) {
    st->cur = s->buf;
    st->pos = 0;
    st->len = s->n;
    return true;
  }
  st->len = st->pos = 0;
  return false;
}

static bool merge_next (void *ud, struct tev *e) {
  struct merge *m = ud;
  struct stream *best = NULL;
  for (size_t i = 0; i < m->n; i++) {
    struct stream *st = &m->st[i];
    if (st->pos == st->len) continue;
    if (!best || st->cur[st->pos].ts < best->cur[best->pos].ts) best = st;
  }
  if (!best) return false;
  *e = best->cur[best->pos++];
  if (best->pos == best->len) refill(m, best);
  return true;
}

/* Every buffer of 'list' (the registry) and the shared one that holds
** events, as a stream (stopper only). */
static int merge_open (struct merge *m, struct tslot *list) {
  size_t n = 1;
  for (struct tslot *s = list; s; s = s->next) n++;
  m->st = calloc(n, sizeof *m->st);
  m->n = 0;
  m->err = 0;
  if (!m->st) return TRACE_NOMEM;
  for (struct tslot *s = list; ; s = s->next) {
    struct tslot *slot = s ? s : &shared;
    if (slot->n > 0 || slot->nspill > 0) {
      struct stream *st = &m->st[m->n++];
      st->slot = slot;
      if (slot->nspill > 0 && !(st->chunk = malloc(sizeof slot->buf)))
        return TRACE_NOMEM;
      refill(m, st);
    }
    if (!s) break;
  }
  return TRACE_OK;
}

static void merge_close (struct merge *m) {
  for (size_t i = 0; i < m->n; i++) free(m->st[i].chunk);
  free(m->st);
}

/* ---------------------------------------------------------------- */
/* start and stop                                                     */

static void empty (struct tslot *s) {
  s->n = 0;
  s->nspill = 0;
}

static void on_exit_hook (void) { trace_shutdown(); }
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;
static void register_exit (void) { atexit(on_exit_hook); }

/* The live tasks as they are now, at 't0', in the shared buffer (ctlmu
** held; no trace records yet, so nothing else appends to it). */
static void record_live (void) {
  size_t n;
  struct task **ts = sched_snapshot(&n);
  pthread_mutex_lock(&shmu);
  for (size_t i = 0; i < n; i++) {
    struct task *t = ts[i];
    const char *what;
    const char *state = task_state(t, &what);
    int st = strcmp(state, "blocked") == 0 ? TS_BLOCKED
           : strcmp(state, "running") == 0 ? TS_RUNNING : TS_RUNNABLE;
    if (t->name) put(&shared, t0, EV_NAME, -1, t->id, 0, NULL, false, t->name);
    put(&shared, t0, EV_INIT, -1, t->id, (uint64_t)st, what, false, NULL);
  }
  pthread_mutex_unlock(&shmu);
  for (size_t i = 0; i < n; i++) obj_release(&ts[i]->hdr);
  free(ts);
}

int trace_start (const char *path, int *err) {
  pthread_mutex_lock(&ctlmu);
  if (out) { pthread_mutex_unlock(&ctlmu); return TRACE_STARTED; }
  FILE *f = fopen(path, "w");
  FILE *tmp = f ? tmpfile() : NULL;
  if (!tmp) {
    *err = errno;
    if (f) fclose(f);
    pthread_mutex_unlock(&ctlmu);
    return TRACE_IOERR;
  }
  pthread_once(&exit_once, register_exit);
  out = f;
  spillf = tmp;
  spillfd = fileno(tmp);
  atomic_store(&spilloff, 0);
  atomic_store(&spillerr, 0);
  t0 = go_now();
  record_live();
  atomic_store(&trace_on, true);
  pthread_mutex_unlock(&ctlmu);
  return TRACE_OK;
}

/* Stop the trace that records (ctlmu held, 'out' set) and write it. */
static int stop_locked (int *err) {
  atomic_store(&trace_on, false);
  /* Buffers are only ever added at the head: a buffer registered after
  ** this look is empty (its owner sees trace_on clear). */
  pthread_mutex_lock(&regmu);
  struct tslot *list = slots;
  for (struct tslot *s = list; s; s = s->next)
    for (int spins = 0; atomic_load(&s->busy); spins++)
      if (spins < 100) cpu_relax(); else sched_yield();
  pthread_mutex_unlock(&regmu);
  pthread_mutex_lock(&shmu);        /* an append in progress ends */
  pthread_mutex_unlock(&shmu);
  int64_t t1 = go_now();            /* after every event: spans end here */
  struct merge m;
  int rc = merge_open(&m, list);
  if (rc == TRACE_OK)
    rc = tracejson_write(out, t0, t1, sched_started() ? sched_workers() : 0,
                         merge_next, &m);
  int e = rc == TRACE_IOERR ? errno : 0;
  merge_close(&m);
  if (fclose(out) != 0 && rc == TRACE_OK) { rc = TRACE_IOERR; e = errno; }
  if (rc == TRACE_OK && (m.err || atomic_load(&spillerr))) {
    rc = TRACE_IOERR;               /* events were lost on the way */
    e = m.err ? m.err : atomic_load(&spillerr);
  }
  out = NULL;
  fclose(spillf);                   /* a tmpfile: removed */
  spillf = NULL;
  for (struct tslot *s = list; s; s = s->next) empty(s);
  empty(&shared);
  struct tname *nm = atomic_exchange(&names, NULL);
  while (nm) {
    struct tname *next = nm->next;
    free(nm);
    nm = next;
  }
  if (e == ENOMEM && rc == TRACE_IOERR) rc = TRACE_NOMEM;
  *err = e;
  return rc;
}

int trace_stop (int *err) {
  pthread_mutex_lock(&ctlmu);
  int rc = out ? stop_locked(err) : TRACE_NOTSTARTED;
  pthread_mutex_unlock(&ctlmu);
  return rc;
}

void trace_shutdown (void) {
  int err;
  pthread_mutex_lock(&ctlmu);
  if (out) stop_locked(&err);
  pthread_mutex_unlock(&ctlmu);
}
