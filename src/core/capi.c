/*
** capi.c: the Lua-free half of the public C API (include/gochan.h):
** channels, values, select and named channels for a host's threads. Table
** graphs are src/core/ctable.c; the Lua half (pushing a channel into a
** state, reading one back) is src/lua/capi.c. Every reference the host
** holds is counted in hostref.c (the deadlock check).
*/
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "gochan.h"
#include "chan_impl.h"
#include "ctable.h"
#include "hostref.h"
#include "named.h"
#include "select.h"

#define CHAN(c) ((struct chan *)(void *)(c))

gochan_chan *gochan_chan_new (size_t cap) {
  struct chan *c = chan_new(cap);
  if (c) hostref_add(c);
  return (gochan_chan *)(void *)c;
}

void gochan_chan_retain (gochan_chan *c) {
  if (!c) return;
  chan_retain(CHAN(c));
  hostref_add(CHAN(c));
}

void gochan_chan_release (gochan_chan *c) {
  if (!c) return;
  hostref_drop(CHAN(c));
  chan_release(CHAN(c));
}

static gochan_status status_of (gostatus st) {
  switch (st) {
    case GO_OK: return GOCHAN_OK;
    case GO_CLOSED: return GOCHAN_CLOSED;
    case GO_AGAIN: case GO_TIMEOUT: return GOCHAN_TIMEOUT;
    case GO_NOMEM: return GOCHAN_NOMEM;
    default: return GOCHAN_STOPPED;  /* interrupted, deadlock, shutdown */
  }
}

/* The deadline of a timeout; false for NaN. */
static bool deadline_of (double timeout, int64_t *deadline) {
  if (isnan(timeout)) return false;
  *deadline = timeout < 0 ? GO_NEVER : go_deadline_in(timeout);
  return true;
}

/* '*v' as a channel value (a string copied, a channel retained). */
static gochan_status to_tvalue (const gochan_value *v, struct tvalue *tv) {
  switch (v->type) {
    case GOCHAN_NIL: tvalue_setnil(tv); return GOCHAN_OK;
    case GOCHAN_BOOLEAN: tvalue_setbool(tv, v->boolean != 0); return GOCHAN_OK;
    case GOCHAN_INTEGER: tvalue_setint(tv, v->integer); return GOCHAN_OK;
    case GOCHAN_NUMBER: tvalue_setfloat(tv, v->number); return GOCHAN_OK;
    case GOCHAN_STRING:
      if (!v->string && v->len > 0) return GOCHAN_INVALID;
      return tvalue_setstr(tv, v->string ? v->string : "", v->len) == GO_OK
             ? GOCHAN_OK : GOCHAN_NOMEM;
    case GOCHAN_CHANNEL:
      if (!v->channel) return GOCHAN_INVALID;
      tvalue_setobj(tv, (struct obj *)CHAN(v->channel));
      return GOCHAN_OK;
    case GOCHAN_TABLE:
      if (!v->table) return GOCHAN_INVALID;
      return ctable_pack(v, tv);
    default: return GOCHAN_INVALID;
  }
}

/* Move '*tv' into '*out' (the caller then owns what '*out' holds). */
static gochan_status from_tvalue (struct tvalue *tv, gochan_value *out) {
  *out = gochan_nil();
  switch (tv->tt) {
    case TV_NIL: return GOCHAN_OK;
    case TV_BOOL: *out = gochan_boolean(tv->u.b); return GOCHAN_OK;
    case TV_INT: *out = gochan_integer(tv->u.i); return GOCHAN_OK;
    case TV_FLOAT: *out = gochan_number(tv->u.n); return GOCHAN_OK;
    case TV_SSTR: case TV_LSTR: {
      size_t len;
      const char *s = tvalue_str(tv, &len);
      char *copy = malloc(len + 1);
      if (!copy) { tvalue_clear(tv); return GOCHAN_NOMEM; }
      memcpy(copy, s, len);
      copy[len] = '\0';
      tvalue_clear(tv);
      *out = gochan_string(copy, len);
      return GOCHAN_OK;
    }
    case TV_OBJ:
      if (tv->u.o->type == OBJ_CHAN) {       /* the reference moves out */
        hostref_add((struct chan *)(void *)tv->u.o);
        *out = gochan_channel((gochan_chan *)(void *)tv->u.o);
        tvalue_setnil(tv);
        return GOCHAN_OK;
      }
      if (tv->u.o->type == OBJ_FROZEN) {     /* an ordinary table in C */
        gochan_status r = ctable_fromfrozen((struct frozen *)tv->u.o, 0, out);
        tvalue_clear(tv);
        return r;
      }
      break;
    case TV_BUF: {                           /* a table, a function... */
      gochan_status r = ctable_unpack(tv->u.buf, out);
      tvalue_clear(tv);
      return r;
    }
    default: break;
  }
  tvalue_clear(tv);                          /* a value C cannot hold */
  out->type = GOCHAN_OTHER;
  return GOCHAN_OK;
}

gochan_status gochan_send (gochan_chan *c, const gochan_value *v,
                           double timeout) {
  int64_t deadline;
  if (!c || !v || !deadline_of(timeout, &deadline)) return GOCHAN_INVALID;
  struct tvalue tv = TVALUE_NIL;
  gochan_status r = to_tvalue(v, &tv);
  if (r != GOCHAN_OK) return r;
  gostatus st = chan_send(CHAN(c), &tv, deadline);
  if (st != GO_OK) tvalue_clear(&tv);        /* not taken: nothing moved */
  return status_of(st);
}

gochan_status gochan_recv (gochan_chan *c, gochan_value *out, int *ok,
                           double timeout) {
  int64_t deadline;
  if (out) *out = gochan_nil();
  if (ok) *ok = 0;
  if (!c || !out || !ok || !deadline_of(timeout, &deadline))
    return GOCHAN_INVALID;
  struct tvalue tv = TVALUE_NIL;
  bool got = false;
  gostatus st = chan_recv(CHAN(c), &tv, &got, deadline);
  if (st != GO_OK) return status_of(st);
  *ok = got;
  return from_tvalue(&tv, out);
}

gochan_status gochan_offer (gochan_chan *c, const gochan_value *v) {
  if (!c || !v) return GOCHAN_INVALID;
  struct tvalue tv = TVALUE_NIL;
  gochan_status r = to_tvalue(v, &tv);
  if (r != GOCHAN_OK) return r;
  gostatus st = chan_offer(CHAN(c), &tv);
  if (st != GO_OK) tvalue_clear(&tv);        /* not taken: nothing moved */
  return st == GO_AGAIN ? GOCHAN_TIMEOUT : status_of(st);
}

uint64_t gochan_dropped (gochan_chan *c) {
  return c ? chan_dropped(CHAN(c)) : 0;
}

gochan_status gochan_close (gochan_chan *c) {
  if (!c) return GOCHAN_INVALID;
  return status_of(chan_close(CHAN(c)));
}

size_t gochan_len (gochan_chan *c) { return c ? chan_len(CHAN(c)) : 0; }
size_t gochan_cap (gochan_chan *c) { return c ? chan_cap(CHAN(c)) : 0; }

void gochan_value_free (gochan_value *v) {
  if (!v) return;
  if (v->type == GOCHAN_STRING) free((void *)(uintptr_t)v->string);
  else if (v->type == GOCHAN_CHANNEL) gochan_chan_release(v->channel);
  else if (v->type == GOCHAN_TABLE) ctable_free(v->table);
  *v = gochan_nil();
}

gochan_status gochan_select (gochan_case *cases, size_t n, double timeout,
                             size_t *chosen) {
  int64_t deadline;
  if ((!cases && n > 0) || !chosen || n > INT_MAX ||
      !deadline_of(timeout, &deadline))
    return GOCHAN_INVALID;
  for (size_t i = 0; i < n; i++)
    if (!cases[i].ch || (cases[i].op != GOCHAN_SEND &&
                         cases[i].op != GOCHAN_RECV))
      return GOCHAN_INVALID;
  struct selcase buf[8];
  struct selcase *cs = n <= 8 ? buf : malloc(n * sizeof *cs);
  if (!cs) return GOCHAN_NOMEM;
  gochan_status r = GOCHAN_OK;
  size_t i;
  for (i = 0; i < n && r == GOCHAN_OK; i++) {   /* copy the send values */
    cs[i] = (struct selcase){ .c = CHAN(cases[i].ch), .v = TVALUE_NIL,
                              .dir = cases[i].op == GOCHAN_SEND ? SEL_SEND
                                                                : SEL_RECV };
    if (cases[i].op == GOCHAN_SEND) r = to_tvalue(&cases[i].value, &cs[i].v);
  }
  int k = -1;
  if (r == GOCHAN_OK) {
    gostatus st = sel_wait(cs, (int)n, deadline, &k);
    r = status_of(st);
    if ((st == GO_OK || st == GO_CLOSED) && k >= 0) {
      *chosen = (size_t)k;
      if (st == GO_OK && cs[k].dir == SEL_RECV) {
        cases[k].ok = cs[k].ok;
        r = from_tvalue(&cs[k].v, &cases[k].value);
      }
    }
  }
  for (size_t j = 0; j < i; j++)        /* sends not taken (a taken one is nil) */
    tvalue_clear(&cs[j].v);
  if (cs != buf) free(cs);
  return r;
}

gochan_status gochan_named (const char *name, size_t cap, gochan_chan **out) {
  if (out) *out = NULL;
  if (!name || !out) return GOCHAN_INVALID;
  struct chan *c;
  size_t have;
  switch (named_get(name, strlen(name), cap == GOCHAN_ANYCAP ? NAMED_ANYCAP : cap,
                    &c, &have)) {
    case NAMED_OK:
      hostref_add(c);
      *out = (gochan_chan *)(void *)c;
      return GOCHAN_OK;
    case NAMED_NOMEM: return GOCHAN_NOMEM;
    default: return GOCHAN_INVALID;
  }
}
