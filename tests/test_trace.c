/*
** test_trace.c: the trace recorder (trace.h) without Lua: its errors,
** buffers that fill many times over from several threads (no event lost),
** a trace stopped while threads record, and the trace of two scheduled
** tasks handing values to each other (a span per slice, an arrow per
** hand-off). The JSON is checked by counting its events' marks.
*/
#include "check.h"
#include <errno.h>
#include "chan.h"
#include "scheduler.h"
#include "select.h"
#include "trace.h"

static char path[96];

/* Each test writes its own file (kept when TRACE_KEEP is set). */
static void setpath (const char *test) {
  if (path[0] && !getenv("TRACE_KEEP")) remove(path);
  snprintf(path, sizeof path, "/tmp/gochan-test-trace-%ld-%s.json",
           (long)getpid(), test);
}

/* The trace file's text (NULL-terminated, malloc'd). */
static char *slurp (void) {
  FILE *f = fopen(path, "rb");
  CHECK(f != NULL);
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = malloc((size_t)n + 1);
  CHECK(s != NULL && fread(s, 1, (size_t)n, f) == (size_t)n);
  s[n] = '\0';
  fclose(f);
  return s;
}

/* Occurrences of 'mark' in 's' (by hand: a sanitizer's strstr measures
** the whole text at every call). */
static long count (const char *s, const char *mark) {
  long n = 0;
  for (const char *p = s; *p; p++) {
    size_t i = 0;
    while (mark[i] && p[i] == mark[i]) i++;
    if (!mark[i]) { n++; p += i - 1; }
  }
  return n;
}

/* The whole-file shape every trace has: one object, one array. */
static void check_shape (const char *s) {
  const char *head = "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[";
  CHECK(strncmp(s, head, strlen(head)) == 0);
  size_t n = strlen(s);
  CHECK(n >= 4 && strcmp(s + n - 3, "]}\n") == 0);
  CHECK_EQ_INT(count(s, "{"), count(s, "}"));
}

static void test_errors (void) {
  setpath("errors");
  int err = 0;
  CHECK_EQ_INT(trace_stop(&err), TRACE_NOTSTARTED);
  CHECK_EQ_INT(trace_start("/nonexistent-dir/t.json", &err), TRACE_IOERR);
  CHECK_EQ_INT(err, ENOENT);
  CHECK(!TRACE_ON());
  CHECK_EQ_INT(trace_start(path, &err), TRACE_OK);
  CHECK(TRACE_ON());
  CHECK_EQ_INT(trace_start(path, &err), TRACE_STARTED);
  CHECK_EQ_INT(trace_stop(&err), TRACE_OK);
  CHECK_EQ_INT(trace_stop(&err), TRACE_NOTSTARTED);
  char *s = slurp();
  if (s) { check_shape(s); free(s); }
}

/* Threads that each record 'n' slices of their own task, as a worker's
** loop would, while the main thread records spawns and ends. */
struct rec { struct task *t; int worker, n; atomic_bool *stop; atomic_long done; };

static void *recorder (void *arg) {
  struct rec *r = arg;
  for (int i = 0; r->stop ? !atomic_load(r->stop) : i < r->n; i++) {
    trace_slice_start(r->worker, r->t);
    trace_slice_end(r->worker, r->t, RUN_YIELD);
    atomic_fetch_add(&r->done, 1);
  }
  return NULL;
}

static void test_many_events (void) {
  setpath("many_events");
  enum { THREADS = 3 };
  int n = CHECK_TSAN ? 6000 : 30000;        /* > 4096 events per buffer */
  int ends = 10000;
  pthread_t th[THREADS];
  struct rec r[THREADS];
  int err = 0;
  CHECK_EQ_INT(trace_start(path, &err), TRACE_OK);
  for (int i = 0; i < THREADS; i++) {
    r[i] = (struct rec){ .t = task_new(NULL), .worker = i, .n = n };
    CHECK_SPAWN(&th[i], recorder, &r[i]);
  }
  struct task *other = task_new(NULL);
  for (int i = 0; i < ends; i++) trace_end(other, TASK_DONE);
  for (int i = 0; i < THREADS; i++) CHECK_JOIN(th[i]);
  CHECK_EQ_INT(trace_stop(&err), TRACE_OK);
  char *s = slurp();
  if (s) {
    check_shape(s);
    CHECK_EQ_INT(count(s, "\"cat\":\"worker\""), (long)THREADS * n);
    CHECK_EQ_INT(count(s, "\"name\":\"running\""), (long)THREADS * n);
    CHECK_EQ_INT(count(s, "\"name\":\"end\""), ends);
    CHECK_EQ_INT(count(s, "\"name\":\"worker 3\""), 1);
    char name[64];
    snprintf(name, sizeof name, "\"name\":\"task #%llu\"",
             (unsigned long long)r[0].t->id);
    CHECK_EQ_INT(count(s, name), 1 + n);     /* its track, its slices */
    free(s);
  }
  for (int i = 0; i < THREADS; i++) obj_release(&r[i].t->hdr);
  obj_release(&other->hdr);
}

/* Traces start and stop while threads record without pause: every file
** is whole, and no slice is split between two of them. */
static void test_stop_while_recording (void) {
  setpath("stop_while_recording");
  enum { THREADS = 2 };
  atomic_bool stop = false;
  pthread_t th[THREADS];
  struct rec r[THREADS];
  for (int i = 0; i < THREADS; i++) {
    r[i] = (struct rec){ .t = task_new(NULL), .worker = i, .stop = &stop };
    CHECK_SPAWN(&th[i], recorder, &r[i]);
  }
  for (int k = 0; k < 5; k++) {
    int err = 0;
    CHECK_EQ_INT(trace_start(path, &err), TRACE_OK);
    long d0 = atomic_load(&r[0].done), d1 = atomic_load(&r[1].done);
    CHECK_UNTIL(atomic_load(&r[0].done) > d0 + 100 &&
                atomic_load(&r[1].done) > d1 + 100);
    CHECK_EQ_INT(trace_stop(&err), TRACE_OK);
    char *s = slurp();
    if (s) {
      check_shape(s);
      CHECK_GT_INT(count(s, "\"name\":\"running\""), 0);
      free(s);
    }
  }
  atomic_store(&stop, true);
  for (int i = 0; i < THREADS; i++) {
    CHECK_JOIN(th[i]);
    obj_release(&r[i].t->hdr);
  }
}

/* ---- two scheduled tasks: ping sends on 'a', pong answers on 'b' ---- */

struct pp {
  struct chan *in, *out;
  bool sends_first;
  int n, i, phase;                          /* round i of n, step 0/1 */
  bool pending;
  int slices, parks;                        /* counted by the run hook */
  struct selcase cs;
  struct waiter w;
};

static int pprun (struct task *t) {
  struct pp *p = t->ud;
  int chosen;
  p->slices++;
  if (p->pending) {
    p->pending = false;
    CHECK_EQ_ST(sel_finish(&p->cs, 1, &p->w, &t->op, &chosen), GO_OK);
    if (++p->phase == 2) { p->phase = 0; p->i++; }
  }
  while (p->i < p->n) {
    bool send = (p->phase == 0) == p->sends_first;
    p->cs.c = send ? p->out : p->in;
    p->cs.dir = send ? SEL_SEND : SEL_RECV;
    if (send) tvalue_setint(&p->cs.v, p->i);
    else tvalue_setnil(&p->cs.v);
    task_prepare(t);
    t->op.what = send ? "send on test" : "recv on test";
    gostatus st = sel_begin(&p->cs, 1, &p->w, &t->op, true, &chosen);
    if (st == GO_AGAIN) {
      p->pending = true;
      p->parks++;
      task_arm(t, GO_NEVER);
      return RUN_PARK;
    }
    CHECK_EQ_ST(st, GO_OK);
    if (++p->phase == 2) { p->phase = 0; p->i++; }
  }
  task_finish(t, false, NULL, 0);
  return RUN_DONE;
}

static void ppdrop (struct task *t) { task_finish(t, true, NULL, 0); }

static const struct sched_hooks hooks = { .run = pprun, .drop = ppdrop };

static void test_pingpong (void) {
  setpath("pingpong");
  int n = CHECK_TSAN ? 2000 : 10000;        /* some 6 events a round */
  struct chan *a = chan_new(0), *b = chan_new(0);
  struct pp ping = { .in = b, .out = a, .sends_first = true, .n = n };
  struct pp pong = { .in = a, .out = b, .sends_first = false, .n = n };
  CHECK_EQ_ST(sched_start(2, &hooks), GO_OK);
  int err = 0;
  CHECK_EQ_INT(trace_start(path, &err), TRACE_OK);
  struct task *t1 = task_new(&ping), *t2 = task_new(&pong);
  CHECK_EQ_ST(sched_spawn(t1), GO_OK);
  CHECK_EQ_ST(sched_spawn(t2), GO_OK);
  CHECK_EQ_ST(task_join(t1, go_deadline_in(30)), GO_OK);
  CHECK_EQ_ST(task_join(t2, go_deadline_in(30)), GO_OK);
  CHECK_EQ_INT(trace_stop(&err), TRACE_OK);
  char *s = slurp();
  if (s) {
    check_shape(s);
    int slices = ping.slices + pong.slices, parks = ping.parks + pong.parks;
    CHECK_EQ_INT(count(s, "\"name\":\"running\""), slices);
    CHECK_EQ_INT(count(s, "\"cat\":\"worker\""), slices);
    /* this thread is main (tid 0): each join may wait, and the end of
    ** the task it waits for then hands off to it (main wakes no task) */
    long joins = count(s, "\"waiting\":\"join on gochan.task\"");
    long tomain = count(s, "\"pid\":2,\"tid\":0,\"ts\"") - joins;
    CHECK_LE_INT(joins, 2);
    CHECK_LE_INT(tomain, 2);
    CHECK(tomain >= 0);
    /* each park: a hand-off */
    CHECK_EQ_INT(count(s, "\"ph\":\"s\""), parks + tomain);
    CHECK_EQ_INT(count(s, "\"ph\":\"f\""), parks + tomain);
    long blocked = count(s, "\"name\":\"blocked\"") - joins;
    CHECK_LE_INT(blocked, parks);           /* none when woken as it parked */
    CHECK_GT_INT(blocked, 0);
    CHECK_EQ_INT(count(s, "\"waiting\":\"send on test\"") +
                 count(s, "\"waiting\":\"recv on test\""), blocked);
    CHECK_EQ_INT(count(s, "\"status\":\"done\""), 2);
    CHECK_EQ_INT(count(s, "\"name\":\"runnable\""), slices);
    CHECK_GT_INT(slices, 2 * 4096 / 6);     /* more than one buffer's worth */
    free(s);
  }
  obj_release(&t1->hdr);
  obj_release(&t2->hdr);
  chan_release(a);
  chan_release(b);
  sched_shutdown();
}

/* A trace still recording when the runtime shuts down is written then. */
static void test_shutdown_writes (void) {
  setpath("shutdown_writes");
  int err = 0;
  CHECK_EQ_INT(trace_start(path, &err), TRACE_OK);
  struct task *t = task_new(NULL);
  trace_end(t, TASK_FAILED);
  sched_shutdown();
  CHECK(!TRACE_ON());
  CHECK_EQ_INT(trace_stop(&err), TRACE_NOTSTARTED);
  char *s = slurp();
  if (s) {
    check_shape(s);
    CHECK_EQ_INT(count(s, "\"status\":\"failed\""), 1);
    free(s);
  }
  obj_release(&t->hdr);
}

int main (void) {
  RUN(test_errors);
  RUN(test_many_events);
  RUN(test_stop_while_recording);
  RUN(test_pingpong);
  RUN(test_shutdown_writes);
  setpath("end");
  return check_done();
}
