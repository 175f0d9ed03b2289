/*
** lnotify.c: gochan.notifier, the Lua face of notify.h: an fd that a
** luv or cqueues loop in the main state polls, readable whenever a
** watched channel may have become ready. Nothing here blocks.
*/
#include <errno.h>
#include <string.h>
#include <lua.h>
#include <lauxlib.h>
#include "ltypes.h"
#include "notify.h"

static struct notifier *checknt (lua_State *L) {
  return (struct notifier *)lbox_check(L, 1, OBJ_NOTIFIER);
}

/* The notifier at 1, which must be open. */
static struct notifier *checkopen (lua_State *L) {
  struct notifier *n = checknt(L);
  if (notifier_isclosed(n))
    luaL_error(L, "attempt to use a closed notifier");
  return n;
}

static struct chan *checkchan (lua_State *L, int arg) {
  return (struct chan *)lbox_check(L, arg, OBJ_CHAN);
}

/* Watch the channel at 'arg' for 'dirs'; raises (nothing changed) on a
** closed notifier or out of memory. */
static void watch (lua_State *L, struct notifier *n, int arg, int dirs) {
  switch (notifier_watch(n, checkchan(L, arg), dirs)) {
    case GO_OK: return;
    case GO_CLOSED: luaL_error(L, "attempt to use a closed notifier"); return;
    default: lg_raise(L, GO_NOMEM);
  }
}

/* gochan.notifier(ch, ...) -> nt, watching each channel for "recv" */
static int lgochan_notifier (lua_State *L) {
  int top = lua_gettop(L);
  for (int i = 1; i <= top; i++) checkchan(L, i);     /* may raise: none made */
  struct obj **box = lbox_new(L, OBJ_NOTIFIER);       /* ... box */
  struct notifier *n = notifier_new();
  if (!n) {
    if (errno == ENOMEM) return lg_raise(L, GO_NOMEM);
    return luaL_error(L, "cannot make a notifier (%s)", strerror(errno));
  }
  lbox_adopt(L, box, (struct obj *)n);      /* the box's __gc frees it */
  for (int i = 1; i <= top; i++) watch(L, n, i, NOTE_RECV);
  return 1;
}

/* nt:fd() -> integer */
static int lnt_fd (lua_State *L) {
  struct notifier *n = checkopen(L);
  lua_pushinteger(L, notifier_fd(n));
  return 1;
}

/* nt:watch(ch [, "recv"|"send"]) -> nt; watching again adds the direction */
static int lnt_watch (lua_State *L) {
  struct notifier *n = checkopen(L);
  checkchan(L, 2);
  bool send = false;                /* luaL_checkoption, but whole strings */
  if (!lua_isnoneornil(L, 3)) {
    luaL_checkstring(L, 3);
    send = lbox_isname(L, 3, "send");
    if (!send && !lbox_isname(L, 3, "recv"))
      return luaL_argerror(L, 3, lua_pushfstring(L, "invalid option %s",
                                                 lbox_pushname(L, 3)));
  }
  watch(L, n, 2, send ? NOTE_SEND : NOTE_RECV);
  lua_settop(L, 1);
  return 1;
}

/* nt:unwatch(ch) -> true | false (it was not watched) */
static int lnt_unwatch (lua_State *L) {
  struct notifier *n = checkopen(L);
  gostatus st = notifier_unwatch(n, checkchan(L, 2));
  if (st == GO_CLOSED) return luaL_error(L, "attempt to use a closed notifier");
  lua_pushboolean(L, st == GO_OK);
  return 1;
}

/* nt:clear(): the fd is not readable until the next change */
static int lnt_clear (lua_State *L) {
  struct notifier *n = checknt(L);
  int e = notifier_clear(n);
  if (e < 0) return luaL_error(L, "attempt to use a closed notifier");
  if (e > 0) return luaL_error(L, "notifier fd: %s", strerror(e));
  return 0;
}

/* nt:close(): unwatch everything and close the fd */
static int lnt_close (lua_State *L) {
  if (!notifier_close(checknt(L)))
    return luaL_error(L, "attempt to use a closed notifier");
  return 0;
}

/* __close: as close, but silent on a closed notifier (and on nil) */
static int lnt_closequiet (lua_State *L) {
  struct notifier *n = (struct notifier *)lbox_to(L, 1);
  if (n) notifier_close(n);
  return 0;
}

static int lnt__tostring (lua_State *L) {
  if (lbox_pushcollected(L, 1)) return 1;
  struct notifier *n = checknt(L);
  if (notifier_isclosed(n)) lua_pushliteral(L, "gochan.notifier (closed)");
  else lua_pushfstring(L, "gochan.notifier (fd %d, %d watched)",
                       notifier_fd(n), (int)notifier_nwatched(n));
  return 1;
}

static const luaL_Reg nt_methods[] = {
  {"fd", lnt_fd}, {"watch", lnt_watch}, {"unwatch", lnt_unwatch},
  {"clear", lnt_clear}, {"close", lnt_close}, {NULL, NULL}
};

void lnotify_meta (lua_State *L) {
  lbox_newmetatable(L, GOCHAN_NOTIFIER_MT);      /* mt */
  lua_pushcfunction(L, lnt__tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pushcfunction(L, lnt_closequiet);
  lua_setfield(L, -2, "__close");
  lbox_setmethods(L, nt_methods);
  lua_pop(L, 1);
}

const luaL_Reg lnotify_funcs[] = {
  {"notifier", lgochan_notifier}, {NULL, NULL}
};
