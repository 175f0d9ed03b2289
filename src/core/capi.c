/*
** capi.c: the Lua-free half of the public C API (include/gochan.h):
** channels and plain values for a host's threads. The Lua half (pushing
** a channel into a state, reading one back) is in src/lua/capi.c.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "gochan.h"
#include "chan_impl.h"

#define CHAN(c) ((struct chan *)(void *)(c))

_Static_assert(GOCHAN_CHAN_MAX_CAP == CHAN_MAX_CAP,
               "the public capacity limit is the core's");

gochan_chan *gochan_chan_new (size_t cap) {
  return (gochan_chan *)(void *)chan_new(cap);
}

void gochan_chan_retain (gochan_chan *c) {
  if (c) chan_retain(CHAN(c));
}

void gochan_chan_release (gochan_chan *c) {
  if (c) chan_release(CHAN(c));
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
        *out = gochan_channel((gochan_chan *)(void *)tv->u.o);
        tvalue_setnil(tv);
        return GOCHAN_OK;
      }
      break;
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
  *v = gochan_nil();
}
