/*
** value.h: the value that sits in a channel slot ('struct tvalue').
** Scalars and short strings live inline with no allocation; a long string
** owns a heap copy; a gochan object is held by one reference; anything
** bigger (tables, functions) is a pointer to an encoded 'struct tbuf',
** the transfer buffer.
** Ownership: a tvalue owns what it points to. Copying the struct moves
** ownership; 'tvalue_clear' releases it and leaves nil.
*/
#ifndef GOCHAN_VALUE_H
#define GOCHAN_VALUE_H

#include "core.h"
#include "obj.h"

enum tvtype {
  TV_NIL = 0, TV_BOOL, TV_INT, TV_FLOAT,
  TV_SSTR,        /* inline string, 'sslen' <= TV_SSTR_MAX bytes */
  TV_LSTR,        /* heap string: u.ls.s (malloc'd, NUL after len bytes) */
  TV_OBJ,         /* one reference to a gochan object */
  TV_LUD,         /* light userdata: a bare pointer, not owned */
  TV_BUF          /* an encoded value: u.buf, owned */
};

#define TV_SSTR_MAX 16

struct tbuf;      /* the transfer buffer, defined in tbuf.h */

struct tvalue {
  union {
    bool b;
    int64_t i;
    double n;
    void *p;                          /* TV_LUD */
    struct obj *o;                    /* TV_OBJ */
    struct { char *s; size_t len; } ls;  /* TV_LSTR */
    char ss[TV_SSTR_MAX];             /* TV_SSTR */
    struct tbuf *buf;                 /* TV_BUF */
  } u;
  uint8_t tt;                         /* enum tvtype */
  uint8_t sslen;                      /* TV_SSTR length */
};

#define TVALUE_NIL ((struct tvalue){ .tt = TV_NIL })

static inline void tvalue_setnil (struct tvalue *v) { v->tt = TV_NIL; }
static inline void tvalue_setbool (struct tvalue *v, bool b) {
  v->tt = TV_BOOL; v->u.b = b;
}
static inline void tvalue_setint (struct tvalue *v, int64_t i) {
  v->tt = TV_INT; v->u.i = i;
}
static inline void tvalue_setfloat (struct tvalue *v, double n) {
  v->tt = TV_FLOAT; v->u.n = n;
}
static inline void tvalue_setlud (struct tvalue *v, void *p) {
  v->tt = TV_LUD; v->u.p = p;
}
/* Takes a new reference to 'o'. */
static inline void tvalue_setobj (struct tvalue *v, struct obj *o) {
  obj_retain(o); v->tt = TV_OBJ; v->u.o = o;
}

/* Copy 's' (binary-safe). GO_NOMEM leaves 'v' nil. */
gostatus tvalue_setstr (struct tvalue *v, const char *s, size_t len);
/* The bytes of a TV_SSTR/TV_LSTR; NULL for other types. */
const char *tvalue_str (const struct tvalue *v, size_t *len);

/* A copy of 'src' in 'dst' (new references, new buffers): 'src' may be
** used again. GO_NOMEM leaves 'dst' nil. */
gostatus tvalue_copy (struct tvalue *dst, const struct tvalue *src);

/* Release what 'v' owns and leave it nil. Never fails. */
void tvalue_clear (struct tvalue *v);

/* Frees an encoded buffer and releases the references it holds. */
void tbuf_free (struct tbuf *b);

#endif
