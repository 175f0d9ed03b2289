/*
** tencode.c: Lua value -> 'struct tvalue' (transfer_pack, transfer.h).
** Scalars, strings, light userdata and gochan objects stay inline in the
** tvalue; anything else is written into a 'struct tbuf' in the format of
** tformat.h, with a path to what was refused in the error message.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lua.h>
#include <lauxlib.h>
#include "lbox.h"
#include "frozen.h"
#include "modindex.h"
#include "tformat.h"
#include "transfer.h"

#define STR_(x) #x
#define STR(x) STR_(x)

/* Encoder outcomes. Only the top level turns them into Lua errors.
** E_NOTLEAF stays inside: encleaf's "not mine". */
enum { E_OK = 0, E_REFUSED, E_RETRY, E_NOMEM, E_NOTLEAF };

/* A step of the path to the value being encoded, for refusal messages. */
enum { SEG_KEY, SEG_INKEY, SEG_META, SEG_UPVAL };
struct seg {
  int kind;
  int keyidx;             /* SEG_KEY: stack index of the key (alive) */
  const char *upname;     /* SEG_UPVAL: owned by the function's prototype */
};

/* The metatable of a scratch of its own (a finalizer's):
** registry[&SCRATCHMT], made on first use. */
static const char SCRATCHMT = 's';

static int scratch__gc (lua_State *L) {
  scratch_free((struct scratch *)lua_touserdata(L, 1));
  return 0;
}

/* Push a new scratch, freed by its __gc (for a finalizer that sends while
** the state's own scratch is busy). May raise (memory). */
static struct scratch *newscratch (lua_State *L) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &SCRATCHMT) == LUA_TNIL) {
    lua_pop(L, 1);
    lua_createtable(L, 0, 2);
    lua_pushcfunction(L, scratch__gc);
    lua_setfield(L, -2, "__gc");
    lua_pushliteral(L, "gochan.transfer");
    lua_setfield(L, -2, "__name");
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &SCRATCHMT);
  }
  struct scratch *s = (struct scratch *)lua_newuserdatauv(L, sizeof *s, 0);
  scratch_init(s);
  lua_insert(L, -2);                                  /* s mt */
  lua_setmetatable(L, -2);                            /* s */
  return s;
}

/* One call of transfer_pack, on its C stack. */
struct enc {
  lua_State *L;
  struct scratch *s;
  struct tstate *ts;
  int errslot;            /* where a refusal message goes */
  bool fresh;             /* the index was rebuilt for this encoding */
  /* the root table or function, numbered 1 but not yet in the memo (or
  ** NULL): nothing can refer back to it before a value that is no leaf
  ** is encoded below it, and encvalue adds it first then; a value of
  ** leaves alone never fills the memo */
  const void *rootp;
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

/* Put "cannot transfer <what> (at <root><path>)" in the error slot; for
** a gochan object whose __gc was called by hand, "cannot transfer <what>:
** object already collected (at ...)", the words its methods use. */
static int refuse (struct enc *en, int idx, const char *root, const char *why) {
  lua_State *L = en->L;
  struct scratch *s = en->s;
  luaL_checkstack(L, 30, NULL);
  int top = lua_gettop(L);
  lua_pushliteral(L, "cannot transfer ");
  if (why) lua_pushstring(L, why);
  else {
    pushwhat(L, idx);
    if (lbox_collected(L, idx, ~0u))          /* an emptied box of any type */
      lua_pushliteral(L, ": object already collected");
  }
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

/* The module reference of the value at 'idx' (whose lua_topointer is
** 'p'), written as T_MOD; E_RETRY when the index is stale (an entry no
** longer matches package.loaded, or a value that must be a module field is
** not found and the index was not rebuilt for this encoding); 'found'
** false if it is not a module value. */
static int encmodule (struct enc *en, int idx, const void *p, bool must,
                      bool *found) {
  struct modref ref;
  *found = false;
  int r = modindex_maybe(en->ts, p) ? modindex_find(en->L, idx, &ref)
                                    : MODINDEX_MISS;
  switch (r) {
    case MODINDEX_MISS: return (must && !en->fresh) ? E_RETRY : E_OK;
    case MODINDEX_STALE: return en->fresh ? E_OK : E_RETRY;  /* rebuild, or */
    default: break;                                 /* a miss if fresh */
  }
  struct tbuild *b = &en->s->b;
  b->flags |= TBUF_MODS;
  bool ok = tbuild_tag(b, T_MOD) && tbuild_str(b, ref.name, ref.nlen) &&
            tbuild_str(b, ref.field, ref.flen);
  lua_pop(en->L, 2);                  /* the strings of 'ref' */
  *found = true;
  return ok ? E_OK : E_NOMEM;
}

static int encvalue (struct enc *en, int idx, const char *root);

/* An integer, as T_INT and 8 bytes. */
static inline int encint (struct tbuild *b, lua_Integer v) {
  if (!tbuild_reserve(b, 9)) return E_NOMEM;
  int64_t i = (int64_t)v;
  tbuild_byte(b, T_INT);
  memcpy(b->data + b->len, &i, 8);
  b->len += 8;
  return E_OK;
}

/* Write the value at 'idx', of type 'tt', if it is a leaf: nil, a
** boolean, a number, a string or a light userdata (what needs neither a
** path nor the memo). E_NOTLEAF for any other type. Inlined in the loop
** over a table's pairs, where nearly every key and value is one. */
static inline __attribute__((always_inline))
int encleaf (struct tbuild *b, lua_State *L, int idx, int tt) {
  switch (tt) {
    case LUA_TNIL: return tbuild_tag(b, T_NIL) ? E_OK : E_NOMEM;
    case LUA_TBOOLEAN:
      return tbuild_tag(b, lua_toboolean(L, idx) ? T_TRUE : T_FALSE) ? E_OK : E_NOMEM;
    case LUA_TNUMBER: {
      if (lua_isinteger(L, idx)) return encint(b, lua_tointeger(L, idx));
      if (!tbuild_reserve(b, 9)) return E_NOMEM;
      double d = (double)lua_tonumber(L, idx);
      tbuild_byte(b, T_FLOAT);
      memcpy(b->data + b->len, &d, 8);
      b->len += 8;
      return E_OK;
    }
    case LUA_TSTRING: {
      size_t n;
      const char *p = lua_tolstring(L, idx, &n);
      return tbuild_tag(b, T_STR) && tbuild_str(b, p, n) ? E_OK : E_NOMEM;
    }
    case LUA_TLIGHTUSERDATA: {
      void *p = lua_touserdata(L, idx);
      return tbuild_tag(b, T_LUD) && tbuild_put(b, &p, sizeof p) ? E_OK : E_NOMEM;
    }
    default: return E_NOTLEAF;
  }
}

/* Record one step of the path to the value being encoded (for refusal
** messages). Out of memory, the step is counted but not stored, and the
** message shows what was stored. */
static inline void pushpath (struct scratch *s, int kind, int keyidx,
                             const char *up) {
  if (s->npath < s->pathcap) {                 /* the common case */
    s->path[s->npath++] = (struct seg){ kind, keyidx, up };
    return;
  }
  {
    int ncap = s->pathcap ? 2 * s->pathcap : 16;
    struct seg *np = realloc(s->path, (size_t)ncap * sizeof *np);
    if (np) { s->path = np; s->pathcap = ncap; }
  }
  if (s->npath < s->pathcap)
    s->path[s->npath] = (struct seg){ kind, keyidx, up };
  s->npath++;
}

static int enctable (struct enc *en, int t, const char *root) {
  lua_State *L = en->L;
  struct scratch *s = en->s;
  struct tbuild *b = &s->b;
  bool hasmt = lua_getmetatable(L, t);
  if (hasmt) lua_pop(L, 1);   /* the table anchors it; fetched again below */
  if (!tbuild_tag(b, hasmt ? T_TABLEMT : T_TABLE) || !tbuild_reserve(b, 8))
    return E_NOMEM;
  size_t counts = b->len;
  b->len += 8;
  uint64_t narr = 0, total = 0;
  int r = E_OK;
  lua_pushnil(L);
  int k = lua_gettop(L);              /* the key's slot; the value's: k + 1 */
  while (lua_next(L, t)) {
    int kt = lua_type(L, k);
    if (kt == LUA_TNUMBER && lua_isinteger(L, k)) {
      lua_Integer ki = lua_tointeger(L, k);
      if (ki >= 1 && (uint64_t)ki <= total + 1) narr++;
      r = encint(b, ki);
    }
    else if ((r = encleaf(b, L, k, kt)) == E_NOTLEAF) {
      pushpath(s, SEG_INKEY, 0, NULL);
      r = encvalue(en, k, root);
      s->npath--;
    }
    total++;
    if (r != E_OK) { lua_pop(L, 2); return r; }
    if ((r = encleaf(b, L, k + 1, lua_type(L, k + 1))) == E_NOTLEAF) {
      pushpath(s, SEG_KEY, k, NULL);
      r = encvalue(en, k + 1, root);
      s->npath--;
    }
    lua_pop(L, 1);
    if (r != E_OK) { lua_pop(L, 1); return r; }
  }
  if (total > UINT32_MAX) return E_NOMEM;
  uint32_t c[2] = { (uint32_t)narr, (uint32_t)(total - narr) };
  memcpy(b->data + counts, c, 8);
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
  return tbuild_put((struct tbuild *)ud, p, n) ? 0 : 1;
}

static int encfunction (struct enc *en, int f, const char *root, uint32_t fref) {
  lua_State *L = en->L;
  struct scratch *s = en->s;
  struct tbuild *b = &s->b;
  if (!tbuild_tag(b, T_FUNC)) return E_NOMEM;
  if (f == en->rootidx && en->rootchunk) {    /* dumped before: the same */
    if (!tbuild_put(b, en->rootchunk, en->rootlen)) return E_NOMEM;  /* bytes */
  }
  else {
    if (!tbuild_reserve(b, 12)) return E_NOMEM;
    size_t head = b->len;
    b->len += 12;
    lua_pushvalue(L, f);
    int bad = lua_dump(L, dumpwriter, b, 0);
    lua_pop(L, 1);
    if (bad) return E_NOMEM;
    size_t clen = b->len - head - 12;
    if (clen > UINT32_MAX) return E_NOMEM;
    uint64_t mac = tbuf_mac(b->data + head + 12, clen);
    uint32_t len32 = (uint32_t)clen;
    memcpy(b->data + head, &mac, 8);
    memcpy(b->data + head + 8, &len32, 4);
    if (f == en->rootidx) { en->rootoff = head; en->rootn = 12 + clen; }
  }
  int nups = 0;
  while (lua_getupvalue(L, f, nups + 1)) { lua_pop(L, 1); nups++; }
  if (!tbuild_tag(b, nups)) return E_NOMEM;   /* Lua allows at most 255 */
  for (int i = 1; i <= nups; i++) {
    const void *id = lua_upvalueid(L, f, i);
    struct tbuild_memo *m = tbuild_memo_get(b, id);
    if (m) {                                  /* shared with a function before */
      b->flags |= TBUF_REFS;
      if (!tbuild_tag(b, T_UPJOIN) || !tbuild_varint(b, m->val >> 8) ||
          !tbuild_varint(b, m->val & 0xff))
        return E_NOMEM;
      continue;
    }
    if (!tbuild_memo_add(b, id, (uint64_t)fref << 8 | (uint64_t)i))
      return E_NOMEM;
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
  struct tbuild *b = &s->b;
  int t = lua_type(L, idx);
  int r = encleaf(b, L, idx, t);
  if (r != E_NOTLEAF) return r;
  if (t == LUA_TTHREAD) return refuse(en, idx, root, NULL);
  if (en->rootp) {
    if (!tbuild_memo_add(b, en->rootp, 1)) return E_NOMEM;
    en->rootp = NULL;
  }
  /* tables, functions, userdata: by reference, by name, or by value */
  const void *p = lua_topointer(L, idx);
  if (p == en->ts->globals)                       /* by identity */
    return tbuild_tag(b, T_GLOBALS) ? E_OK : E_NOMEM;
  if (t == LUA_TUSERDATA) {
    struct obj *o = lbox_to(L, idx);
    if (o)
      return tbuild_obj(b, o) && tbuild_tag(b, T_OBJ) &&
             tbuild_varint(b, b->nobj - 1) ? E_OK : E_NOMEM;
    uint32_t ft;
    struct frozen *f = lbox_tofrozen(L, idx, &ft);
    if (f)                                    /* a nested frozen table */
      return tbuild_obj(b, &f->obj) && tbuild_tag(b, T_FROZEN) &&
             tbuild_varint(b, b->nobj - 1) && tbuild_varint(b, ft)
             ? E_OK : E_NOMEM;
  }
  struct tbuild_memo *m = tbuild_memo_get(b, p);
  if (m) {
    b->flags |= TBUF_REFS;
    return tbuild_tag(b, T_REF) && tbuild_varint(b, m->val) ? E_OK : E_NOMEM;
  }
  bool found;
  bool must = t == LUA_TUSERDATA || (t == LUA_TFUNCTION && lua_iscfunction(L, idx));
  r = encmodule(en, idx, p, must, &found);
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
  uint32_t ref = ++b->nrefs;
  if (ref == 1) en->rootp = p;          /* see struct enc */
  else if (!tbuild_memo_add(b, p, ref)) return E_NOMEM;
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
static int encode (struct enc *en, int idx, const char *root,
                   struct tbuf **out) {
  struct scratch *s = en->s;
  for (int attempt = 0;; attempt++) {
    /* may raise: 's' is not busy yet */
    if (modindex_prepare(en->L, en->ts, attempt > 0)) en->fresh = true;
    s->busy = true;
    tbuild_reset(&s->b);
    s->depth = 0;
    s->npath = 0;
    en->rootn = 0;
    en->rootp = NULL;
    int r = encvalue(en, idx, root);  /* leaves the stack as it found it */
    s->busy = false;
    if (r == E_OK) {
      *out = tbuf_new(s->b.data, s->b.len, s->b.objs, s->b.nobj, s->b.flags);
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
  lua_pushlightuserdata(L, s->b.data + en->rootoff);
  lua_pushinteger(L, (lua_Integer)en->rootn);
  if (lua_pcall(L, 4, 0, 0) != LUA_OK) lua_pop(L, 1);
  s->busy = busy;
}

/* transfer_pack for a value that needs a buffer (of type function when
** 'func'). Out of line, so that the scalars' short path in transfer_pack
** does not pay for its registers. */
static __attribute__((noinline))
int packbuf (lua_State *L, int idx, bool func, struct tvalue *tv,
             const char *root) {
  luaL_checkstack(L, 8 + LEVELSLOTS, NULL);
  lua_pushnil(L);                       /* the error slot */
  int errslot = lua_gettop(L);
  struct tstate *ts = transfer_state(L);  /* may raise: nothing held */
  struct scratch *s = &ts->sc;
  if (s->busy) s = newscratch(L);       /* a finalizer sending mid-encoding */
  struct enc en = { .L = L, .s = s, .ts = ts, .errslot = errslot };
  /* A function packed as a whole value (gochan.go's): its chunk may be
  ** in the dump cache (the ts slot anchors the cache, the slot above the
  ** chunk) */
  int tsi = 0;
  bool lfunc = func && !lua_iscfunction(L, idx);
  if (lfunc) {
    en.rootidx = idx;
    transfer_pushstate(L);
    tsi = lua_gettop(L);
    if (lua_getiuservalue(L, tsi, 5) == LUA_TTABLE) {
      lua_pushvalue(L, idx);
      if (lua_rawget(L, -2) == LUA_TSTRING)
        en.rootchunk = lua_tolstring(L, -1, &en.rootlen);
    }
  }
  struct tbuf *b = NULL;
  int r = encode(&en, idx, root, &b);
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

int transfer_pack (lua_State *L, int idx, struct tvalue *tv, const char *root) {
  idx = lua_absindex(L, idx);
  tvalue_setnil(tv);
  int t = lua_type(L, idx);
  switch (t) {
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
      struct obj *o = lbox_to(L, idx);
      if (o) { tvalue_setobj(tv, o); return 1; }
      break;
    }
    default: break;
  }
  return packbuf(L, idx, t == LUA_TFUNCTION, tv, root);
}
