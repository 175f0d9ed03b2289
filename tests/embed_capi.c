/*
** embed_capi.c: the C API (include/gochan.h) from a host that embeds Lua.
** The host makes two channels and hands them to its Lua state, where a
** task echoes what a host thread sends (every plain type, and a reply
** channel the task answers on); then argument checks, timeouts, close,
** a channel made in Lua read back in C, and channels still working after
** the host closed its Lua state (the runtime stopped).
*/
#include "check.h"
#include <math.h>
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include "gochan.h"

#define T 10.0                 /* seconds: a wait that should be short */

static const char script[] =
  "local luadir, input, output = ...\n"
  "package.path = luadir .. '/?.lua;' .. luadir .. '/?/init.lua;' .. package.path\n"
  "local gochan = require 'gochan'\n"
  "echo = gochan.go(function(inp, out)\n"
  "  require('gochan').sleep(0)   -- a task's state finds the linked module\n"
  "  local n = 0\n"
  "  while true do\n"
  "    local v, ok = inp:recv()\n"
  "    if not ok then break end\n"
  "    n = n + 1\n"
  "    if type(v) == 'userdata' then v:send('reply from lua') else out:send(v) end\n"
  "  end\n"
  "  out:send({ 'a table' })\n"
  "  out:close()\n"
  "  return n\n"
  "end, input, output)\n";

static gochan_chan *input, *output;
static atomic_int replied;

static void *host_sender (void *arg) {
  (void)arg;
  gochan_value vs[] = {
    gochan_nil(), gochan_boolean(1), gochan_integer(-42),
    gochan_number(2.5), gochan_string("hello\0world", 11)
  };
  for (size_t i = 0; i < sizeof vs / sizeof vs[0]; i++)
    CHECK_EQ_INT(gochan_send(input, &vs[i], T), GOCHAN_OK);
  gochan_chan *reply = gochan_chan_new(0);
  gochan_value rv = gochan_channel(reply);
  CHECK_EQ_INT(gochan_send(input, &rv, T), GOCHAN_OK);
  gochan_value got;
  int ok;
  CHECK_EQ_INT(gochan_recv(reply, &got, &ok, T), GOCHAN_OK);
  CHECK(ok && got.type == GOCHAN_STRING && got.len == 14 &&
        strcmp(got.string, "reply from lua") == 0);
  gochan_value_free(&got);
  gochan_chan_release(reply);
  atomic_store(&replied, 1);
  CHECK_EQ_INT(gochan_close(input), GOCHAN_OK);
  return NULL;
}

static void run_lua (lua_State *L, const char *code, int nres) {
  if (luaL_loadstring(L, code) != LUA_OK || lua_pcall(L, 0, nres, 0) != LUA_OK) {
    fprintf(stderr, "lua: %s\n", lua_tostring(L, -1));
    check_fail(__FILE__, __LINE__, "Lua code failed");
    lua_settop(L, 0);
    for (int i = 0; i < nres; i++) lua_pushnil(L);
  }
}

static void test_echo_through_lua (void) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  luaL_requiref(L, "gochan.core", luaopen_gochan_core, 0);
  lua_pop(L, 1);
  input = gochan_chan_new(0);
  output = gochan_chan_new(4);
  CHECK(input && output);
  CHECK_EQ_INT(gochan_cap(output), 4);
  if (luaL_loadstring(L, script) != LUA_OK) {
    fprintf(stderr, "%s\n", lua_tostring(L, -1));
    CHECK(0);
    return;
  }
  lua_pushstring(L, GOCHAN_LUA_DIR);
  gochan_pushchan(L, input);
  gochan_pushchan(L, output);
  CHECK(gochan_tochan(L, -1) == output);       /* the same channel back */
  if (lua_pcall(L, 3, 0, 0) != LUA_OK) {
    fprintf(stderr, "%s\n", lua_tostring(L, -1));
    CHECK(0);
    return;
  }
  pthread_t th;
  pthread_create(&th, NULL, host_sender, NULL);
  gochan_value got;
  int ok;
  CHECK_EQ_INT(gochan_recv(output, &got, &ok, T), GOCHAN_OK);
  CHECK(ok && got.type == GOCHAN_NIL);
  CHECK_EQ_INT(gochan_recv(output, &got, &ok, T), GOCHAN_OK);
  CHECK(ok && got.type == GOCHAN_BOOLEAN && got.boolean == 1);
  CHECK_EQ_INT(gochan_recv(output, &got, &ok, T), GOCHAN_OK);
  CHECK(ok && got.type == GOCHAN_INTEGER && got.integer == -42);
  CHECK_EQ_INT(gochan_recv(output, &got, &ok, T), GOCHAN_OK);
  CHECK(ok && got.type == GOCHAN_NUMBER && got.number == 2.5);
  CHECK_EQ_INT(gochan_recv(output, &got, &ok, T), GOCHAN_OK);
  CHECK(ok && got.type == GOCHAN_STRING && got.len == 11 &&
        memcmp(got.string, "hello\0world", 12) == 0);
  gochan_value_free(&got);
  CHECK(got.type == GOCHAN_NIL);
  CHECK_EQ_INT(gochan_recv(output, &got, &ok, T), GOCHAN_OK);   /* a table */
  CHECK(ok && got.type == GOCHAN_TABLE && got.table->n == 1 &&
        got.table->pairs[0].key.type == GOCHAN_INTEGER &&
        got.table->pairs[0].value.type == GOCHAN_STRING &&
        strcmp(got.table->pairs[0].value.string, "a table") == 0);
  gochan_value_free(&got);             /* tests/embed_tables.c: the rest */
  CHECK_EQ_INT(gochan_recv(output, &got, &ok, T), GOCHAN_OK);   /* closed */
  CHECK(!ok && got.type == GOCHAN_NIL);
  pthread_join(th, NULL);
  CHECK_EQ_INT(atomic_load(&replied), 1);
  run_lua(L, "return echo:join(10)", 2);
  CHECK(lua_toboolean(L, -2));
  CHECK_EQ_INT(lua_tointeger(L, -1), 6);
  lua_settop(L, 0);
  /* a channel made in Lua, read in C */
  run_lua(L, "local c = require('gochan').chan(3) c:send('x') return c, 7", 2);
  gochan_chan *lc = gochan_tochan(L, -2);
  CHECK(lc != NULL);
  CHECK(gochan_tochan(L, -1) == NULL);
  if (lc) {
    gochan_chan_retain(lc);
    CHECK_EQ_INT(gochan_cap(lc), 3);
    CHECK_EQ_INT(gochan_len(lc), 1);
  }
  lua_settop(L, 0);
  lua_close(L);                       /* the runtime stops; channels live on */
  if (lc) {
    CHECK_EQ_INT(gochan_recv(lc, &got, &ok, 0), GOCHAN_OK);
    CHECK(ok && got.type == GOCHAN_STRING && strcmp(got.string, "x") == 0);
    gochan_value_free(&got);
    gochan_chan_release(lc);
  }
  gochan_chan_release(input);
  gochan_chan_release(output);
}

static void test_arguments_and_timeouts (void) {
  gochan_chan *c = gochan_chan_new(1);
  gochan_value v = gochan_integer(1), got;
  int ok;
  CHECK_EQ_INT(gochan_send(NULL, &v, 0), GOCHAN_INVALID);
  CHECK_EQ_INT(gochan_send(c, NULL, 0), GOCHAN_INVALID);
  CHECK_EQ_INT(gochan_send(c, &v, NAN), GOCHAN_INVALID);
  gochan_value bad = gochan_string(NULL, 3);
  CHECK_EQ_INT(gochan_send(c, &bad, 0), GOCHAN_INVALID);
  bad.type = (gochan_type)99;
  CHECK_EQ_INT(gochan_send(c, &bad, 0), GOCHAN_INVALID);
  CHECK_EQ_INT(gochan_len(c), 0);                  /* nothing was queued */
  CHECK_EQ_INT(gochan_recv(c, &got, &ok, 0), GOCHAN_TIMEOUT);
  CHECK(!ok && got.type == GOCHAN_NIL);
  int64_t t0 = go_now();
  CHECK_EQ_INT(gochan_recv(c, &got, &ok, 0.05), GOCHAN_TIMEOUT);
  CHECK_GE_INT(go_now() - t0, 40000000);
  CHECK_EQ_INT(gochan_send(c, &v, 0), GOCHAN_OK);
  CHECK_EQ_INT(gochan_send(c, &v, 0), GOCHAN_TIMEOUT);   /* full */
  CHECK_EQ_INT(gochan_close(c), GOCHAN_OK);
  CHECK_EQ_INT(gochan_close(c), GOCHAN_CLOSED);
  CHECK_EQ_INT(gochan_send(c, &v, 0), GOCHAN_CLOSED);
  CHECK_EQ_INT(gochan_recv(c, &got, &ok, -1), GOCHAN_OK);  /* drains */
  CHECK(ok && got.type == GOCHAN_INTEGER && got.integer == 1);
  CHECK_EQ_INT(gochan_recv(c, &got, &ok, -1), GOCHAN_OK);
  CHECK(!ok);
  CHECK_EQ_INT(gochan_recv(NULL, &got, &ok, 0), GOCHAN_INVALID);
  CHECK(gochan_chan_new((size_t)1 << 29) == NULL);
  gochan_chan_release(c);
  gochan_chan_release(NULL);
}

int main (void) {
  check_init();
  RUN(test_arguments_and_timeouts);
  RUN(test_echo_through_lua);
  return check_done();
}
