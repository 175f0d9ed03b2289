/*
** fuzz_wire.c: libFuzzer target for the gochan.nats wire decoder
** (src/nats/wire.c). Each input is one message: what decodes is encoded
** again, decoded again (it must, to the same bytes' length) and freed.
** Channels are a stand-in object that is never freed. Must never crash,
** trip a sanitizer or leak. Build and run: fuzz/run wire [seconds].
*/
#include <stdlib.h>
#include <string.h>
#include "ctable.h"
#include "wire.h"

static char dummy;                 /* every channel is this one */

/* Stand-ins for capi.c's reference calls (ctable.c uses them). */
void gochan_chan_retain (gochan_chan *c) { (void)c; }
void gochan_chan_release (gochan_chan *c) { (void)c; }
struct chan;
size_t chan_nwaiters (struct chan *c) { (void)c; return 0; }

static void value_free (gochan_value *v) {
  if (v->type == GOCHAN_STRING) free((void *)(uintptr_t)v->string);
  else if (v->type == GOCHAN_TABLE) ctable_free(v->table);
  *v = gochan_nil();
}

static const struct gochan_lapi api = {
  .version = GOCHAN_LAPI_VERSION, .size = sizeof api,
  .chan_retain = gochan_chan_retain, .chan_release = gochan_chan_release,
  .value_free = value_free,
  .table_new = gochan_table_new, .table_set = gochan_table_set,
};

static const char *export (void *ud, gochan_chan *c) {
  (void)ud; (void)c;
  return "_INBOX.fuzz.c.1";
}

static gochan_chan *import (void *ud, const char *s, size_t n) {
  (void)ud; (void)s;
  return n % 7 == 3 ? NULL : (gochan_chan *)(void *)&dummy;  /* sometimes refuse */
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size) {
  wire_api = &api;
  struct wire_chans ch = { NULL, export, import };
  enum wire_kind kind;
  gochan_value v;
  char err[160];
  if (wire_decode(data, size, &kind, &v, &ch, err, sizeof err)) return 0;
  struct wbuf b;
  wbuf_init(&b);
  wbuf_header(&b, kind);
  if (kind != WIRE_CLOSE && wire_encode(&b, &v, &ch, err, sizeof err) == NULL &&
      !b.oom) {
    gochan_value again;
    enum wire_kind k2;
    if (wire_decode(b.p, b.n, &k2, &again, &ch, err, sizeof err) != NULL &&
        strcmp(err, "cannot receive a channel here") != 0)
      abort();                     /* what we wrote must read back */
    value_free(&again);
  }
  wbuf_free(&b);
  value_free(&v);
  return 0;
}
