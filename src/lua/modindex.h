/*
** modindex.h: the per-state module index, which lets the encoder send a
** module, or a module's field, by name (T_MOD) instead of by value: value
** -> (name, field) over package.loaded, rebuilt when package.loaded gains
** a key. Kept in the user values 1 and 2 of the state's tstate
** (tformat.h).
*/
#ifndef GOCHAN_MODINDEX_H
#define GOCHAN_MODINDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <lua.h>
#include "tformat.h"

/* With the new tstate 'ts' on top: make package.loaded mark the index
** stale (ts->dirty) when it gains a key, unless it has a metatable of its
** own (then ts->hooked stays false and each use compares a signature of
** its keys). May raise (memory). */
void modindex_open (lua_State *L, struct tstate *ts);

/*
** Push the index and its entries (2 slots) of 'ts' (at stack index
** 'tsi'), rebuilding them first when 'force', when package.loaded gained
** a key since they were built, or when they never were. Returns true when
** this call rebuilt them. May raise (memory); runs no Lua code.
*/
bool modindex_push (lua_State *L, int tsi, struct tstate *ts, bool force);

/* What modindex_find found. */
enum { MODINDEX_MISS, MODINDEX_STALE, MODINDEX_FOUND };

/* A module (field == "", flen == 0) or a module's field, by name: the
** strings are on the stack (see modindex_find). */
struct modref {
  const char *name, *field;
  size_t nlen, flen;
};

/*
** Look the value at 'idx' up in the index at 'index' with its entries at
** 'entries' (as pushed by modindex_push), checked against package.loaded
** at 'loaded'. MODINDEX_MISS: not indexed. MODINDEX_STALE: its entry no
** longer names it (package.loaded, or the module table, changed since the
** index was built).
** MODINDEX_FOUND: '*ref' is set and its two strings are the 2 slots this
** pushed, for the caller to pop when done with them; otherwise the stack
** is as it was. Uses 3 slots; runs no Lua code and does not raise.
*/
int modindex_find (lua_State *L, int idx, int index, int entries, int loaded,
                   struct modref *ref);

#endif
