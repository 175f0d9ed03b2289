/*
** ctfrozen.c: a frozen graph (frozen.h) as a C API table graph (ctable.h's
** ctable_fromfrozen): what a host receives when Lua sends a frozen table.
** Each frozen table becomes one gochan_table (a memo keeps shared tables
** shared); strings are copied, channels get references of their own.
*/
#include <stdlib.h>
#include <string.h>
#include "ctable.h"
#include "frozen.h"
#include "hostref.h"
#include "tbuild.h"
#include "ttags.h"

#define CHAN(c) ((struct chan *)(void *)(c))

struct fzc {
  struct tbuild memo;         /* ftable address -> its gochan_table */
  int depth;
};

static gochan_status fzvalue (struct fzc *c, struct frozen *f, uint8_t vt,
                              union fv v, gochan_value *out);

static gochan_status fztable (struct fzc *c, struct frozen *f, uint32_t ti,
                              gochan_value *out) {
  const struct ftable *ft = frozen_table(f, ti);
  struct tbuild_memo *m = tbuild_memo_get(&c->memo, ft);
  if (m) {
    *out = gochan_table_value((gochan_table *)(uintptr_t)m->val);
    return GOCHAN_OK;
  }
  if (c->depth >= 4 * MAXDEPTH) return GOCHAN_INVALID;
  size_t n = 0;
  uint32_t pos = 0;
  uint8_t kt, vt;
  union fv k, v;
  while (frozen_next(ft, &pos, &kt, &k, &vt, &v)) n++;
  gochan_table *t = gochan_table_new(n);
  if (!t) return GOCHAN_NOMEM;
  if (!tbuild_memo_add(&c->memo, ft, (uint64_t)(uintptr_t)t)) {
    free(t);
    return GOCHAN_NOMEM;
  }
  *out = gochan_table_value(t);       /* linked: freed with the graph */
  c->depth++;
  pos = 0;
  for (size_t i = 0; frozen_next(ft, &pos, &kt, &k, &vt, &v); i++) {
    gochan_status r = fzvalue(c, f, kt, k, &t->pairs[i].key);
    if (r == GOCHAN_OK) r = fzvalue(c, f, vt, v, &t->pairs[i].value);
    if (r != GOCHAN_OK) return r;
  }
  c->depth--;
  return GOCHAN_OK;
}

static gochan_status fzvalue (struct fzc *c, struct frozen *f, uint8_t vt,
                              union fv v, gochan_value *out) {
  switch (vt) {
    case FV_FALSE: case FV_TRUE: *out = gochan_boolean(vt == FV_TRUE); break;
    case FV_INT: *out = gochan_integer(v.i); break;
    case FV_FLOAT: *out = gochan_number(v.n); break;
    case FV_STR: {
      char *copy = malloc((size_t)v.s->len + 1);
      if (!copy) return GOCHAN_NOMEM;
      memcpy(copy, v.s->s, (size_t)v.s->len + 1);
      *out = gochan_string(copy, v.s->len);
      break;
    }
    case FV_TABLE: return fztable(c, f, v.t, out);
    case FV_NEST: return fztable(c, v.nest->f, v.nest->t, out);
    case FV_OBJ:
      if (v.o->type == OBJ_FROZEN)
        return fztable(c, (struct frozen *)v.o, 0, out);
      if (v.o->type == OBJ_CHAN) {
        obj_retain(v.o);
        hostref_add(CHAN(v.o));
        *out = gochan_channel((gochan_chan *)(void *)v.o);
        break;
      }
      out->type = GOCHAN_OTHER;
      break;
    default: out->type = GOCHAN_OTHER; break;   /* light userdata */
  }
  return GOCHAN_OK;
}

gochan_status ctable_fromfrozen (struct frozen *f, uint32_t t,
                                 gochan_value *out) {
  struct fzc c = { .depth = 0 };
  tbuild_init(&c.memo);
  tbuild_reset(&c.memo);
  *out = gochan_nil();
  gochan_status r = fztable(&c, f, t, out);
  tbuild_free(&c.memo);
  if (r != GOCHAN_OK) {
    if (out->type == GOCHAN_TABLE) ctable_free(out->table);
    *out = gochan_nil();
  }
  return r;
}
