/*
** wire.h: the portable wire format of gochan.nats (docs/wire.md), between
** bytes and the C API's values (gochan_value graphs). Lua-free: the Lua
** side is wlua.c; the fuzz target (fuzz/fuzz_wire.c) links this alone.
*/
#ifndef WIRE_H
#define WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include "gochan.h"
#include "lapi.h"

#define WIRE_VERSION 1

/* What a message carries (its second byte). */
enum wire_kind {
  WIRE_VALUE = 0,      /* one value */
  WIRE_ERROR = 1,      /* one value: an error raised by a request handler */
  WIRE_CLOSE = 2       /* nothing: the channel a reply subject stands for
                          was closed by the other side */
};

/* Value tags (one byte before each value). */
enum wire_tag {
  WT_NIL = 0, WT_FALSE = 1, WT_TRUE = 2,
  WT_INT = 3,          /* 8 bytes, two's complement, little-endian */
  WT_FLOAT = 4,        /* 8 bytes, IEEE 754 binary64, little-endian */
  WT_STRING = 5,       /* length (varint), bytes */
  WT_TABLE = 6,        /* pair count (varint), key value ... */
  WT_REF = 7,          /* index (varint) of a table seen before */
  WT_CHAN = 8,         /* length (varint), reply subject bytes */
  WT_NTAGS
};

/* The entry points of core.so (lapi.h), set once by luaopen (or by the
** fuzz target) before any function below runs. */
extern const struct gochan_lapi *wire_api;

/* A growing byte buffer; 'oom' once an allocation failed (then every
** later write is dropped and the contents are not to be used). */
struct wbuf {
  unsigned char *p;
  size_t n, cap;
  bool oom;
};
void wbuf_init (struct wbuf *b);
void wbuf_free (struct wbuf *b);
void wbuf_byte (struct wbuf *b, unsigned c);
void wbuf_bytes (struct wbuf *b, const void *s, size_t n);
void wbuf_varint (struct wbuf *b, uint64_t u);
void wbuf_int (struct wbuf *b, int64_t i);
void wbuf_float (struct wbuf *b, double d);
/* The two header bytes: WIRE_VERSION, 'kind'. */
void wbuf_header (struct wbuf *b, enum wire_kind kind);

/*
** How channels cross (both may be NULL: a channel is then refused, and a
** channel tag decodes as an error). 'export' names the reply subject that
** stands for 'c' in a message (NUL-terminated, valid while the connection
** lives), or NULL when it cannot (out of memory, connection closed).
** 'import' gives a channel (a new reference) whose sends reach the
** subject 's' (n bytes), or NULL. Both may be called from any thread.
*/
struct wire_chans {
  void *ud;
  const char *(*export) (void *ud, gochan_chan *c);
  gochan_chan *(*import) (void *ud, const char *s, size_t n);
};

/* Append 'v' (a value, or a graph) to 'b'. Returns NULL, or a refusal
** written into 'err' (a GOCHAN_OTHER value, a channel that cannot be
** exported, a graph nested deeper than GOCHAN_MAX_DEPTH); out of memory
** sets b->oom. */
const char *wire_encode (struct wbuf *b, const gochan_value *v,
                         const struct wire_chans *ch, char *err,
                         size_t errlen);

/* Decode a whole message (header and value). Returns NULL with '*kind'
** and '*out' set ('*out' owned by the caller: gochan_value_free; nil for
** WIRE_CLOSE), or a reason the bytes are not a message of this format,
** written into 'err', with '*out' nil and nothing held. The bytes are
** validated completely before anything is built, so a malformed message
** imports no channel. */
const char *wire_decode (const void *p, size_t n, enum wire_kind *kind,
                         gochan_value *out, const struct wire_chans *ch,
                         char *err, size_t errlen);

#endif
