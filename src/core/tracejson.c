/*
** tracejson.c: a trace's events, merged in time order (trace.c), written
** as Chrome Trace Event JSON: the spans each task spends running, blocked
** and runnable, each slice again on its worker's track, the waits of the
** main state (and host threads) on its track, tid 0, a flow arrow per
** hand-off, an instant per task end, and the names of the tracks. The
** format is the one tools/trace2html reads: keep the two in step.
*/
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "scheduler.h"
#include "trace.h"

#define MAXTRACK 1024               /* worker tracks, at most */
#define OUTBUF 65536                /* bytes written to the file at once */

enum { ST_NONE, ST_RUNNABLE, ST_BLOCKED, ST_RUNNING };

/* What the writer knows of one task: its open span and a pending
** hand-off. Made at its first event, dropped once it has ended. */
struct tstate {
  uint64_t id;
  struct tstate *hnext;             /* its hash chain */
  int64_t since;                    /* start of its open span (ns since t0) */
  const char *what;                 /* blocked: on what */
  int64_t wake_ts;                  /* the pending hand-off's time */
  uint64_t waker;                   /* and its waker (0: main) */
  int worker;                       /* running: on which (-1: unknown) */
  uint8_t state;                    /* ST_* */
  bool woke_early;                  /* woken before its park was recorded */
  bool flow;                        /* a hand-off to draw at its next slice */
};

/* A thread that parks (the main state, a host thread: drawn as main, tid
** 0), known by its op: made at its park or at a hand-off to it recorded
** first, dropped when it resumes. */
struct tpark {
  struct tpark *next;
  uint64_t op;                      /* the op's address */
  int64_t since;                    /* its park (ns since t0) */
  const char *what;
  int64_t wake_ts;                  /* the hand-off to it, if 'flow' */
  uint64_t waker;
  bool parked;                      /* its park was seen */
  bool flow;
};

struct writer {
  FILE *f;
  int64_t t0;
  bool first;                       /* no event written yet */
  bool main_used;                   /* main (tid 0) woke a task */
  uint64_t flows;                   /* flow ids given */
  struct tstate **bucket;
  size_t nbucket, count;
  struct tpark *parks;              /* threads parked, a few */
  bool nomem;
  unsigned char seen[MAXTRACK];     /* workers that ran a slice */
  size_t len;                       /* bytes in 'out', not yet written */
  char out[OUTBUF + 64];            /* room for one item past OUTBUF */
};

/* ---------------------------------------------------------------- */
/* output: into w->out, written to the file whenever it is nearly full
** (no printf: the writer spends its time here) */

static void flush (struct writer *w) {
  if (w->len > 0) fwrite(w->out, 1, w->len, w->f);
  w->len = 0;
}

static void putch (struct writer *w, char c) {
  w->out[w->len++] = c;
  if (w->len >= OUTBUF) flush(w);
}

static void put (struct writer *w, const char *s) {
  size_t n = strlen(s);
  if (w->len + n > OUTBUF) flush(w);
  if (n > OUTBUF) { fwrite(s, 1, n, w->f); return; }
  memcpy(w->out + w->len, s, n);
  w->len += n;
}

static void putu (struct writer *w, uint64_t v) {
  char d[24];
  int i = 0;
  do { d[i++] = (char)('0' + v % 10); v /= 10; } while (v);
  if (w->len + 24 > OUTBUF) flush(w);
  while (i > 0) w->out[w->len++] = d[--i];
}

/* The separator before an event: none before the first. */
static void sep (struct writer *w) {
  put(w, w->first ? "\n" : ",\n");
  w->first = false;
}

/* Nanoseconds as microseconds with three decimals. */
static void us (struct writer *w, int64_t ns) {
  if (ns < 0) ns = 0;
  putu(w, (uint64_t)ns / 1000);
  int r = (int)(ns % 1000);
  putch(w, '.');
  putch(w, (char)('0' + r / 100));
  putch(w, (char)('0' + r / 10 % 10));
  putch(w, (char)('0' + r % 10));
}

/* The length of the valid UTF-8 sequence at 'p', or 0 (a stray byte). */
static int utf8len (const unsigned char *p) {
  int n = p[0] < 0xC2 ? 0 : p[0] < 0xE0 ? 2 : p[0] < 0xF0 ? 3
        : p[0] < 0xF5 ? 4 : 0;
  for (int i = 1; i < n; i++)       /* stops at the terminating zero */
    if ((p[i] & 0xC0) != 0x80) return 0;
  if (n == 3 && ((p[0] == 0xE0 && p[1] < 0xA0) ||
                 (p[0] == 0xED && p[1] > 0x9F)))
    return 0;                       /* overlong, or a surrogate */
  if (n == 4 && ((p[0] == 0xF0 && p[1] < 0x90) ||
                 (p[0] == 0xF4 && p[1] > 0x8F)))
    return 0;                       /* overlong, or past U+10FFFF */
  return n;
}

/* 's' as a JSON string: escaped, and valid UTF-8 (a byte that is not
** part of a valid sequence, as a name may hold, becomes U+FFFD). */
static void jstr (struct writer *w, const char *s) {
  static const char hex[] = "0123456789abcdef";
  putch(w, '"');
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\') { putch(w, '\\'); putch(w, (char)*p); }
    else if (*p < 0x20) {
      put(w, "\\u00");
      putch(w, hex[*p >> 4]);
      putch(w, hex[*p & 15]);
    }
    else if (*p < 0x80) putch(w, (char)*p);
    else {
      int n = utf8len(p);
      if (n == 0) put(w, "\\ufffd");
      for (int i = 0; i < n; i++) putch(w, (char)p[i]);
      if (n > 0) p += n - 1;
    }
  }
  putch(w, '"');
}

/* ts and dur of a span */
static void tsdur (struct writer *w, int64_t from, int64_t dur) {
  put(w, ",\"ts\":");
  us(w, from);
  put(w, ",\"dur\":");
  us(w, dur);
}

static void meta (struct writer *w, int pid, uint64_t tid, const char *name) {
  sep(w);
  put(w, pid == 1 ? "{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":1,\"tid\":"
                  : "{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":2,\"tid\":");
  putu(w, tid);
  put(w, ",\"args\":{\"name\":");
  jstr(w, name);
  put(w, "}}");
}

/* A span of a task: running (on 'worker', also on its track), blocked
** (on 'what') or runnable. */
static void span (struct writer *w, struct tstate *t, int state,
                  int64_t to, int worker) {
  int64_t from = t->since, dur = to - from;
  if (dur < 0) dur = 0;
  static const char *const heads[] = {
    [ST_RUNNABLE] = "{\"ph\":\"X\",\"cat\":\"task\",\"name\":\"runnable\","
                    "\"pid\":2,\"tid\":",
    [ST_BLOCKED] = "{\"ph\":\"X\",\"cat\":\"task\",\"name\":\"blocked\","
                   "\"pid\":2,\"tid\":",
    [ST_RUNNING] = "{\"ph\":\"X\",\"cat\":\"task\",\"name\":\"running\","
                   "\"pid\":2,\"tid\":"
  };
  if (state == ST_BLOCKED && dur == 0) return;    /* woken as it parked */
  sep(w);
  put(w, heads[state]);
  putu(w, t->id);
  tsdur(w, from, dur);
  if (state == ST_RUNNING && worker >= 0) {
    put(w, ",\"args\":{\"worker\":");
    putu(w, (uint64_t)worker + 1);
    putch(w, '}');
  }
  else if (state == ST_BLOCKED) {
    put(w, ",\"args\":{\"waiting\":");
    jstr(w, t->what ? t->what : "?");
    putch(w, '}');
  }
  putch(w, '}');
  if (state == ST_RUNNING && worker >= 0) {
    sep(w);
    put(w, "{\"ph\":\"X\",\"cat\":\"worker\",\"name\":\"task #");
    putu(w, t->id);
    put(w, "\",\"pid\":1,\"tid\":");
    putu(w, (uint64_t)worker + 1);
    tsdur(w, from, dur);
    putch(w, '}');
    if (worker < MAXTRACK) w->seen[worker] = 1;
  }
}

/* The arrow of a hand-off: from 'waker' at the wake-up 'wake_ts' to the
** woken 'tid' at 'at', the start of its next slice (main: its resume). */
static void flow (struct writer *w, uint64_t waker, int64_t wake_ts,
                  uint64_t tid, int64_t at) {
  uint64_t id = ++w->flows;
  sep(w);
  put(w, "{\"ph\":\"s\",\"cat\":\"handoff\",\"name\":\"handoff\",\"id\":");
  putu(w, id);
  put(w, ",\"pid\":2,\"tid\":");
  putu(w, waker);
  put(w, ",\"ts\":");
  us(w, wake_ts);
  putch(w, '}');
  sep(w);
  put(w, "{\"ph\":\"f\",\"bp\":\"e\",\"cat\":\"handoff\",\"name\":\"handoff\","
         "\"id\":");
  putu(w, id);
  put(w, ",\"pid\":2,\"tid\":");
  putu(w, tid);
  put(w, ",\"ts\":");
  us(w, at);
  putch(w, '}');
  if (waker == 0 || tid == 0) w->main_used = true;
}

static void endmark (struct writer *w, uint64_t id, int64_t at, int status) {
  sep(w);
  put(w, "{\"ph\":\"i\",\"s\":\"t\",\"cat\":\"task\",\"name\":\"end\","
         "\"pid\":2,\"tid\":");
  putu(w, id);
  put(w, ",\"ts\":");
  us(w, at);
  put(w, status == TASK_DONE ? ",\"args\":{\"status\":\"done\"}}"
       : status == TASK_CANCELED ? ",\"args\":{\"status\":\"canceled\"}}"
       : ",\"args\":{\"status\":\"failed\"}}");
}

/* Close the open span of 't' at 'at' (a running one on its worker). */
static void close_span (struct writer *w, struct tstate *t, int64_t at) {
  if (t->state != ST_NONE) span(w, t, t->state, at, t->worker);
  t->state = ST_NONE;
}

/* ---------------------------------------------------------------- */
/* the tasks' states                                                  */

static size_t hash (uint64_t id, size_t n) {
  return (size_t)((id * UINT64_C(0x9E3779B97F4A7C15)) >> 20) & (n - 1);
}

static void grow (struct writer *w) {
  size_t n = w->nbucket ? 2 * w->nbucket : 1024;
  struct tstate **b = calloc(n, sizeof *b);
  if (!b) return;                   /* longer chains, still correct */
  for (size_t i = 0; i < w->nbucket; i++)
    for (struct tstate *t = w->bucket[i], *next; t; t = next) {
      next = t->hnext;
      size_t h = hash(t->id, n);
      t->hnext = b[h];
      b[h] = t;
    }
  free(w->bucket);
  w->bucket = b;
  w->nbucket = n;
}

/* The state of task 'id'; made (and its track named) at its first event,
** whose name is 'name' for an EV_NAME. NULL: no memory. */
static struct tstate *task (struct writer *w, uint64_t id, const char *name) {
  if (w->nbucket) {
    for (struct tstate *t = w->bucket[hash(id, w->nbucket)]; t; t = t->hnext)
      if (t->id == id) return t;
  }
  if (w->count >= w->nbucket) grow(w);
  struct tstate *t = calloc(1, sizeof *t);
  if (!t || !w->nbucket) { free(t); w->nomem = true; return NULL; }
  t->id = id;
  t->worker = -1;
  size_t h = hash(id, w->nbucket);
  t->hnext = w->bucket[h];
  w->bucket[h] = t;
  w->count++;
  char buf[64];
  size_t len = name ? strlen(name) + 32 : 0;
  char *s = len > sizeof buf ? malloc(len) : buf;
  if (!s) { s = buf; name = NULL; w->nomem = true; }
  if (name) snprintf(s, len > sizeof buf ? len : sizeof buf,
                     "task #%" PRIu64 " %s", id, name);
  else snprintf(s, sizeof buf, "task #%" PRIu64, id);
  meta(w, 2, id, s);
  if (s != buf) free(s);
  return t;
}

static void forget (struct writer *w, struct tstate *t) {
  struct tstate **p = &w->bucket[hash(t->id, w->nbucket)];
  while (*p != t) p = &(*p)->hnext;
  *p = t->hnext;
  w->count--;
  free(t);
}

/* A blocked span of main, tid 0 (a thread parked on 'what'). */
static void main_span (struct writer *w, int64_t from, int64_t to,
                       const char *what) {
  if (to <= from) return;           /* woken as it parked */
  sep(w);
  put(w, "{\"ph\":\"X\",\"cat\":\"task\",\"name\":\"blocked\","
         "\"pid\":2,\"tid\":0");
  tsdur(w, from, to - from);
  put(w, ",\"args\":{\"waiting\":");
  jstr(w, what ? what : "?");
  put(w, "}}");
  w->main_used = true;
}

/* The park of the thread on op 'op': found, or made (NULL: no memory). */
static struct tpark *tpark (struct writer *w, uint64_t op, bool make) {
  for (struct tpark *p = w->parks; p; p = p->next)
    if (p->op == op) return p;
  if (!make) return NULL;
  struct tpark *p = calloc(1, sizeof *p);
  if (!p) { w->nomem = true; return NULL; }
  p->op = op;
  p->next = w->parks;
  w->parks = p;
  return p;
}

static void tpark_drop (struct writer *w, struct tpark *p) {
  struct tpark **q = &w->parks;
  while (*q != p) q = &(*q)->next;
  *q = p->next;
  free(p);
}

/* An event of a thread's op, at 'at': main's blocked spans and the
** hand-offs to it. */
static void thread_step (struct writer *w, const struct tev *e, int64_t at) {
  struct tpark *p = tpark(w, e->task, e->kind != EV_TRESUME);
  switch (e->kind) {
    case EV_TPARK:
      if (!p) break;
      if (e->arg) { tpark_drop(w, p); break; }   /* a task's slice */
      p->parked = true;
      p->since = at;
      p->what = e->what;
      break;
    case EV_TWAKE:                  /* before or after its park */
      if (!p) break;
      p->flow = true;
      p->waker = e->arg;
      p->wake_ts = at;
      break;
    default:                        /* EV_TRESUME */
      main_span(w, p && p->parked ? p->since : 0, at, e->what);
      if (p && p->flow) flow(w, p->waker, p->wake_ts, 0, at);
      if (p) tpark_drop(w, p);
      w->main_used = true;
      break;
  }
}

/* One event, in time order: the state machine of its task. */
static void step (struct writer *w, const struct tev *e) {
  int64_t at = e->ts - w->t0;
  if (at < 0) at = 0;
  if (e->kind >= EV_TPARK) { thread_step(w, e, at); return; }
  struct tstate *t = task(w, e->task, e->kind == EV_NAME ? e->what : NULL);
  if (!t) return;
  switch (e->kind) {
    case EV_INIT:                   /* as it was when the trace started */
      if (t->state != ST_NONE) break;
      t->state = e->arg == TS_BLOCKED ? ST_BLOCKED
               : e->arg == TS_RUNNING ? ST_RUNNING : ST_RUNNABLE;
      t->since = at;
      t->what = e->what;
      break;
    case EV_SPAWN:
      t->state = ST_RUNNABLE;
      t->since = at;
      break;
    case EV_START:
      close_span(w, t, at);
      if (t->flow) flow(w, t->waker, t->wake_ts, t->id, at);
      t->flow = false;
      t->state = ST_RUNNING;
      t->since = at;
      t->worker = e->worker;
      t->woke_early = false;
      break;
    case EV_STOP:
      if (t->state == ST_NONE) {    /* running when the trace started */
        t->state = ST_RUNNING;
        t->since = 0;
      }
      if (t->state == ST_RUNNING) t->worker = e->worker;
      close_span(w, t, at);
      t->since = at;
      if (e->arg == RUN_DONE) { forget(w, t); break; }
      if (e->arg == RUN_PARK && !t->woke_early) {
        t->state = ST_BLOCKED;
        t->what = e->what;
      }
      else t->state = ST_RUNNABLE;
      t->woke_early = false;
      break;
    case EV_WAKE:
      if (t->state == ST_NONE) {    /* blocked when the trace started */
        t->state = ST_BLOCKED;
        t->since = 0;
        t->what = e->what;
      }
      if (t->state == ST_BLOCKED) {
        close_span(w, t, at);
        t->state = ST_RUNNABLE;
        t->since = at;
      }
      else if (t->state == ST_RUNNING) t->woke_early = true;
      if (e->handoff) {
        t->flow = true;
        t->waker = e->arg;
        t->wake_ts = at;
      }
      break;
    case EV_END:
      endmark(w, t->id, at, (int)e->arg);
      if (t->state != ST_RUNNING) {   /* dropped, or never ran */
        close_span(w, t, at);
        forget(w, t);
      }
      break;
    default: break;                 /* EV_NAME: named by task() */
  }
}

int tracejson_write (FILE *f, int64_t t0, int64_t t1, int nworkers,
                     trace_next_fn next, void *ud) {
  struct writer *w = calloc(1, sizeof *w);
  if (!w) return TRACE_NOMEM;
  w->f = f;
  w->t0 = t0;
  w->first = true;
  put(w, "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[");
  sep(w);
  put(w, "{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":1,"
         "\"args\":{\"name\":\"gochan workers\"}}");
  sep(w);
  put(w, "{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":2,"
         "\"args\":{\"name\":\"gochan tasks\"}}");
  struct tev e;
  while (next(ud, &e)) step(w, &e);
  int64_t end = t1 - t0;
  for (size_t i = 0; i < w->nbucket; i++)   /* spans still open */
    for (struct tstate *t = w->bucket[i], *nx; t; t = nx) {
      nx = t->hnext;
      close_span(w, t, end);
      free(t);
    }
  free(w->bucket);
  while (w->parks) {                /* threads still parked */
    struct tpark *p = w->parks;
    if (p->parked) main_span(w, p->since, end, p->what);
    tpark_drop(w, p);
  }
  int top = nworkers < MAXTRACK ? nworkers : MAXTRACK;
  for (int i = 0; i < MAXTRACK; i++)
    if (i < top || w->seen[i]) {
      char s[32];
      snprintf(s, sizeof s, "worker %d", i + 1);
      meta(w, 1, (uint64_t)i + 1, s);
    }
  if (w->main_used) meta(w, 2, 0, "main");
  put(w, "\n]}\n");
  flush(w);
  bool nomem = w->nomem;
  free(w);
  if (fflush(f) != 0 || ferror(f)) {
    if (!errno) errno = EIO;
    return TRACE_IOERR;
  }
  return nomem ? TRACE_NOMEM : TRACE_OK;
}
