/*
** core.c: the monotonic clock, deadlines, the per-thread random
** generator and the always-on assertion of the core.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "core.h"

int64_t go_now (void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t go_deadline_in (double seconds) {
  if (!(seconds > 0)) return GO_NOW;          /* also NaN: callers reject it */
  int64_t now = go_now();
  double ns = seconds * 1e9;
  if (ns >= (double)(GO_NEVER - now)) return GO_NEVER;
  int64_t d = now + (int64_t)ns;
  return d > now ? d : now + 1;               /* a timeout > 0 really waits */
}

/* xorshift64*; state per thread, seeded from its address and the clock. */
static _Thread_local __attribute__((tls_model("initial-exec"))) uint64_t rng_state;

uint32_t go_rand (void) {
  uint64_t x = rng_state;
  if (x == 0) {
    x = (uint64_t)(uintptr_t)&rng_state ^ (uint64_t)go_now() ^ 0x9E3779B97F4A7C15u;
    if (x == 0) x = 1;
  }
  x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
  rng_state = x;
  return (uint32_t)((x * 0x2545F4914F6CDD1Du) >> 32);
}

uint32_t go_randn (uint32_t n) {
  return (uint32_t)(((uint64_t)go_rand() * n) >> 32);   /* Lemire, no modulo */
}


void golock_lock_slow (golock *l) {
  for (int i = 0; i < 100; i++) {          /* the holder is likely running */
    cpu_relax();
    unsigned free_ = 0;
    if (atomic_load_explicit(&l->v, memory_order_relaxed) == 0 &&
        atomic_compare_exchange_weak_explicit(&l->v, &free_, 1,
            memory_order_acquire, memory_order_relaxed))
      return;
  }
  /* mark it contended (2) and sleep while it is held; whoever takes it
  ** from here keeps the 2, so its unlock wakes the next sleeper */
  while (atomic_exchange_explicit(&l->v, 2, memory_order_acquire) != 0)
    go_futex_wait(&l->v, 2, GO_NEVER);
}

void golock_wake (golock *l) { go_futex_wake(&l->v, 1); }

bool go_futex_wait (atomic_uint *a, unsigned v, int64_t deadline) {
  struct timespec ts, *tp = NULL;
  if (deadline != GO_NEVER) {       /* FUTEX_WAIT_BITSET: absolute time */
    ts.tv_sec = (time_t)(deadline / 1000000000);
    ts.tv_nsec = (long)(deadline % 1000000000);
    tp = &ts;
  }
  return syscall(SYS_futex, (unsigned *)a, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG,
                 v, tp, NULL, FUTEX_BITSET_MATCH_ANY) == 0 || errno != ETIMEDOUT;
}

void go_futex_wake (atomic_uint *a, int n) {
  syscall(SYS_futex, (unsigned *)a, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, n,
          NULL, NULL, 0);
}

const char *go_strstatus (gostatus st) {
  switch (st) {
    case GO_OK: return "ok";
    case GO_AGAIN: return "would block";
    case GO_TIMEOUT: return "timeout";
    case GO_CLOSED: return "closed";
    case GO_NOMEM: return "not enough memory";
    case GO_INTERRUPTED: return "interrupted";
    case GO_DEADLOCK: return "all tasks are asleep - deadlock!";
    case GO_NEGATIVE: return "negative WaitGroup counter";
    case GO_NOTLOCKED: return "unlock of unlocked mutex";
    case GO_SHUTDOWN: return "runtime is shutting down";
    case GO_CTXDONE: return "context done";
    case GO_CANCELED: return "canceled";
  }
  return "unknown status";
}

void go_assert_fail (const char *expr, const char *file, int line) {
  fprintf(stderr, "gochan: assertion failed: %s (%s:%d)\n", expr, file, line);
  abort();
}

#ifdef GOCHAN_TESTING
#include "obj.h"
atomic_long obj_live[OBJ_NTYPES];
#endif
