/*
** alloc.c: the allocator of task states (see alloc.h).
*/
#include "alloc.h"
#include "core.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/*
** Size classes: 16..2048 bytes in steps of 8 (classes 0..254). Larger
** blocks come from malloc. Fine steps cost a few more free lists and
** waste at most 7 bytes a block: a state's largest blocks (its global
** state, its stack, its string table, hash parts) are not powers of two,
** and every task keeps them. Every class size is a multiple of 8, and
** regions are page-aligned, so every block is 8-aligned (Lua's
** LUAI_MAXALIGN needs 8).
*/
#define NCLS 255
#define MAXSMALL 2048
#define REGION ((size_t)2 << 20)   /* carved per thread, 2 MB at a time */

static inline int cls_of (size_t n) {
  return n <= 16 ? 0 : (int)((n + 7) >> 3) - 2;   /* n <= MAXSMALL */
}

static inline size_t cls_size (int c) {
  return (size_t)(c + 2) * 8;
}

/* Blocks per batch moved between a thread and the depot: about 8 KB,
** 4 to 128 blocks. A table (filled at load), so no division per call. */
static unsigned short batchtab[NCLS];

static inline unsigned batch_of (int c) { return batchtab[c]; }

/* A free block. 'nextbatch' is used only in the first block of a batch
** in the depot (every block has room for two pointers: 16 bytes). */
struct blk {
  struct blk *next;
  struct blk *nextbatch;
};

/* The depot: full batches per class. 'mu' guards 'batches'. */
static struct depot {
  golock mu;
  struct blk *batches;
} depot[NCLS];

/* Regions given back by exiting threads, with what is left of them.
** 'rmu' guards 'spare'; each spare region's header is in its own bytes. */
struct spare { struct spare *next; char *end; };
static golock rmu;
static struct spare *spare;

/* A thread's cache: touched only by its thread (no lock). */
struct tcache {
  struct blk *head[NCLS];
  unsigned n[NCLS];                 /* about how many blocks 'head' holds */
  char *cur, *end;                  /* the region being carved */
};

/* This thread's cache, made on its first allocation. Initial-exec: one
** pointer of static TLS, read without a call (the module is dlopen'd, and
** the default model would call __tls_get_addr on every allocation). */
static _Thread_local __attribute__((tls_model("initial-exec")))
struct tcache *this_tcache;
static pthread_key_t tcache_key;   /* its destructor flushes a cache */
static pthread_once_t tcache_key_once = PTHREAD_ONCE_INIT;

static void depot_put (int c, struct blk *first) {
  golock_lock(&depot[c].mu);
  first->nextbatch = depot[c].batches;
  depot[c].batches = first;
  golock_unlock(&depot[c].mu);
}

static struct blk *depot_take (int c) {
  struct blk *b;
  golock_lock(&depot[c].mu);
  b = depot[c].batches;
  if (b) depot[c].batches = b->nextbatch;
  golock_unlock(&depot[c].mu);
  return b;
}

/* Thread exit: every list to the depot (a batch may be short: 'n' is a
** count for the trimming rule only), the region's rest to 'spare'. */
static void tc_flush (void *arg) {
  struct tcache *t = arg;
  if (!t) return;
  for (int c = 0; c < NCLS; c++) {
    if (t->head[c]) depot_put(c, t->head[c]);
    t->head[c] = NULL;
    t->n[c] = 0;
  }
  if (t->end - t->cur >= (ptrdiff_t)(sizeof(struct spare) + 256)) {
    struct spare *s = (struct spare *)(void *)t->cur;
    s->end = t->end;
    golock_lock(&rmu);
    s->next = spare;
    spare = s;
    golock_unlock(&rmu);
  }
  t->cur = t->end = NULL;
  if (this_tcache == t) this_tcache = NULL;
  free(t);
}

static void tc_makekey (void) {
  if (pthread_key_create(&tcache_key, tc_flush) != 0) tcache_key = 0;
}

/* This thread's cache; NULL only when there is no memory for one. */
static struct tcache *tc_get (void) {
  struct tcache *t = this_tcache;
  if (t) return t;
  t = calloc(1, sizeof *t);
  if (!t) return NULL;
  pthread_once(&tcache_key_once, tc_makekey);
  pthread_setspecific(tcache_key, t);  /* flushed and freed at thread exit */
  return this_tcache = t;
}

/* A new region for 't': a spare one, else a fresh mapping. */
static bool refill_region (struct tcache *t) {
  golock_lock(&rmu);
  struct spare *s = spare;
  if (s) spare = s->next;
  golock_unlock(&rmu);
  if (s) {
    t->end = s->end;
    t->cur = (char *)s;
    return true;
  }
  /* 2 MB-aligned, so the kernel may back it with one huge page: the page
  ** faults of touching fresh memory otherwise cost more than the work
  ** (bench/README.md has the measurement) */
  char *p = mmap(NULL, 2 * REGION, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return false;
  char *a = (char *)(((uintptr_t)p + REGION - 1) & ~(uintptr_t)(REGION - 1));
  if (a > p) munmap(p, (size_t)(a - p));
  if (a + REGION < p + 2 * REGION)
    munmap(a + REGION, (size_t)(p + 2 * REGION - (a + REGION)));
#ifdef MADV_HUGEPAGE
  madvise(a, REGION, MADV_HUGEPAGE);      /* a hint: fine if refused */
#endif
  t->cur = a;
  t->end = a + REGION;
  return true;
}

/* A block of class 'c' from this thread's list, or NULL. */
static inline void *pop_small (struct tcache *t, int c) {
  struct blk *b = t->head[c];
  if (b) {
    t->head[c] = b->next;
    if (t->n[c]) t->n[c]--;
  }
  return b;
}

/* The newest 'lim' blocks of a list grown past 2 * lim to the depot.
** (Out of line, as goalloc_slow: goalloc's fast paths then need no saved
** registers.) */
__attribute__((noinline)) static void trim (struct tcache *t, int c) {
  unsigned lim = batch_of(c);
  struct blk *first = t->head[c], *last = first;
  for (unsigned i = 1; i < lim; i++) last = last->next;
  t->head[c] = last->next;
  last->next = NULL;
  t->n[c] -= lim;
  depot_put(c, first);
}

static inline void push_small (struct tcache *t, int c, void *p) {
  struct blk *b = p;
  b->next = t->head[c];
  t->head[c] = b;
  if (++t->n[c] > 2u * batch_of(c)) trim(t, c);
}

static void *alloc_small (int c) {
  struct tcache *t = this_tcache;
  struct blk *b;
  if (t && (b = pop_small(t, c)) != NULL) return b;
  if (!t && (t = tc_get()) == NULL) return NULL;
  b = depot_take(c);
  if (b) {
    t->head[c] = b->next;
    t->n[c] = batch_of(c) - 1;
    return b;
  }
  size_t sz = cls_size(c);
  if (t->end - t->cur < (ptrdiff_t)sz && !refill_region(t)) return NULL;
  void *p = t->cur;                  /* a region's rest below 'sz' is lost */
  t->cur += sz;
  return p;
}

static void free_small (int c, void *p) {
  struct tcache *t = this_tcache;
  if (!t && (t = tc_get()) == NULL) {  /* no cache: straight to the depot */
    struct blk *b = p;
    b->next = NULL;
    depot_put(c, b);
    return;
  }
  push_small(t, c, p);
}

/* Any block of 'n' bytes: a class, or malloc beyond MAXSMALL. */
static void *block_alloc (size_t n) {
  return n > MAXSMALL ? malloc(n) : alloc_small(cls_of(n));
}

static void block_free (void *p, size_t n) {
  if (n > MAXSMALL) free(p);
  else free_small(cls_of(n), p);
}

/* Every call to malloc: built with GOCHAN_PLAIN_ALLOC (the ASan build),
** or GOCHAN_MALLOC=1 in the environment (valgrind's leak check then sees
** task states). Read once, at load; no thread cache is ever made then. */
static bool use_malloc;

__attribute__((constructor)) static void read_env (void) {
  const char *e = getenv("GOCHAN_MALLOC");
#ifdef GOCHAN_PLAIN_ALLOC
  use_malloc = true;
  (void)e;
#else
  use_malloc = e && *e && strcmp(e, "0") != 0;
#endif
  for (int c = 0; c < NCLS; c++) {
    size_t b = 8192 / cls_size(c);
    batchtab[c] = (unsigned short)(b < 4 ? 4 : b > 128 ? 128 : b);
  }
}

/* Everything but the two fast paths of goalloc. */
__attribute__((noinline)) static void *goalloc_slow (void *ptr, size_t osize,
                                                     size_t nsize) {
  if (use_malloc) {
    if (nsize == 0) { free(ptr); return NULL; }
    return realloc(ptr, nsize);
  }
  if (nsize == 0) {                  /* free */
    if (ptr) block_free(ptr, osize);
    return NULL;
  }
  if (!ptr) return block_alloc(nsize);   /* ('osize' is a type tag) */
  if (osize > MAXSMALL && nsize > MAXSMALL) return realloc(ptr, nsize);
  if (osize <= MAXSMALL && nsize <= MAXSMALL && cls_of(osize) == cls_of(nsize))
    return ptr;                      /* the block already fits */
  void *np = block_alloc(nsize);
  if (!np) {                         /* Lua counts on shrinking to succeed: */
    if (nsize >= osize) return NULL;
    if (osize > MAXSMALL && (np = realloc(ptr, nsize)) != NULL) return np;
    return ptr;                      /* keep the larger block (a malloc'd
                                        one joins a class when freed) */
  }
  memcpy(np, ptr, osize < nsize ? osize : nsize);
  block_free(ptr, osize);
  return np;
}

void *goalloc (void *ud, void *ptr, size_t osize, size_t nsize) {
  (void)ud;
  struct tcache *t = this_tcache;   /* NULL also when use_malloc is set */
  if (t) {                          /* the fast paths: this thread's lists */
    if (nsize == 0 && ptr && osize <= MAXSMALL) {
      push_small(t, cls_of(osize), ptr);
      return NULL;
    }
    void *b;
    if (!ptr && nsize > 0 && nsize <= MAXSMALL &&
        (b = pop_small(t, cls_of(nsize))) != NULL)
      return b;
  }
  return goalloc_slow(ptr, osize, nsize);
}
