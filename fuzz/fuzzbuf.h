/*
** fuzzbuf.h: what the fuzz targets share: an input made into a transfer
** buffer. The first byte is the buffer's TBUF_* flags (masked by 'flags'),
** the rest its bytes; it names two fake channels that never die and a
** frozen graph of three tables (object 2: T_FROZEN 2 1 and 2 2 name its
** nested tables), which never dies either.
*/
#ifndef GOCHAN_FUZZBUF_H
#define GOCHAN_FUZZBUF_H
#include <stdlib.h>
#include "frozen.h"
#include "obj.h"
#include "tbuf.h"

static void nodestroy (struct obj *o) { (void)o; abort(); }  /* never last */
static struct obj fakeobjs[2];
static struct frozen *fakefrozen;

/* { "a", 2.5, x = { [1] = true, self = <root> }, y = <x> } */
static struct frozen *makefrozen (void) {
  struct frozen *f = frozen_new();
  if (!f || frozen_addtable(f) != 0 || frozen_addtable(f) != 1 ||
      frozen_addtable(f) != 2) abort();
  const struct fstr *a = frozen_newstr(f, "a", 1);
  const struct fstr *x = frozen_newstr(f, "x", 1);
  const struct fstr *y = frozen_newstr(f, "y", 1);
  const struct fstr *self = frozen_newstr(f, "self", 4);
  if (!a || !x || !y || !self) abort();
  struct fkv root[] = {
    { .kt = FV_INT, .k.i = 1, .vt = FV_STR, .v.s = a },
    { .kt = FV_INT, .k.i = 2, .vt = FV_FLOAT, .v.n = 2.5 },
    { .kt = FV_STR, .k.s = x, .vt = FV_TABLE, .v.t = 1 },
    { .kt = FV_STR, .k.s = y, .vt = FV_TABLE, .v.t = 1 },
  };
  struct fkv t1[] = {
    { .kt = FV_INT, .k.i = 1, .vt = FV_TRUE },
    { .kt = FV_STR, .k.s = self, .vt = FV_TABLE, .v.t = 0 },
  };
  if (!frozen_settable(f, 0, root, 4) || !frozen_settable(f, 1, t1, 2) ||
      !frozen_settable(f, 2, NULL, 0)) abort();
  frozen_seal(f);
  return f;
}

/* The buffer of one input, or NULL (too short, or no memory). */
static struct tbuf *fuzz_tbuf (const uint8_t *data, size_t size,
                               unsigned flags) {
  static int ready;
  if (!ready) {
    for (int i = 0; i < 2; i++) obj_init(&fakeobjs[i], OBJ_CHAN, nodestroy, 0);
    fakefrozen = makefrozen();   /* its one reference is never dropped */
    ready = 1;
  }
  if (size < 1) return NULL;
  struct obj *objs[3] = { &fakeobjs[0], &fakeobjs[1], &fakefrozen->obj };
  return tbuf_new(data + 1, size - 1, objs, 3, data[0] & flags);
}

#endif
