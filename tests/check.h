/*
** check.h: the C tests' harness. Include it first (it sets the POSIX
** feature level). CHECK* macros count passes and failures from any thread;
** a failure prints file:line and both operands. RUN re-arms a watchdog
** (alarm) so a hang fails the program instead of hanging it; check_done
** prints "N passed, N failed" and gives main's exit status.
*/
#ifndef GOCHAN_TESTS_CHECK_H
#define GOCHAN_TESTS_CHECK_H

#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core.h"
#include "obj.h"

/* Sanitizer builds run slower: tests scale their workloads down. */
#if defined(__SANITIZE_THREAD__)
#define CHECK_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CHECK_TSAN 1
#endif
#endif
#ifndef CHECK_TSAN
#define CHECK_TSAN 0
#endif

#if defined(__SANITIZE_ADDRESS__)
#define CHECK_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CHECK_ASAN 1
#endif
#endif
#ifndef CHECK_ASAN
#define CHECK_ASAN 0
#endif

/* Seconds a single RUN may take before the watchdog kills the program
** (environment CHECK_WATCHDOG overrides). */
#ifndef CHECK_WATCHDOG_SECONDS
#define CHECK_WATCHDOG_SECONDS 60
#endif

/* Counters are atomic: checks run on test threads too. */
static atomic_long check_npassed, check_nfailed;
/* Name of the running test; read by the SIGALRM handler. */
static const char *volatile check_current = "(setup)";
static unsigned check_watchdog_s = CHECK_WATCHDOG_SECONDS;

static inline void check_pass (void) {
  atomic_fetch_add_explicit(&check_npassed, 1, memory_order_relaxed);
}

static inline void check_fail (const char *file, int line, const char *what) {
  atomic_fetch_add_explicit(&check_nfailed, 1, memory_order_relaxed);
  fprintf(stderr, "%s:%d: FAILED in %s: %s\n", file, line,
          (const char *)check_current, what);
  fflush(stderr);
}

#define CHECK(cond) \
  ((cond) ? check_pass() : check_fail(__FILE__, __LINE__, "CHECK(" #cond ")"))

/* Compare two integers as int64_t (or uint64_t); print both on failure. */
#define CHECK_CMP_INT(a, op, b) do { \
    int64_t check_a_ = (int64_t)(a), check_b_ = (int64_t)(b); \
    if (check_a_ op check_b_) check_pass(); \
    else { \
      char check_m_[512]; \
      snprintf(check_m_, sizeof check_m_, "%s %s %s (%" PRId64 " vs %" PRId64 ")", \
               #a, #op, #b, check_a_, check_b_); \
      check_fail(__FILE__, __LINE__, check_m_); \
    } \
  } while (0)

#define CHECK_EQ_INT(a, b) CHECK_CMP_INT(a, ==, b)
#define CHECK_NE_INT(a, b) CHECK_CMP_INT(a, !=, b)
#define CHECK_LT_INT(a, b) CHECK_CMP_INT(a, <, b)
#define CHECK_LE_INT(a, b) CHECK_CMP_INT(a, <=, b)
#define CHECK_GE_INT(a, b) CHECK_CMP_INT(a, >=, b)
#define CHECK_GT_INT(a, b) CHECK_CMP_INT(a, >, b)

#define CHECK_EQ_UINT(a, b) do { \
    uint64_t check_a_ = (uint64_t)(a), check_b_ = (uint64_t)(b); \
    if (check_a_ == check_b_) check_pass(); \
    else { \
      char check_m_[512]; \
      snprintf(check_m_, sizeof check_m_, "%s == %s (%" PRIu64 " vs %" PRIu64 ")", \
               #a, #b, check_a_, check_b_); \
      check_fail(__FILE__, __LINE__, check_m_); \
    } \
  } while (0)

#define CHECK_EQ_DBL(a, b) do { \
    double check_a_ = (double)(a), check_b_ = (double)(b); \
    if (check_a_ == check_b_) check_pass(); \
    else { \
      char check_m_[512]; \
      snprintf(check_m_, sizeof check_m_, "%s == %s (%.17g vs %.17g)", \
               #a, #b, check_a_, check_b_); \
      check_fail(__FILE__, __LINE__, check_m_); \
    } \
  } while (0)

#define CHECK_EQ_PTR(a, b) do { \
    const void *check_a_ = (const void *)(a), *check_b_ = (const void *)(b); \
    if (check_a_ == check_b_) check_pass(); \
    else { \
      char check_m_[512]; \
      snprintf(check_m_, sizeof check_m_, "%s == %s (%p vs %p)", \
               #a, #b, check_a_, check_b_); \
      check_fail(__FILE__, __LINE__, check_m_); \
    } \
  } while (0)

/* A gostatus, printed by name. */
#define CHECK_EQ_ST(a, b) do { \
    gostatus check_a_ = (a), check_b_ = (b); \
    if (check_a_ == check_b_) check_pass(); \
    else { \
      char check_m_[512]; \
      snprintf(check_m_, sizeof check_m_, "%s == %s (%s [%d] vs %s [%d])", \
               #a, #b, go_strstatus(check_a_), (int)check_a_, \
               go_strstatus(check_b_), (int)check_b_); \
      check_fail(__FILE__, __LINE__, check_m_); \
    } \
  } while (0)

/* Byte strings: 'p' of length 'n' equals 'q' of length 'm'. */
#define CHECK_EQ_MEM(p, n, q, m) do { \
    const char *check_p_ = (const char *)(p), *check_q_ = (const char *)(q); \
    size_t check_n_ = (size_t)(n), check_m2_ = (size_t)(m); \
    if (check_p_ && check_q_ && check_n_ == check_m2_ && \
        memcmp(check_p_, check_q_, check_n_) == 0) check_pass(); \
    else { \
      char check_m_[512]; \
      snprintf(check_m_, sizeof check_m_, "%s == %s (%zu bytes%s vs %zu bytes)", \
               #p, #q, check_n_, check_p_ ? "" : ", NULL", check_m2_); \
      check_fail(__FILE__, __LINE__, check_m_); \
    } \
  } while (0)

/* Time helpers. */
static inline int64_t check_ms_since (int64_t t0) {
  return (go_now() - t0) / 1000000;
}

static inline void check_sleep_ms (long ms) {
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  while (nanosleep(&ts, &ts) != 0) {}
}

/* Poll until 'cond' holds (every millisecond, for at most 10 s): the way
** to know "that thread is blocked now" (e.g. chan_nwaiters(c) == 1)
** without sleeping and hoping. A condition never met is a failed check. */
#define CHECK_UNTIL(cond) do { \
    int64_t check_t0_ = go_now(); \
    while (!(cond) && check_ms_since(check_t0_) < 10000) check_sleep_ms(1); \
    if (cond) check_pass(); \
    else check_fail(__FILE__, __LINE__, "never came true: " #cond); \
  } while (0)

/* A deadline 'ms' milliseconds from now. */
static inline int64_t check_in_ms (long ms) {
  return go_now() + (int64_t)ms * 1000000;
}

/* Start a thread; a failure to start counts as a failed check. */
#define CHECK_SPAWN(th, fn, arg) CHECK_EQ_INT(pthread_create((th), NULL, (fn), (arg)), 0)
#define CHECK_JOIN(th) CHECK_EQ_INT(pthread_join((th), NULL), 0)

/* Release a core object (waitgroup, mutex, atomic, ticker): each begins
** with a 'struct obj' header. */
#define CHECK_RELEASE(p) obj_release((struct obj *)(p))

/* Environment knob: an integer from 'name', else 'dflt'. */
static inline long check_env_long (const char *name, long dflt) {
  const char *s = getenv(name);
  if (!s || !*s) return dflt;
  char *end;
  long v = strtol(s, &end, 10);
  return (*end == '\0' && v > 0) ? v : dflt;
}

static void check_on_alarm (int sig) {
  (void)sig;
  /* async-signal-safe only: write and _exit */
  static const char pre[] = "\nWATCHDOG: test '";
  static const char post[] = "' did not finish in time: hung?\n";
  const char *name = check_current;
  ssize_t r;
  r = write(2, pre, sizeof pre - 1);
  r = write(2, name, strlen(name));
  r = write(2, post, sizeof post - 1);
  (void)r;
  _exit(3);
}

static inline void check_init (void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = check_on_alarm;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGALRM, &sa, NULL);
  check_watchdog_s = (unsigned)check_env_long("CHECK_WATCHDOG",
                                              CHECK_WATCHDOG_SECONDS);
  setvbuf(stdout, NULL, _IOLBF, 0);
}

/* Run one test function under a fresh watchdog. */
#define RUN(fn) do { \
    long check_f0_ = atomic_load(&check_nfailed); \
    int64_t check_t0_ = go_now(); \
    check_current = #fn; \
    alarm(check_watchdog_s); \
    fn(); \
    alarm(0); \
    printf("%-4s %s (%" PRId64 " ms)\n", \
           atomic_load(&check_nfailed) == check_f0_ ? "ok" : "FAIL", #fn, \
           check_ms_since(check_t0_)); \
    check_current = "(between tests)"; \
  } while (0)

/* Print the totals; main returns this. */
static inline int check_done (void) {
  long p = atomic_load(&check_npassed), f = atomic_load(&check_nfailed);
  printf("%ld passed, %ld failed\n", p, f);
  fflush(stdout);
  return f == 0 ? 0 : 1;
}

#endif
