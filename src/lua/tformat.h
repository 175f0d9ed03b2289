/*
** tformat.h: what the transfer files share: the byte format of a
** 'struct tbuf' (written by tencode.c, read by tdecode.c; docs/transfer.md
** describes it for users), its limits, and the per-state data (struct
** tstate, made and freed by transfer.c).
*/
#ifndef GOCHAN_TFORMAT_H
#define GOCHAN_TFORMAT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <lua.h>
#include "tbuf.h"
#include "tbuild.h"
#include "ttags.h"

/*
** The byte format. A value is a tag byte and its payload; integers in
** payloads are LEB128 varints unless said otherwise, numbers native-endian
** (a buffer never leaves its process).
**   T_NIL T_FALSE T_TRUE
**   T_GLOBALS               the sender's global table (found by identity,
**                           wherever it sits): the receiver's globals
**   T_INT  8 bytes          T_FLOAT 8 bytes         T_LUD  pointer bytes
**   T_STR  len bytes        T_OBJ   i (into the tbuf's object array)
**   T_TABLE / T_TABLEMT  narr nrec (u32 each), (narr + nrec) key/value
**          pairs, then for T_TABLEMT the metatable's value
**   T_REF  n                the n-th table or function built so far (1-based)
**   T_FUNC mac (u64) len (u32) chunk, nups (1 byte), then per upvalue a
**          value or T_UPJOIN n k: share upvalue k of the n-th function
**   T_MOD  name field       package.loaded[name] (field "" : the module
**          itself) or its field, in the receiver (require()d if absent)
**   T_FROZEN i t            table t (> 0) of the frozen graph that is
**                           object i (a nested frozen table; a graph's
**                           root crosses as T_OBJ)
** Tables and Lua functions are numbered in the order their tags appear;
** the decoder keeps them only when the buffer has TBUF_REFS.
*/
/* The tags (T_*) and MAXDEPTH, the deepest nesting of tables, functions
** and metatables in one value, are in src/core/ttags.h (the C API reads
** and writes table graphs in this format too). */
/* Stack slots one nesting level may need: 3 of its own, 8 for a leaf. */
#define LEVELSLOTS 11

struct seg;               /* a step of the path, for refusals (tencode.c) */

/*
** The encoder's working space. Owned by a userdata (the tstate, or one of
** its own), so a Lua error (memory) at any point frees it with the state;
** 'busy' while an encoding uses it (a finalizer that sends from inside an
** encoding gets its own). The memo's keys are tables and Lua closures
** (value: their number) and upvalue ids (value: function number << 8 |
** upvalue index). The objects are borrowed while encoding: the boxes are
** reachable from the value and no Lua code runs meanwhile.
*/
struct scratch {
  struct tbuild b;        /* nrefs: tables and functions numbered so far */
  int depth;              /* tables and functions open around the value */
  bool busy;
  int npath;              /* segments pushed; those < pathcap are stored */
  int pathcap;            /* grown on demand: a state that never sends a
                             deep value keeps this small (tasks are many) */
  struct seg *path;
};

static inline void scratch_init (struct scratch *s) {
  memset(s, 0, sizeof *s);
}

static inline void scratch_free (struct scratch *s) {
  tbuild_free(&s->b);
  free(s->path);
  scratch_init(s);
}

/*
** The decoder's cache of short strings (up to STRS_MAXLEN bytes), so that
** the keys a stream of tables repeats are not hashed and interned again
** for each: slot i holds the string at index i + 1 of the table
** registry[ts->strsref] (NSTRS array slots) when 'len1' is its length + 1
** (0: empty), and 'a', 'b' its bytes (strs_key). A string takes a slot the
** second time in a row it maps there ('seen'), so that strings which never
** repeat do not evict the ones that do. Bounded: at most NSTRS strings
** stay alive for it.
*/
#define NSTRS 64                /* a power of 2 */
#define STRS_MAXLEN 16
struct strslot {
  uint64_t a, b;
  uint32_t len1;
  uint32_t seen;                /* hash of the last string that missed here */
};

/* The exact key of the 'n' bytes at 's', n <= STRS_MAXLEN: with 'n', 'a'
** and 'b' tell the bytes apart (overlapping loads cover every byte). */
static inline void strs_key (const char *s, size_t n, uint64_t *a, uint64_t *b) {
  if (n >= 8) {
    memcpy(a, s, 8);
    memcpy(b, s + n - 8, 8);
  }
  else if (n >= 4) {
    uint32_t x, y;
    memcpy(&x, s, 4);
    memcpy(&y, s + n - 4, 4);
    *a = (uint64_t)x << 32 | y;
    *b = 0;
  }
  else {
    *a = n ? (uint64_t)(uint8_t)s[0] << 16 | (uint64_t)(uint8_t)s[n / 2] << 8 |
             (uint8_t)s[n - 1] : 0;
    *b = 0;
  }
}

/*
** Per-state transfer data: registry[&TSTATE] (transfer.c), a userdata with
** five user values: 1, the module index {value = i} (weak keys), 2, its
** entries {[2i-1] = name, [2i] = field or false} (both made and read by
** modindex.c), 3, package.loaded (the registry's), 4, the globals, 5, the
** dump cache (made on first use by tencode.c: {function = its encoded
** chunk}, weak keys). 'dirty': package.loaded gained a key since the
** index was built. 'modbits': NULL until the index is first built, then a
** filter of MODBITS bits over the pointers of the values it holds
** (modindex.h). 'globals': the pointer of user value 4. 'pending':
** buffers being decoded, owned here (a to-be-closed slot frees the top
** one, also when the decoding raises). 'recent': functions lately packed
** as a whole value, by address (a hint only: see tencode.c's remember).
** 'strs' and 'strsref': the string cache, both set at once by tdecode.c
** (and then kept until the state closes). Only the state's own thread
** touches it.
*/
#define NRECENT 16
#define MODBITS_LOG2 12
#define MODBITS (1u << MODBITS_LOG2)
struct tstate {
  bool dirty, hooked;     /* hooked: package.loaded's __newindex sets dirty */
  size_t sig;             /* !hooked: signature of package.loaded's keys */
  uint64_t *modbits;
  const void *globals;
  struct tbuf **pending;
  size_t npending, pendcap;
  const void *recent[NRECENT];
  struct strslot *strs;   /* NSTRS of them, or NULL (never needed yet) */
  int strsref;            /* with 'strs': registry[strsref], its strings */
  struct scratch sc;
};

/* From transfer.c: push the per-state data (its userdata), made on first
** use. May raise (memory). */
struct tstate *transfer_pushstate (lua_State *L);

/* From transfer.c: the same without pushing it (the registry anchors it;
** a task's state finds it without a look-up). May raise (memory). */
struct tstate *transfer_state (lua_State *L);

/* From tdecode.c: decode 'b' (owned by the caller, who must free it also
** when this raises) and push the value. 'ts': the state's tstate, for the
** string cache, or NULL (no cache: for values decoded once). Raises on
** bad bytes, on memory, and when a module the value names cannot be
** required. */
void tdecode_push (lua_State *L, const struct tbuf *b, struct tstate *ts);

#endif
