/*
** test_alloc.c: the task-state allocator (src/core/alloc.h) as Lua uses
** it: every size class and malloc's sizes, resizes across classes that
** keep the contents, blocks freed on another thread than the one that
** made them, threads that exit with full caches, and no two live blocks
** overlapping (each block carries a pattern made from its address).
*/
#include "check.h"
#include "alloc.h"

#define NTHREADS 4

static void fill (unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(((uintptr_t)p + i) * 31u);
}

/* the pattern 'fill' wrote at 'from' (a block may have moved since) */
static bool intact (const unsigned char *p, size_t n, const unsigned char *from) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != (unsigned char)(((uintptr_t)from + i) * 31u)) return false;
  return true;
}

static void test_sizes (void) {
  static unsigned char *blk[4200];
  for (size_t n = 1; n < 4200; n++) {          /* every class, then malloc */
    blk[n] = goalloc(NULL, NULL, 0, n);
    CHECK(blk[n] != NULL);
    CHECK_EQ_INT((uintptr_t)blk[n] % 8, 0);
    fill(blk[n], n);
  }
  size_t bad = 0;
  for (size_t n = 1; n < 4200; n++) {          /* nothing overwrote them */
    if (!intact(blk[n], n, blk[n])) bad++;
    CHECK(goalloc(NULL, blk[n], n, 0) == NULL);
  }
  CHECK_EQ_INT(bad, 0);
  CHECK(goalloc(NULL, NULL, 0, 0) == NULL);    /* freeing nothing */
}

static void test_resize (void) {
  static const size_t sizes[] = { 16, 17, 24, 100, 256, 257, 320, 321, 1024,
                                  1025, 2048, 2049, 5000, 100000, 40, 7 };
  const size_t ns = sizeof sizes / sizeof sizes[0];
  unsigned char *p = goalloc(NULL, NULL, 0, sizes[0]);
  unsigned char *origin = p;
  fill(p, sizes[0]);
  for (size_t i = 1; i < ns; i++) {            /* grow and shrink through */
    size_t keep = sizes[i - 1] < sizes[i] ? sizes[i - 1] : sizes[i];
    unsigned char *q = goalloc(NULL, p, sizes[i - 1], sizes[i]);
    CHECK(q != NULL);
    if (!q) return;
    size_t upto = keep < sizes[0] ? keep : sizes[0];
    CHECK(intact(q, upto, origin));            /* the first bytes travelled */
    p = q;
  }
  goalloc(NULL, p, sizes[ns - 1], 0);
#ifndef GOCHAN_PLAIN_ALLOC   /* (the ASan build uses malloc: may move) */
  /* a resize within a class keeps the block */
  p = goalloc(NULL, NULL, 0, 30);
  CHECK_EQ_PTR(goalloc(NULL, p, 30, 32), p);
  CHECK_EQ_PTR(goalloc(NULL, p, 32, 25), p);
  goalloc(NULL, p, 25, 0);
#endif
}

/* Thread i makes blocks and hands them to thread i+1 through a slot
** array; each thread frees what it is handed, after checking it. */
#define PER 20000
static unsigned char *_Atomic handoff[NTHREADS][PER];
static atomic_long handoff_bad;

static void *worker (void *arg) {
  int me = (int)(intptr_t)arg, next = (me + 1) % NTHREADS;
  uint32_t seed = 12345u + (uint32_t)me;
  for (int i = 0; i < PER; i++) {
    seed = seed * 1103515245u + 12345u;
    size_t n = 8 + (seed >> 8) % 600;           /* mostly small classes */
    if (i % 97 == 0) n = 2049 + (seed >> 8) % 3000;  /* some from malloc */
    unsigned char *p = goalloc(NULL, NULL, 0, n);
    if (!p) { atomic_fetch_add(&handoff_bad, 1); continue; }
    fill(p, n);
    atomic_store(&handoff[next][i], p);
    unsigned char *q;                           /* the neighbour's i-th */
    while ((q = atomic_load(&handoff[me][i])) == NULL) sched_yield();
    (void)q;
  }
  /* free what was handed to me: sizes recomputed from the sender's seed */
  int from = (me + NTHREADS - 1) % NTHREADS;
  uint32_t s2 = 12345u + (uint32_t)from;
  for (int i = 0; i < PER; i++) {
    s2 = s2 * 1103515245u + 12345u;
    size_t n = 8 + (s2 >> 8) % 600;
    if (i % 97 == 0) n = 2049 + (s2 >> 8) % 3000;
    unsigned char *q = atomic_load(&handoff[me][i]);
    if (!intact(q, n, q)) atomic_fetch_add(&handoff_bad, 1);
    goalloc(NULL, q, n, 0);
  }
  return NULL;                                  /* exits with a full cache */
}

static void test_threads (void) {
  for (int round = 0; round < 3; round++) {     /* later rounds reuse */
    memset(handoff, 0, sizeof handoff);
    pthread_t th[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
      pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i);
    for (int i = 0; i < NTHREADS; i++) pthread_join(th[i], NULL);
    CHECK_EQ_INT(atomic_load(&handoff_bad), 0);
  }
}

int main (void) {
  check_init();
  RUN(test_sizes);
  RUN(test_resize);
  RUN(test_threads);
  return check_done();
}
