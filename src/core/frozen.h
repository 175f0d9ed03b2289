/*
** frozen.h: frozen tables (gochan.freeze). A graph of tables is copied
** once into C and never changes again; it is one core object, shared by
** reference between states and threads, read by any of them at once
** without a lock (nothing in it is written after frozen_seal).
**
** A graph holds its tables in 'tabs' (tabs[0] the root); a value that is a
** table of the graph is its index there, so shared references and cycles
** cost nothing and no table is refcounted alone. A table is an array part
** (the values of keys 1..narr) and a hash part of chained nodes, as Lua's
** own tables are; strings, nodes and arrays are carved from an arena the
** object frees as a whole. Lua-free: src/lua/lfreeze.c builds a graph
** from a Lua table and reads it through proxies; src/core/ctable.c turns
** one into a C API table graph.
*/
#ifndef GOCHAN_FROZEN_H
#define GOCHAN_FROZEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "obj.h"

/* The type of a frozen value (a key is never FV_NIL). */
enum fvtype {
  FV_NIL = 0, FV_FALSE, FV_TRUE, FV_INT, FV_FLOAT, FV_STR,
  FV_TABLE,     /* a table of this graph: u.t its index */
  FV_OBJ,       /* a gochan object (another frozen graph's root too),
                   held by the graph (one reference) */
  FV_NEST,      /* a table of another graph: u.nest (that graph held) */
  FV_LUD        /* a light userdata: a bare pointer */
};

struct fstr { uint32_t hash; uint32_t len; char s[]; };  /* NUL after len */
struct frozen;
struct fnest { struct frozen *f; uint32_t t; };

union fv {
  int64_t i;
  double n;
  const struct fstr *s;
  uint32_t t;
  struct obj *o;
  const struct fnest *nest;
  void *p;
};

/* A hash node; free when kt is FV_NIL. 'next': the node after this one in
** its chain, -1 at the end. */
struct fnode { union fv k, v; uint8_t kt, vt; int32_t next; };

/*
** A table. Keys 1..narr are in the array part (arr/arrt; all non-nil);
** every other key is in a node of the chain that starts at its main
** position (hash & (nnode - 1)); nnode is 0 or a power of 2. narr + 1 is
** never a key, so narr is a border (#t).
*/
struct ftable {
  union fv *arr;
  uint8_t *arrt;
  struct fnode *node;
  uint32_t narr, nnode;
  uint32_t nkeys;         /* keys in the nodes */
  bool rawkeys;           /* every key a string, number or boolean: a Lua
                             table with the same keys finds each by raw
                             lookup exactly as this one does */
};

struct fchunk;

struct frozen {
  struct obj obj;         /* OBJ_FROZEN */
  uint64_t id;            /* unique in the process, never reused */
  uint32_t ntab, tabcap;
  struct ftable *tabs;
  struct fchunk *arena;   /* the chunk carved from first; older ones after */
  struct obj **held;      /* references this graph owns (FV_OBJ, FV_NEST) */
  size_t nheld, heldcap;
  size_t bytes;           /* C memory it holds */
};

/* A key/value pair as the builder is given it. */
struct fkv { union fv k, v; uint8_t kt, vt; };

/* ---- building (one thread, before frozen_seal) ---- */

/* A new, empty graph (one reference, the caller's), or NULL. */
struct frozen *frozen_new (void);
/* Reserve the next table index; -1 when out of memory. */
int64_t frozen_addtable (struct frozen *f);
/* Fill table 'ti' with the 'n' pairs of 'kv' (keys distinct, not nil,
** integral floats already integers, as a Lua table's keys are). False
** when out of memory. */
bool frozen_settable (struct frozen *f, uint32_t ti, const struct fkv *kv,
                      size_t n);
/* A copy of 's' in the graph (NULL: memory or longer than 4 GB). */
const struct fstr *frozen_newstr (struct frozen *f, const char *s,
                                  size_t len);
/* A table of another graph, 'g' retained by 'f' (NULL: memory). */
const struct fnest *frozen_newnest (struct frozen *f, struct frozen *g,
                                    uint32_t t);
/* 'f' takes one reference to 'o' (retains it); false: memory. */
bool frozen_hold (struct frozen *f, struct obj *o);
/* Building is over: fix obj.size. Publishing the object to other threads
** (a channel, a box) orders everything written before. */
void frozen_seal (struct frozen *f);

/* ---- reading (any thread, after frozen_seal) ---- */

uint32_t frozen_hash (const char *s, size_t len);
/* The value of a string key / any key in 't': its type (FV_NIL: absent)
** and '*v'. 'h' is frozen_hash(s, len). */
uint8_t frozen_getstr (const struct ftable *t, const char *s, size_t len,
                       uint32_t h, union fv *v);
uint8_t frozen_get (const struct ftable *t, uint8_t kt, union fv k,
                    union fv *v);
/* Iteration: positions 0 .. narr + nnode - 1. frozen_next gives the
** first pair at a position >= '*pos' (and sets '*pos' past it), false at
** the end. frozen_pos: the position after key (kt, k), or -1 if it is
** not a key of 't'. */
bool frozen_next (const struct ftable *t, uint32_t *pos, uint8_t *kt,
                  union fv *k, uint8_t *vt, union fv *v);
int64_t frozen_pos (const struct ftable *t, uint8_t kt, union fv k);
int64_t frozen_posstr (const struct ftable *t, const char *s, size_t len,
                       uint32_t h);

static inline const struct ftable *frozen_table (const struct frozen *f,
                                                 uint32_t ti) {
  return &f->tabs[ti];
}

#endif
