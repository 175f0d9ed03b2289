/*
** tbuf.h: the transfer buffer: the encoded bytes of one value plus the
** gochan objects it names. Lua-free storage, built with tbuild.h; the byte
** format is src/lua/tformat.h's, written only by src/lua/tencode.c and read
** only by src/lua/tdecode.c (see docs/transfer.md).
*/
#ifndef GOCHAN_TBUF_H
#define GOCHAN_TBUF_H

#include "value.h"

#define TBUF_REFS 1u      /* the bytes hold back-references: the decoder keeps
                             a table of the values it has built */
#define TBUF_MODS 2u      /* the bytes name modules: decoding runs require() */

/*
** One allocation: header, 'nobj' object references (one owned each) and
** 'len' bytes. Immutable once built; owned by exactly one tvalue.
*/
struct tbuf {
  size_t len;
  size_t nobj;
  struct obj **objs;      /* points into this allocation */
  const uint8_t *data;    /* points into this allocation */
  unsigned flags;         /* TBUF_* */
};

/* A new buffer holding a copy of 'data' and a new reference to each of
** 'objs'. NULL when out of memory (nothing retained). */
struct tbuf *tbuf_new (const uint8_t *data, size_t len,
                       struct obj *const *objs, size_t nobj, unsigned flags);

/* A keyed hash (SipHash-2-4) of 'p' under a random key drawn once per
** process: a value the bytes of another process, or forged ones, cannot
** match. Thread-safe. */
uint64_t tbuf_mac (const void *p, size_t n);

#endif
