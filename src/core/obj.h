/*
** obj.h: the header of every shared core object (channel, waitgroup,
** mutex, atomic, ticker, task). Objects are refcounted; whoever holds a
** pointer across threads holds a reference. The last release destroys.
*/
#ifndef GOCHAN_OBJ_H
#define GOCHAN_OBJ_H

#include <stdatomic.h>
#include "core.h"

enum objtype {
  OBJ_CHAN = 1, OBJ_WAITGROUP, OBJ_MUTEX, OBJ_ATOMIC, OBJ_TICKER, OBJ_TASK,
  OBJ_CONTEXT,
  OBJ_ONCE, OBJ_RWMUTEX, OBJ_COND, OBJ_SEM,
  OBJ_TIMER,
  OBJ_NOTIFIER,
  OBJ_FROZEN,
  OBJ_NTYPES
};

struct obj {
  atomic_long refs;                 /* >= 1 while anyone may use it */
  uint8_t type;                     /* enum objtype; fixed at creation */
  uint32_t size;                    /* bytes of C memory the object holds
                                       (approximate; fixed at creation):
                                       what a Lua box pins for the collector */
  void (*destroy) (struct obj *o);  /* frees the whole object */
};

#ifdef GOCHAN_TESTING
/* A testing build counts the live objects of each type (as Lua's ltests
** counts its objects), so specs can assert that what they made was freed.
** Relaxed: only the totals matter, read when the caller knows no object
** is being made or destroyed. */
extern atomic_long obj_live[OBJ_NTYPES];
#define obj_count(t, d) \
  atomic_fetch_add_explicit(&obj_live[t], (d), memory_order_relaxed)
#else
#define obj_count(t, d) ((void)0)
#endif

static inline void obj_init (struct obj *o, enum objtype t,
                             void (*destroy) (struct obj *), size_t size) {
  atomic_init(&o->refs, 1);
  o->type = (uint8_t)t;
  o->size = size > UINT32_MAX ? UINT32_MAX : (uint32_t)size;
  o->destroy = destroy;
  obj_count(t, 1);
}

static inline void obj_retain (struct obj *o) {
  atomic_fetch_add_explicit(&o->refs, 1, memory_order_relaxed);
}

/* Release one reference; the last one destroys. acq_rel so that every
** write made by earlier holders happens before 'destroy'. */
static inline void obj_release (struct obj *o) {
  if (atomic_fetch_sub_explicit(&o->refs, 1, memory_order_acq_rel) == 1) {
    obj_count(o->type, -1);
    o->destroy(o);
  }
}

#endif
