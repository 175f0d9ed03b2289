/*
** fuzz_decode.c: libFuzzer target for the transfer decoder. Each input is
** one buffer (first byte: its TBUF_* flags; the rest: the bytes) holding
** two object references, decoded by transfer_push under pcall; what
** decodes is encoded and decoded again. A state serves RENEW inputs and is
** then closed (so stale buffers and garbage are freed and checked); with
** -runs=1 (reproducing one input) every state is fresh. Must never
** crash, trip a sanitizer, or leak. Build and run: fuzz/run, which links
** the transfer files (transfer.c, tdecode.c, tencode.c, modindex.c) and
** the core's buffer files, but no other part of the binding.
*/
#include <stdio.h>
#include <stdlib.h>
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include "lbox.h"
#include "taskstate.h"
#include "tbuf.h"
#include "fuzzbuf.h"
#include "transfer.h"

/* Stand-ins for the binding's boxes: an object arrives as a light
** userdata; nothing here is a gochan box. */
void lbox_push (lua_State *L, struct obj *o) { lua_pushlightuserdata(L, o); }
struct obj *lbox_to (lua_State *L, int idx) { (void)L; (void)idx; return NULL; }
bool lbox_collected (lua_State *L, int idx, unsigned kinds) {
  (void)L; (void)idx; (void)kinds;
  return false;
}
void lbox_pushfrozen (lua_State *L, struct frozen *f, uint32_t t) {
  lua_pushlightuserdata(L, (char *)f + t);
}
struct frozen *lbox_tofrozen (lua_State *L, int idx, uint32_t *t) {
  (void)L; (void)idx; (void)t;
  return NULL;
}

/* No state here is a task's: transfer.c finds its data in the registry. */
struct ltask *taskstate_task (lua_State *L) { (void)L; return NULL; }

#define RENEW 2000


int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static int decodeinput (lua_State *L) {
  struct tvalue *tv = (struct tvalue *)lua_touserdata(L, 1);
  transfer_push(L, tv);                  /* owns the buffer from here */
  struct tvalue again = TVALUE_NIL;
  if (transfer_pack(L, -1, &again, "value")) transfer_push(L, &again);
  return 0;
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size) {
  struct tbuf *b = fuzz_tbuf(data, size, TBUF_REFS | TBUF_MODS);
  if (!b) return 0;
  struct tvalue tv = { .tt = TV_BUF, .u.buf = b };
  static lua_State *L;
  static unsigned used;
  if (!L) {
    L = luaL_newstate();
    luaL_openlibs(L);
    /* require() may find only what is already loaded, and no module
    ** that could touch the process or the files (a decoded metatable may
    ** name any module function as its __gc) */
    if (luaL_dostring(L,
      "package.path, package.cpath = '', ''\n"
      "for _, m in ipairs{'os', 'io', 'debug'} do\n"
      "  package.loaded[m] = nil; _G[m] = nil\n"
      "end\n"
      "package.loadlib, _G.dofile, _G.loadfile = nil, nil, nil\n"
      "table.remove(package.searchers, 4); table.remove(package.searchers, 3)"))
      abort();
    transfer_open(L);
  }
  lua_settop(L, 0);
  lua_pushcfunction(L, decodeinput);
  lua_pushlightuserdata(L, &tv);
  lua_pcall(L, 1, 0, 0);                 /* errors are expected */
  tvalue_clear(&tv);                     /* nil unless push raised first */
  if (++used == RENEW) {
    lua_close(L);
    L = NULL;
    used = 0;
  }
  return 0;
}
