/*
** transfer.c: Lua value <-> 'struct tvalue' by the transfer rules of
** API.md. Scalars, strings, light userdata and gochan objects stay inline
** in the tvalue; anything else is encoded into a 'struct tbuf' (tbuf.h)
** whose byte format is defined here and described in docs/transfer.md.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <lua.h>
#include <lauxlib.h>
#include "lgochan.h"
#include "tbuf.h"
#include "transfer.h"

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
** Tables and Lua functions are numbered in the order their tags appear;
** the decoder keeps them only when the buffer has TBUF_REFS.
*/
enum {
  T_NIL = 0, T_FALSE, T_TRUE, T_GLOBALS, T_INT, T_FLOAT, T_LUD, T_STR,
  T_OBJ, T_TABLE, T_TABLEMT, T_REF, T_FUNC, T_UPJOIN, T_MOD, T_NTAGS
};

/* Deepest nesting of tables, functions and metatables in one value (both
** ways: whatever the encoder accepts, the decoder builds). */
#define MAXDEPTH 1000
/* Stack slots one nesting level may need: 3 of its own, 8 for a leaf. */
#define LEVELSLOTS 11
#define STR_(x) #x
#define STR(x) STR_(x)

/* Encoder outcomes. Only the top level turns them into Lua errors. */
enum { E_OK = 0, E_REFUSED, E_RETRY, E_NOMEM };

/* A step of the path to the value being encoded, for refusal messages. */
enum { SEG_KEY, SEG_INKEY, SEG_META, SEG_UPVAL };
struct seg {
  int kind;
  int keyidx;             /* SEG_KEY: stack index of the key (alive) */
  const char *upname;     /* SEG_UPVAL: owned by the function's prototype */
};

/*
** The memo of one encoding: pointer -> number, open addressing. An entry is
** live when its 'gen' is the memo's current one, so starting a new encoding
** costs one increment. Keys are tables and Lua closures (value: their
** number) and upvalue ids (value: function number << 8 | upvalue index).
*/
struct memo {
  const void *key;
  uint64_t val;
  uint32_t gen;
};

/*
** The encoder's working space. Owned by a userdata, so a Lua error (memory)
** at any point frees it with the state; 'busy' while an encoding uses it
** (a finalizer that sends from inside an encoding gets its own).
*/
struct scratch {
  uint8_t *data;
  size_t len, cap;
  struct obj **objs;      /* borrowed while encoding: the boxes are reachable
                             from the value and no Lua code runs meanwhile */
  size_t nobj, objcap;
  struct memo *memo;
  size_t memocap, memocount;  /* memocap: 0 or a power of 2 */
  uint32_t gen;
  uint32_t nrefs;         /* tables and functions numbered so far */
  unsigned flags;         /* TBUF_* of the buffer being built */
  int depth;
  bool busy;
  int npath;              /* segments pushed; those < pathcap are stored */
  int pathcap;            /* grown on demand: a state that never sends a
                             deep value keeps this small (tasks are many) */
  struct seg *path;
};

/*
** Per-state transfer data: registry[&TSTATE], a userdata with four user
** values: 1, the module index {value = i} (weak keys), 2, its entries
** {[2i-1] = name, [2i] = field or false}, 3, package.loaded (the
** registry's), 4, the globals, 5, the dump cache (made on first use:
** {function = its encoded chunk}, weak keys). 'dirty': package.loaded
** gained a key since the index was built. 'pending': buffers being
** decoded (a to-be-closed slot frees the top one, also when the decoding
** raises). 'recent': functions lately packed as a whole value, by address
** (a hint only: see remember).
*/
#define NRECENT 16
struct tstate {
  bool dirty, hooked;
  size_t sig;             /* !hooked: signature of package.loaded's keys */
  struct tbuf **pending;
  size_t npending, pendcap;
  const void *recent[NRECENT];
  struct scratch sc;
};

static const char TSTATE = 't';
static const char SCRATCHMT = 's';


/* ---- scratch ---- */

static void scratch_init (struct scratch *s) {
  memset(s, 0, sizeof *s);
}

static void scratch_free (struct scratch *s) {
  free(s->data); free(s->objs); free(s->memo); free(s->path);
  scratch_init(s);
}

static int scratch__gc (lua_State *L) {
  scratch_free((struct scratch *)lua_touserdata(L, 1));
  return 0;
}

static bool reserve (struct scratch *s, size_t n) {
  if (s->cap - s->len >= n) return true;
  size_t cap = s->cap ? s->cap : 256;
  while (cap - s->len < n) {
    if (cap > SIZE_MAX / 2) return false;
    cap *= 2;
  }
  uint8_t *d = realloc(s->data, cap);
  if (!d) return false;
  s->data = d;
  s->cap = cap;
  return true;
}

#define PUTBYTE(s, b) ((s)->data[(s)->len++] = (uint8_t)(b))

static bool put (struct scratch *s, const void *p, size_t n) {
  if (!reserve(s, n)) return false;
  if (n) memcpy(s->data + s->len, p, n);
  s->len += n;
  return true;
}

static bool puttag (struct scratch *s, int tag) {
  if (!reserve(s, 1)) return false;
  PUTBYTE(s, tag);
  return true;
}

static bool putvarint (struct scratch *s, uint64_t v) {
  if (!reserve(s, 10)) return false;
  while (v >= 0x80) { PUTBYTE(s, (v & 0x7f) | 0x80); v >>= 7; }
  PUTBYTE(s, v);
  return true;
}

/* A length-prefixed byte string. */
static inline bool putstr (struct scratch *s, const char *p, size_t n) {
  if (n < 0x80 && s->cap - s->len > n) {     /* the common case: one byte */
    s->data[s->len] = (uint8_t)n;
    memcpy(s->data + s->len + 1, p, n);
    s->len += n + 1;
    return true;
  }
  return putvarint(s, n) && put(s, p, n);
}

static size_t memohash (const void *p, size_t cap) {
  uint64_t h = (uint64_t)(uintptr_t)p * 0x9E3779B97F4A7C15u;
  return (size_t)(h >> 32) & (cap - 1);
}

/* The entry for 'p' in the current encoding, or NULL. */
static struct memo *memo_get (struct scratch *s, const void *p) {
  if (s->memocount == 0) return NULL;
  for (size_t i = memohash(p, s->memocap);; i = (i + 1) & (s->memocap - 1)) {
    struct memo *m = &s->memo[i];
    if (m->gen != s->gen) return NULL;
    if (m->key == p) return m;
  }
}

/* Add 'p' (not present). false when out of memory. */
static bool memo_add (struct scratch *s, const void *p, uint64_t val) {
  if (2 * (s->memocount + 1) > s->memocap) {
    size_t ncap = s->memocap ? 2 * s->memocap : 64;
    struct memo *nm = calloc(ncap, sizeof *nm);
    if (!nm) return false;
    for (size_t i = 0; i < s->memocap; i++) {
      struct memo *m = &s->memo[i];
      if (m->gen != s->gen) continue;
      size_t j = memohash(m->key, ncap);
      while (nm[j].gen == s->gen) j = (j + 1) & (ncap - 1);
      nm[j] = *m;
    }
    free(s->memo);
    s->memo = nm;
    s->memocap = ncap;
  }
  size_t i = memohash(p, s->memocap);
  while (s->memo[i].gen == s->gen) i = (i + 1) & (s->memocap - 1);
  s->memo[i] = (struct memo){ p, val, s->gen };
  s->memocount++;
  return true;
}

/* Start an encoding: empty bytes, objects and memo. */
static void scratch_reset (struct scratch *s) {
  s->len = 0;
  s->nobj = 0;
  s->nrefs = 0;
  s->flags = 0;
  s->depth = 0;
  s->npath = 0;
  if (s->memocount) {
    s->memocount = 0;
    if (++s->gen == 0) {          /* wrapped: old stamps could look live */
      if (s->memo) memset(s->memo, 0, s->memocap * sizeof *s->memo);
      s->gen = 1;
    }
  }
  else if (s->gen == 0) s->gen = 1;
}


/* ---- per-state data and the module index ---- */

/* Push the per-state data (its userdata), made on first use: a task that
** only passes scalars never needs it. May raise (memory). */
static struct tstate *pushtstate (lua_State *L) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &TSTATE) == LUA_TNIL) {
    lua_pop(L, 1);
    transfer_open(L);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &TSTATE);
  }
  struct tstate *ts = (struct tstate *)lua_touserdata(L, -1);
  if (!ts) luaL_error(L, "gochan transfer is not open in this state");
  return ts;
}

/* Pop and free the buffer decoded last (its decoding ended or raised). */
static int tstate__close (lua_State *L) {
  struct tstate *ts = (struct tstate *)lua_touserdata(L, 1);
  if (ts->npending > 0) tbuf_free(ts->pending[--ts->npending]);
  return 0;
}

static int tstate__gc (lua_State *L) {
  struct tstate *ts = (struct tstate *)lua_touserdata(L, 1);
  while (ts->npending > 0) tbuf_free(ts->pending[--ts->npending]);
  free(ts->pending);
  ts->pending = NULL;
  ts->pendcap = 0;
  scratch_free(&ts->sc);
  return 0;
}

/* package.loaded's __newindex: store, and mark the module index stale. */
static int loaded__newindex (lua_State *L) {
  struct tstate *ts = (struct tstate *)lua_touserdata(L, lua_upvalueindex(1));
  lua_settop(L, 3);
  lua_rawset(L, 1);
  ts->dirty = true;
  return 0;
}

/* A cheap signature of package.loaded's keys, for a package.loaded that
** already had a metatable of its own (no hook): count and string pointers. */
static size_t loadedsig (lua_State *L, int loaded) {
  size_t sig = 0, n = 0;
  lua_pushnil(L);
  while (lua_next(L, loaded)) {
    lua_pop(L, 1);
    sig = sig * 31 + (size_t)(uintptr_t)lua_topointer(L, -1) + (size_t)lua_type(L, -1);
    n++;
  }
  return sig ^ (n << 48);
}

/* -1, 0, 1 as the string at 'a' names a module or field better than, as
** well as, or worse than the one at 'b': shorter first, then smaller
** bytes (so the choice never depends on hash order). */
static int namecmp (lua_State *L, int a, int b) {
  size_t an, bn;
  const char *as = lua_tolstring(L, a, &an), *bs = lua_tolstring(L, b, &bn);
  if (an != bn) return an < bn ? -1 : 1;
  int c = memcmp(as, bs, an);
  return (c > 0) - (c < 0);
}

/* Index the value at 'vi' as the module named at 'ni' (fi == 0) or as its
** field named at 'fi', unless it already has a better entry: a module
** itself beats a field; then the better name, then the better field.
** Uses the index at 'x' and the entries at 'e'; '*n' counts entries. */
static void addentry (lua_State *L, int x, int e, int vi, int ni, int fi,
                      lua_Integer *n) {
  lua_Integer i;
  lua_pushvalue(L, vi);
  if (lua_rawget(L, x) == LUA_TNUMBER) {
    i = lua_tointeger(L, -1);
    lua_pop(L, 1);
    lua_rawgeti(L, e, 2 * i - 1);
    lua_rawgeti(L, e, 2 * i);                   /* oldname oldfield */
    int top = lua_gettop(L);
    bool oldmod = lua_type(L, top) != LUA_TSTRING;
    int c;
    if (oldmod != (fi == 0)) c = oldmod ? 1 : -1;
    else {
      c = namecmp(L, ni, top - 1);
      if (c == 0 && fi) c = namecmp(L, fi, top);
    }
    lua_pop(L, 2);
    if (c >= 0) return;                         /* keep the old entry */
  }
  else {
    lua_pop(L, 1);
    i = ++*n;
    lua_pushvalue(L, vi);
    lua_pushinteger(L, i);
    lua_rawset(L, x);
  }
  lua_pushvalue(L, ni);
  lua_rawseti(L, e, 2 * i - 1);
  if (fi) lua_pushvalue(L, fi); else lua_pushboolean(L, 0);
  lua_rawseti(L, e, 2 * i);
}

static bool isref (int t) {
  return t == LUA_TTABLE || t == LUA_TFUNCTION || t == LUA_TUSERDATA;
}

/*
** Rebuild the module index from package.loaded: every module value (a
** table, function or userdata package.loaded[name]) first, then every
** string-keyed field of a module table whose value is a table, function
** or userdata. Fields of "_G" are indexed only for C functions and
** userdata: a Lua function or table the program stored in a global is its
** own data and crosses by value. May raise (memory); runs no Lua code.
*/
static void rebuild (lua_State *L, struct tstate *ts) {
  luaL_checkstack(L, 12, NULL);
  int top = lua_gettop(L);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &TSTATE);
  int tsi = top + 1;
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  int loaded = top + 2;
  lua_newtable(L);
  int x = top + 3;
  lua_createtable(L, 0, 1);
  lua_pushliteral(L, "k");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, x);
  lua_newtable(L);
  int e = top + 4;
  lua_Integer n = 0;
  lua_pushnil(L);
  while (lua_next(L, loaded)) {       /* pass 1: the modules themselves */
    if (lua_type(L, -2) == LUA_TSTRING && isref(lua_type(L, -1)))
      addentry(L, x, e, lua_gettop(L), lua_gettop(L) - 1, 0, &n);
    lua_pop(L, 1);
  }
  lua_pushnil(L);
  while (lua_next(L, loaded)) {       /* pass 2: their fields */
    int mod = lua_gettop(L), name = mod - 1;
    if (lua_type(L, name) == LUA_TSTRING && lua_type(L, mod) == LUA_TTABLE) {
      bool isG = strcmp(lua_tostring(L, name), "_G") == 0;
      lua_pushnil(L);
      while (lua_next(L, mod)) {
        int t = lua_type(L, -1);
        if (lua_type(L, -2) == LUA_TSTRING && lua_rawlen(L, -2) > 0 && isref(t) &&
            (!isG || t == LUA_TUSERDATA || lua_iscfunction(L, -1)))
          addentry(L, x, e, lua_gettop(L), name, lua_gettop(L) - 1, &n);
        lua_pop(L, 1);
      }
    }
    lua_pop(L, 1);
  }
  lua_pushvalue(L, x);
  lua_setiuservalue(L, tsi, 1);
  lua_pushvalue(L, e);
  lua_setiuservalue(L, tsi, 2);
  ts->dirty = false;
  if (!ts->hooked) ts->sig = loadedsig(L, loaded);
  lua_settop(L, top);
}

static bool isstale (lua_State *L, struct tstate *ts) {
  if (ts->dirty) return true;
  if (ts->hooked) return false;
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  bool stale = loadedsig(L, lua_gettop(L)) != ts->sig;
  lua_pop(L, 1);
  return stale;
}


/* ---- encoding ---- */

struct enc {
  lua_State *L;
  struct scratch *s;
  int errslot;            /* where a refusal message goes */
  int index, entries, loaded, globals;  /* stack slots */
  bool fresh;             /* the index was rebuilt for this encoding */
  /* the value packed, when it is a Lua function: its chunk from the dump
  ** cache (or NULL), and where encfunction put the chunk it dumped */
  int rootidx;
  const char *rootchunk;
  size_t rootlen, rootoff, rootn;
};

static bool isalpha_ (char c) {
  return c == '_' || ((c | 32) >= 'a' && (c | 32) <= 'z');
}

/* 's' reads as a Lua name (so the path can say ".s"). */
static bool isname (const char *s, size_t n) {
  if (n == 0 || !isalpha_(s[0])) return false;
  for (size_t i = 1; i < n; i++)
    if (!isalpha_(s[i]) && !(s[i] >= '0' && s[i] <= '9')) return false;
  return true;
}

/* Push one path step as text. */
static void pushseg (lua_State *L, const struct seg *g) {
  switch (g->kind) {
    case SEG_INKEY: lua_pushliteral(L, "<key>"); return;
    case SEG_META: lua_pushliteral(L, "<metatable>"); return;
    case SEG_UPVAL: lua_pushfstring(L, "<upvalue '%s'>", g->upname); return;
    default: break;
  }
  int k = g->keyidx;
  switch (lua_type(L, k)) {
    case LUA_TSTRING: {
      size_t n;
      const char *s = lua_tolstring(L, k, &n);
      if (isname(s, n)) { lua_pushfstring(L, ".%s", s); return; }
      luaL_Buffer b;
      luaL_buffinit(L, &b);
      luaL_addstring(&b, "[\"");
      for (size_t i = 0; i < n && i < 40; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') { luaL_addchar(&b, '\\'); luaL_addchar(&b, c); }
        else if (c >= 32 && c < 127) luaL_addchar(&b, c);
        else { char esc[8]; snprintf(esc, sizeof esc, "\\%u", c); luaL_addstring(&b, esc); }
      }
      if (n > 40) luaL_addstring(&b, "...");
      luaL_addstring(&b, "\"]");
      luaL_pushresult(&b);
      return;
    }
    case LUA_TNUMBER:
      if (lua_isinteger(L, k)) lua_pushfstring(L, "[%I]", lua_tointeger(L, k));
      else lua_pushfstring(L, "[%f]", lua_tonumber(L, k));
      return;
    case LUA_TBOOLEAN:
      lua_pushstring(L, lua_toboolean(L, k) ? "[true]" : "[false]");
      return;
    default:
      lua_pushfstring(L, "[<%s>]", luaL_typename(L, k));
      return;
  }
}

/* "a thread", "a C function", "a FILE*" (a userdata's __name), ... */
static void pushwhat (lua_State *L, int idx) {
  switch (lua_type(L, idx)) {
    case LUA_TFUNCTION: lua_pushliteral(L, "a C function"); return;
    case LUA_TUSERDATA:
      if (lua_getmetatable(L, idx)) {
        lua_pushliteral(L, "__name");
        if (lua_rawget(L, -2) == LUA_TSTRING) {
          const char *name = lua_tostring(L, -1);
          lua_pushfstring(L, "a %s", name);
          lua_replace(L, -3);
          lua_pop(L, 1);
          return;
        }
        lua_pop(L, 2);
      }
      lua_pushliteral(L, "a userdata");
      return;
    default: lua_pushfstring(L, "a %s", luaL_typename(L, idx)); return;
  }
}

/* Put "cannot transfer <what> (at <root><path>)" in the error slot. */
static int refuse (struct enc *en, int idx, const char *root, const char *why) {
  lua_State *L = en->L;
  struct scratch *s = en->s;
  luaL_checkstack(L, 30, NULL);
  int top = lua_gettop(L);
  lua_pushliteral(L, "cannot transfer ");
  if (why) lua_pushstring(L, why); else pushwhat(L, idx);
  lua_pushfstring(L, " (at %s", root);
  int npath = s->npath < s->pathcap ? s->npath : s->pathcap;
  for (int i = 0; i < npath; i++) {
    if (npath > 16 && i == 8) {     /* keep the ends of a long path */
      lua_pushliteral(L, "...");
      i = npath - 8;
    }
    pushseg(L, &s->path[i]);
    lua_concat(L, 2);
  }
  lua_pushliteral(L, ")");
  lua_concat(L, lua_gettop(L) - top);
  lua_replace(L, en->errslot);
  return E_REFUSED;
}

/* The module reference of the value at 'idx', written as T_MOD; E_RETRY
** when the index is stale (an entry no longer matches package.loaded, or a
** value that must be a module field is not found and the index was not
** rebuilt for this encoding); 'found' false if it is not a module value. */
static int encmodule (struct enc *en, int idx, bool must, bool *found) {
  lua_State *L = en->L;
  *found = false;
  lua_pushvalue(L, idx);
  if (lua_rawget(L, en->index) != LUA_TNUMBER) {
    lua_pop(L, 1);
    return (must && !en->fresh) ? E_RETRY : E_OK;
  }
  lua_Integer i = lua_tointeger(L, -1);
  lua_pop(L, 1);
  lua_rawgeti(L, en->entries, 2 * i - 1);            /* name */
  lua_rawgeti(L, en->entries, 2 * i);                /* name field */
  lua_pushvalue(L, -2);
  lua_rawget(L, en->loaded);                         /* name field mod */
  bool hasfield = lua_type(L, -2) == LUA_TSTRING;
  bool same;
  if (!hasfield) same = lua_rawequal(L, -1, idx);
  else if (lua_type(L, -1) != LUA_TTABLE) same = false;
  else {
    lua_pushvalue(L, -2);
    lua_rawget(L, -2);                               /* name field mod v */
    same = lua_rawequal(L, -1, idx);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);                                     /* name field */
  if (!same) {                     /* stale: rebuild, or a miss if fresh */
    lua_pop(L, 2);
    return en->fresh ? E_OK : E_RETRY;
  }
  size_t nlen, flen = 0;
  const char *name = lua_tolstring(L, -2, &nlen);
  const char *field = hasfield ? lua_tolstring(L, -1, &flen) : "";
  en->s->flags |= TBUF_MODS;
  bool ok = puttag(en->s, T_MOD) && putstr(en->s, name, nlen) &&
            putstr(en->s, field, flen);
  lua_pop(L, 2);
  *found = true;
  return ok ? E_OK : E_NOMEM;
}

static int encvalue (struct enc *en, int idx, const char *root);

/* Record one step of the path to the value being encoded (for refusal
** messages). Out of memory, the step is counted but not stored, and the
** message shows what was stored. */
static inline int pushpath (struct scratch *s, int kind, int keyidx,
                            const char *up) {
  if (s->npath < s->pathcap) {                 /* the common case */
    s->path[s->npath++] = (struct seg){ kind, keyidx, up };
    return 0;
  }
  {
    int ncap = s->pathcap ? 2 * s->pathcap : 16;
    struct seg *np = realloc(s->path, (size_t)ncap * sizeof *np);
    if (np) { s->path = np; s->pathcap = ncap; }
  }
  if (s->npath < s->pathcap)
    s->path[s->npath] = (struct seg){ kind, keyidx, up };
  s->npath++;
  return 0;
}

static int enctable (struct enc *en, int t, const char *root) {
  lua_State *L = en->L;
  struct scratch *s = en->s;
  bool hasmt = lua_getmetatable(L, t);
  if (hasmt) lua_pop(L, 1);   /* the table anchors it; fetched again below */
  if (!puttag(s, hasmt ? T_TABLEMT : T_TABLE) || !reserve(s, 8)) return E_NOMEM;
  size_t counts = s->len;
  s->len += 8;
  uint64_t narr = 0, total = 0;
  int r = E_OK;
  lua_pushnil(L);
  while (lua_next(L, t)) {
    int k = lua_gettop(L) - 1;
    if (lua_isinteger(L, k)) {
      lua_Integer ki = lua_tointeger(L, k);
      if (ki >= 1 && (uint64_t)ki <= total + 1) narr++;
    }
    total++;
    pushpath(s, SEG_INKEY, 0, NULL);
    r = encvalue(en, k, root);
    s->npath--;
    if (r != E_OK) { lua_pop(L, 2); return r; }
    pushpath(s, SEG_KEY, k, NULL);
    r = encvalue(en, k + 1, root);
    s->npath--;
    lua_pop(L, 1);
    if (r != E_OK) { lua_pop(L, 1); return r; }
  }
  if (total > UINT32_MAX) return E_NOMEM;
  uint32_t c[2] = { (uint32_t)narr, (uint32_t)(total - narr) };
  memcpy(s->data + counts, c, 8);
  if (hasmt) {
    lua_getmetatable(L, t);
    pushpath(s, SEG_META, 0, NULL);
    r = encvalue(en, lua_gettop(L), root);
    s->npath--;
    lua_pop(L, 1);
  }
  return r;
}

static int dumpwriter (lua_State *L, const void *p, size_t n, void *ud) {
  (void)L;
  return put((struct scratch *)ud, p, n) ? 0 : 1;
}

static int encfunction (struct enc *en, int f, const char *root, uint32_t fref) {
  lua_State *L = en->L;
  struct scratch *s = en->s;
  if (!puttag(s, T_FUNC)) return E_NOMEM;
  if (f == en->rootidx && en->rootchunk) {    /* dumped before: the same */
    if (!put(s, en->rootchunk, en->rootlen)) return E_NOMEM;   /* bytes */
  }
  else {
    if (!reserve(s, 12)) return E_NOMEM;
    size_t head = s->len;
    s->len += 12;
    lua_pushvalue(L, f);
    int bad = lua_dump(L, dumpwriter, s, 0);
    lua_pop(L, 1);
    if (bad) return E_NOMEM;
    size_t clen = s->len - head - 12;
    if (clen > UINT32_MAX) return E_NOMEM;
    uint64_t mac = tbuf_mac(s->data + head + 12, clen);
    uint32_t len32 = (uint32_t)clen;
    memcpy(s->data + head, &mac, 8);
    memcpy(s->data + head + 8, &len32, 4);
    if (f == en->rootidx) { en->rootoff = head; en->rootn = 12 + clen; }
  }
  int nups = 0;
  while (lua_getupvalue(L, f, nups + 1)) { lua_pop(L, 1); nups++; }
  if (!puttag(s, nups)) return E_NOMEM;       /* Lua allows at most 255 */
  for (int i = 1; i <= nups; i++) {
    const void *id = lua_upvalueid(L, f, i);
    struct memo *m = memo_get(s, id);
    if (m) {                                  /* shared with a function before */
      s->flags |= TBUF_REFS;
      if (!puttag(s, T_UPJOIN) || !putvarint(s, m->val >> 8) ||
          !putvarint(s, m->val & 0xff))
        return E_NOMEM;
      continue;
    }
    if (!memo_add(s, id, (uint64_t)fref << 8 | (uint64_t)i)) return E_NOMEM;
    /* decided by identity, never by the upvalue's name (a stripped
    ** function has none): the sender's global table becomes T_GLOBALS in
    ** encvalue, any other _ENV (a sandbox) crosses as the table it is */
    const char *name = lua_getupvalue(L, f, i);
    pushpath(s, SEG_UPVAL, 0, (name && *name) ? name : "?");
    int r = encvalue(en, lua_gettop(L), root);
    s->npath--;
    lua_pop(L, 1);
    if (r != E_OK) return r;
  }
  return E_OK;
}

/* Encode the value at 'idx' (absolute). Leaves the stack as it found it. */
static int encvalue (struct enc *en, int idx, const char *root) {
  lua_State *L = en->L;
  struct scratch *s = en->s;
  switch (lua_type(L, idx)) {
    case LUA_TNIL: return puttag(s, T_NIL) ? E_OK : E_NOMEM;
    case LUA_TBOOLEAN:
      return puttag(s, lua_toboolean(L, idx) ? T_TRUE : T_FALSE) ? E_OK : E_NOMEM;
    case LUA_TNUMBER: {
      if (!reserve(s, 9)) return E_NOMEM;
      if (lua_isinteger(L, idx)) {
        int64_t i = (int64_t)lua_tointeger(L, idx);
        PUTBYTE(s, T_INT);
        memcpy(s->data + s->len, &i, 8);
      } else {
        double d = (double)lua_tonumber(L, idx);
        PUTBYTE(s, T_FLOAT);
        memcpy(s->data + s->len, &d, 8);
      }
      s->len += 8;
      return E_OK;
    }
    case LUA_TSTRING: {
      size_t n;
      const char *p = lua_tolstring(L, idx, &n);
      return puttag(s, T_STR) && putstr(s, p, n) ? E_OK : E_NOMEM;
    }
    case LUA_TLIGHTUSERDATA: {
      void *p = lua_touserdata(L, idx);
      return puttag(s, T_LUD) && put(s, &p, sizeof p) ? E_OK : E_NOMEM;
    }
    case LUA_TTHREAD: return refuse(en, idx, root, NULL);
    default: break;
  }
  /* tables, functions, userdata: by reference, by name, or by value */
  if (lua_rawequal(L, idx, en->globals)) return puttag(s, T_GLOBALS) ? E_OK : E_NOMEM;
  int t = lua_type(L, idx);
  if (t == LUA_TUSERDATA) {
    struct obj *o = lgochan_toobj(L, idx);
    if (o) {
      if (s->nobj == s->objcap) {
        size_t ncap = s->objcap ? 2 * s->objcap : 8;
        struct obj **no = realloc(s->objs, ncap * sizeof *no);
        if (!no) return E_NOMEM;
        s->objs = no;
        s->objcap = ncap;
      }
      s->objs[s->nobj++] = o;
      return puttag(s, T_OBJ) && putvarint(s, s->nobj - 1) ? E_OK : E_NOMEM;
    }
  }
  const void *p = lua_topointer(L, idx);
  struct memo *m = memo_get(s, p);
  if (m) {
    s->flags |= TBUF_REFS;
    return puttag(s, T_REF) && putvarint(s, m->val) ? E_OK : E_NOMEM;
  }
  bool found;
  bool must = t == LUA_TUSERDATA || lua_iscfunction(L, idx);
  int r = encmodule(en, idx, must, &found);
  if (r != E_OK || found) return r;
  if (must) return refuse(en, idx, root, NULL);
  if (s->depth >= MAXDEPTH)
    return refuse(en, idx, root, t == LUA_TTABLE ?
                  "a table nested deeper than " STR(MAXDEPTH) " levels" :
                  "a function nested deeper than " STR(MAXDEPTH) " levels");
  /* each level holds at most 3 slots, a leaf at most 8 more: room for
  ** this level and a leaf below it (asking for more than that would
  ** double a small stack, which a blocked task then keeps) */
  if (!lua_checkstack(L, LEVELSLOTS)) return E_NOMEM;
  uint32_t ref = ++s->nrefs;
  if (!memo_add(s, p, ref)) return E_NOMEM;
  s->depth++;
  r = (t == LUA_TTABLE) ? enctable(en, idx, root) : encfunction(en, idx, root, ref);
  s->depth--;
  return r;
}

/*
** Encode the value at 'idx' into the scratch 's' and move it into a new
** tbuf. Returns the E_* outcome; a refusal message is in 'errslot'.
** No Lua code runs and no Lua object is allocated until the outcome is
** known (finalizers cannot run, so every pointer taken stays valid).
*/
static int encode (struct enc *en, struct tstate *ts, int tsi, int idx,
                   const char *root, struct tbuf **out) {
  lua_State *L = en->L;
  struct scratch *s = en->s;
  for (int attempt = 0;; attempt++) {
    if (attempt > 0 || isstale(L, ts)) {
      rebuild(L, ts);                   /* may raise: 's' is not busy yet */
      en->fresh = true;
    }
    int top = lua_gettop(L);
    if (lua_getiuservalue(L, tsi, 1) != LUA_TTABLE) {  /* never built */
      lua_pop(L, 1);
      rebuild(L, ts);
      en->fresh = true;
      lua_getiuservalue(L, tsi, 1);
    }
    lua_getiuservalue(L, tsi, 2);
    lua_getiuservalue(L, tsi, 3);
    lua_getiuservalue(L, tsi, 4);
    en->index = top + 1; en->entries = top + 2;
    en->loaded = top + 3; en->globals = top + 4;
    s->busy = true;
    scratch_reset(s);
    en->rootn = 0;
    int r = encvalue(en, idx, root);
    s->busy = false;
    lua_settop(L, top);
    if (r == E_OK) {
      *out = tbuf_new(s->data, s->len, s->objs, s->nobj, s->flags);
      return *out ? E_OK : E_NOMEM;
    }
    if (r != E_RETRY) return r;     /* E_RETRY only while not 'fresh' */
  }
}

/* ts f chunk len -> (): dump cache[f] = chunk, the cache made if need be */
static int cache_put (lua_State *L) {
  const char *p = (const char *)lua_touserdata(L, 3);
  size_t n = (size_t)lua_tointeger(L, 4);
  if (lua_getiuservalue(L, 1, 5) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_createtable(L, 0, 4);
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_setiuservalue(L, 1, 5);
  }
  lua_pushvalue(L, 2);
  lua_pushlstring(L, p, n);
  lua_rawset(L, -3);
  return 0;
}

/*
** After packing function 'idx' (a whole value) by dumping it: the second
** time in a row a function at the same address is packed, its chunk goes
** in the dump cache, so that spawning the same function again skips
** lua_dump and the MAC. A function packed once (a fresh closure in a
** loop) costs only the look at 'recent'. The cache is keyed by the
** function itself (weak), so a chunk is reused only for the very function
** it was dumped from. Protected: a memory error here only skips caching;
** the scratch is marked busy so that a finalizer that sends meanwhile
** does not overwrite the chunk being copied.
*/
static void remember (lua_State *L, struct tstate *ts, int tsi,
                      struct scratch *s, int idx, const struct enc *en) {
  const void *p = lua_topointer(L, idx);
  unsigned h = (unsigned)(((uintptr_t)p >> 4) % NRECENT);
  if (ts->recent[h] != p) { ts->recent[h] = p; return; }
  if (lua_status(L) != LUA_OK) return;  /* a failed task's error: no calls */
  if (!lua_checkstack(L, 6)) return;
  bool busy = s->busy;
  s->busy = true;
  lua_pushcfunction(L, cache_put);
  lua_pushvalue(L, tsi);
  lua_pushvalue(L, idx);
  lua_pushlightuserdata(L, s->data + en->rootoff);
  lua_pushinteger(L, (lua_Integer)en->rootn);
  if (lua_pcall(L, 4, 0, 0) != LUA_OK) lua_pop(L, 1);
  s->busy = busy;
}

int transfer_pack (lua_State *L, int idx, struct tvalue *tv, const char *root) {
  idx = lua_absindex(L, idx);
  tvalue_setnil(tv);
  switch (lua_type(L, idx)) {
    case LUA_TNONE: case LUA_TNIL:
      return 1;
    case LUA_TBOOLEAN:
      tvalue_setbool(tv, lua_toboolean(L, idx));
      return 1;
    case LUA_TNUMBER:
      if (lua_isinteger(L, idx))
        tvalue_setint(tv, (int64_t)lua_tointeger(L, idx));
      else
        tvalue_setfloat(tv, (double)lua_tonumber(L, idx));
      return 1;
    case LUA_TSTRING: {
      size_t len;
      const char *s = lua_tolstring(L, idx, &len);
      if (tvalue_setstr(tv, s, len) != GO_OK)
        return luaL_error(L, "not enough memory");  /* nothing held */
      return 1;
    }
    case LUA_TLIGHTUSERDATA:
      tvalue_setlud(tv, lua_touserdata(L, idx));
      return 1;
    case LUA_TTHREAD:
      lua_pushfstring(L, "cannot transfer a thread (at %s)", root);
      return 0;
    case LUA_TUSERDATA: {
      struct obj *o = lgochan_toobj(L, idx);
      if (o) { tvalue_setobj(tv, o); return 1; }
      break;
    }
    default: break;
  }
  luaL_checkstack(L, 8 + LEVELSLOTS, NULL);
  lua_pushnil(L);                       /* the error slot */
  int errslot = lua_gettop(L);
  struct tstate *ts = pushtstate(L);    /* may raise: nothing held */
  struct scratch *s = &ts->sc;
  if (s->busy) {                        /* a finalizer sending mid-encoding */
    s = (struct scratch *)lua_newuserdatauv(L, sizeof *s, 0);
    scratch_init(s);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &SCRATCHMT);
    lua_setmetatable(L, -2);
  }
  /* A function packed as a whole value (gochan.go's): its chunk may be
  ** in the dump cache (the ts slot anchors the cache, the slot above the
  ** chunk) */
  int tsi = errslot + 1;
  struct enc en = { L, s, errslot, 0, 0, 0, 0, false, 0, NULL, 0, 0, 0 };
  bool lfunc = lua_type(L, idx) == LUA_TFUNCTION && !lua_iscfunction(L, idx);
  if (lfunc) {
    en.rootidx = idx;
    if (lua_getiuservalue(L, tsi, 5) == LUA_TTABLE) {
      lua_pushvalue(L, idx);
      if (lua_rawget(L, -2) == LUA_TSTRING)
        en.rootchunk = lua_tolstring(L, -1, &en.rootlen);
    }
  }
  struct tbuf *b = NULL;
  int r = encode(&en, ts, tsi, idx, root, &b);
  if (r == E_OK) {
    if (lfunc && !en.rootchunk && en.rootn > 0) remember(L, ts, tsi, s, idx, &en);
    lua_settop(L, errslot - 1);
    tv->tt = TV_BUF;
    tv->u.buf = b;
    return 1;
  }
  lua_settop(L, errslot);
  if (r == E_REFUSED) return 0;         /* the message is on top */
  return luaL_error(L, "not enough memory");
}


/* ---- decoding: every read is bounds-checked; bad bytes raise ---- */

struct dec {
  lua_State *L;
  const uint8_t *p, *end;
  const struct tbuf *b;
  int refs;               /* stack slot of the refs table, or 0 */
  lua_Integer nrefs;
  int depth;
};

static void corrupt (struct dec *d) __attribute__((noreturn));
static void corrupt (struct dec *d) {
  luaL_error(d->L, "corrupt transfer buffer");
  abort();  /* not reached: luaL_error does not return */
}

static int getbyte (struct dec *d) {
  if (d->p >= d->end) corrupt(d);
  return *d->p++;
}

static void getbytes (struct dec *d, void *out, size_t n) {
  if ((size_t)(d->end - d->p) < n) corrupt(d);
  memcpy(out, d->p, n);
  d->p += n;
}

static uint64_t getvarint (struct dec *d) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    int c = getbyte(d);
    if (shift == 63 && (c & 0x7e)) corrupt(d);
    v |= (uint64_t)(c & 0x7f) << shift;
    if (!(c & 0x80)) return v;
  }
  corrupt(d);
}

/* A length-prefixed byte string, in place. */
static const char *getstr (struct dec *d, size_t *n) {
  uint64_t len = getvarint(d);
  if (len > (uint64_t)(d->end - d->p)) corrupt(d);
  const char *s = (const char *)d->p;
  d->p += len;
  *n = (size_t)len;
  return s;
}

/* Number the value on top as the next table or function. */
static void addref (struct dec *d) {
  d->nrefs++;
  if (d->refs) {
    lua_pushvalue(d->L, -1);
    lua_rawseti(d->L, d->refs, d->nrefs);
  }
}

static void getref (struct dec *d, uint64_t n) {
  if (!d->refs || n < 1 || n > (uint64_t)d->nrefs) corrupt(d);
  lua_rawgeti(d->L, d->refs, (lua_Integer)n);
}

static void decvalue (struct dec *d);

/* Push the receiver's package.loaded[name] (require()d if absent) or its
** field. Runs Lua code (require). */
static void decmodule (struct dec *d) {
  lua_State *L = d->L;
  size_t nlen, flen;
  const char *name = getstr(d, &nlen);
  const char *field = getstr(d, &flen);
  if (nlen == 0) corrupt(d);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  lua_pushlstring(L, name, nlen);                    /* loaded name */
  lua_pushvalue(L, -1);
  if (lua_rawget(L, -3) == LUA_TNIL) {               /* loaded name mod */
    lua_pop(L, 1);
    if (lua_getglobal(L, "require") != LUA_TFUNCTION)
      luaL_error(L, "cannot receive module '%s' (no 'require')",
                 lua_tostring(L, -2));
    lua_pushvalue(L, -2);
    lua_call(L, 1, 1);                               /* loaded name mod */
  }
  if (flen > 0) {
    if (lua_type(L, -1) == LUA_TTABLE) {
      lua_pushlstring(L, field, flen);
      lua_rawget(L, -2);                             /* loaded name mod v */
      lua_remove(L, -2);
    }
    else lua_pushnil(L), lua_remove(L, -2);
    if (lua_isnil(L, -1)) {
      const char *mname = lua_tostring(L, -2);
      const char *fname = lua_pushlstring(L, field, flen);
      luaL_error(L, "cannot receive '%s.%s' (no such field)", mname, fname);
    }
  }
  else if (lua_isnil(L, -1))
    luaL_error(L, "cannot receive module '%s' (require returned nil)",
               lua_tostring(L, -2));
  lua_replace(L, -3);
  lua_pop(L, 1);                                     /* v */
}

static void dectable (struct dec *d, bool hasmt) {
  lua_State *L = d->L;
  uint32_t c[2];
  getbytes(d, c, 8);
  uint64_t n = (uint64_t)c[0] + c[1];
  if (n > (uint64_t)(d->end - d->p) / 2) corrupt(d);  /* 2 bytes a pair at least */
  lua_createtable(L, (int)(c[0] < (1u << 24) ? c[0] : 1u << 24),
                  (int)(c[1] < (1u << 24) ? c[1] : 1u << 24));
  addref(d);
  int t = lua_gettop(L);
  for (uint64_t i = 0; i < n; i++) {
    decvalue(d);
    int kt = lua_type(L, -1);
    if (kt == LUA_TNIL || (kt == LUA_TNUMBER && !lua_isinteger(L, -1) &&
                           isnan(lua_tonumber(L, -1))))
      corrupt(d);
    decvalue(d);
    lua_rawset(L, t);
  }
  if (hasmt) {
    decvalue(d);
    if (!lua_istable(L, -1)) corrupt(d);
    lua_setmetatable(L, t);
  }
}

struct chunk { const char *p; size_t n; };

static const char *chunkreader (lua_State *L, void *ud, size_t *size) {
  struct chunk *c = (struct chunk *)ud;
  (void)L;
  *size = c->n;
  c->n = 0;
  return *size ? c->p : NULL;
}

static void decfunction (struct dec *d) {
  lua_State *L = d->L;
  uint64_t mac;
  uint32_t len;
  getbytes(d, &mac, 8);
  getbytes(d, &len, 4);
  if (len > (size_t)(d->end - d->p)) corrupt(d);
  struct chunk c = { (const char *)d->p, len };
  if (tbuf_mac(c.p, c.n) != mac) corrupt(d);         /* forged or damaged */
  d->p += len;
  if (lua_load(L, chunkreader, &c, "=transfer", "b") != LUA_OK)
    lua_error(L);
  int f = lua_gettop(L);
  addref(d);
  int nups = getbyte(d);
  if (nups > 0 && !lua_getupvalue(L, f, nups)) corrupt(d);
  if (nups > 0) lua_pop(L, 1);
  if (lua_getupvalue(L, f, nups + 1)) corrupt(d);    /* count must match */
  for (int i = 1; i <= nups; i++) {
    if (d->p < d->end && *d->p == T_UPJOIN) {
      d->p++;
      uint64_t n = getvarint(d), k = getvarint(d);
      getref(d, n);
      int g = lua_gettop(L);
      if (lua_type(L, g) != LUA_TFUNCTION || lua_iscfunction(L, g) ||
          k < 1 || k > 255 || !lua_getupvalue(L, g, (int)k))
        corrupt(d);
      lua_pop(L, 1);
      lua_upvaluejoin(L, f, i, g, (int)k);
      lua_pop(L, 1);
    }
    else {
      decvalue(d);
      lua_setupvalue(L, f, i);
    }
  }
}

/* Push the next value. */
static void decvalue (struct dec *d) {
  lua_State *L = d->L;
  int tag = getbyte(d);
  switch (tag) {
    case T_NIL: lua_pushnil(L); return;
    case T_FALSE: lua_pushboolean(L, 0); return;
    case T_TRUE: lua_pushboolean(L, 1); return;
    case T_GLOBALS: lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS); return;
    case T_INT: { int64_t i; getbytes(d, &i, 8); lua_pushinteger(L, (lua_Integer)i); return; }
    case T_FLOAT: { double n; getbytes(d, &n, 8); lua_pushnumber(L, (lua_Number)n); return; }
    case T_LUD: { void *p; getbytes(d, &p, sizeof p); lua_pushlightuserdata(L, p); return; }
    case T_STR: {
      size_t n;
      const char *s = getstr(d, &n);
      lua_pushlstring(L, s, n);
      return;
    }
    case T_OBJ: {
      uint64_t i = getvarint(d);
      if (i >= d->b->nobj) corrupt(d);
      lgochan_pushobj(L, d->b->objs[i]);
      return;
    }
    case T_REF: getref(d, getvarint(d)); return;
    case T_MOD: decmodule(d); return;
    case T_TABLE: case T_TABLEMT: case T_FUNC:
      if (++d->depth > MAXDEPTH + 1) corrupt(d);
      luaL_checkstack(L, LEVELSLOTS, NULL);      /* as in the encoder */
      if (tag == T_FUNC) decfunction(d); else dectable(d, tag == T_TABLEMT);
      d->depth--;
      return;
    default: corrupt(d);
  }
}

/* Decode 'b' (owned by the caller) and push the value. Raises on bad bytes. */
static void decode (lua_State *L, const struct tbuf *b) {
  struct dec d = { L, b->data, b->data + b->len, b, 0, 0, 0 };
  luaL_checkstack(L, 1 + LEVELSLOTS, NULL);     /* refs, a leaf */
  if (b->flags & TBUF_REFS) {
    lua_createtable(L, 8, 0);
    d.refs = lua_gettop(L);
  }
  decvalue(&d);
  if (d.p != d.end) corrupt(&d);
  if (d.refs) lua_remove(L, d.refs);
}

/* Free 'b' and drop it from 'pending' (normally its top: a finalizer's
** decoding that raised may have left one above it). */
static void unpend (struct tstate *ts, struct tbuf *b) {
  for (size_t i = ts->npending; i-- > 0;)
    if (ts->pending[i] == b) {
      memmove(&ts->pending[i], &ts->pending[i + 1],
              (ts->npending - i - 1) * sizeof *ts->pending);
      ts->npending--;
      break;
    }
  tbuf_free(b);
}

void transfer_push (lua_State *L, struct tvalue *tv) {
  switch (tv->tt) {
    case TV_NIL: lua_pushnil(L); break;
    case TV_BOOL: lua_pushboolean(L, tv->u.b); break;
    case TV_INT: lua_pushinteger(L, (lua_Integer)tv->u.i); break;
    case TV_FLOAT: lua_pushnumber(L, (lua_Number)tv->u.n); break;
    case TV_SSTR: lua_pushlstring(L, tv->u.ss, tv->sslen); break;
    case TV_LSTR: {
      struct tvalue v = *tv;               /* a raise below must not leak */
      tvalue_setnil(tv);
      lua_pushlstring(L, v.u.ls.s, v.u.ls.len);
      tvalue_clear(&v);
      return;
    }
    case TV_LUD: lua_pushlightuserdata(L, tv->u.p); break;
    case TV_OBJ: lgochan_pushobj(L, tv->u.o); break;  /* on a raise 'tv' keeps it */
    case TV_BUF: {
      struct tstate *ts = pushtstate(L);
      lua_pop(L, 1);                       /* the registry anchors it */
      if (ts->npending == ts->pendcap) {
        size_t ncap = ts->pendcap ? 2 * ts->pendcap : 4;
        struct tbuf **np = realloc(ts->pending, ncap * sizeof *np);
        if (!np) luaL_error(L, "not enough memory");  /* 'tv' still owns it */
        ts->pending = np;
        ts->pendcap = ncap;
      }
      struct tbuf *b = tv->u.buf;
      tvalue_setnil(tv);
      ts->pending[ts->npending++] = b;     /* owned by 'ts' from here */
      if (b->flags & TBUF_MODS) {
        /* require() may fail for ordinary reasons: a to-be-closed slot
        ** frees 'b' on a raise too (after the nested decodings' slots) */
        luaL_checkstack(L, 4, NULL);
        lua_rawgetp(L, LUA_REGISTRYINDEX, &TSTATE);
        int closer = lua_gettop(L);
        lua_toclose(L, closer);
        decode(L, b);                      /* closer v */
        lua_closeslot(L, closer);          /* tstate__close frees 'b' */
        lua_replace(L, closer);            /* v */
        return;
      }
      /* no Lua code runs: only a memory error (or corrupt bytes) can
      ** raise, and then 'b' stays pending until the state closes */
      decode(L, b);
      unpend(ts, b);
      return;
    }
    default: lua_pushnil(L); break;
  }
  tvalue_clear(tv);
}


/* Push the value of '*tv' and keep it: the caller still owns '*tv', also
** when this raises (memory, or a module the value names cannot be loaded).
** For values decoded once per reader: a task's function and arguments,
** join results. Needs no per-state data. */
void transfer_pushcopy (lua_State *L, const struct tvalue *tv) {
  switch (tv->tt) {
    case TV_BUF: decode(L, tv->u.buf); return;
    case TV_LSTR: lua_pushlstring(L, tv->u.ls.s, tv->u.ls.len); return;
    case TV_OBJ: lgochan_pushobj(L, tv->u.o); return;   /* borrowed */
    default: {
      struct tvalue v = *tv;            /* inline: copying owns nothing */
      transfer_push(L, &v);
      return;
    }
  }
}


/* ---- opening ---- */

void transfer_open (lua_State *L) {
  luaL_checkstack(L, 6, NULL);
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &SCRATCHMT) == LUA_TNIL) {
    lua_pop(L, 1);
    lua_createtable(L, 0, 2);
    lua_pushcfunction(L, scratch__gc);
    lua_setfield(L, -2, "__gc");
    lua_pushliteral(L, "gochan.transfer");
    lua_setfield(L, -2, "__name");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &SCRATCHMT);
  }
  else lua_pop(L, 1);
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &TSTATE) != LUA_TNIL) {
    lua_pop(L, 1);
    return;                                /* already open in this state */
  }
  lua_pop(L, 1);
  struct tstate *ts = (struct tstate *)lua_newuserdatauv(L, sizeof *ts, 5);
  ts->dirty = true;
  ts->hooked = false;
  ts->sig = 0;
  ts->pending = NULL;
  ts->npending = ts->pendcap = 0;
  memset(ts->recent, 0, sizeof ts->recent);
  scratch_init(&ts->sc);
  lua_createtable(L, 0, 3);
  lua_pushcfunction(L, tstate__gc);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, tstate__close);
  lua_setfield(L, -2, "__close");
  lua_pushliteral(L, "gochan.transfer");
  lua_setfield(L, -2, "__name");
  lua_setmetatable(L, -2);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  lua_setiuservalue(L, -2, 3);
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
  lua_setiuservalue(L, -2, 4);
  lua_pushvalue(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &TSTATE);      /* ts */
  /* package.loaded tells us when it gains a module, unless it already has
  ** a metatable of its own (then each encoding compares a signature) */
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);  /* ts loaded */
  if (!lua_getmetatable(L, -1)) {
    lua_createtable(L, 0, 2);
    lua_pushvalue(L, -3);
    lua_pushcclosure(L, loaded__newindex, 1);
    lua_setfield(L, -2, "__newindex");
    lua_pushliteral(L, "gochan.loaded");
    lua_setfield(L, -2, "__name");
    lua_setmetatable(L, -2);
    ts->hooked = true;
  }
  else lua_pop(L, 1);
  lua_pop(L, 2);
}
