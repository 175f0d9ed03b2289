/*
** lapi.h: the C API of include/gochan.h as a table of entry points that
** core.so lends to sibling C modules (gochan.nats). core.so exports only
** luaopen_gochan_core and Lua loads every C module with its symbols kept
** private, so a sibling cannot link to gochan_send: after
** require "gochan.core" it reads this table from the registry.
*/
#ifndef LAPI_H
#define LAPI_H

#include <stddef.h>
#include <stdint.h>
#include "gochan.h"

/* registry[GOCHAN_LAPI_KEY]: a light userdata, the address of the table
** (static data of core.so: valid while core.so is loaded, which it stays,
** pinned, once its runtime has started). */
#define GOCHAN_LAPI_KEY "gochan.lapi"
/* Bumped when an entry changes meaning; entries are only ever appended,
** and 'size' says how many a given core.so has. */
#define GOCHAN_LAPI_VERSION 3

struct gochan_lapi {
  unsigned version;
  size_t size;                        /* sizeof (struct gochan_lapi) */
  gochan_chan *(*chan_new) (size_t cap);
  void (*chan_retain) (gochan_chan *c);
  void (*chan_release) (gochan_chan *c);
  gochan_status (*send) (gochan_chan *c, const gochan_value *v, double t);
  gochan_status (*recv) (gochan_chan *c, gochan_value *out, int *ok,
                         double t);
  gochan_status (*offer) (gochan_chan *c, const gochan_value *v);
  uint64_t (*dropped) (gochan_chan *c);
  gochan_status (*close) (gochan_chan *c);
  gochan_status (*select) (gochan_case *cases, size_t n, double t,
                           size_t *chosen);
  void (*value_free) (gochan_value *v);
  gochan_table *(*table_new) (size_t n);
  gochan_status (*table_set) (gochan_table *t, size_t i,
                              const gochan_value *k, const gochan_value *v);
  gochan_notifier *(*notifier_new) (void);
  int (*notifier_fd) (gochan_notifier *n);
  gochan_status (*notifier_watch) (gochan_notifier *n, gochan_chan *c,
                                   int dirs);
  gochan_status (*notifier_unwatch) (gochan_notifier *n, gochan_chan *c);
  gochan_status (*notifier_clear) (gochan_notifier *n);
  void (*notifier_free) (gochan_notifier *n);
  void (*pushchan) (lua_State *L, gochan_chan *c);
  gochan_chan *(*tochan) (lua_State *L, int idx);
  /* version 2 */
  /* The directions (GOCHAN_RECV | GOCHAN_SEND) in which 'c' may be
  ** ready now: GOCHAN_SEND on an unbuffered channel means a receiver
  ** waits (or one that gave up, until the next try drops it). */
  int (*chan_ready) (gochan_chan *c);
  /* version 3 */
  /* Names in error messages, as the binding's own (src/lua/lbox.h:
  ** lbox_pushname, lbox_unknownkey): the string at 'idx' pushed as 'name',
  ** or quoted whole as %q does when it holds a zero byte; the message for
  ** a key of an option table that is not in 'known', or NULL. */
  const char *(*pushname) (lua_State *L, int idx);
  const char *(*unknownkey) (lua_State *L, int arg, const char *const known[],
                             const char *what);
};

/* Store the table in the registry of 'L' (module.c, at every open). */
void lapi_lend (lua_State *L);

#endif
