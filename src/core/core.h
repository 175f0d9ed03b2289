/*
** core.h: status codes, deadlines and checks shared by every file of the
** Lua-free core. Nothing here knows of Lua; src/core never includes lua.h.
*/
#ifndef GOCHAN_CORE_H
#define GOCHAN_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef LUA_VERSION_NUM
#define GOCHAN_CORE_NO_LUA 1
#endif

/* What every core call returns. The core never prints, exits or longjmps. */
typedef enum gostatus {
  GO_OK = 0,       /* done */
  GO_AGAIN,        /* would block and the deadline was GO_NOW (or already past);
                      from a *_begin call: a waiter is queued, park and finish */
  GO_TIMEOUT,      /* blocked, and the deadline passed first */
  GO_CLOSED,       /* send on a closed channel; close of a closed channel */
  GO_NOMEM,        /* allocation failed; nothing changed */
  GO_INTERRUPTED,  /* the wait was cancelled by an interrupt (SIGINT) */
  GO_DEADLOCK,     /* the wait was cancelled: nothing could ever wake it */
  GO_NEGATIVE,     /* waitgroup counter would go below zero; unchanged */
  GO_NOTLOCKED,    /* unlock of an unlocked mutex; unchanged */
  GO_SHUTDOWN,     /* the runtime is stopping */
  GO_CTXDONE,      /* the wait's context was done first (context.h) */
  GO_CANCELED      /* the calling task was canceled (task_cancel) */
} gostatus;

/* Deadlines are absolute CLOCK_MONOTONIC nanoseconds. */
#define GO_NOW   ((int64_t)0)          /* try once, never block */
#define GO_NEVER INT64_MAX             /* wait without a time limit */

int64_t go_now (void);                 /* CLOCK_MONOTONIC, ns */
/* 'seconds' from now as a deadline: <= 0 gives GO_NOW, NaN-free input
** only (callers check), overflow saturates to GO_NEVER. */
int64_t go_deadline_in (double seconds);
/* Whether a call with 'deadline' may block at all: GO_NEVER, or a time
** still ahead (GO_NOW and a past deadline only try once). */
static inline bool go_mayblock (int64_t deadline) {
  return deadline == GO_NEVER || (deadline != GO_NOW && go_now() < deadline);
}

/* A small fast per-thread random generator (select's random order). */
uint32_t go_rand (void);
uint32_t go_randn (uint32_t n);        /* uniform in [0, n), n > 0 */

const char *go_strstatus (gostatus st);

/* A hint to the CPU inside a spin loop. */
static inline void cpu_relax (void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

/*
** golock: the core's lock for short critical sections (channels, sync
** objects, run queues). A futex mutex: 0 free, 1 held, 2 held and someone
** may sleep. Uncontended lock and unlock are one atomic each; a contended
** lock spins briefly, then sleeps on the futex. Acquire on lock and
** release on unlock give the guarded data its happens-before.
*/
#include <stdatomic.h>
typedef struct golock { atomic_uint v; } golock;

/* The futex calls of the core (private to the process). Wait while '*a'
** holds 'v', until woken or 'deadline' (absolute CLOCK_MONOTONIC ns;
** GO_NEVER: no limit); false only when the deadline passed. A wake-up may
** be spurious: callers re-check their word. */
bool go_futex_wait (atomic_uint *a, unsigned v, int64_t deadline);
void go_futex_wake (atomic_uint *a, int n);

void golock_lock_slow (golock *l);
void golock_wake (golock *l);

static inline void golock_init (golock *l) { atomic_init(&l->v, 0); }

static inline void golock_lock (golock *l) {
  unsigned free_ = 0;
  if (!atomic_compare_exchange_strong_explicit(&l->v, &free_, 1,
          memory_order_acquire, memory_order_relaxed))
    golock_lock_slow(l);
}

static inline void golock_unlock (golock *l) {
  if (atomic_exchange_explicit(&l->v, 0, memory_order_release) == 2)
    golock_wake(l);
}

/* Checks of impossible states; stay on in every build, CI included. */
void go_assert_fail (const char *expr, const char *file, int line);
#define GOCHAN_ASSERT(e) \
  ((e) ? (void)0 : go_assert_fail(#e, __FILE__, __LINE__))

#define go_container_of(p, T, m) ((T *)((char *)(p) - offsetof(T, m)))

#endif
