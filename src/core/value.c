/*
** value.c: the channel slot value. Owns long strings and object
** references; the transfer buffer ('struct tbuf') lives in tbuf.c.
*/
#include <stdlib.h>
#include <string.h>
#include "tbuf.h"
#include "value.h"

gostatus tvalue_setstr (struct tvalue *v, const char *s, size_t len) {
  if (len <= TV_SSTR_MAX) {
    v->tt = TV_SSTR;
    v->sslen = (uint8_t)len;
    if (len) memcpy(v->u.ss, s, len);
    return GO_OK;
  }
  char *p = malloc(len + 1);
  if (!p) { v->tt = TV_NIL; return GO_NOMEM; }
  memcpy(p, s, len);
  p[len] = '\0';
  v->tt = TV_LSTR;
  v->u.ls.s = p;
  v->u.ls.len = len;
  return GO_OK;
}

const char *tvalue_str (const struct tvalue *v, size_t *len) {
  switch (v->tt) {
    case TV_SSTR: *len = v->sslen; return v->u.ss;
    case TV_LSTR: *len = v->u.ls.len; return v->u.ls.s;
    default: *len = 0; return NULL;
  }
}

gostatus tvalue_copy (struct tvalue *dst, const struct tvalue *src) {
  switch (src->tt) {
    case TV_LSTR: return tvalue_setstr(dst, src->u.ls.s, src->u.ls.len);
    case TV_OBJ: tvalue_setobj(dst, src->u.o); return GO_OK;
    case TV_BUF: {
      const struct tbuf *b = src->u.buf;
      struct tbuf *nb = tbuf_new(b->data, b->len, b->objs, b->nobj, b->flags);
      if (!nb) { dst->tt = TV_NIL; return GO_NOMEM; }
      dst->tt = TV_BUF;
      dst->u.buf = nb;
      return GO_OK;
    }
    default: *dst = *src; return GO_OK;
  }
}

void tvalue_clear (struct tvalue *v) {
  switch (v->tt) {
    case TV_LSTR: free(v->u.ls.s); break;
    case TV_OBJ: obj_release(v->u.o); break;
    case TV_BUF: tbuf_free(v->u.buf); break;
    default: break;
  }
  v->tt = TV_NIL;
}
