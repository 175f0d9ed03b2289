/*
** ttags.h: the tags and the depth limit of the transfer byte format, for
** the two sides that read and write it: the Lua encoder and decoder
** (src/lua/tformat.h describes the format) and the C API's Lua-free reader
** and writer of table graphs (src/core/ctable.c).
*/
#ifndef GOCHAN_TTAGS_H
#define GOCHAN_TTAGS_H

#include "gochan.h"

enum {
  T_NIL = 0, T_FALSE, T_TRUE, T_GLOBALS, T_INT, T_FLOAT, T_LUD, T_STR,
  T_OBJ, T_TABLE, T_TABLEMT, T_REF, T_FUNC, T_UPJOIN, T_MOD, T_FROZEN,
  T_NTAGS
};

/* Deepest nesting of tables, functions and metatables in one value (both
** ways: whatever the encoder accepts, the decoder builds). The C API's
** limit for table graphs is the same one, defined in include/gochan.h. */
#define MAXDEPTH GOCHAN_MAX_DEPTH

#endif
