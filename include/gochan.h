/*
** gochan.h: the C API, for programs that embed Lua.
**
** A host creates channels, sends and receives plain values on them from
** its own threads, and hands them to a Lua state, where they are ordinary
** gochan channels: host events can feed Lua tasks, and Lua tasks can
** answer the host. It is a thin layer over the core the Lua module uses,
** with Go's channel semantics (see docs/api.md).
**
** Link the static library (build/libgochan.a; it holds the Lua module
** too) and Lua 5.4, and make the module available to the host's state:
**
**   luaL_requiref(L, "gochan.core", luaopen_gochan_core, 0);
**   lua_pop(L, 1);                  -- then require "gochan" works, given
**                                   -- lua/ on package.path
**
** Every function is thread-safe. A host thread that blocks here blocks
** on its own (never on a worker); no deadlock detection applies to it.
** A channel the host holds (made by gochan_chan_new or gochan_named,
** retained, or received) may be fed from outside the tasks, so a Lua
** state waiting on it is never told "deadlock" (docs/api.md).
*/
#ifndef GOCHAN_H
#define GOCHAN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lua_State lua_State;
typedef struct gochan_chan gochan_chan; /* a channel (opaque, refcounted) */

typedef enum gochan_status {
  GOCHAN_OK = 0,
  GOCHAN_CLOSED,     /* send on a closed channel; close of a closed one */
  GOCHAN_TIMEOUT,    /* the timeout passed (timeout 0: it would block) */
  GOCHAN_NOMEM,      /* out of memory; nothing changed */
  GOCHAN_INVALID,    /* a NULL channel or value, a NaN timeout, a string
                        with a NULL pointer, an unknown value type or op,
                        a table key that is nil or NaN, a graph nested
                        deeper than GOCHAN_MAX_DEPTH, a bad name or a
                        capacity that does not match (gochan_named) */
  GOCHAN_STOPPED     /* the wait was cut short: the runtime is stopping,
                        or the process is being interrupted (SIGINT) */
} gochan_status;

typedef enum gochan_type {
  GOCHAN_NIL, GOCHAN_BOOLEAN, GOCHAN_INTEGER, GOCHAN_NUMBER, GOCHAN_STRING,
  GOCHAN_CHANNEL,    /* a channel: a host can send one to Lua and get one
                        back (a reply channel, Go's chan chan) */
  GOCHAN_OTHER,      /* received only: a Lua value C cannot hold (a
                        function, a coroutine, light or foreign userdata,
                        a module, another gochan object); content dropped */
  GOCHAN_TABLE       /* a table: a graph of key/value pairs (below) */
} gochan_type;

typedef struct gochan_table gochan_table;

/* A value: the field of its type is set. A received GOCHAN_STRING is
** malloc'd (and NUL-terminated after 'len' bytes), a received
** GOCHAN_CHANNEL is a reference and a received GOCHAN_TABLE is a graph
** the receiver owns: gochan_value_free releases any of them. */
typedef struct gochan_value {
  gochan_type type;
  int boolean;
  int64_t integer;
  double number;
  const char *string;
  size_t len;
  gochan_chan *channel;
  gochan_table *table;
} gochan_value;

/*
** Tables. A Lua table reaches C as a gochan_table: its 'n' key/value
** pairs in no particular order (raw contents; a metatable is dropped).
** Tables form a graph: a table reachable twice in one value is one
** gochan_table reached twice, and cycles stay cycles, both ways. A graph
** is owned whole by the value at its root: gochan_value_free of the root
** frees every table reachable from it (once each, cycles included), with
** their strings and channel references; never free an inner table by
** itself. Nesting is limited as Lua's own transfer is: a graph deeper
** than GOCHAN_MAX_DEPTH tables (along the path a send walks first) is
** refused with GOCHAN_INVALID, nothing sent; Lua never sends a deeper one.
*/
#define GOCHAN_MAX_DEPTH 1000

typedef struct gochan_pair { gochan_value key, value; } gochan_pair;
struct gochan_table {
  size_t n;
  gochan_pair *pairs;       /* 'n' pairs, in the table's own allocation */
};

static inline gochan_value gochan_nil (void) {
  /* positional: C++ hosts include this, and C++ before C++20 has no
  ** designated initialisers */
  gochan_value v = { GOCHAN_NIL, 0, 0, 0, NULL, 0, NULL, NULL };
  return v;
}
static inline gochan_value gochan_boolean (int b) {
  gochan_value v = gochan_nil(); v.type = GOCHAN_BOOLEAN; v.boolean = !!b;
  return v;
}
static inline gochan_value gochan_integer (int64_t i) {
  gochan_value v = gochan_nil(); v.type = GOCHAN_INTEGER; v.integer = i;
  return v;
}
static inline gochan_value gochan_number (double n) {
  gochan_value v = gochan_nil(); v.type = GOCHAN_NUMBER; v.number = n;
  return v;
}
static inline gochan_value gochan_string (const char *s, size_t len) {
  gochan_value v = gochan_nil(); v.type = GOCHAN_STRING; v.string = s;
  v.len = len;
  return v;
}
static inline gochan_value gochan_channel (gochan_chan *c) {
  gochan_value v = gochan_nil(); v.type = GOCHAN_CHANNEL; v.channel = c;
  return v;
}
static inline gochan_value gochan_table_value (gochan_table *t) {
  gochan_value v = gochan_nil(); v.type = GOCHAN_TABLE; v.table = t;
  return v;
}

/* A new table of 'n' pairs, every key and value nil; NULL when out of
** memory. It belongs to the graph of the value that reaches it (see
** above): one table reached by no value is freed by
** gochan_value_free(&(gochan_value){ .type = GOCHAN_TABLE, .table = t }). */
gochan_table *gochan_table_new (size_t n);
/* Set pair 'i' of 't' (i < t->n) to copies of '*key' and '*value': a
** string's bytes are copied, a channel gains a reference, a table is
** linked, not copied (so the graph may share it or cycle through it). A
** string or channel the pair held is released first; a table it held is
** not (it is freed with the graph if still reached). A pair whose value
** is nil is no entry. GOCHAN_INVALID: NULL, 'i' out of range, a key that
** is nil or a NaN number, a GOCHAN_OTHER, a string with a NULL pointer;
** GOCHAN_NOMEM: the pair is left as it was. */
gochan_status gochan_table_set (gochan_table *t, size_t i,
                                const gochan_value *key,
                                const gochan_value *value);

/* The largest capacity gochan_chan_new accepts (2^28 slots). */
#define GOCHAN_CHAN_MAX_CAP ((size_t)1 << 28)

/* A new channel with 'cap' buffer slots (0: unbuffered), held by the
** caller (one reference). NULL: out of memory or 'cap' over
** GOCHAN_CHAN_MAX_CAP. */
gochan_chan *gochan_chan_new (size_t cap);
void gochan_chan_retain (gochan_chan *c);
void gochan_chan_release (gochan_chan *c);   /* NULL: nothing */

/* Timeouts are in seconds: < 0 waits as long as it takes, 0 never
** blocks. Send copies '*v' (a string's bytes; a channel gains a
** reference; a table graph is copied whole, sharing and cycles kept, and
** Lua receives an ordinary table): '*v' stays the caller's. Receive fills
** '*out': GOCHAN_OK with *ok = 1 (a value), GOCHAN_OK with *ok = 0
** (closed and drained: nil), or a status with '*out' nil. */
gochan_status gochan_send (gochan_chan *c, const gochan_value *v,
                           double timeout);
gochan_status gochan_recv (gochan_chan *c, gochan_value *out, int *ok,
                           double timeout);
/* A send that never blocks and counts what it drops: GOCHAN_OK (sent),
** GOCHAN_TIMEOUT (the channel was full: the value is dropped and the
** channel's dropped count, gochan_dropped and ch:dropped() in Lua, goes
** up by one), GOCHAN_CLOSED, GOCHAN_INVALID or GOCHAN_NOMEM as for
** gochan_send. For feeds that must not wait on their consumer (messages
** arriving from a network, as a slow consumer loses them). */
gochan_status gochan_offer (gochan_chan *c, const gochan_value *v);
/* How many values gochan_offer has dropped on 'c' (0 for NULL). */
uint64_t gochan_dropped (gochan_chan *c);
gochan_status gochan_close (gochan_chan *c);
size_t gochan_len (gochan_chan *c);
size_t gochan_cap (gochan_chan *c);
/* Release what '*v' holds (a string, a channel reference, a whole table
** graph) and leave it nil. */
void gochan_value_free (gochan_value *v);

/*
** Notifiers: a file descriptor an event loop polls (epoll, poll, libuv's
** uv_poll) instead of blocking on channels. It becomes readable whenever
** a watched channel may have become ready: a value arrived (GOCHAN_RECV),
** room appeared (GOCHAN_SEND), or it was closed (both). When it is
** readable: gochan_notifier_clear, then drain the channels with timeout 0
** (a change made before clear returns is in them; one made after makes
** the fd readable again). It never becomes readable for a channel it does
** not watch; a channel nobody watches pays nothing for the feature.
*/
typedef struct gochan_notifier gochan_notifier;
typedef enum gochan_dir { GOCHAN_RECV = 1, GOCHAN_SEND = 2 } gochan_dir;

/* A new notifier watching nothing; NULL with errno set (EMFILE...). The
** fd is an eventfd on Linux, else (or built with GOCHAN_NOTIFY_PIPE) a
** pipe's read end; non-blocking and close-on-exec either way. */
gochan_notifier *gochan_notifier_new (void);
/* The fd to poll for readability. Owned by the notifier: never close it
** (gochan_notifier_free does). */
int gochan_notifier_fd (gochan_notifier *n);
/* Watch 'c' for 'dirs' (GOCHAN_RECV, GOCHAN_SEND or both); watching a
** channel again adds directions. The notifier holds a reference to 'c'
** until unwatch or free. A channel ready already in a watched direction
** makes the fd readable at once. GOCHAN_INVALID: NULL, or 'dirs' not a
** non-empty mix of the two; GOCHAN_NOMEM: nothing changed. */
gochan_status gochan_notifier_watch (gochan_notifier *n, gochan_chan *c,
                                     int dirs);
/* Stop watching 'c' (every direction). GOCHAN_INVALID: NULL, or 'c' was
** not watched. */
gochan_status gochan_notifier_unwatch (gochan_notifier *n, gochan_chan *c);
/* Make the fd unreadable until the next change. GOCHAN_INVALID with errno
** set when the fd turned invalid (EBADF: something closed it). */
gochan_status gochan_notifier_clear (gochan_notifier *n);
/* Unwatch everything, close the fd and free the notifier (NULL: nothing).
** Using it afterwards is undefined, as after free(). */
void gochan_notifier_free (gochan_notifier *n);

/*
** select from C (Go's select). Each case is a send or a receive on one
** channel; the call waits until one case can proceed, does exactly that
** one and sets '*chosen' to its index. When several are ready, one is
** chosen uniformly at random. A send case's 'value' is copied (as
** gochan_send; it stays the caller's); a receive case that is chosen gets
** 'value' and 'ok' set as gochan_recv sets them (ok = 0: closed and
** drained), and no other case is written. 'timeout' as for gochan_recv
** (0: try once; n = 0 just waits out the timeout).
**   GOCHAN_OK       case *chosen was done.
**   GOCHAN_CLOSED   case *chosen is a send on a closed channel; nothing sent.
**   GOCHAN_TIMEOUT, GOCHAN_STOPPED   no case was done; nothing set.
**   GOCHAN_INVALID  NULL 'cases' (n > 0) or 'chosen', a case with a NULL
**                   channel or an op other than GOCHAN_SEND / GOCHAN_RECV,
**                   a send value gochan_send refuses, a NaN timeout, n
**                   over INT_MAX: nothing sent, nothing set.
**   GOCHAN_NOMEM    nothing sent, nothing set.
*/
typedef struct gochan_case {
  int op;                 /* GOCHAN_SEND or GOCHAN_RECV (gochan_dir) */
  gochan_chan *ch;
  gochan_value value;     /* send: what to send; recv: what came */
  int ok;                 /* recv: 1 a value, 0 closed */
} gochan_case;
gochan_status gochan_select (gochan_case *cases, size_t n, double timeout,
                             size_t *chosen);

/*
** Named channels: one channel per name in the process, made on first use,
** so a host and the scripts it loads (or code loaded separately) meet
** without passing handles. '*out' gets a reference the caller holds
** (gochan_chan_release it). 'cap' GOCHAN_ANYCAP: the existing channel,
** whatever its capacity, or a new unbuffered one; any other 'cap': the
** channel must have that capacity (a new one is made with it). A name
** lives until the process exits (its channel too). The same channels as
** gochan.named in Lua.
**   GOCHAN_INVALID  NULL name or out, an empty name or one that is not
**                   valid UTF-8, a capacity that differs from the
**                   existing channel's, or over GOCHAN_CHAN_MAX_CAP;
**                   '*out' NULL.
**   GOCHAN_NOMEM    '*out' NULL.
*/
#define GOCHAN_ANYCAP ((size_t)-1)
gochan_status gochan_named (const char *name, size_t cap, gochan_chan **out);

/* The Lua side. */
int luaopen_gochan_core (lua_State *L);
/* Push 'c' as a gochan channel (the same Lua value each time in a state). */
void gochan_pushchan (lua_State *L, gochan_chan *c);
/* The channel at 'idx', or NULL if it is not one; borrowed (retain it to
** keep it beyond the value's life). */
gochan_chan *gochan_tochan (lua_State *L, int idx);

#ifdef __cplusplus
}
#endif

#endif
