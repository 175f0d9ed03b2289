/*
** capi.c: the Lua half of the public C API (include/gochan.h): a host's
** channel into a Lua state and back, and the same API lent to sibling
** modules (lapi.h). The rest is src/core/capi.c.
*/
#include <lua.h>
#include <lauxlib.h>
#include "gochan.h"
#include "lapi.h"
#include "lbox.h"
#include "notify.h"

void gochan_pushchan (lua_State *L, gochan_chan *c) {
  if (!c) { lua_pushnil(L); return; }
  lbox_push(L, (struct obj *)(void *)c);   /* the state's own box */
}

gochan_chan *gochan_tochan (lua_State *L, int idx) {
  struct obj *o = lbox_to(L, idx);
  return o && o->type == OBJ_CHAN ? (gochan_chan *)(void *)o : NULL;
}

static int chan_ready (gochan_chan *c) {
  return notify_readiness((struct chan *)(void *)c);
}

static const struct gochan_lapi lent = {
  .version = GOCHAN_LAPI_VERSION, .size = sizeof (struct gochan_lapi),
  .chan_new = gochan_chan_new, .chan_retain = gochan_chan_retain,
  .chan_release = gochan_chan_release,
  .send = gochan_send, .recv = gochan_recv, .offer = gochan_offer,
  .dropped = gochan_dropped, .close = gochan_close, .select = gochan_select,
  .value_free = gochan_value_free,
  .table_new = gochan_table_new, .table_set = gochan_table_set,
  .notifier_new = gochan_notifier_new, .notifier_fd = gochan_notifier_fd,
  .notifier_watch = gochan_notifier_watch,
  .notifier_unwatch = gochan_notifier_unwatch,
  .notifier_clear = gochan_notifier_clear,
  .notifier_free = gochan_notifier_free,
  .pushchan = gochan_pushchan, .tochan = gochan_tochan,
  .chan_ready = chan_ready,
  .pushname = lbox_pushname, .unknownkey = lbox_unknownkey
};

void lapi_lend (lua_State *L) {
  lua_pushlightuserdata(L, (void *)(uintptr_t)&lent);
  lua_setfield(L, LUA_REGISTRYINDEX, GOCHAN_LAPI_KEY);
}
