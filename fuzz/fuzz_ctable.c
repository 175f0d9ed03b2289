/*
** fuzz_ctable.c: libFuzzer target for the C API's Lua-free reader of table
** graphs (src/core/ctable.c). Each input is one buffer (first byte: its
** TBUF_* flags; the rest: the bytes) holding two channel references; what
** reads as a value is freed with gochan_value_free, and a table is written
** back (ctable_pack) and read again. Must never crash, trip a sanitizer or
** leak. Build and run: fuzz/run ctable [seconds].
*/
#include <stdlib.h>
#include "ctable.h"
#include "hostref.h"
#include "fuzzbuf.h"

/* Stand-ins for capi.c's reference calls: the fake channels never die. */
void gochan_chan_retain (gochan_chan *c) { obj_retain((struct obj *)(void *)c); }
void gochan_chan_release (gochan_chan *c) {
  if (!c) return;
  hostref_drop((struct chan *)(void *)c);
  obj_release((struct obj *)(void *)c);
}
/* hostref_waiting's only caller is the scheduler, not linked here */
size_t chan_nwaiters (struct chan *c) { (void)c; return 0; }


int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size) {
  struct tbuf *b = fuzz_tbuf(data, size, TBUF_REFS);
  if (!b) return 0;
  gochan_value v;
  if (ctable_unpack(b, &v) == GOCHAN_OK && v.type == GOCHAN_TABLE) {
    struct tvalue tv = TVALUE_NIL;
    if (ctable_pack(&v, &tv) == GOCHAN_OK) {
      gochan_value again;
      if (ctable_unpack(tv.u.buf, &again) != GOCHAN_OK) abort();  /* ours */
      if (again.type != GOCHAN_TABLE) abort();
      if (again.table->n > v.table->n) abort();   /* nil values dropped */
      if (again.table) ctable_free(again.table);
      tvalue_clear(&tv);
    }
  }
  if (v.type == GOCHAN_TABLE) ctable_free(v.table);
  else if (v.type == GOCHAN_STRING) free((void *)(uintptr_t)v.string);
  else if (v.type == GOCHAN_CHANNEL) gochan_chan_release(v.channel);
  tbuf_free(b);
  return 0;
}
