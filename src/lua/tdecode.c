/*
** tdecode.c: a 'struct tbuf' (the format of tformat.h) -> a Lua value
** (tdecode_push). Every read is bounds-checked and bad bytes raise, so
** that no buffer, however made, crashes the reader (fuzz/fuzz_decode.c).
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <lua.h>
#include <lauxlib.h>
#include "frozen.h"
#include "lbox.h"
#include "tformat.h"

/* One decoding, on the C stack of tdecode_push: the bytes left are p..end. */
struct dec {
  lua_State *L;
  const uint8_t *p, *end;
  const struct tbuf *b;
  int refs;               /* stack slot of the refs table, or 0 */
  lua_Integer nrefs;
  int depth;
  struct tstate *ts;      /* for the string cache, or NULL (no cache) */
  struct strslot *strs;   /* ts->strs once this decoding has seen it made */
  int strslot;            /* then the stack slot of its table */
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
static inline const char *getstr (struct dec *d, size_t *n) {
  uint64_t len;
  if (d->p < d->end && *d->p < 0x80) len = *d->p++;   /* one-byte length */
  else len = getvarint(d);
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

/* The string cache of d->ts for this decoding: d->strs, and its table in
** the slot d->strslot; made if need be. False when out of memory for the
** slots (no cache this time); raises when out of memory for the table.
** A finalizer's decoding that ran meanwhile may have made it already. */
static bool getstrs (struct dec *d) {
  lua_State *L = d->L;
  struct tstate *ts = d->ts;
  if (!ts->strs) {
    lua_createtable(L, NSTRS, 0);               /* may run finalizers */
    int ref = luaL_ref(L, LUA_REGISTRYINDEX);   /* the same */
    if (ts->strs) luaL_unref(L, LUA_REGISTRYINDEX, ref);
    else {
      struct strslot *strs = calloc(NSTRS, sizeof *strs);
      if (!strs) {
        luaL_unref(L, LUA_REGISTRYINDEX, ref);
        return false;
      }
      ts->strs = strs;
      ts->strsref = ref;
    }
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, ts->strsref);
  lua_replace(L, d->strslot);
  d->strs = ts->strs;
  return true;
}

/* The slot of the short string of key 'a', 'b' and length 'n' in the
** string cache, and in '*h' its hash. */
static inline unsigned strs_slot (uint64_t a, uint64_t b, size_t n,
                                  uint64_t *h) {
  *h = (a ^ (b + n) * 0x9E3779B97F4A7C15u) * 0xD6E8FEB86659FD93u;
  return (unsigned)(*h >> 32) & (NSTRS - 1);
}

/* pushstr when the cache does not hold the string (or there is none). */
static void pushstr_miss (struct dec *d, const char *s, size_t n) {
  lua_State *L = d->L;
  if (n > STRS_MAXLEN || !d->ts || (!d->strs && !getstrs(d))) {
    lua_pushlstring(L, s, n);
    return;
  }
  uint64_t a, b, h;
  strs_key(s, n, &a, &b);
  unsigned i = strs_slot(a, b, n, &h);
  struct strslot *e = &d->strs[i];
  lua_pushlstring(L, s, n);
  if (e->seen != (uint32_t)h) {
    e->seen = (uint32_t)h;
    return;
  }
  lua_pushvalue(L, -1);
  lua_rawseti(L, d->strslot, (lua_Integer)i + 1);  /* an array slot: no
                                                       allocation */
  e->a = a;
  e->b = b;
  e->len1 = (uint32_t)n + 1;
}

/* Push the 'n' bytes at 's' as a string: from the cache when it holds
** them, else interned, and cached the second time running that they miss
** their slot (see tformat.h). */
static inline void pushstr (struct dec *d, const char *s, size_t n) {
  if (n <= STRS_MAXLEN && d->strs) {
    uint64_t a, b, h;
    strs_key(s, n, &a, &b);
    unsigned i = strs_slot(a, b, n, &h);
    const struct strslot *e = &d->strs[i];
    if (e->len1 == n + 1 && e->a == a && e->b == b) {
      lua_rawgeti(d->L, d->strslot, (lua_Integer)i + 1);
      return;
    }
  }
  pushstr_miss(d, s, n);
}

/* Push the value of tag 'tag' if it is a leaf (no table, function,
** reference, module or object); false if it is not. Inlined in the loop
** over a table's pairs, where nearly every key and value is one. */
static inline __attribute__((always_inline))
bool decleaf (struct dec *d, int tag) {
  lua_State *L = d->L;
  switch (tag) {
    case T_NIL: lua_pushnil(L); return true;
    case T_FALSE: lua_pushboolean(L, 0); return true;
    case T_TRUE: lua_pushboolean(L, 1); return true;
    case T_INT: { int64_t i; getbytes(d, &i, 8); lua_pushinteger(L, (lua_Integer)i); return true; }
    case T_FLOAT: { double n; getbytes(d, &n, 8); lua_pushnumber(L, (lua_Number)n); return true; }
    case T_LUD: { void *p; getbytes(d, &p, sizeof p); lua_pushlightuserdata(L, p); return true; }
    case T_STR: {
      size_t n;
      const char *s = getstr(d, &n);
      pushstr(d, s, n);
      return true;
    }
    default: return false;
  }
}

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
      lua_pushlstring(L, field, flen);   /* as require(name)[field] reads
                    it: a task's globals bind a base function on first read */
      lua_gettable(L, -2);                           /* loaded name mod v */
      lua_remove(L, -2);
    }
    else {
      lua_pushnil(L);
      lua_remove(L, -2);
    }
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
    int tag = getbyte(d);                         /* the key: never nil */
    if (tag == T_NIL) corrupt(d);
    if (tag == T_FLOAT) {                         /* nor NaN */
      double x;
      getbytes(d, &x, 8);
      if (isnan(x)) corrupt(d);
      lua_pushnumber(L, (lua_Number)x);
    }
    else if (!decleaf(d, tag)) {
      d->p--;
      decvalue(d);
      if (lua_isnil(L, -1)) corrupt(d);
    }
    if (!decleaf(d, getbyte(d))) {                /* the value */
      d->p--;
      decvalue(d);
    }
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
  if (decleaf(d, tag)) return;
  switch (tag) {
    case T_GLOBALS: lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS); return;
    case T_OBJ: {
      uint64_t i = getvarint(d);
      if (i >= d->b->nobj) corrupt(d);
      lbox_push(L, d->b->objs[i]);
      return;
    }
    case T_FROZEN: {
      uint64_t i = getvarint(d), t = getvarint(d);
      if (i >= d->b->nobj || d->b->objs[i]->type != OBJ_FROZEN) corrupt(d);
      struct frozen *f = (struct frozen *)d->b->objs[i];
      if (t == 0 || t >= f->ntab) corrupt(d);
      lbox_pushfrozen(L, f, (uint32_t)t);
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

void tdecode_push (lua_State *L, const struct tbuf *b, struct tstate *ts) {
  struct dec d = { .L = L, .p = b->data, .end = b->data + b->len, .b = b,
                   .ts = ts };
  luaL_checkstack(L, 2 + LEVELSLOTS, NULL);     /* strs, refs, a leaf */
  if (ts) {                                     /* the string cache's slot */
    if (ts->strs) {
      lua_rawgeti(L, LUA_REGISTRYINDEX, ts->strsref);
      d.strs = ts->strs;
    }
    else lua_pushnil(L);                        /* until getstrs */
    d.strslot = lua_gettop(L);
  }
  if (b->flags & TBUF_REFS) {
    lua_createtable(L, 8, 0);
    d.refs = lua_gettop(L);
  }
  decvalue(&d);
  if (d.p != d.end) corrupt(&d);
  if (d.refs) lua_remove(L, d.refs);
  if (ts) lua_replace(L, d.strslot);
}
