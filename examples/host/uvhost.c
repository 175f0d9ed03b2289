/*
** uvhost.c: a libuv program that embeds Lua with gochan. The loop owns
** the main thread and never blocks: a libuv timer and a TCP listener on
** 127.0.0.1 feed a channel of jobs, Lua tasks do the work on the
** workers, and results come back on a second channel that a notifier
** watches; uv_poll on the notifier's fd wakes the loop, which clears it,
** drains the results without blocking and writes each reply.
**
** Run alone it tests itself (ctest runs it so): it connects to its own
** port and sends REQUESTS lines, each answered by a task; then two tasks
** compute for a second each while a 10 ms timer counts its ticks (at
** least 50 in that second: the loop was never held up). It prints one
** line of figures and exits 0 when every check held.
**
**   uvhost [requests]          (GOCHAN_LUA_DIR: where lua/gochan is)
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include "gochan.h"

#define MAXCONN 16
#define SPIN_MS 1000            /* each compute task's work */
#define TICK_MS 10

/* The Lua side: four workers turn "conn\tpayload" into "conn\tREPLY". */
static const char script[] =
  "local luadir, jobs, results = ...\n"
  "package.path = luadir .. '/?.lua;' .. luadir .. '/?/init.lua;' .. package.path\n"
  "local gochan = require 'gochan'\n"
  "local function worker (jobs, results)\n"
  "  local gochan = require 'gochan'\n"
  "  for job in jobs:range() do\n"
  "    local conn, payload = job:match('^(%d+)\\t(.*)$')\n"
  "    local ms = payload:match('^spin:(%d+)$')\n"
  "    if ms then                      -- CPU work, no yield to the loop\n"
  "      local stop, n = gochan.now() + ms / 1000, 0\n"
  "      while gochan.now() < stop do n = n + 1 end\n"
  "      results:send(conn .. '\\tspun ' .. n)\n"
  "    else\n"
  "      results:send(conn .. '\\t' .. payload:upper())\n"
  "    end\n"
  "  end\n"
  "end\n"
  "workers = {}\n"
  "for i = 1, 4 do workers[i] = gochan.go(worker, jobs, results) end\n";

static const char finish[] =
  "for _, t in ipairs(workers) do assert(t:join(10)) end\n";

static uv_loop_t *loop;
static gochan_chan *jobs, *results;
static gochan_notifier *nt;
static uv_poll_t poll_h;
static uv_timer_t tick_h, feed_h, watchdog_h;
static uv_tcp_t server_h, client_h;
static uv_connect_t connect_req;

struct conn {                   /* a connection the server accepted */
  uv_tcp_t tcp;
  char buf[4096];
  size_t len;
  int used;
};
static struct conn conns[MAXCONN];

static int requests = 1000;     /* the self-test client's lines */
static int sent, answered, bad, fed, fedback, spun, failures;
static long ticks, ticks_at_spin;
static uint64_t spin_t0, spin_t1;
static char clientbuf[4096];
static char *seen;              /* seen[k]: "HELLO k" came back */
static size_t clientlen;

static void fail (const char *what) {
  fprintf(stderr, "uvhost: %s\n", what);
  failures++;
}

static void stop_all (void);

/* Hand a job to the tasks: never blocks (timeout 0). */
static void submit (int conn, const char *payload, size_t n) {
  char line[4200];
  int k = snprintf(line, sizeof line, "%d\t%.*s", conn, (int)n, payload);
  gochan_value v = gochan_string(line, (size_t)k);
  if (gochan_send(jobs, &v, 0) != GOCHAN_OK) fail("the job channel was full");
}

static void on_written (uv_write_t *req, int status) {
  if (status < 0) fail("write failed");
  free(req);
}

/* Write 'n' bytes on 'stream' (copied). */
static void send_bytes (uv_stream_t *stream, const char *s, size_t n) {
  uv_write_t *req = malloc(sizeof *req + n);
  if (!req) { fail("out of memory"); return; }
  char *copy = (char *)(req + 1);
  memcpy(copy, s, n);
  uv_buf_t b = uv_buf_init(copy, (unsigned)n);
  if (uv_write(req, stream, &b, 1, on_written) < 0) { free(req); fail("write"); }
}

static void start_spin (void);

/* One result: "conn\treply". Conn 0 is the host's own jobs. */
static void dispatch (const char *s, size_t n) {
  const char *tab = memchr(s, '\t', n);
  if (!tab) { fail("a result without a connection"); return; }
  int conn = atoi(s);
  const char *reply = tab + 1;
  size_t rn = n - (size_t)(reply - s);
  if (conn == 0) {
    if (rn > 5 && memcmp(reply, "spun ", 5) == 0) {
      if (++spun == 2) {
        spin_t1 = uv_hrtime();
        stop_all();
      }
    } else fedback++;
    return;
  }
  if (conn < 1 || conn > MAXCONN || !conns[conn - 1].used) {
    fail("a result for no connection");
    return;
  }
  char line[4200];
  if (rn + 1 > sizeof line) { fail("a long result"); return; }
  memcpy(line, reply, rn);
  line[rn] = '\n';
  send_bytes((uv_stream_t *)&conns[conn - 1].tcp, line, rn + 1);
}

/* The notifier's fd is readable: clear, then drain without blocking. */
static void on_results (uv_poll_t *h, int status, int events) {
  (void)h; (void)events;
  if (status < 0) { fail("poll failed"); return; }
  if (gochan_notifier_clear(nt) != GOCHAN_OK) { fail("clear failed"); return; }
  gochan_value v;
  int ok;
  while (gochan_recv(results, &v, &ok, 0) == GOCHAN_OK && ok) {
    if (v.type == GOCHAN_STRING) dispatch(v.string, v.len);
    else fail("a result that is not a string");
    gochan_value_free(&v);
  }
}

static void on_tick (uv_timer_t *h) { (void)h; ticks++; }

static void on_feed (uv_timer_t *h) {
  (void)h;
  char p[32];
  int k = snprintf(p, sizeof p, "tick %d", ++fed);
  submit(0, p, (size_t)k);
}

static void on_watchdog (uv_timer_t *h) {
  (void)h;
  fail("timed out (30 s)");
  stop_all();
}

static void alloc_cb (uv_handle_t *h, size_t hint, uv_buf_t *b) {
  (void)h; (void)hint;
  static char scratch[65536];
  *b = uv_buf_init(scratch, sizeof scratch);
}

/* The server side: split what arrives into lines, one job each. */
static void on_server_read (uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  struct conn *c = (struct conn *)s;
  if (n < 0) { uv_close((uv_handle_t *)s, NULL); c->used = 0; return; }
  for (ssize_t i = 0; i < n; i++) {
    char ch = b->base[i];
    if (ch == '\n') {
      submit((int)(c - conns) + 1, c->buf, c->len);
      c->len = 0;
    } else if (c->len < sizeof c->buf) c->buf[c->len++] = ch;
  }
}

static void on_connection (uv_stream_t *server, int status) {
  if (status < 0) { fail("accept"); return; }
  struct conn *c = NULL;
  for (int i = 0; i < MAXCONN; i++) if (!conns[i].used) { c = &conns[i]; break; }
  if (!c) { fail("too many connections"); return; }
  uv_tcp_init(loop, &c->tcp);
  c->used = 1;
  c->len = 0;
  if (uv_accept(server, (uv_stream_t *)&c->tcp) == 0)
    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_server_read);
}

/* The self-test client: counts and checks the replies. */
static void on_client_read (uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  (void)s;
  if (n < 0) return;
  for (ssize_t i = 0; i < n; i++) {
    char ch = b->base[i];
    if (ch != '\n') {
      if (clientlen < sizeof clientbuf - 1) clientbuf[clientlen++] = ch;
      continue;
    }
    clientbuf[clientlen] = '\0';
    clientlen = 0;
    int k = -1;                 /* tasks answer in any order: each once */
    char tail;
    if (sscanf(clientbuf, "HELLO %d%c", &k, &tail) != 1 || k < 0 ||
        k >= requests || seen[k]) bad++;
    else seen[k] = 1;
    if (++answered == requests) start_spin();
  }
}

static void on_connect (uv_connect_t *req, int status) {
  if (status < 0) { fail("connect"); stop_all(); return; }
  uv_read_start(req->handle, alloc_cb, on_client_read);
  for (sent = 0; sent < requests; sent++) {
    char line[64];
    int k = snprintf(line, sizeof line, "hello %d\n", sent);
    send_bytes(req->handle, line, (size_t)k);
  }
}

/* Two tasks compute for SPIN_MS each; the tick timer must keep firing. */
static void start_spin (void) {
  char p[32];
  int k = snprintf(p, sizeof p, "spin:%d", SPIN_MS);
  ticks_at_spin = ticks;
  spin_t0 = uv_hrtime();
  submit(0, p, (size_t)k);
  submit(0, p, (size_t)k);
}

static void stop_all (void) {
  uv_stop(loop);
}

static void close_walk (uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

int main (int argc, char **argv) {
  if (argc > 1) requests = atoi(argv[1]);
  if (requests < 1 || !(seen = calloc((size_t)requests, 1))) return 2;
  const char *luadir = getenv("GOCHAN_LUA_DIR");
#ifdef GOCHAN_LUA_DIR
  if (!luadir) luadir = GOCHAN_LUA_DIR;
#endif
  if (!luadir) luadir = "lua";
  loop = uv_default_loop();
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  luaL_requiref(L, "gochan.core", luaopen_gochan_core, 0);
  lua_pop(L, 1);
  jobs = gochan_chan_new(4096);
  results = gochan_chan_new(4096);
  nt = gochan_notifier_new();
  if (!jobs || !results || !nt) { perror("uvhost"); return 1; }
  if (luaL_loadstring(L, script) != LUA_OK) goto luafail;
  lua_pushstring(L, luadir);
  gochan_pushchan(L, jobs);
  gochan_pushchan(L, results);
  if (lua_pcall(L, 3, 0, 0) != LUA_OK) goto luafail;

  gochan_notifier_watch(nt, results, GOCHAN_RECV);
  uv_poll_init(loop, &poll_h, gochan_notifier_fd(nt));
  uv_poll_start(&poll_h, UV_READABLE, on_results);
  uv_timer_init(loop, &tick_h);
  uv_timer_start(&tick_h, on_tick, TICK_MS, TICK_MS);
  uv_timer_init(loop, &feed_h);
  uv_timer_start(&feed_h, on_feed, 50, 50);
  uv_timer_init(loop, &watchdog_h);
  uv_timer_start(&watchdog_h, on_watchdog, 30000, 0);

  struct sockaddr_in addr;
  uv_ip4_addr("127.0.0.1", 0, &addr);           /* an ephemeral port */
  uv_tcp_init(loop, &server_h);
  if (uv_tcp_bind(&server_h, (const struct sockaddr *)&addr, 0) != 0 ||
      uv_listen((uv_stream_t *)&server_h, 16, on_connection) != 0) {
    fprintf(stderr, "uvhost: cannot listen\n");
    return 1;
  }
  int alen = sizeof addr;
  uv_tcp_getsockname(&server_h, (struct sockaddr *)&addr, &alen);
  uv_tcp_init(loop, &client_h);
  uv_tcp_connect(&connect_req, &client_h, (const struct sockaddr *)&addr,
                 on_connect);

  uv_run(loop, UV_RUN_DEFAULT);

  double secs = (double)(spin_t1 - spin_t0) / 1e9;
  long spin_ticks = ticks - ticks_at_spin;
  gochan_close(jobs);
  if (luaL_dostring(L, finish) != LUA_OK) goto luafail;
  uv_walk(loop, close_walk, NULL);
  uv_run(loop, UV_RUN_DEFAULT);                 /* the close callbacks */
  uv_loop_close(loop);
  lua_close(L);
  gochan_notifier_free(nt);
  gochan_chan_release(jobs);
  gochan_chan_release(results);
  free(seen);

  if (answered != requests || bad) fail("a request was not answered right");
  if (spun != 2) fail("the compute tasks did not finish");
  if (fedback < 1) fail("no timer job came back");
  if (spun == 2 && (secs < SPIN_MS / 1000.0 * 0.9 || spin_ticks < 50))
    fail("the tick timer was held up");
  printf("uvhost: %d/%d requests answered, %d timer jobs; %ld ticks of a "
         "%d ms timer in %.3f s while two tasks computed (%.1f/s)\n",
         answered, requests, fedback, spin_ticks, TICK_MS, secs,
         secs > 0 ? spin_ticks / secs : 0.0);
  return failures ? 1 : 0;

luafail:
  fprintf(stderr, "uvhost: lua: %s\n", lua_tostring(L, -1));
  return 1;
}
