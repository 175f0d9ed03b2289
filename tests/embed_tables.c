/*
** embed_tables.c: tables across the C API (GOCHAN_TABLE graphs). Lua ->
** C: nested tables, a table reached twice arriving as one gochan_table,
** cycles, a table as a key, what C cannot hold as GOCHAN_OTHER, a
** channel inside. C -> Lua: a graph built with gochan_table_new/_set,
** sharing and cycles kept in the table Lua receives; an echo round trip;
** a table in a gochan_select send case. The depth limit both ways, bad
** keys refused with nothing sent, and gochan_value_free of cyclic graphs
** (ASan checks every table is freed once).
*/
#include "embed.h"
#include <math.h>

#define T 10.0

/* The value of string key 'k' in 't', or NULL. */
static gochan_value *field (gochan_table *t, const char *k) {
  for (size_t i = 0; t && i < t->n; i++)
    if (t->pairs[i].key.type == GOCHAN_STRING &&
        strcmp(t->pairs[i].key.string, k) == 0)
      return &t->pairs[i].value;
  return NULL;
}

/* The value of integer key 'k' in 't', or NULL. */
static gochan_value *item (gochan_table *t, int64_t k) {
  for (size_t i = 0; t && i < t->n; i++)
    if (t->pairs[i].key.type == GOCHAN_INTEGER && t->pairs[i].key.integer == k)
      return &t->pairs[i].value;
  return NULL;
}

static gochan_table *tableof (gochan_value *v) {
  return v && v->type == GOCHAN_TABLE ? v->table : NULL;
}

static void test_lua_to_c (void) {
  lua_State *L = newstate();
  gochan_chan *c = gochan_chan_new(8);
  gochan_pushchan(L, c);
  run_lua(L, "local c = ...\n"
             "local shared = { x = 1 }\n"
             "local t = { 10, 2.5, 'three', true, name = 'loop\\0!' }\n"
             "t.self = t\n"
             "t.a, t.b = shared, shared\n"
             "t[shared] = 'a table key'\n"
             "t.fn = function () return 1 end\n"
             "t.mod = string.format\n"
             "t.ch = c\n"
             "t.nested = { { { deep = shared } } }\n"
             "setmetatable(t, { __index = function () end })\n"
             "gochan.go(function () c:send(t); c:send({}); c:send(function () end) end):join(10)",
          1, 0);
  gochan_value v;
  int ok;
  CHECK_EQ_INT(gochan_recv(c, &v, &ok, T), GOCHAN_OK);
  CHECK(ok && v.type == GOCHAN_TABLE);
  gochan_table *t = tableof(&v);
  CHECK(t != NULL);
  if (t) {
    CHECK_EQ_INT(t->n, 13);            /* 4 items, 9 fields; no metatable */
    CHECK(item(t, 1) && item(t, 1)->type == GOCHAN_INTEGER && item(t, 1)->integer == 10);
    CHECK(item(t, 2) && item(t, 2)->type == GOCHAN_NUMBER && item(t, 2)->number == 2.5);
    CHECK(item(t, 3) && item(t, 3)->type == GOCHAN_STRING &&
          strcmp(item(t, 3)->string, "three") == 0);
    CHECK(item(t, 4) && item(t, 4)->type == GOCHAN_BOOLEAN && item(t, 4)->boolean);
    gochan_value *name = field(t, "name");
    CHECK(name && name->type == GOCHAN_STRING && name->len == 6 &&
          memcmp(name->string, "loop\0!", 7) == 0);
    CHECK(tableof(field(t, "self")) == t);           /* the cycle */
    gochan_table *sh = tableof(field(t, "a"));
    CHECK(sh != NULL && tableof(field(t, "b")) == sh);   /* shared */
    CHECK(sh && field(sh, "x") && field(sh, "x")->integer == 1);
    gochan_table *deep = tableof(item(tableof(item(tableof(field(t, "nested")), 1)), 1));
    CHECK(tableof(field(deep, "deep")) == sh);
    bool tkey = false;
    for (size_t i = 0; i < t->n; i++)
      if (t->pairs[i].key.type == GOCHAN_TABLE && t->pairs[i].key.table == sh)
        tkey = t->pairs[i].value.type == GOCHAN_STRING &&
               strcmp(t->pairs[i].value.string, "a table key") == 0;
    CHECK(tkey);
    CHECK(field(t, "fn") && field(t, "fn")->type == GOCHAN_OTHER);
    CHECK(field(t, "mod") && field(t, "mod")->type == GOCHAN_OTHER);
    CHECK(field(t, "ch") && field(t, "ch")->type == GOCHAN_CHANNEL &&
          field(t, "ch")->channel == c);
  }
  gochan_value_free(&v);
  CHECK(v.type == GOCHAN_NIL);
  CHECK_EQ_INT(gochan_recv(c, &v, &ok, T), GOCHAN_OK);   /* {} */
  CHECK(v.type == GOCHAN_TABLE && v.table->n == 0);
  gochan_value_free(&v);
  CHECK_EQ_INT(gochan_recv(c, &v, &ok, T), GOCHAN_OK);   /* a function */
  CHECK(ok && v.type == GOCHAN_OTHER);
  lua_close(L);
  gochan_chan_release(c);
}

/* A graph: root = { 1, 2.5, "s\0x", self = root, a = sh, b = sh,
** [sh] = true, ch = c }, sh = { back = root }. */
static gochan_value build (gochan_chan *c) {
  gochan_table *root = gochan_table_new(8), *sh = gochan_table_new(1);
  CHECK(root && sh);
  gochan_value rv = gochan_table_value(root), sv = gochan_table_value(sh);
  gochan_value k, v;
  k = gochan_integer(1); v = gochan_integer(1);
  CHECK_EQ_INT(gochan_table_set(root, 0, &k, &v), GOCHAN_OK);
  k = gochan_integer(2); v = gochan_number(2.5);
  CHECK_EQ_INT(gochan_table_set(root, 1, &k, &v), GOCHAN_OK);
  k = gochan_integer(3); v = gochan_string("s\0x", 3);
  CHECK_EQ_INT(gochan_table_set(root, 2, &k, &v), GOCHAN_OK);
  k = gochan_string("self", 4);
  CHECK_EQ_INT(gochan_table_set(root, 3, &k, &rv), GOCHAN_OK);
  k = gochan_string("a", 1);
  CHECK_EQ_INT(gochan_table_set(root, 4, &k, &sv), GOCHAN_OK);
  k = gochan_string("b", 1);
  CHECK_EQ_INT(gochan_table_set(root, 5, &k, &sv), GOCHAN_OK);
  v = gochan_boolean(1);
  CHECK_EQ_INT(gochan_table_set(root, 6, &sv, &v), GOCHAN_OK);
  k = gochan_string("ch", 2); v = gochan_channel(c);
  CHECK_EQ_INT(gochan_table_set(root, 7, &k, &v), GOCHAN_OK);
  k = gochan_string("back", 4);
  CHECK_EQ_INT(gochan_table_set(sh, 0, &k, &rv), GOCHAN_OK);
  return rv;
}

static const char checker[] =
  "local t = ...\n"
  "assert(math.type(t[1]) == 'integer' and t[1] == 1)\n"
  "assert(math.type(t[2]) == 'float' and t[2] == 2.5)\n"
  "assert(t[3] == 's\\0x')\n"
  "assert(t.self == t and t.a == t.b and t.a.back == t)\n"
  "assert(t[t.a] == true)\n"
  "assert(getmetatable(t) == nil)\n"
  "local n = 0 for _ in pairs(t) do n = n + 1 end\n"
  "assert(n == 8, n)\n"
  "return t.ch\n";

static void test_c_to_lua (void) {
  lua_State *L = newstate();
  gochan_chan *c = gochan_chan_new(4), *reply = gochan_chan_new(4);
  gochan_value g = build(reply);
  CHECK_EQ_INT(gochan_send(c, &g, T), GOCHAN_OK);    /* a copy: g stays ours */
  CHECK_EQ_INT(gochan_send(c, &g, T), GOCHAN_OK);
  gochan_pushchan(L, c);
  lua_pushstring(L, checker);
  /* a task checks one copy and echoes it back to C; the main state the other */
  run_lua(L, "local c, code = ...\n"
             "local check = load(code)\n"
             "local ok = gochan.go(function (c, code)\n"
             "  local t = c:recv()\n"
             "  local r = load(code)(t)\n"
             "  r:send(t)\n"
             "  return true\n"
             "end, c, code):join(10)\n"
             "assert(ok)\n"
             "local r = check(c:recv())\n"
             "return r:len()", 2, 1);
  CHECK_EQ_INT(lua_tointeger(L, -1), 1);
  lua_settop(L, 0);
  gochan_value back;
  int ok;
  CHECK_EQ_INT(gochan_recv(reply, &back, &ok, T), GOCHAN_OK);
  gochan_table *t = tableof(&back);
  CHECK(t && t->n == 8);
  CHECK(tableof(field(t, "self")) == t);
  gochan_table *sh = tableof(field(t, "a"));
  CHECK(sh && tableof(field(t, "b")) == sh && tableof(field(sh, "back")) == t);
  CHECK(field(t, "ch") && field(t, "ch")->channel == reply);
  gochan_value_free(&back);
  /* a table in a select send case */
  gochan_case cs[1] = { { .op = GOCHAN_SEND, .ch = c, .value = g } };
  size_t k = 9;
  CHECK_EQ_INT(gochan_select(cs, 1, T, &k), GOCHAN_OK);
  CHECK_EQ_INT(k, 0);
  gochan_pushchan(L, c);
  lua_pushstring(L, checker);
  run_lua(L, "local c, code = ... load(code)(c:recv()) return true", 2, 1);
  CHECK(lua_toboolean(L, -1));
  lua_settop(L, 0);
  gochan_value_free(&g);                 /* the whole cyclic graph */
  lua_close(L);
  gochan_chan_release(c);
  gochan_chan_release(reply);
}

/* A chain of 'depth' nested tables: { next = { next = ... } }. */
static gochan_value chain (int depth) {
  gochan_value root = gochan_nil();
  gochan_table *prev = NULL;
  gochan_value k = gochan_string("next", 4);
  for (int i = 0; i < depth; i++) {
    gochan_table *t = gochan_table_new(1);
    gochan_value tv = gochan_table_value(t);
    if (!prev) root = tv;
    else CHECK_EQ_INT(gochan_table_set(prev, 0, &k, &tv), GOCHAN_OK);
    prev = t;
  }
  return root;
}

static void test_depth_and_bad_input (void) {
  gochan_chan *c = gochan_chan_new(2);
  gochan_value ok1 = chain(GOCHAN_MAX_DEPTH), deep = chain(GOCHAN_MAX_DEPTH + 1);
  CHECK_EQ_INT(gochan_send(c, &deep, 0), GOCHAN_INVALID);
  CHECK_EQ_INT(gochan_len(c), 0);                    /* nothing sent */
  CHECK_EQ_INT(gochan_send(c, &ok1, 0), GOCHAN_OK);
  gochan_value_free(&deep);
  gochan_value_free(&ok1);
  gochan_value got;
  int ok;
  CHECK_EQ_INT(gochan_recv(c, &got, &ok, 0), GOCHAN_OK);
  int depth = 0;
  for (gochan_table *t = tableof(&got); t; t = tableof(field(t, "next"))) depth++;
  CHECK_EQ_INT(depth, GOCHAN_MAX_DEPTH);
  gochan_value_free(&got);
  /* Lua's deepest table reaches C whole; one deeper is refused in Lua */
  lua_State *L = newstate();
  gochan_pushchan(L, c);
  lua_pushinteger(L, GOCHAN_MAX_DEPTH);
  run_lua(L, "local c, n = ...\n"
             "local function chain (n)\n"
             "  local t = {} for _ = 2, n do t = { next = t } end return t\n"
             "end\n"
             "c:send(chain(n))\n"
             "local ok, err = pcall(c.send, c, chain(n + 1))\n"
             "return not ok and err", 2, 1);
  CHECK(lua_isstring(L, -1) && strstr(lua_tostring(L, -1), "nested deeper") != NULL);
  lua_close(L);
  CHECK_EQ_INT(gochan_recv(c, &got, &ok, 0), GOCHAN_OK);
  depth = 0;
  for (gochan_table *t = tableof(&got); t; t = tableof(field(t, "next"))) depth++;
  CHECK_EQ_INT(depth, GOCHAN_MAX_DEPTH);
  gochan_value_free(&got);
  CHECK_EQ_INT(gochan_len(c), 0);
  /* bad keys and values */
  gochan_table *t = gochan_table_new(2);
  gochan_value tv = gochan_table_value(t), k = gochan_nil(), v = gochan_integer(1);
  CHECK_EQ_INT(gochan_table_set(t, 0, &k, &v), GOCHAN_INVALID);
  k = gochan_number(NAN);
  CHECK_EQ_INT(gochan_table_set(t, 0, &k, &v), GOCHAN_INVALID);
  k = gochan_integer(1);
  CHECK_EQ_INT(gochan_table_set(t, 2, &k, &v), GOCHAN_INVALID);   /* i >= n */
  CHECK_EQ_INT(gochan_table_set(NULL, 0, &k, &v), GOCHAN_INVALID);
  v.type = GOCHAN_OTHER;
  CHECK_EQ_INT(gochan_table_set(t, 0, &k, &v), GOCHAN_INVALID);
  v = gochan_string(NULL, 2);
  CHECK_EQ_INT(gochan_table_set(t, 0, &k, &v), GOCHAN_INVALID);
  v = gochan_string("one", 3);
  CHECK_EQ_INT(gochan_table_set(t, 0, &k, &v), GOCHAN_OK);
  v = gochan_string("uno", 3);
  CHECK_EQ_INT(gochan_table_set(t, 0, &k, &v), GOCHAN_OK);   /* replaced */
  /* a key set by hand to nil (with a value) or to a NaN: refused at send */
  t->pairs[1].value = gochan_boolean(1);
  CHECK_EQ_INT(gochan_send(c, &tv, 0), GOCHAN_INVALID);
  t->pairs[1].key = gochan_number(NAN);
  CHECK_EQ_INT(gochan_send(c, &tv, 0), GOCHAN_INVALID);
  t->pairs[1].key.type = GOCHAN_OTHER;
  CHECK_EQ_INT(gochan_send(c, &tv, 0), GOCHAN_INVALID);
  CHECK_EQ_INT(gochan_len(c), 0);
  t->pairs[1].value = gochan_nil();                 /* a nil value: no entry */
  CHECK_EQ_INT(gochan_send(c, &tv, 0), GOCHAN_OK);
  gochan_value_free(&tv);
  CHECK_EQ_INT(gochan_recv(c, &got, &ok, 0), GOCHAN_OK);
  CHECK(got.type == GOCHAN_TABLE && got.table->n == 1 &&
        strcmp(item(got.table, 1)->string, "uno") == 0);
  gochan_value_free(&got);
  v = gochan_table_value(NULL);
  CHECK_EQ_INT(gochan_send(c, &v, 0), GOCHAN_INVALID);
  CHECK(gochan_table_new(SIZE_MAX) == NULL);
  gochan_chan_release(c);
}

/* Freeing: a ring of tables, a table that is its own key and value, and a
** graph reached through many paths, each table freed exactly once. */
static void test_free_graphs (void) {
  enum { RING = 500 };
  gochan_table *ts[RING];
  for (int i = 0; i < RING; i++) ts[i] = gochan_table_new(2);
  for (int i = 0; i < RING; i++) {
    gochan_value k = gochan_string("next", 4);
    gochan_value v = gochan_table_value(ts[(i + 1) % RING]);
    CHECK_EQ_INT(gochan_table_set(ts[i], 0, &k, &v), GOCHAN_OK);
    gochan_value k2 = gochan_table_value(ts[(i * 7) % RING]);
    v = gochan_table_value(ts[(i * 13) % RING]);
    CHECK_EQ_INT(gochan_table_set(ts[i], 1, &k2, &v), GOCHAN_OK);
  }
  gochan_value root = gochan_table_value(ts[0]);
  gochan_chan *c = gochan_chan_new(1);
  CHECK_EQ_INT(gochan_send(c, &root, 0), GOCHAN_OK);
  gochan_value_free(&root);
  gochan_value got;
  int ok;
  CHECK_EQ_INT(gochan_recv(c, &got, &ok, 0), GOCHAN_OK);
  int n = 0;                                      /* walk the ring back */
  gochan_table *t = got.table;
  do { n++; t = tableof(field(t, "next")); } while (t && t != got.table);
  CHECK_EQ_INT(n, RING);
  gochan_value_free(&got);
  gochan_table *self = gochan_table_new(1);
  gochan_value sv = gochan_table_value(self);
  CHECK_EQ_INT(gochan_table_set(self, 0, &sv, &sv), GOCHAN_OK);
  gochan_value_free(&sv);
  gochan_chan_release(c);
}

/* A frozen table (gochan.freeze) reaches C as an ordinary graph: as the
** whole value, nested in a plain table, and a nested frozen table alone;
** sharing and cycles kept, a channel inside a reference of its own. */
static void test_frozen (void) {
  lua_State *L = newstate();
  gochan_chan *c = gochan_chan_new(8);
  gochan_pushchan(L, c);
  run_lua(L, "local c = ...\n"
             "local sh = { x = 1 }\n"
             "local t = { 10, 2.5, 'three', name = 'pizza', a = sh, b = sh, ch = c }\n"
             "t.self = t\n"
             "local f = gochan.freeze(t)\n"
             "c:send(f); c:send({ cfg = f, n = 1 }); c:send(f.a)",
          1, 0);
  gochan_value v;
  int ok;
  CHECK_EQ_INT(gochan_recv(c, &v, &ok, T), GOCHAN_OK);
  gochan_table *t = tableof(&v);
  CHECK(ok && t != NULL);
  if (t) {
    CHECK_EQ_INT(t->n, 8);
    CHECK(item(t, 1) && item(t, 1)->type == GOCHAN_INTEGER && item(t, 1)->integer == 10);
    CHECK(item(t, 2) && item(t, 2)->type == GOCHAN_NUMBER && item(t, 2)->number == 2.5);
    CHECK(field(t, "name") && strcmp(field(t, "name")->string, "pizza") == 0);
    CHECK(tableof(field(t, "self")) == t);
    gochan_table *sh = tableof(field(t, "a"));
    CHECK(sh && tableof(field(t, "b")) == sh && field(sh, "x")->integer == 1);
    CHECK(field(t, "ch") && field(t, "ch")->type == GOCHAN_CHANNEL &&
          field(t, "ch")->channel == c);
  }
  gochan_value_free(&v);
  CHECK_EQ_INT(gochan_recv(c, &v, &ok, T), GOCHAN_OK);
  t = tableof(&v);
  gochan_table *cfg = tableof(field(t, "cfg"));
  CHECK(cfg && field(cfg, "name") && strcmp(field(cfg, "name")->string, "pizza") == 0);
  CHECK(cfg && tableof(field(cfg, "self")) == cfg);
  gochan_value_free(&v);
  CHECK_EQ_INT(gochan_recv(c, &v, &ok, T), GOCHAN_OK);
  t = tableof(&v);
  CHECK(t && t->n == 1 && field(t, "x") && field(t, "x")->integer == 1);
  gochan_value_free(&v);
  lua_close(L);
  gochan_chan_release(c);
}

int main (void) {
  check_init();
  RUN(test_lua_to_c);
  RUN(test_frozen);
  RUN(test_c_to_lua);
  RUN(test_depth_and_bad_input);
  RUN(test_free_graphs);
  return check_done();
}
