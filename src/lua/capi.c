/*
** capi.c: the Lua half of the public C API (include/gochan.h): a host's
** channel into a Lua state and back. The rest is src/core/capi.c.
*/
#include <lua.h>
#include <lauxlib.h>
#include "gochan.h"
#include "lbox.h"

void gochan_pushchan (lua_State *L, gochan_chan *c) {
  if (!c) { lua_pushnil(L); return; }
  lbox_push(L, (struct obj *)(void *)c);   /* the state's own box */
}

gochan_chan *gochan_tochan (lua_State *L, int idx) {
  struct obj *o = lbox_to(L, idx);
  return o && o->type == OBJ_CHAN ? (gochan_chan *)(void *)o : NULL;
}
