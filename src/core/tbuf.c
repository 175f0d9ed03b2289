/*
** tbuf.c: the transfer buffer (phase 1 stub: the full encoder lands with
** issue 3). A 'struct tbuf' owns its bytes and one reference per object
** it names; tbuf_free releases both.
*/
#include <stdlib.h>
#include "value.h"

struct tbuf {
  size_t nobj;
  struct obj **objs;
};

void tbuf_free (struct tbuf *b) {
  if (!b) return;
  for (size_t i = 0; i < b->nobj; i++) obj_release(b->objs[i]);
  free(b->objs);
  free(b);
}
