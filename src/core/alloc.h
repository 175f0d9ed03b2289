/*
** alloc.h: the allocator of task states.
**
** A task's Lua state makes about a hundred small blocks (strings, tables,
** closures), most of them 24 to 64 bytes, and a blocked task keeps them
** all. malloc adds a header and rounds each block up (a 28-byte string
** takes 48 bytes), and glibc grows a worker thread's arena a page at a
** time, one mprotect per page. This allocator serves the sizes a state
** uses (up to 2 KB) from size classes carved out of large mappings, with
** no header: Lua passes a block's size back when it frees or resizes it.
**
** Caches: each thread keeps a free list per class and carves new blocks
** from a region of its own; a list grown past its limit gives a batch to
** a shared depot (one lock per class), where a thread whose list is empty
** takes a batch before it carves. A block freed on another thread than
** the one that made it (a state moves between workers) simply joins that
** thread's list. Memory is reused, never returned to the system.
**
** Built with GOCHAN_PLAIN_ALLOC (the AddressSanitizer build) every call
** goes to malloc, so that the sanitizer still checks task states; with
** GOCHAN_MALLOC=1 in the environment too (valgrind's leak check).
*/
#ifndef GOCHAN_ALLOC_H
#define GOCHAN_ALLOC_H

#include <stddef.h>
#include <string.h>

/* A lua_Alloc: frees when 'nsize' is 0, else allocates (ptr NULL) or
** resizes 'ptr' of 'osize' bytes; NULL when out of memory (then 'ptr' is
** untouched). 'ud' is unused. Thread-safe; a block may be freed on any
** thread. */
void *goalloc (void *ud, void *ptr, size_t osize, size_t nsize);

/* The fixed-size C structs made for every task (its struct task and
** binding half, a channel) come from here too: no malloc header, and no
** arena lock shared by the go caller and the workers that free them.
** gocalloc: 'n' zeroed bytes, or NULL; gofree: a block of gocalloc's
** (NULL: nothing), freed with its size, on any thread. */
static inline void *gocalloc (size_t n) {
  void *p = goalloc(NULL, NULL, 0, n);
  if (p) memset(p, 0, n);
  return p;
}

static inline void gofree (void *p, size_t n) {
  if (p) goalloc(NULL, p, n, 0);
}

#endif
