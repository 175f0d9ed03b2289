/*
** ctable.c: C table graphs <-> the transfer byte format (ctable.h). The
** writer walks a graph depth first, numbering each table as its T_TABLE
** tag is written and writing T_REF n for a table met again (a tbuild
** memo: table -> number), as the Lua encoder does; the reader numbers
** tables and functions in the same order, so T_REF finds them. Every read
** is bounds-checked: no buffer, however made, crashes the reader
** (fuzz/fuzz_ctable.c).
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "ctable.h"
#include "frozen.h"
#include "hostref.h"
#include "tbuild.h"
#include "ttags.h"

#define CHAN(c) ((struct chan *)(void *)(c))

/* ---- freeing ---- */

/* Release what a pair's key or value holds, tables aside. */
static void freescalar (gochan_value *v) {
  if (v->type == GOCHAN_STRING) free((void *)(uintptr_t)v->string);
  else if (v->type == GOCHAN_CHANNEL) gochan_chan_release(v->channel);
}

/* Free 't' alone: its scalars and itself, not the tables it reaches. */
static void freeshallow (gochan_table *t) {
  for (size_t i = 0; i < t->n; i++) {
    freescalar(&t->pairs[i].key);
    freescalar(&t->pairs[i].value);
  }
  free(t);
}

/* The tables reachable from 'root' (itself first), each once, in
** '*list' (malloc'd; '*n' of them), found with an explicit stack (a graph
** a host built may be of any depth). False when out of memory. */
static bool reach (gochan_table *root, gochan_table ***list, size_t *n) {
  struct tbuild seen;          /* the memo: a set of tables */
  tbuild_init(&seen);
  tbuild_reset(&seen);
  size_t cap = 16, len = 0, top = 0;
  gochan_table **out = malloc(cap * sizeof *out);
  bool ok = out && tbuild_memo_add(&seen, root, 1);
  if (ok) out[len++] = root;
  /* 'out' doubles as the stack: out[top..len) are still to be scanned */
  while (ok && top < len) {
    gochan_table *t = out[top++];
    for (size_t i = 0; ok && i < 2 * t->n; i++) {
      gochan_value *v = i & 1 ? &t->pairs[i / 2].value : &t->pairs[i / 2].key;
      if (v->type != GOCHAN_TABLE || !v->table) continue;
      if (tbuild_memo_get(&seen, v->table)) continue;
      if (len == cap) {
        gochan_table **no = realloc(out, 2 * cap * sizeof *no);
        if (!no) { ok = false; break; }
        out = no;
        cap *= 2;
      }
      ok = tbuild_memo_add(&seen, v->table, 1);
      if (ok) out[len++] = v->table;
    }
  }
  tbuild_free(&seen);
  if (!ok) { free(out); return false; }
  *list = out;
  *n = len;
  return true;
}

void ctable_free (gochan_table *t) {
  if (!t) return;
  gochan_table **list;
  size_t n;
  if (reach(t, &list, &n)) {
    for (size_t i = 0; i < n; i++) freeshallow(list[i]);
    free(list);
    return;
  }
  /* out of memory for the walk: free by recursion, cutting each table's
  ** links before descending, so a cycle ends (deep graphs use the stack) */
  for (size_t i = 0; i < t->n; i++) {
    gochan_value *kv[2] = { &t->pairs[i].key, &t->pairs[i].value };
    for (int k = 0; k < 2; k++)
      if (kv[k]->type == GOCHAN_TABLE) {
        gochan_table *sub = kv[k]->table;
        *kv[k] = gochan_nil();
        if (sub != t) ctable_free(sub);
      }
  }
  freeshallow(t);
}

/* ---- building (gochan_table_new / _set) ---- */

gochan_table *gochan_table_new (size_t n) {
  if (n > (SIZE_MAX - sizeof(gochan_table)) / sizeof(gochan_pair)) return NULL;
  gochan_table *t = malloc(sizeof *t + n * sizeof(gochan_pair));
  if (!t) return NULL;
  t->n = n;
  t->pairs = (gochan_pair *)(t + 1);
  for (size_t i = 0; i < n; i++)
    t->pairs[i].key = t->pairs[i].value = gochan_nil();
  return t;
}

/* A copy of '*v' that owns what it holds (a table is linked). */
static gochan_status copyval (const gochan_value *v, gochan_value *out) {
  *out = *v;
  switch (v->type) {
    case GOCHAN_NIL: case GOCHAN_BOOLEAN: case GOCHAN_INTEGER:
    case GOCHAN_NUMBER:
      return GOCHAN_OK;
    case GOCHAN_STRING: {
      if (!v->string && v->len > 0) return GOCHAN_INVALID;
      if (v->len == SIZE_MAX) return GOCHAN_NOMEM;
      char *s = malloc(v->len + 1);
      if (!s) return GOCHAN_NOMEM;
      if (v->len) memcpy(s, v->string, v->len);
      s[v->len] = '\0';
      out->string = s;
      return GOCHAN_OK;
    }
    case GOCHAN_CHANNEL:
      if (!v->channel) return GOCHAN_INVALID;
      gochan_chan_retain(v->channel);
      return GOCHAN_OK;
    case GOCHAN_TABLE:
      return v->table ? GOCHAN_OK : GOCHAN_INVALID;
    default: return GOCHAN_INVALID;
  }
}

static bool badkey (const gochan_value *k) {
  return k->type == GOCHAN_NIL ||
         (k->type == GOCHAN_NUMBER && isnan(k->number));
}

gochan_status gochan_table_set (gochan_table *t, size_t i,
                                const gochan_value *key,
                                const gochan_value *value) {
  if (!t || !key || !value || i >= t->n || badkey(key)) return GOCHAN_INVALID;
  gochan_value k, v;
  gochan_status r = copyval(key, &k);
  if (r != GOCHAN_OK) return r;
  r = copyval(value, &v);
  if (r != GOCHAN_OK) { freescalar(&k); return r; }
  freescalar(&t->pairs[i].key);
  freescalar(&t->pairs[i].value);
  t->pairs[i].key = k;
  t->pairs[i].value = v;
  return GOCHAN_OK;
}

/* ---- the writer ---- */

struct wr {
  struct tbuild b;
  int depth;                  /* tables open around the value */
};

static gochan_status putvalue (struct wr *w, const gochan_value *v);

static gochan_status puttable (struct wr *w, const gochan_table *t) {
  struct tbuild *b = &w->b;
  struct tbuild_memo *m = tbuild_memo_get(b, t);
  if (m) {
    b->flags |= TBUF_REFS;
    return tbuild_tag(b, T_REF) && tbuild_varint(b, m->val)
           ? GOCHAN_OK : GOCHAN_NOMEM;
  }
  if (w->depth >= MAXDEPTH) return GOCHAN_INVALID;
  if (!tbuild_memo_add(b, t, ++b->nrefs)) return GOCHAN_NOMEM;
  /* counts: pairs with a non-nil value; the array part is a size hint */
  uint64_t narr = 0, total = 0;
  for (size_t i = 0; i < t->n; i++) {
    const gochan_pair *p = &t->pairs[i];
    if (p->value.type == GOCHAN_NIL) continue;
    if (badkey(&p->key)) return GOCHAN_INVALID;
    if (p->key.type == GOCHAN_INTEGER && p->key.integer >= 1 &&
        (uint64_t)p->key.integer <= t->n)
      narr++;
    total++;
  }
  if (total > UINT32_MAX) return GOCHAN_NOMEM;
  uint32_t c[2] = { (uint32_t)narr, (uint32_t)(total - narr) };
  if (!tbuild_tag(b, T_TABLE) || !tbuild_put(b, c, 8)) return GOCHAN_NOMEM;
  w->depth++;
  gochan_status r = GOCHAN_OK;
  for (size_t i = 0; i < t->n && r == GOCHAN_OK; i++) {
    const gochan_pair *p = &t->pairs[i];
    if (p->value.type == GOCHAN_NIL) continue;
    r = putvalue(w, &p->key);
    if (r == GOCHAN_OK) r = putvalue(w, &p->value);
  }
  w->depth--;
  return r;
}

static gochan_status putvalue (struct wr *w, const gochan_value *v) {
  struct tbuild *b = &w->b;
  switch (v->type) {
    case GOCHAN_NIL: return tbuild_tag(b, T_NIL) ? GOCHAN_OK : GOCHAN_NOMEM;
    case GOCHAN_BOOLEAN:
      return tbuild_tag(b, v->boolean ? T_TRUE : T_FALSE)
             ? GOCHAN_OK : GOCHAN_NOMEM;
    case GOCHAN_INTEGER:
      return tbuild_tag(b, T_INT) && tbuild_put(b, &v->integer, 8)
             ? GOCHAN_OK : GOCHAN_NOMEM;
    case GOCHAN_NUMBER:
      return tbuild_tag(b, T_FLOAT) && tbuild_put(b, &v->number, 8)
             ? GOCHAN_OK : GOCHAN_NOMEM;
    case GOCHAN_STRING:
      if (!v->string && v->len > 0) return GOCHAN_INVALID;
      return tbuild_tag(b, T_STR) && tbuild_str(b, v->string ? v->string : "", v->len)
             ? GOCHAN_OK : GOCHAN_NOMEM;
    case GOCHAN_CHANNEL:
      if (!v->channel) return GOCHAN_INVALID;
      return tbuild_obj(b, (struct obj *)CHAN(v->channel)) &&
             tbuild_tag(b, T_OBJ) && tbuild_varint(b, b->nobj - 1)
             ? GOCHAN_OK : GOCHAN_NOMEM;
    case GOCHAN_TABLE:
      if (!v->table) return GOCHAN_INVALID;
      return puttable(w, v->table);
    default: return GOCHAN_INVALID;
  }
}

gochan_status ctable_pack (const gochan_value *v, struct tvalue *tv) {
  tvalue_setnil(tv);
  struct wr w = { .depth = 0 };
  tbuild_init(&w.b);
  tbuild_reset(&w.b);
  gochan_status r = putvalue(&w, v);
  if (r == GOCHAN_OK) {
    struct tbuf *buf = tbuf_new(w.b.data, w.b.len, w.b.objs, w.b.nobj,
                                w.b.flags);
    if (buf) { tv->tt = TV_BUF; tv->u.buf = buf; }
    else r = GOCHAN_NOMEM;
  }
  tbuild_free(&w.b);
  return r;
}

/* ---- the reader ---- */

struct rd {
  const uint8_t *p, *end;
  const struct tbuf *b;
  gochan_table **refs;        /* every table and function numbered, in
                                 order (a function: NULL); owned here until
                                 the end, then freed or handed out */
  size_t nrefs, refcap;
  gochan_table **fz;          /* the roots of frozen graphs made C tables
                                 (ctable_fromfrozen): owned here until the
                                 end, then freed or handed out */
  size_t nfz, fzcap;
  int depth;
  gochan_status err;          /* GOCHAN_OK until the first failure */
};

static bool fail (struct rd *d, gochan_status st) {
  if (d->err == GOCHAN_OK) d->err = st;
  return false;
}

static bool getbyte (struct rd *d, int *c) {
  if (d->p >= d->end) return fail(d, GOCHAN_INVALID);
  *c = *d->p++;
  return true;
}

static bool getbytes (struct rd *d, void *out, size_t n) {
  if ((size_t)(d->end - d->p) < n) return fail(d, GOCHAN_INVALID);
  memcpy(out, d->p, n);
  d->p += n;
  return true;
}

static bool getvarint (struct rd *d, uint64_t *out) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    int c;
    if (!getbyte(d, &c)) return false;
    if (shift == 63 && (c & 0x7e)) break;
    v |= (uint64_t)(c & 0x7f) << shift;
    if (!(c & 0x80)) { *out = v; return true; }
  }
  return fail(d, GOCHAN_INVALID);
}

static bool getstr (struct rd *d, const uint8_t **s, size_t *n) {
  uint64_t len;
  if (!getvarint(d, &len)) return false;
  if (len > (uint64_t)(d->end - d->p)) return fail(d, GOCHAN_INVALID);
  *s = d->p;
  d->p += len;
  *n = (size_t)len;
  return true;
}

static bool addref (struct rd *d, gochan_table *t) {
  if (d->nrefs == d->refcap) {
    size_t ncap = d->refcap ? 2 * d->refcap : 16;
    gochan_table **nr = realloc(d->refs, ncap * sizeof *nr);
    if (!nr) return fail(d, GOCHAN_NOMEM);
    d->refs = nr;
    d->refcap = ncap;
  }
  d->refs[d->nrefs++] = t;
  return true;
}

static bool getvalue (struct rd *d, gochan_value *out);

/* Free the frozen graphs of 'fz' that 'keep' (NULL: none) does not hold:
** each is a graph of its own, linked at most from tables of 'refs'. */
static void freefz (struct rd *d, struct tbuild *keep) {
  for (size_t i = 0; i < d->nfz; i++)
    if (!keep || !tbuild_memo_get(keep, d->fz[i])) ctable_free(d->fz[i]);
  d->nfz = 0;
}

/* A frozen table as a C graph of its own, kept in 'fz'. */
static bool getfrozen (struct rd *d, struct frozen *f, uint32_t t,
                       gochan_value *out) {
  if (d->nfz == d->fzcap) {
    size_t ncap = d->fzcap ? 2 * d->fzcap : 4;
    gochan_table **nf = realloc(d->fz, ncap * sizeof *nf);
    if (!nf) return fail(d, GOCHAN_NOMEM);
    d->fz = nf;
    d->fzcap = ncap;
  }
  gochan_status r = ctable_fromfrozen(f, t, out);
  if (r != GOCHAN_OK) return fail(d, r);
  d->fz[d->nfz++] = out->table;
  return true;
}

/* A table's pairs into a new table (numbered before its contents). */
static bool gettable (struct rd *d, bool hasmt, gochan_value *out) {
  uint32_t c[2];
  if (!getbytes(d, c, 8)) return false;
  uint64_t n = (uint64_t)c[0] + c[1];
  if (n > (uint64_t)(d->end - d->p) / 2) return fail(d, GOCHAN_INVALID);
  gochan_table *t = gochan_table_new((size_t)n);
  if (!t) return fail(d, GOCHAN_NOMEM);
  if (!addref(d, t)) { free(t); return false; }
  *out = gochan_table_value(t);      /* owned by 'refs' until the end */
  for (size_t i = 0; i < t->n; i++) {
    gochan_pair *p = &t->pairs[i];
    if (!getvalue(d, &p->key)) return false;
    if (badkey(&p->key)) return fail(d, GOCHAN_INVALID);
    if (!getvalue(d, &p->value)) return false;
  }
  if (hasmt) {                      /* read, then dropped (C has none) */
    gochan_value mt;
    if (!getvalue(d, &mt)) return false;
    if (mt.type != GOCHAN_TABLE) { freescalar(&mt); return fail(d, GOCHAN_INVALID); }
  }
  return true;
}

/* A function: read past it (its upvalues may number tables a later
** T_REF names); C sees GOCHAN_OTHER. */
static bool getfunction (struct rd *d, gochan_value *out) {
  uint64_t mac;
  uint32_t len;
  if (!getbytes(d, &mac, 8) || !getbytes(d, &len, 4)) return false;
  if (len > (size_t)(d->end - d->p)) return fail(d, GOCHAN_INVALID);
  d->p += len;
  if (!addref(d, NULL)) return false;
  int nups;
  if (!getbyte(d, &nups)) return false;
  for (int i = 0; i < nups; i++) {
    if (d->p < d->end && *d->p == T_UPJOIN) {
      d->p++;
      uint64_t n, k;
      if (!getvarint(d, &n) || !getvarint(d, &k)) return false;
      if (n < 1 || n > d->nrefs || d->refs[n - 1] != NULL || k < 1 || k > 255)
        return fail(d, GOCHAN_INVALID);
    }
    else {
      gochan_value up;
      if (!getvalue(d, &up)) return false;
      freescalar(&up);              /* a table stays in 'refs' */
    }
  }
  out->type = GOCHAN_OTHER;
  return true;
}

static bool getvalue (struct rd *d, gochan_value *out) {
  *out = gochan_nil();
  int tag;
  if (!getbyte(d, &tag)) return false;
  switch (tag) {
    case T_NIL: return true;
    case T_FALSE: case T_TRUE: *out = gochan_boolean(tag == T_TRUE); return true;
    case T_INT: {
      int64_t i;
      if (!getbytes(d, &i, 8)) return false;
      *out = gochan_integer(i);
      return true;
    }
    case T_FLOAT: {
      double n;
      if (!getbytes(d, &n, 8)) return false;
      *out = gochan_number(n);
      return true;
    }
    case T_STR: {
      const uint8_t *s;
      size_t n;
      if (!getstr(d, &s, &n)) return false;
      char *copy = malloc(n + 1);
      if (!copy) return fail(d, GOCHAN_NOMEM);
      if (n) memcpy(copy, s, n);
      copy[n] = '\0';
      *out = gochan_string(copy, n);
      return true;
    }
    case T_GLOBALS: out->type = GOCHAN_OTHER; return true;
    case T_LUD: {
      void *p;
      if (!getbytes(d, &p, sizeof p)) return false;
      out->type = GOCHAN_OTHER;
      return true;
    }
    case T_OBJ: {
      uint64_t i;
      if (!getvarint(d, &i)) return false;
      if (i >= d->b->nobj) return fail(d, GOCHAN_INVALID);
      struct obj *o = d->b->objs[i];
      if (o->type == OBJ_FROZEN) return getfrozen(d, (struct frozen *)o, 0, out);
      if (o->type != OBJ_CHAN) { out->type = GOCHAN_OTHER; return true; }
      obj_retain(o);
      hostref_add((struct chan *)o);
      *out = gochan_channel((gochan_chan *)(void *)o);
      return true;
    }
    case T_FROZEN: {
      uint64_t i, t;
      if (!getvarint(d, &i) || !getvarint(d, &t)) return false;
      if (i >= d->b->nobj || d->b->objs[i]->type != OBJ_FROZEN)
        return fail(d, GOCHAN_INVALID);
      struct frozen *f = (struct frozen *)d->b->objs[i];
      if (t == 0 || t >= f->ntab) return fail(d, GOCHAN_INVALID);
      return getfrozen(d, f, (uint32_t)t, out);
    }
    case T_REF: {
      uint64_t n;
      if (!getvarint(d, &n)) return false;
      if (!(d->b->flags & TBUF_REFS) || n < 1 || n > d->nrefs)
        return fail(d, GOCHAN_INVALID);
      gochan_table *t = d->refs[n - 1];
      if (t) *out = gochan_table_value(t);
      else out->type = GOCHAN_OTHER;          /* a function */
      return true;
    }
    case T_MOD: {
      const uint8_t *s;
      size_t n, f;
      if (!getstr(d, &s, &n) || !getstr(d, &s, &f)) return false;
      if (n == 0) return fail(d, GOCHAN_INVALID);
      out->type = GOCHAN_OTHER;
      return true;
    }
    case T_TABLE: case T_TABLEMT: case T_FUNC: {
      if (++d->depth > MAXDEPTH + 1) return fail(d, GOCHAN_INVALID);
      bool ok = tag == T_FUNC ? getfunction(d, out)
                              : gettable(d, tag == T_TABLEMT, out);
      d->depth--;
      return ok;
    }
    default: return fail(d, GOCHAN_INVALID);
  }
}

gochan_status ctable_unpack (const struct tbuf *b, gochan_value *out) {
  struct rd d = { .p = b->data, .end = b->data + b->len, .b = b };
  gochan_value v;
  bool read = getvalue(&d, &v);
  bool ok = read && (d.p == d.end || fail(&d, GOCHAN_INVALID));
  *out = gochan_nil();
  if (!ok) {
    /* every table built is in 'refs' (its scalars with it); a root that
    ** is not a table holds its own (bytes left over after it) */
    if (read && v.type != GOCHAN_TABLE) freescalar(&v);
    for (size_t i = 0; i < d.nrefs; i++)
      if (d.refs[i]) freeshallow(d.refs[i]);
    free(d.refs);
    freefz(&d, NULL);
    free(d.fz);
    return d.err;
  }
  if (v.type == GOCHAN_TABLE && d.nrefs == 0) {  /* a frozen root */
    free(d.fz);
    *out = v;
    return GOCHAN_OK;
  }
  if (v.type == GOCHAN_TABLE) {
    /* free the tables the root does not reach (metatables, upvalues) */
    if (d.nrefs > 1 || d.nfz > 0) {
      gochan_table **list;
      size_t n;
      struct tbuild keep;
      tbuild_init(&keep);
      tbuild_reset(&keep);
      bool listed = reach(v.table, &list, &n), mok = listed;
      for (size_t i = 0; mok && i < n; i++)
        mok = tbuild_memo_add(&keep, list[i], 1);
      if (listed) free(list);
      if (!mok) {
        tbuild_free(&keep);
        for (size_t i = 0; i < d.nrefs; i++)
          if (d.refs[i]) freeshallow(d.refs[i]);
        free(d.refs);
        freefz(&d, NULL);
        free(d.fz);
        return GOCHAN_NOMEM;
      }
      for (size_t i = 0; i < d.nrefs; i++)
        if (d.refs[i] && !tbuild_memo_get(&keep, d.refs[i]))
          freeshallow(d.refs[i]);
      freefz(&d, &keep);
      tbuild_free(&keep);
    }
  }
  else {
    for (size_t i = 0; i < d.nrefs; i++)      /* a function's upvalues */
      if (d.refs[i]) freeshallow(d.refs[i]);
    freefz(&d, NULL);
  }
  free(d.fz);
  free(d.refs);
  *out = v;
  return GOCHAN_OK;
}
