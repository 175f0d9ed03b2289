/*
** modindex.h: the per-state module index, which lets the encoder send a
** module, or a module's field, by name (T_MOD) instead of by value: value
** -> (name, field) over package.loaded, rebuilt when package.loaded gains
** a key. Kept in the user values 1 and 2 of the state's tstate, with a
** filter over the pointers it holds in ts->modbits (tformat.h).
*/
#ifndef GOCHAN_MODINDEX_H
#define GOCHAN_MODINDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <lua.h>
#include "tformat.h"

/* With the new tstate 'ts' on top: make package.loaded mark the index
** stale (ts->dirty) when it gains a key, unless it has a metatable of its
** own (then ts->hooked stays false and each use compares a signature of
** its keys). May raise (memory). */
void modindex_open (lua_State *L, struct tstate *ts);

/*
** Rebuild the index and its entries of the state's tstate 'ts' when
** 'force', when package.loaded gained a key since they were built, or
** when they never were. Returns true when this call rebuilt them. May
** raise (memory); runs no Lua code.
*/
bool modindex_prepare (lua_State *L, struct tstate *ts, bool force);

/* The two bits of the filter ts->modbits (MODBITS of them) that a value
** whose lua_topointer is 'p' sets when it is in the index. */
static inline void modindex_bits (const void *p, unsigned *i, unsigned *j) {
  uint64_t h = (uint64_t)(uintptr_t)p * 0x9E3779B97F4A7C15u;
  *i = (unsigned)(h >> (64 - MODBITS_LOG2));
  *j = (unsigned)(h >> (40 - MODBITS_LOG2)) & (MODBITS - 1);
}

/* False when the value whose lua_topointer is 'p' is certainly not in
** the index of 'ts' (after modindex_prepare); true when it may be (or
** was: a collected key's bits stay until the next rebuild). No Lua call. */
static inline bool modindex_maybe (const struct tstate *ts, const void *p) {
  unsigned i, j;
  modindex_bits(p, &i, &j);
  return (ts->modbits[i / 64] >> (i % 64) & 1) &&
         (ts->modbits[j / 64] >> (j % 64) & 1);
}

/* What modindex_find found. */
enum { MODINDEX_MISS, MODINDEX_STALE, MODINDEX_FOUND };

/* A module (field == "", flen == 0) or a module's field, by name: the
** strings are on the stack (see modindex_find). */
struct modref {
  const char *name, *field;
  size_t nlen, flen;
};

/*
** Look the value at 'idx' up in the index of the state's tstate (as built
** by modindex_prepare), checked against package.loaded.
** MODINDEX_MISS: not indexed. MODINDEX_STALE: its entry no longer names
** it (package.loaded, or the module table, changed since the index was
** built). MODINDEX_FOUND: '*ref' is set and its two strings are the 2
** slots this pushed, for the caller to pop when done with them; otherwise
** the stack is as it was. Uses 8 slots; runs no Lua code and does not
** raise. The caller asks modindex_maybe first (this does not).
*/
int modindex_find (lua_State *L, int idx, struct modref *ref);

#endif
