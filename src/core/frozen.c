/*
** frozen.c: frozen table graphs (frozen.h): the arena, the builder, the
** lookups. Nothing here takes a lock: a graph is written by the one
** thread that builds it, then only read.
*/
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "frozen.h"

/* ---- the arena ---- */

/* A chunk: 'used' of 'size' bytes carved (8-aligned). Chunks double from
** ARENA_MIN up to ARENA_MAX, so a small graph (a config) costs little and
** a big one few mallocs. */
struct fchunk {
  struct fchunk *next;
  size_t size, used;
  _Alignas(8) unsigned char mem[];
};

#define ARENA_MIN 512
#define ARENA_MAX (64 * 1024)

static void *carve (struct frozen *f, size_t n) {
  n = (n + 7) & ~(size_t)7;
  struct fchunk *c = f->arena;
  if (!c || c->size - c->used < n) {
    size_t size = c ? c->size * 2 : ARENA_MIN;
    if (size > ARENA_MAX) size = ARENA_MAX;
    if (size < n) size = n;
    struct fchunk *nc = malloc(sizeof *nc + size);
    if (!nc) return NULL;
    nc->size = size;
    nc->used = 0;
    nc->next = c;
    f->arena = nc;
    f->bytes += sizeof *nc + size;
    c = nc;
  }
  void *p = c->mem + c->used;
  c->used += n;
  return p;
}


/* ---- the object ---- */

static atomic_uint_fast64_t nextid = 1;

static void destroy (struct obj *o) {
  struct frozen *f = (struct frozen *)o;
  for (size_t i = 0; i < f->nheld; i++) obj_release(f->held[i]);
  free(f->held);
  free(f->tabs);
  struct fchunk *c = f->arena;
  while (c) {
    struct fchunk *next = c->next;
    free(c);
    c = next;
  }
  free(f);
}

struct frozen *frozen_new (void) {
  struct frozen *f = calloc(1, sizeof *f);
  if (!f) return NULL;
  f->id = atomic_fetch_add_explicit(&nextid, 1, memory_order_relaxed);
  f->bytes = sizeof *f;
  obj_init(&f->obj, OBJ_FROZEN, destroy, 0);
  return f;
}

void frozen_seal (struct frozen *f) {
  f->bytes += f->tabcap * sizeof *f->tabs + f->heldcap * sizeof *f->held;
  f->obj.size = f->bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)f->bytes;
}

bool frozen_hold (struct frozen *f, struct obj *o) {
  if (f->nheld == f->heldcap) {
    size_t ncap = f->heldcap ? 2 * f->heldcap : 8;
    struct obj **nh = realloc(f->held, ncap * sizeof *nh);
    if (!nh) return false;
    f->held = nh;
    f->heldcap = ncap;
  }
  obj_retain(o);
  f->held[f->nheld++] = o;
  return true;
}

int64_t frozen_addtable (struct frozen *f) {
  if (f->ntab == UINT32_MAX) return -1;
  if (f->ntab == f->tabcap) {
    uint32_t ncap = f->tabcap ? 2 * f->tabcap : 4;
    if (ncap < f->tabcap) ncap = UINT32_MAX;
    struct ftable *nt = realloc(f->tabs, (size_t)ncap * sizeof *nt);
    if (!nt) return -1;
    f->tabs = nt;
    f->tabcap = ncap;
  }
  memset(&f->tabs[f->ntab], 0, sizeof f->tabs[0]);
  return f->ntab++;
}

uint32_t frozen_hash (const char *s, size_t len) {
  /* FNV-1a over the bytes, with the length mixed in first */
  uint32_t h = 2166136261u ^ (uint32_t)len;
  for (size_t i = 0; i < len; i++) {
    h ^= (unsigned char)s[i];
    h *= 16777619u;
  }
  return h;
}

const struct fstr *frozen_newstr (struct frozen *f, const char *s,
                                  size_t len) {
  if (len >= UINT32_MAX) return NULL;
  struct fstr *fs = carve(f, sizeof *fs + len + 1);
  if (!fs) return NULL;
  fs->hash = frozen_hash(s, len);
  fs->len = (uint32_t)len;
  if (len) memcpy(fs->s, s, len);
  fs->s[len] = '\0';
  return fs;
}

const struct fnest *frozen_newnest (struct frozen *f, struct frozen *g,
                                    uint32_t t) {
  struct fnest *n = carve(f, sizeof *n);
  if (!n || !frozen_hold(f, &g->obj)) return NULL;
  n->f = g;
  n->t = t;
  return n;
}


/* ---- keys ---- */

static uint32_t mix64 (uint64_t x) {
  x *= UINT64_C(0x9e3779b97f4a7c15);
  return (uint32_t)(x >> 32);
}

static uint32_t keyhash (uint8_t kt, union fv k) {
  switch (kt) {
    case FV_STR: return k.s->hash;
    case FV_INT: return mix64((uint64_t)k.i);
    case FV_FLOAT: {
      uint64_t b;
      memcpy(&b, &k.n, sizeof b);
      return mix64(b ^ 1);
    }
    case FV_TABLE: return mix64(k.t + UINT64_C(0x100000000));
    case FV_NEST: return mix64((uint64_t)(uintptr_t)k.nest->f ^ k.nest->t);
    case FV_OBJ: return mix64((uint64_t)(uintptr_t)k.o);
    case FV_LUD: return mix64((uint64_t)(uintptr_t)k.p ^ 2);
    default: return kt;                     /* the booleans */
  }
}

static bool keyeq (uint8_t at, union fv a, uint8_t bt, union fv b) {
  if (at != bt) return false;
  switch (at) {
    case FV_STR:
      return a.s == b.s || (a.s->hash == b.s->hash && a.s->len == b.s->len &&
                            memcmp(a.s->s, b.s->s, a.s->len) == 0);
    case FV_INT: return a.i == b.i;
    case FV_FLOAT: return a.n == b.n;
    case FV_TABLE: return a.t == b.t;
    case FV_NEST: return a.nest->f == b.nest->f && a.nest->t == b.nest->t;
    case FV_OBJ: return a.o == b.o;
    case FV_LUD: return a.p == b.p;
    default: return true;                   /* the booleans */
  }
}


/* ---- building a table ---- */

bool frozen_settable (struct frozen *f, uint32_t ti, const struct fkv *kv,
                      size_t n) {
  /* the array part: the longest run 1..narr of integer keys */
  size_t narr = 0;
  if (n > 0) {
    unsigned char *seen = calloc(n + 1, 1);
    if (!seen) return false;
    for (size_t i = 0; i < n; i++)
      if (kv[i].kt == FV_INT && kv[i].k.i >= 1 && (uint64_t)kv[i].k.i <= n)
        seen[kv[i].k.i] = 1;
    while (narr < n && seen[narr + 1]) narr++;
    free(seen);
  }
  size_t nhash = n - narr;
  uint32_t nnode = 0;
  if (nhash > 0) {
    if (nhash > (UINT32_MAX >> 1)) return false;
    nnode = 1;
    while (nnode < nhash) nnode <<= 1;
  }
  union fv *arr = NULL;
  uint8_t *arrt = NULL;
  struct fnode *node = NULL;
  if (narr && (!(arr = carve(f, narr * sizeof *arr)) ||
               !(arrt = carve(f, narr)))) return false;
  if (nnode && !(node = carve(f, nnode * sizeof *node))) return false;
  for (uint32_t i = 0; i < nnode; i++) {
    node[i].kt = FV_NIL;
    node[i].next = -1;
  }
  /* Two passes: each key first takes its main position if that is free;
  ** then the others go to free nodes (none of them is anyone's main
  ** position any more), linked at the end of their main position's
  ** chain. */
  bool *later = nhash ? calloc(n, sizeof *later) : NULL;
  if (nhash && !later) return false;
  for (size_t i = 0; i < n; i++) {
    const struct fkv *p = &kv[i];
    if (p->kt == FV_INT && p->k.i >= 1 && (uint64_t)p->k.i <= narr) {
      arr[p->k.i - 1] = p->v;
      arrt[p->k.i - 1] = p->vt;
      continue;
    }
    struct fnode *mp = &node[keyhash(p->kt, p->k) & (nnode - 1)];
    if (mp->kt != FV_NIL) { later[i] = true; continue; }
    mp->k = p->k; mp->kt = p->kt; mp->v = p->v; mp->vt = p->vt;
  }
  uint32_t free_ = nnode;
  for (size_t i = 0; i < n; i++) {
    if (!later || !later[i]) continue;
    const struct fkv *p = &kv[i];
    while (node[--free_].kt != FV_NIL) {}   /* there is one: nhash <= nnode */
    struct fnode *fn = &node[free_];
    fn->k = p->k; fn->kt = p->kt; fn->v = p->v; fn->vt = p->vt;
    struct fnode *c = &node[keyhash(p->kt, p->k) & (nnode - 1)];
    while (c->next >= 0) c = &node[c->next];
    c->next = (int32_t)free_;
  }
  free(later);
  struct ftable *t = &f->tabs[ti];
  t->rawkeys = true;
  for (size_t i = 0; i < n && t->rawkeys; i++)
    t->rawkeys = kv[i].kt <= FV_STR;          /* booleans, numbers, strings */
  t->nkeys = (uint32_t)nhash;
  t->arr = arr;
  t->arrt = arrt;
  t->node = node;
  t->narr = (uint32_t)narr;
  t->nnode = nnode;
  return true;
}


/* ---- reading ---- */

static const struct fnode *findstr (const struct ftable *t, const char *s,
                                    size_t len, uint32_t h) {
  if (t->nnode == 0) return NULL;
  const struct fnode *n = &t->node[h & (t->nnode - 1)];
  for (;;) {
    if (n->kt == FV_STR && n->k.s->hash == h && n->k.s->len == len &&
        memcmp(n->k.s->s, s, len) == 0) return n;
    if (n->next < 0) return NULL;
    n = &t->node[n->next];
  }
}

uint8_t frozen_getstr (const struct ftable *t, const char *s, size_t len,
                       uint32_t h, union fv *v) {
  const struct fnode *n = findstr(t, s, len, h);
  if (!n) return FV_NIL;
  *v = n->v;
  return n->vt;
}

static const struct fnode *findnode (const struct ftable *t, uint8_t kt,
                                     union fv k) {
  if (t->nnode == 0) return NULL;
  const struct fnode *n = &t->node[keyhash(kt, k) & (t->nnode - 1)];
  for (;;) {
    if (n->kt != FV_NIL && keyeq(n->kt, n->k, kt, k)) return n;
    if (n->next < 0) return NULL;
    n = &t->node[n->next];
  }
}

uint8_t frozen_get (const struct ftable *t, uint8_t kt, union fv k,
                    union fv *v) {
  if (kt == FV_INT && k.i >= 1 && (uint64_t)k.i <= t->narr) {
    *v = t->arr[k.i - 1];
    return t->arrt[k.i - 1];
  }
  const struct fnode *n = findnode(t, kt, k);
  if (!n) return FV_NIL;
  *v = n->v;
  return n->vt;
}

bool frozen_next (const struct ftable *t, uint32_t *pos, uint8_t *kt,
                  union fv *k, uint8_t *vt, union fv *v) {
  uint32_t p = *pos;
  if (p < t->narr) {
    *kt = FV_INT;
    k->i = (int64_t)p + 1;
    *vt = t->arrt[p];
    *v = t->arr[p];
    *pos = p + 1;
    return true;
  }
  for (uint32_t i = p - t->narr; i < t->nnode; i++) {
    const struct fnode *n = &t->node[i];
    if (n->kt == FV_NIL) continue;
    *kt = n->kt; *k = n->k; *vt = n->vt; *v = n->v;
    *pos = t->narr + i + 1;
    return true;
  }
  return false;
}

int64_t frozen_pos (const struct ftable *t, uint8_t kt, union fv k) {
  if (kt == FV_INT && k.i >= 1 && (uint64_t)k.i <= t->narr) return k.i;
  const struct fnode *n = findnode(t, kt, k);
  if (!n) return -1;
  return (int64_t)t->narr + (n - t->node) + 1;
}

int64_t frozen_posstr (const struct ftable *t, const char *s, size_t len,
                       uint32_t h) {
  const struct fnode *n = findstr(t, s, len, h);
  if (!n) return -1;
  return (int64_t)t->narr + (n - t->node) + 1;
}
