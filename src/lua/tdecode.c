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

void tdecode_push (lua_State *L, const struct tbuf *b) {
  struct dec d = { .L = L, .p = b->data, .end = b->data + b->len, .b = b };
  luaL_checkstack(L, 1 + LEVELSLOTS, NULL);     /* refs, a leaf */
  if (b->flags & TBUF_REFS) {
    lua_createtable(L, 8, 0);
    d.refs = lua_gettop(L);
  }
  decvalue(&d);
  if (d.p != d.end) corrupt(&d);
  if (d.refs) lua_remove(L, d.refs);
}
