/*
** lfreeze.c: gochan.freeze and gochan.thaw, and the metamethods through
** which Lua reads a frozen table (frozen.h; the proxies are lbox.h's).
** Freezing copies a table graph once into C; from then on it crosses
** between states by reference and is read in place: a read pushes the
** value it finds (a string is made a Lua string when read; a nested table
** is a proxy).
*/
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <lua.h>
#include <lauxlib.h>
#include "frozen.h"
#include "ltypes.h"
#include "ttags.h"


/* ---- reading ---- */

static struct frozen *checkfrozen (lua_State *L, int idx, uint32_t *t) {
  struct frozen *f = lbox_tofrozen(L, idx, t);
  if (!f) lbox_typeerror(L, idx, 1u << OBJ_FROZEN, GOCHAN_FROZEN_MT);
  return f;
}

/*
** Where a read finds the state's proxy cache: the metamethods have it as
** upvalues (1, the slots table; 2, the cache; 3, the nested metatable),
** thaw looks it up. 'from': a proxy of the graph being read (0: none).
*/
struct rd { struct fcache *c; int slots, mt, from; };

static struct rd upvalues (lua_State *L) {
  return (struct rd){ (struct fcache *)lua_touserdata(L, lua_upvalueindex(2)),
                      lua_upvalueindex(1), lua_upvalueindex(3), 1 };
}

/* Push the frozen value (vt, v) of graph 'f'. */
static void pushfv (lua_State *L, const struct rd *r, struct frozen *f,
                    uint8_t vt, union fv v) {
  switch (vt) {
    case FV_FALSE: lua_pushboolean(L, 0); break;
    case FV_TRUE: lua_pushboolean(L, 1); break;
    case FV_INT: lua_pushinteger(L, (lua_Integer)v.i); break;
    case FV_FLOAT: lua_pushnumber(L, (lua_Number)v.n); break;
    case FV_STR: lbox_pushfstr(L, r->c, r->slots, f, v.s); break;
    case FV_TABLE: lbox_pushproxy(L, r->c, r->slots, r->mt, r->from, f, v.t);
      break;
    case FV_OBJ: lbox_push(L, v.o); break;
    case FV_NEST: lbox_pushfrozen(L, v.nest->f, v.nest->t); break;
    case FV_LUD: lua_pushlightuserdata(L, v.p); break;
    default: lua_pushnil(L); break;
  }
}

/* The Lua value at 'idx' as a key of graph 'f' ('*nest' is storage for
** an FV_NEST key); false if no key of a frozen table can equal it (nil,
** NaN, a function, a Lua table...). Strings are not handled here. */
static bool tokey (lua_State *L, int idx, struct frozen *f, uint8_t *kt,
                   union fv *k, struct fnest *nest) {
  switch (lua_type(L, idx)) {
    case LUA_TBOOLEAN: *kt = lua_toboolean(L, idx) ? FV_TRUE : FV_FALSE;
      return true;
    case LUA_TNUMBER: {
      int isint;
      lua_Integer i = lua_tointegerx(L, idx, &isint);  /* 2.0 is key 2 */
      if (isint) { *kt = FV_INT; k->i = i; return true; }
      k->n = lua_tonumber(L, idx);
      *kt = FV_FLOAT;
      return !isnan(k->n);
    }
    case LUA_TLIGHTUSERDATA: *kt = FV_LUD; k->p = lua_touserdata(L, idx);
      return true;
    case LUA_TUSERDATA: {
      uint32_t t;
      struct frozen *g = lbox_tofrozen(L, idx, &t);
      if (g && t != 0) {
        if (g == f) { *kt = FV_TABLE; k->t = t; return true; }
        nest->f = g;
        nest->t = t;
        *kt = FV_NEST;
        k->nest = nest;
        return true;
      }
      struct obj *o = lbox_to(L, idx);
      if (!o) return false;
      *kt = FV_OBJ;
      k->o = o;
      return true;
    }
    default: return false;
  }
}

/*
** Hot small tables. A proxy's reads go through a C metamethod; a Lua table
** read is several times cheaper. So a small table (PROMOTE_MAX keys at
** most, all of them strings, numbers or booleans, which a Lua table finds
** by raw lookup exactly as the frozen one does) read PROMOTE_AFTER times
** gets a metatable of its own whose __index is a plain copy of its
** contents (nested tables in it are proxies): its reads are then Lua's
** own. A state keeps at most PROMOTED such copies: the ring (upvalue 5,
** weak values; ring[0] the next slot) demotes the oldest (back to the
** shared metatable) to make room, so the memory this costs is bounded.
*/
#define PROMOTE_AFTER 8
#define PROMOTE_MAX 64
#define PROMOTED 32

static void promote (lua_State *L, const struct rd *r, struct frozen *f,
                     uint32_t ti) {
  const struct ftable *t = frozen_table(f, ti);
  luaL_checkstack(L, 8, NULL);
  lua_createtable(L, (int)t->narr, (int)t->nkeys);      /* copy */
  uint32_t pos = 0;
  uint8_t kt, vt;
  union fv k, v;
  while (frozen_next(t, &pos, &kt, &k, &vt, &v)) {
    pushfv(L, r, f, kt, k);
    pushfv(L, r, f, vt, v);
    lua_rawset(L, -3);
  }
  lua_createtable(L, 0, 10);                  /* copy mt */
  lua_getmetatable(L, 1);                     /* copy mt shared */
  lua_pushnil(L);
  while (lua_next(L, -2)) {                   /* the shared one's fields */
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, -5);
  }
  lua_pop(L, 1);                              /* copy mt */
  lua_insert(L, -2);
  lua_setfield(L, -2, "__index");             /* mt */
  int ring = lua_upvalueindex(5);
  lua_Integer i = (lua_rawgeti(L, ring, 0) == LUA_TNUMBER) ? lua_tointeger(L, -1) : 1;
  lua_pop(L, 1);
  if (lua_rawgeti(L, ring, i) == LUA_TUSERDATA) {  /* mt old: demote it */
    uint32_t ot;
    if (lbox_tofrozen(L, -1, &ot) && ot == 0)
      luaL_getmetatable(L, GOCHAN_FROZEN_MT);
    else
      lua_pushvalue(L, r->mt);
    lua_setmetatable(L, -2);
  }
  lua_pop(L, 1);                              /* mt */
  lua_setmetatable(L, 1);
  lua_pushvalue(L, 1);
  lua_rawseti(L, ring, i);
  lua_pushinteger(L, i % PROMOTED + 1);
  lua_rawseti(L, ring, 0);
}

static int frozen__index (lua_State *L) {
  uint32_t ti;
  struct frozen *f = checkfrozen(L, 1, &ti);
  const struct ftable *t = frozen_table(f, ti);
  struct rd r = upvalues(L);
  if (t->rawkeys && t->narr + t->nkeys <= PROMOTE_MAX &&
      lbox_fhit(r.c, f, t) == PROMOTE_AFTER)
    promote(L, &r, f, ti);
  union fv v;
  uint8_t vt;
  if (lua_type(L, 2) == LUA_TSTRING) {
    size_t len;
    const char *s = lua_tolstring(L, 2, &len);
    vt = frozen_getstr(t, s, len, frozen_hash(s, len), &v);
  }
  else {
    uint8_t kt;
    union fv k;
    struct fnest nest;
    if (!tokey(L, 2, f, &kt, &k, &nest)) return 0;
    vt = frozen_get(t, kt, k, &v);
  }
  pushfv(L, &r, f, vt, v);
  return 1;
}

static int frozen__newindex (lua_State *L) {
  return luaL_error(L, "attempt to modify a frozen table");
}

static int frozen__len (lua_State *L) {
  uint32_t ti;
  struct frozen *f = checkfrozen(L, 1, &ti);
  lua_pushinteger(L, (lua_Integer)frozen_table(f, ti)->narr);
  return 1;
}

/* next(shared, key) over a frozen table, the function __pairs returns:
** the array part, then the nodes. */
static int frozen_pairsnext (lua_State *L) {
  uint32_t ti;
  struct frozen *f = checkfrozen(L, 1, &ti);
  const struct ftable *t = frozen_table(f, ti);
  int64_t pos = 0;
  if (lua_type(L, 2) == LUA_TSTRING) {
    size_t len;
    const char *s = lua_tolstring(L, 2, &len);
    pos = frozen_posstr(t, s, len, frozen_hash(s, len));
  }
  else if (!lua_isnoneornil(L, 2)) {
    uint8_t kt;
    union fv k;
    struct fnest nest;
    pos = tokey(L, 2, f, &kt, &k, &nest) ? frozen_pos(t, kt, k) : -1;
  }
  if (pos < 0) return luaL_error(L, "invalid key to 'next'");
  uint32_t p = (uint32_t)pos;
  uint8_t kt, vt;
  union fv k, v;
  if (!frozen_next(t, &p, &kt, &k, &vt, &v)) {
    lua_pushnil(L);
    return 1;
  }
  struct rd r = upvalues(L);
  pushfv(L, &r, f, kt, k);
  pushfv(L, &r, f, vt, v);
  return 2;
}

static int frozen__pairs (lua_State *L) {
  uint32_t ti;
  checkfrozen(L, 1, &ti);
  lua_pushvalue(L, lua_upvalueindex(4));     /* next, with the upvalues */
  lua_pushvalue(L, 1);
  lua_pushnil(L);
  return 3;
}

static int frozen__eq (lua_State *L) {
  uint32_t a, b;
  struct frozen *fa = lbox_tofrozen(L, 1, &a);
  struct frozen *fb = lbox_tofrozen(L, 2, &b);
  lua_pushboolean(L, fa && fa == fb && a == b);
  return 1;
}

static int frozen__tostring (lua_State *L) {
  if (lbox_pushcollected(L, 1)) return 1;
  uint32_t ti;
  struct frozen *f = checkfrozen(L, 1, &ti);
  lua_pushfstring(L, "%s: %p", GOCHAN_FROZEN_MT,
                  (const void *)frozen_table(f, ti));
  return 1;
}

static const luaL_Reg frozen_mm[] = {
  {"__index", frozen__index},
  {"__newindex", frozen__newindex},
  {"__len", frozen__len},
  {"__pairs", frozen__pairs},
  {"__eq", frozen__eq},
  {"__tostring", frozen__tostring},
  {NULL, NULL}
};

/* Set the metamethods in the metatable on top, with their upvalues. */
static void setmm (lua_State *L, struct fcache *c, int slots, int nested,
                   int ring) {
  lua_pushvalue(L, slots);
  lua_pushlightuserdata(L, c);
  lua_pushvalue(L, nested);
  lua_pushvalue(L, slots);
  lua_pushlightuserdata(L, c);
  lua_pushvalue(L, nested);
  lua_pushvalue(L, ring);
  lua_pushcclosure(L, frozen_pairsnext, 4);   /* mt s c n next */
  lua_pushvalue(L, ring);
  luaL_setfuncs(L, frozen_mm, 5);
}

void lfreeze_meta (lua_State *L) {
  struct fcache *c = lbox_fcache(L);          /* slots */
  int slots = lua_gettop(L);
  lua_createtable(L, PROMOTED, 0);            /* the ring of promoted ones */
  lua_createtable(L, 0, 1);
  lua_pushliteral(L, "v");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
  int ring = lua_gettop(L);
  luaL_newmetatable(L, LBOX_FROZEN_NESTED);   /* nested: no __gc */
  int nested = lua_gettop(L);
  lua_pushliteral(L, GOCHAN_FROZEN_MT);
  lua_setfield(L, -2, "__name");
  setmm(L, c, slots, nested, ring);
  lbox_newmetatable(L, GOCHAN_FROZEN_MT);     /* the roots' (boxes, __gc) */
  setmm(L, c, slots, nested, ring);
  lua_settop(L, slots - 1);
}


/* ---- freezing ---- */

/*
** One freeze. The walk runs in a protected call (so a refusal or a memory
** error anywhere leaves nothing behind: the caller releases the graph and
** frees 'kv'). 'memo' (a stack slot) maps each Lua table met to its index
** and each string to its copy (light userdata), so shared tables stay
** shared and equal strings are stored once. 'kv' is one stack of pairs
** for every open level: a level's pairs are kv[base..nkv). 'keys' holds
** the stack slot of each open level's key, for the path of a refusal.
*/
struct walk {
  lua_State *L;
  struct frozen *f;
  int memo;
  struct fkv *kv;
  size_t nkv, kvcap;
  int depth;
  int keys[MAXDEPTH + 1];
};

static int refuse (struct walk *w, const char *what, int askey) {
  lua_State *L = w->L;
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "t");
  for (int d = 0; d < w->depth; d++) {
    if (w->depth > 16 && d == 8) {            /* a long path: its ends */
      luaL_addstring(&b, "...");
      d = w->depth - 4;
    }
    int k = w->keys[d];
    if (lua_type(L, k) == LUA_TSTRING) {
      size_t len;
      const char *s = lua_tolstring(L, k, &len);
      bool ident = len > 0 && !isdigit((unsigned char)s[0]);
      for (size_t i = 0; ident && i < len; i++)
        ident = s[i] == '_' || isalnum((unsigned char)s[i]);
      if (ident) {
        luaL_addchar(&b, '.');
        luaL_addlstring(&b, s, len);
      }
      else {                                  /* the whole key, as %q */
        lua_pushfstring(L, "[%s]", lbox_pushquoted(L, k));
        lua_remove(L, -2);
        luaL_addvalue(&b);
      }
    }
    else if (lua_type(L, k) == LUA_TNUMBER || lua_type(L, k) == LUA_TBOOLEAN) {
      lua_pushfstring(L, "[%s]", luaL_tolstring(L, k, NULL));
      lua_remove(L, -2);
      luaL_addvalue(&b);
    }
    else luaL_addstring(&b, "[?]");
  }
  luaL_pushresult(&b);
  return luaL_error(L, "cannot freeze %s%s (at %s)", what,
                    askey ? " as a key" : "", lua_tostring(L, -1));
}

static uint32_t walktable (struct walk *w, int idx);

/* The value at 'idx' (a key if 'askey') as a frozen value. */
static void walkvalue (struct walk *w, int idx, int askey, uint8_t *vt,
                       union fv *v) {
  lua_State *L = w->L;
  struct frozen *f = w->f;
  switch (lua_type(L, idx)) {
    case LUA_TBOOLEAN: *vt = lua_toboolean(L, idx) ? FV_TRUE : FV_FALSE;
      return;
    case LUA_TNUMBER:
      if (lua_isinteger(L, idx)) { *vt = FV_INT; v->i = lua_tointeger(L, idx); }
      else { *vt = FV_FLOAT; v->n = lua_tonumber(L, idx); }
      return;
    case LUA_TLIGHTUSERDATA: *vt = FV_LUD; v->p = lua_touserdata(L, idx);
      return;
    case LUA_TSTRING: {
      lua_pushvalue(L, idx);
      if (lua_rawget(L, w->memo) == LUA_TLIGHTUSERDATA) {
        v->s = (const struct fstr *)lua_touserdata(L, -1);
        lua_pop(L, 1);
        *vt = FV_STR;
        return;
      }
      lua_pop(L, 1);
      size_t len;
      const char *s = lua_tolstring(L, idx, &len);
      const struct fstr *fs = frozen_newstr(f, s, len);
      if (!fs) luaL_error(L, "not enough memory");
      lua_pushvalue(L, idx);
      lua_pushlightuserdata(L, (void *)(uintptr_t)fs);
      lua_rawset(L, w->memo);
      *vt = FV_STR;
      v->s = fs;
      return;
    }
    case LUA_TTABLE: {
      lua_pushvalue(L, idx);
      if (lua_rawget(L, w->memo) == LUA_TNUMBER) {
        v->t = (uint32_t)lua_tointeger(L, -1);
        lua_pop(L, 1);
        *vt = FV_TABLE;
        return;
      }
      lua_pop(L, 1);
      if (lua_getmetatable(L, idx)) {
        lua_pop(L, 1);
        refuse(w, "a table with a metatable", askey);
      }
      *vt = FV_TABLE;
      v->t = walktable(w, idx);
      return;
    }
    case LUA_TUSERDATA: {
      uint32_t t;
      struct frozen *g = lbox_tofrozen(L, idx, &t);
      if (g && t != 0) {
        const struct fnest *n = frozen_newnest(f, g, t);
        if (!n) luaL_error(L, "not enough memory");
        *vt = FV_NEST;
        v->nest = n;
        return;
      }
      struct obj *o = lbox_to(L, idx);
      if (!o) refuse(w, "a userdata", askey);
      if (!frozen_hold(f, o)) luaL_error(L, "not enough memory");
      *vt = FV_OBJ;
      v->o = o;
      return;
    }
    case LUA_TFUNCTION: refuse(w, "a function", askey); return;
    case LUA_TTHREAD: refuse(w, "a coroutine", askey); return;
    default: *vt = FV_NIL; return;
  }
}

static uint32_t walktable (struct walk *w, int idx) {
  lua_State *L = w->L;
  if (w->depth >= MAXDEPTH)
    refuse(w, "a table nested deeper than 1000 levels", 0);
  luaL_checkstack(L, 8, NULL);
  int64_t ti = frozen_addtable(w->f);
  if (ti < 0) luaL_error(L, "not enough memory");
  lua_pushvalue(L, idx);
  lua_pushinteger(L, ti);
  lua_rawset(L, w->memo);
  size_t base = w->nkv;
  lua_pushnil(L);
  while (lua_next(L, idx)) {                  /* key value */
    int top = lua_gettop(L);
    w->keys[w->depth++] = top - 1;
    struct fkv p;
    walkvalue(w, top - 1, 1, &p.kt, &p.k);
    walkvalue(w, top, 0, &p.vt, &p.v);
    w->depth--;
    if (w->nkv == w->kvcap) {
      size_t ncap = w->kvcap ? 2 * w->kvcap : 64;
      struct fkv *nk = realloc(w->kv, ncap * sizeof *nk);
      if (!nk) luaL_error(L, "not enough memory");
      w->kv = nk;
      w->kvcap = ncap;
    }
    w->kv[w->nkv++] = p;
    lua_pop(L, 1);                            /* key */
  }
  if (!frozen_settable(w->f, (uint32_t)ti, w->kv + base, w->nkv - base))
    luaL_error(L, "not enough memory");
  w->nkv = base;
  return (uint32_t)ti;
}

/* The protected part: walk(w) with the table at 1 and the memo at 2. */
static int pwalk (lua_State *L) {
  struct walk *w = (struct walk *)lua_touserdata(L, 1);
  lua_settop(L, 1);
  lua_pushvalue(L, lua_upvalueindex(1));      /* w t */
  lua_newtable(L);                            /* w t memo */
  w->memo = 3;
  walktable(w, 2);
  return 0;
}

static int lgochan_freeze (lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  if (lua_getmetatable(L, 1))
    return luaL_argerror(L, 1, "cannot freeze a table with a metatable");
  struct walk *w = malloc(sizeof *w);
  struct frozen *f = w ? frozen_new() : NULL;
  if (!f) {
    free(w);
    return luaL_error(L, "not enough memory");
  }
  *w = (struct walk){ .L = L, .f = f };
  lua_pushvalue(L, 1);
  lua_pushcclosure(L, pwalk, 1);
  lua_pushlightuserdata(L, w);
  int st = lua_pcall(L, 1, 0, 0);
  free(w->kv);
  free(w);
  if (st != LUA_OK) {
    obj_release(&f->obj);
    return lua_error(L);
  }
  frozen_seal(f);
  struct obj **box = lbox_new(L, OBJ_FROZEN);
  lbox_adopt(L, box, &f->obj);                /* may raise: the box owns f */
  return 1;
}


/* ---- thawing ---- */

/* Push an ordinary copy of table 'ti' of 'f'; memo (a stack slot) maps
** index -> copy. Other graphs (FV_NEST, FV_OBJ) stay references. */
static void thawtable (lua_State *L, const struct rd *r, struct frozen *f,
                       uint32_t ti, int memo, int depth) {
  if (lua_rawgeti(L, memo, ti) == LUA_TTABLE) return;
  lua_pop(L, 1);
  if (depth > 4 * MAXDEPTH) luaL_error(L, "frozen table too deep to thaw");
  luaL_checkstack(L, 6, NULL);
  const struct ftable *t = frozen_table(f, ti);
  lua_createtable(L, (int)t->narr, (int)t->nnode);
  lua_pushvalue(L, -1);
  lua_rawseti(L, memo, ti);
  uint32_t pos = 0;
  uint8_t kt, vt;
  union fv k, v;
  while (frozen_next(t, &pos, &kt, &k, &vt, &v)) {
    if (kt == FV_TABLE) thawtable(L, r, f, k.t, memo, depth + 1);
    else pushfv(L, r, f, kt, k);
    if (vt == FV_TABLE) thawtable(L, r, f, v.t, memo, depth + 1);
    else pushfv(L, r, f, vt, v);
    lua_rawset(L, -3);
  }
}

static int lgochan_thaw (lua_State *L) {
  uint32_t ti;
  struct frozen *f = lbox_tofrozen(L, 1, &ti);
  if (!f) return lbox_typeerror(L, 1, 1u << OBJ_FROZEN, GOCHAN_FROZEN_MT);
  lua_settop(L, 1);
  lua_newtable(L);                            /* shared memo */
  struct rd r = { .from = 1 };
  r.c = lbox_fcache(L);                       /* shared memo slots */
  luaL_getmetatable(L, LBOX_FROZEN_NESTED);   /* shared memo slots mt */
  r.slots = 3;
  r.mt = 4;
  thawtable(L, &r, f, ti, 2, 0);
  return 1;
}

const luaL_Reg lfreeze_funcs[] = {
  {"freeze", lgochan_freeze},
  {"thaw", lgochan_thaw},
  {NULL, NULL}
};
