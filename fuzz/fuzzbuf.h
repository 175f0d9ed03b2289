/*
** fuzzbuf.h: what the fuzz targets share: an input made into a transfer
** buffer. The first byte is the buffer's TBUF_* flags (masked by 'flags'),
** the rest its bytes; it names two fake channels that never die.
*/
#ifndef GOCHAN_FUZZBUF_H
#define GOCHAN_FUZZBUF_H
#include <stdlib.h>
#include "obj.h"
#include "tbuf.h"

static void nodestroy (struct obj *o) { (void)o; abort(); }  /* never last */
static struct obj fakeobjs[2];

/* The buffer of one input, or NULL (too short, or no memory). */
static struct tbuf *fuzz_tbuf (const uint8_t *data, size_t size,
                               unsigned flags) {
  static int ready;
  if (!ready) {
    for (int i = 0; i < 2; i++) obj_init(&fakeobjs[i], OBJ_CHAN, nodestroy, 0);
    ready = 1;
  }
  if (size < 1) return NULL;
  struct obj *objs[2] = { &fakeobjs[0], &fakeobjs[1] };
  return tbuf_new(data + 1, size - 1, objs, 2, data[0] & flags);
}

#endif
