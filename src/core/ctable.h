/*
** ctable.h: table graphs of the C API (gochan.h's gochan_table) to and
** from the transfer byte format (src/core/ttags.h; src/lua/tformat.h
** describes it), without Lua: what a host sends, Lua's decoder reads as
** an ordinary table, and what Lua sends, C reads as a graph.
*/
#ifndef GOCHAN_CTABLE_H
#define GOCHAN_CTABLE_H

#include "gochan.h"
#include "tbuf.h"

/* Encode the graph of 'v' (a GOCHAN_TABLE) into a new buffer in '*tv'
** (TV_BUF). '*v' is only read. GOCHAN_INVALID (a nil or NaN key, a
** GOCHAN_OTHER, a bad string or channel, deeper than GOCHAN_MAX_DEPTH) or
** GOCHAN_NOMEM leave '*tv' nil. */
gochan_status ctable_pack (const gochan_value *v, struct tvalue *tv);

/* Decode 'b' into '*out' (a GOCHAN_TABLE graph the caller owns, or the
** plain value at its root; what C cannot hold is GOCHAN_OTHER). Every
** channel in it gets a reference of its own, counted as the host's
** (hostref). 'b' is only read. GOCHAN_NOMEM, or GOCHAN_INVALID for bytes
** that are not a value of the format (never for a buffer the Lua encoder
** made), leave '*out' nil with nothing held. */
gochan_status ctable_unpack (const struct tbuf *b, gochan_value *out);

/* Table 't' of the frozen graph 'f' (frozen.h) as a new C graph in
** '*out' (shared tables stay shared; channels get references of their
** own, counted as the host's; other objects are GOCHAN_OTHER; other frozen
** graphs it names are converted too). GOCHAN_NOMEM leaves '*out' nil. */
struct frozen;
gochan_status ctable_fromfrozen (struct frozen *f, uint32_t t,
                                 gochan_value *out);

/* Free the graph reachable from 't' (each table once, cycles included)
** with the strings and channel references it holds. */
void ctable_free (gochan_table *t);

#endif
