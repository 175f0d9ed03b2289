/*
** lnats.c: luaopen_gochan_nats_core, the Lua side of gochan.nats: connect
** and the connection's methods (lua/gochan/nats/init.lua adds serve). A
** connection is a table { _id = handle } whose metatable is the module's
** Conn, so it crosses to tasks by name (docs/transfer.md) and names the
** same connection there.
*/
#define _GNU_SOURCE                   /* dladdr, RTLD_NODELETE */
#include <dlfcn.h>
#include <string.h>
#include <lua.h>
#include <lauxlib.h>
#include "lnats.h"

#define CONN_MT "gochan.nats.conn"
#define CHAN_MT "gochan.nats.chan"      /* distributed channels (init.lua
                                           adds the methods) */

static pthread_mutex_t apimu = PTHREAD_MUTEX_INITIALIZER;  /* wire_api */

/* The Conn metatable of this state (made by luaopen). */
static void pushconnmt (lua_State *L) {
  luaL_getmetatable(L, CONN_MT);
}

/* The handle of the connection at 'arg' (a bad self raises). */
static uint64_t checkconnid (lua_State *L, int arg) {
  if (lua_type(L, arg) == LUA_TTABLE && lua_getmetatable(L, arg)) {
    pushconnmt(L);
    int same = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    if (same && lua_getfield(L, arg, "_id") == LUA_TNUMBER) {
      lua_Integer id = lua_tointeger(L, -1);
      lua_pop(L, 1);
      return (uint64_t)id;
    }
    if (same) lua_pop(L, 1);
  }
  luaL_typeerror(L, arg, CONN_MT);
  return 0;
}

/* The connection at 'arg' with a reference (release it before raising),
** or an error "connection closed". */
static struct nconn *checkconn (lua_State *L, int arg) {
  struct nconn *c = conn_get(checkconnid(L, arg));
  if (!c) luaL_error(L, "connection closed");
  return c;
}

/* The connection at 1, with the value at 'arg' encoded into 'b' for it
** (raises, holding nothing, when the value cannot be sent). The caller
** frees 'b' and releases the connection. */
static struct nconn *encodefor (lua_State *L, int arg, struct wbuf *b) {
  luaL_checkany(L, arg);
  struct nconn *c = checkconn(L, 1);
  wbuf_init(b);
  if (!wlua_encode(L, arg, WIRE_VALUE, &c->chans, b)) {
    conn_release(c);
    lua_error(L);
  }
  return c;
}

static const char *checksubject (lua_State *L, int arg, bool wild) {
  size_t n;
  const char *s = luaL_checklstring(L, arg, &n);
  const char *why = subject_problem(s, n, wild);
  if (why)                        /* the subject whole, a zero byte and all */
    luaL_argerror(L, arg, lua_pushfstring(L, "invalid subject %s: %s",
                                          wire_api->pushname(L, arg), why));
  return s;
}

/* Raise "<what>: <the client's reason>" (nothing held). */
static int natserror (lua_State *L, const char *what, natsStatus st) {
  char err[256];
  if (st == NATS_INSUFFICIENT_BUFFER)
    snprintf(err, sizeof err, "disconnected and the reconnect buffer is full");
  else conn_errtext(st, err, sizeof err);
  return luaL_error(L, "%s: %s", what, err);
}

/* nats.connect(url [, {name =, timeout =, reconnect_wait =,
**   reconnect_buffer =}]) -> conn */
static int lnats_connect (lua_State *L) {
  size_t n;
  const char *url = luaL_checklstring(L, 1, &n);
  if (strlen(url) != n)                       /* the client would cut it */
    return luaL_argerror(L, 1, "URL contains a zero byte");
  if (!strstr(url, "://") && !strchr(url, ':'))
    return luaL_argerror(L, 1, lua_pushfstring(L, "invalid NATS URL '%s' "
                         "(expected nats://host:port)", url));
  struct nopts o;
  const char *why = nopts_connect(L, 2, &o);
  if (why) return luaL_argerror(L, 2, why);
  o.url = url;
  char err[256];
  struct nconn *c = conn_open(&o, err, sizeof err);
  if (!c) return luaL_error(L, "cannot connect to NATS at '%s': %s", o.url, err);
  lua_createtable(L, 0, 1);
  lua_pushinteger(L, (lua_Integer)c->id);
  lua_setfield(L, -2, "_id");
  pushconnmt(L);
  lua_setmetatable(L, -2);
  return 1;
}

/* conn:close() -> true | false (closed already) */
static int lconn_close (lua_State *L) {
  struct nconn *c = conn_get(checkconnid(L, 1));
  bool did = c && conn_close(c);
  conn_release(c);
  lua_pushboolean(L, did);
  return 1;
}

/* conn:publish(subject, v) */
static int lconn_publish (lua_State *L) {
  const char *subj = checksubject(L, 2, false);
  struct wbuf b;
  struct nconn *c = encodefor(L, 3, &b);
  natsStatus st = conn_publish(c, subj, NULL, &b);
  wbuf_free(&b);
  conn_release(c);
  if (st != NATS_OK) return natserror(L, "publish failed", st);
  return 0;
}

/* conn:_raw(subject, bytes): publish bytes as they are (for tests: what
** another client might send). */
static int lconn_raw (lua_State *L) {
  const char *subj = checksubject(L, 2, false);
  struct wbuf b;
  wbuf_init(&b);
  const char *s = luaL_checklstring(L, 3, &b.n);
  b.p = (unsigned char *)(uintptr_t)s;
  struct nconn *c = checkconn(L, 1);
  natsStatus st = conn_publish(c, subj, NULL, &b);
  conn_release(c);
  if (st != NATS_OK) return natserror(L, "publish failed", st);
  return 0;
}

static int subscribe (lua_State *L, enum nsub_mode mode) {
  const char *subj = checksubject(L, 2, true);
  const char *queue;
  size_t cap;
  const char *why = nopts_sub(L, 3, &queue, &cap);
  if (why) return luaL_argerror(L, 3, why);
  struct nconn *c = checkconn(L, 1);
  gochan_chan *ch = NULL;
  natsStatus st = conn_subscribe(c, subj, queue, cap, mode, &ch);
  conn_release(c);
  if (st != NATS_OK) return natserror(L, "subscribe failed", st);
  wire_api->pushchan(L, ch);               /* may raise: release it after */
  wire_api->chan_release(ch);
  return 1;
}

/* conn:subscribe(subject [, {queue =, cap =}]) -> ch */
static int lconn_subscribe (lua_State *L) { return subscribe(L, SUB_VALUES); }
/* conn:_requests(subject [, {queue =, cap =}]) -> ch of { r =, v = | e = } */
static int lconn_requests (lua_State *L) { return subscribe(L, SUB_REQUESTS); }

/* conn:unsubscribe(ch) -> boolean: the subscription feeding 'ch' ends and
** 'ch' is closed (values already in it stay receivable). */
static int lconn_unsubscribe (lua_State *L) {
  gochan_chan *ch = wire_api->tochan(L, 2);
  luaL_argexpected(L, ch != NULL, 2, "gochan.chan");
  struct nconn *c = checkconn(L, 1);
  bool did = conn_unsubscribe(c, ch);
  conn_release(c);
  lua_pushboolean(L, did);
  return 1;
}

/* After ch:recv(t): 1 self .. 4 t, 5 token, then v, ok [, err]. */
static int requestdone (lua_State *L, int status, lua_KContext ctx) {
  (void)status; (void)ctx;
  struct nconn *c = conn_get(checkconnid(L, 1));
  if (c) conn_forget(c, (uint64_t)lua_tointeger(L, 5));
  conn_release(c);
  if (lua_type(L, 6) == LUA_TTABLE) {                /* a reply */
    if (lua_getfield(L, 6, "e") != LUA_TNIL) {
      lua_pushnil(L);
      lua_insert(L, -2);
      return 2;                                      /* nil, err */
    }
    lua_getfield(L, 6, "v");
    return 1;
  }
  lua_pushnil(L);
  if (lua_toboolean(L, 7) == 0 && !lua_isnil(L, 7))
    lua_pushliteral(L, "connection closed");
  else if (!lua_isnoneornil(L, 8)) lua_pushvalue(L, 8);  /* ctx's err */
  else lua_pushliteral(L, "timeout");
  return 2;
}

/* conn:request(subject, v [, timeout | ctx]) -> reply | nil, err */
static int lconn_request (lua_State *L) {
  const char *subj = checksubject(L, 2, false);
  luaL_checkany(L, 3);
  int t = lua_type(L, 4);
  if (t != LUA_TNONE && t != LUA_TNIL && t != LUA_TNUMBER &&
      !luaL_testudata(L, 4, "gochan.context"))
    luaL_typeerror(L, 4, "number or gochan.context");
  lua_settop(L, 4);
  struct wbuf b;
  struct nconn *c = encodefor(L, 3, &b);
  uint64_t token = 0;
  gochan_chan *ch = NULL;
  char reply[128];
  natsStatus st = conn_expect(c, &token, &ch, reply, sizeof reply);
  if (st == NATS_OK) {
    st = conn_publish(c, subj, reply, &b);
    if (st != NATS_OK) {
      conn_forget(c, token);
      wire_api->chan_release(ch);
    }
  }
  wbuf_free(&b);
  conn_release(c);
  if (st != NATS_OK) return natserror(L, "request failed", st);
  lua_pushinteger(L, (lua_Integer)token);            /* 5 token */
  wire_api->pushchan(L, ch);
  wire_api->chan_release(ch);                        /* the box holds it */
  lua_getfield(L, -1, "recv");
  lua_insert(L, -2);                                 /* recv ch */
  lua_pushvalue(L, 4);
  lua_callk(L, 2, 3, 0, requestdone);
  return requestdone(L, LUA_OK, 0);
}

/* conn:_reply(subject, ok, v): a serve handler's answer (ok false: v is
** the error). A value that cannot be sent is answered as an error. */
static int lconn_reply (lua_State *L) {
  const char *subj = checksubject(L, 2, false);
  bool ok = lua_toboolean(L, 3);
  lua_settop(L, 4);
  struct nconn *c = checkconn(L, 1);
  struct wbuf b;
  wbuf_init(&b);
  if (!wlua_encode(L, 4, ok ? WIRE_VALUE : WIRE_ERROR, &c->chans, &b)) {
    wbuf_init(&b);                     /* answer the refusal instead */
    if (!wlua_encode(L, -1, WIRE_ERROR, &c->chans, &b)) {
      conn_release(c);
      return lua_error(L);
    }
  }
  natsStatus st = conn_publish(c, subj, NULL, &b);
  wbuf_free(&b);
  conn_release(c);
  lua_pushboolean(L, st == NATS_OK);
  return 1;
}

/* conn:flush([timeout]): wait (this thread) until the server has seen
** everything sent so far; -> true | nil, err */
static int lconn_flush (lua_State *L) {
  lua_Number t = luaL_optnumber(L, 2, 5);
  luaL_argcheck(L, t > 0 && t <= 1e6, 2, "positive number expected");
  struct nconn *c = checkconn(L, 1);
  natsStatus st = natsConnection_FlushTimeout(c->nc, (int64_t)(t * 1000 + 0.5));
  char err[256];
  if (st != NATS_OK) conn_errtext(st, err, sizeof err);
  conn_release(c);
  if (st != NATS_OK) {
    lua_pushnil(L);
    lua_pushstring(L, err);
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* conn:status() -> "connected" | "reconnecting" | "closed" | ... */
static int lconn_status (lua_State *L) {
  struct nconn *c = conn_get(checkconnid(L, 1));
  natsConnStatus s = c ? natsConnection_Status(c->nc) : NATS_CONN_STATUS_CLOSED;
  conn_release(c);
  const char *name;
  switch (s) {
    case NATS_CONN_STATUS_CONNECTED: name = "connected"; break;
    case NATS_CONN_STATUS_RECONNECTING: name = "reconnecting"; break;
    case NATS_CONN_STATUS_CONNECTING: name = "connecting"; break;
    case NATS_CONN_STATUS_CLOSED: name = "closed"; break;
    case NATS_CONN_STATUS_DRAINING_SUBS: case NATS_CONN_STATUS_DRAINING_PUBS:
      name = "draining"; break;
    default: name = "disconnected"; break;
  }
  lua_pushstring(L, name);
  return 1;
}

/* conn:malformed() -> n, last reason | 0: messages that were not wire
** format, dropped. */
static int lconn_malformed (lua_State *L) {
  struct nconn *c = checkconn(L, 1);
  unsigned long long n = atomic_load(&c->malformed);
  char why[sizeof c->lastbad];
  pthread_mutex_lock(&c->mu);
  memcpy(why, c->lastbad, sizeof why);
  pthread_mutex_unlock(&c->mu);
  conn_release(c);
  lua_pushinteger(L, (lua_Integer)n);
  if (n == 0) return 1;
  lua_pushstring(L, why);
  return 2;
}

static int lconn__tostring (lua_State *L) {
  uint64_t id = checkconnid(L, 1);
  struct nconn *c = conn_get(id);
  const char *url = NULL;
  char buf[256];
  if (c && natsConnection_GetConnectedUrl(c->nc, buf, sizeof buf) == NATS_OK)
    url = buf;
  conn_release(c);
  lua_pushfstring(L, "gochan.nats.conn #%I (%s)", (lua_Integer)id,
                  c ? (url && *url ? url : "disconnected") : "closed");
  return 1;
}

static int lconn__eq (lua_State *L) {
  lua_pushboolean(L, checkconnid(L, 1) == checkconnid(L, 2));
  return 1;
}

/* nats._encode(v [, conn]) -> bytes (a WIRE_VALUE message) */
static int lnats_encode (lua_State *L) {
  luaL_checkany(L, 1);
  struct nconn *c = lua_isnoneornil(L, 2) ? NULL : checkconn(L, 2);
  struct wbuf b;
  wbuf_init(&b);
  if (!wlua_encode(L, 1, WIRE_VALUE, c ? &c->chans : NULL, &b)) {
    conn_release(c);
    return lua_error(L);
  }
  conn_release(c);
  lua_pushlstring(L, (const char *)b.p, b.n);
  wbuf_free(&b);
  return 1;
}

/* nats._decode(bytes [, conn]) -> kind, ch (holding the value)
**                               | nil, reason */
static int lnats_decode (lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  struct nconn *c = lua_isnoneornil(L, 2) ? NULL : checkconn(L, 2);
  gochan_chan *ch = wire_api->chan_new(1);
  enum wire_kind kind;
  gochan_value v;
  char err[160];
  const char *r = ch ? wire_decode(s, n, &kind, &v, c ? &c->chans : NULL,
                                   err, sizeof err)
                     : "not enough memory";
  conn_release(c);
  if (!r && wire_api->send(ch, &v, 0) != GOCHAN_OK) r = "not enough memory";
  if (!r) wire_api->value_free(&v);
  if (r) {
    wire_api->chan_release(ch);
    lua_pushnil(L);
    lua_pushstring(L, r);
    return 2;
  }
  static const char *const kinds[] = { "value", "error", "close" };
  lua_pushstring(L, kinds[kind]);
  wire_api->pushchan(L, ch);
  wire_api->chan_release(ch);
  return 2;
}

/* nats._subject_problem(s [, wild]) -> nil | reason */
static int lnats_subject_problem (lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  const char *why = subject_problem(s, n, lua_toboolean(L, 2));
  if (!why) return 0;
  lua_pushstring(L, why);
  return 1;
}

/* nats._subopts_problem(opts) -> nil | reason: serve's options, checked
** before it subscribes (so its error names serve, at its caller). */
static int lnats_subopts_problem (lua_State *L) {
  const char *queue;
  size_t cap;
  const char *why = nopts_sub(L, 1, &queue, &cap);
  if (!why) return 0;
  lua_pushstring(L, why);
  return 1;
}

/* The name of a distributed channel at 'arg' (a bad one raises). */
static const char *checkjname (lua_State *L, int arg) {
  size_t n;
  const char *name = luaL_checklstring(L, arg, &n);
  const char *why = jchan_name_problem(name, n);
  if (why) luaL_argerror(L, arg, lua_pushfstring(L, "%s", why));
  return name;
}

/* conn:channel(name [, {cap = n, ack_wait = seconds}]) -> ch: the table
** { _conn = conn, _name = name, _rc = receive channel, _cap = cap } whose
** metatable is the module's Chan. */
static int lconn_channel (lua_State *L) {
  const char *name = checkjname(L, 2);
  size_t cap;
  int64_t ackwait_ms;
  const char *why = nopts_channel(L, 3, &cap, &ackwait_ms);
  if (why) return luaL_argerror(L, 3, why);
  struct nconn *c = checkconn(L, 1);
  gochan_chan *rc = NULL;
  size_t have = 0;
  char err[320];
  const char *r = jchan_open(c, name, cap, ackwait_ms, &rc, &have, err,
                             sizeof err);
  conn_release(c);
  if (r) return luaL_error(L, "cannot open distributed channel '%s': %s",
                           name, r);
  lua_createtable(L, 0, 4);
  lua_pushvalue(L, 1);
  lua_setfield(L, -2, "_conn");
  lua_pushvalue(L, 2);
  lua_setfield(L, -2, "_name");
  lua_pushinteger(L, (lua_Integer)have);
  lua_setfield(L, -2, "_cap");
  wire_api->pushchan(L, rc);                 /* may raise: release after */
  wire_api->chan_release(rc);
  lua_setfield(L, -2, "_rc");
  luaL_setmetatable(L, CHAN_MT);
  return 1;
}

/* conn:_jsend(name, v) -> a channel that gets "ok" | "full" | "closed" |
** an error's text when the server answers (closed: the connection
** closed first) */
static int lconn_jsend (lua_State *L) {
  const char *name = checkjname(L, 2);
  struct wbuf b;
  struct nconn *c = encodefor(L, 3, &b);
  gochan_chan *res = NULL;
  char err[320];
  const char *r = jchan_send(c, name, &b, &res, err, sizeof err);
  wbuf_free(&b);
  conn_release(c);
  if (r) return luaL_error(L, "%s", r);
  wire_api->pushchan(L, res);
  wire_api->chan_release(res);
  return 1;
}

/* conn:_jack(name) -> boolean: a value was held and is acknowledged */
static int lconn_jack (lua_State *L) {
  const char *name = checkjname(L, 2);
  struct nconn *c = checkconn(L, 1);
  bool did = jchan_ack(c, name);
  conn_release(c);
  lua_pushboolean(L, did);
  return 1;
}

/* conn:_jclose(name) and conn:delete_channel(name) (the stream goes,
** values and all): 'op' on the channel's stream, its error raised. */
static int jstreamop (lua_State *L, const char *(*op) (struct nconn *,
                      const char *, char *, size_t)) {
  const char *name = checkjname(L, 2);
  struct nconn *c = checkconn(L, 1);
  char err[320];
  const char *r = op(c, name, err, sizeof err);
  conn_release(c);
  if (r) return luaL_error(L, "%s", r);
  return 0;
}

static int lconn_jclose (lua_State *L) { return jstreamop(L, jchan_close); }

static int lconn_delete_channel (lua_State *L) {
  return jstreamop(L, jchan_delete);
}

static const luaL_Reg conn_methods[] = {
  {"close", lconn_close}, {"publish", lconn_publish},
  {"subscribe", lconn_subscribe}, {"unsubscribe", lconn_unsubscribe},
  {"request", lconn_request}, {"flush", lconn_flush},
  {"status", lconn_status}, {"malformed", lconn_malformed},
  {"_requests", lconn_requests}, {"_reply", lconn_reply}, {"_raw", lconn_raw},
  {"channel", lconn_channel}, {"_jsend", lconn_jsend}, {"_jack", lconn_jack},
  {"_jclose", lconn_jclose}, {"delete_channel", lconn_delete_channel},
  {NULL, NULL}
};

static const luaL_Reg conn_meta[] = {
  {"__tostring", lconn__tostring}, {"__eq", lconn__eq},
  {"__close", lconn_close}, {NULL, NULL}
};

static const luaL_Reg funcs[] = {
  {"connect", lnats_connect}, {"_encode", lnats_encode},
  {"_decode", lnats_decode}, {"_subject_problem", lnats_subject_problem},
  {"_subopts_problem", lnats_subopts_problem},
  {NULL, NULL}
};

LUAMOD_API __attribute__((visibility("default")))
int luaopen_gochan_nats_core (lua_State *L) {
  luaL_checkversion(L);
  lua_getglobal(L, "require");                /* gochan.core lends its API */
  lua_pushliteral(L, "gochan.core");
  lua_call(L, 1, 0);
  if (lua_getfield(L, LUA_REGISTRYINDEX, GOCHAN_LAPI_KEY) !=
      LUA_TLIGHTUSERDATA)
    return luaL_error(L, "gochan.nats: gochan.core lends no C API");
  const struct gochan_lapi *api = lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (api->version != GOCHAN_LAPI_VERSION || api->size < sizeof *api)
    return luaL_error(L, "gochan.nats: gochan.core is of another version");
  pthread_mutex_lock(&apimu);     /* the first open sets it, for good */
  if (!wire_api) wire_api = api;
  pthread_mutex_unlock(&apimu);
  /* The NATS client's threads run this library's callbacks for as long
  ** as a connection is open, which may be after the state that loaded it
  ** is closed (lua_close unloads its C modules): pin it in memory, as
  ** gochan.core pins itself for its workers. */
  static char anchor;          /* an address inside this shared object */
  Dl_info info;
  if (dladdr(&anchor, &info) && info.dli_fname)
    dlopen(info.dli_fname, RTLD_NOW | RTLD_NODELETE | RTLD_NOLOAD);
  if (luaL_newmetatable(L, CONN_MT)) {
    luaL_setfuncs(L, conn_meta, 0);
    luaL_newlib(L, conn_methods);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  luaL_newmetatable(L, CHAN_MT);
  lua_pop(L, 1);
  luaL_newlib(L, funcs);
  pushconnmt(L);
  lua_setfield(L, -2, "_Conn");
  luaL_getmetatable(L, CHAN_MT);
  lua_setfield(L, -2, "_Chan");
  return 1;
}
