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
                        with a NULL pointer, an unknown value type */
  GOCHAN_STOPPED     /* the wait was cut short: the runtime is stopping,
                        or the process is being interrupted (SIGINT) */
} gochan_status;

typedef enum gochan_type {
  GOCHAN_NIL, GOCHAN_BOOLEAN, GOCHAN_INTEGER, GOCHAN_NUMBER, GOCHAN_STRING,
  GOCHAN_CHANNEL,    /* a channel: a host can send one to Lua and get one
                        back (a reply channel, Go's chan chan) */
  GOCHAN_OTHER       /* received only: a Lua value of another type (a
                        table, a function...); its content is dropped */
} gochan_type;

/* A value: the field of its type is set. A received GOCHAN_STRING is
** malloc'd (and NUL-terminated after 'len' bytes) and a received
** GOCHAN_CHANNEL is a reference: gochan_value_free releases either. */
typedef struct gochan_value {
  gochan_type type;
  int boolean;
  int64_t integer;
  double number;
  const char *string;
  size_t len;
  gochan_chan *channel;
} gochan_value;

static inline gochan_value gochan_nil (void) {
  gochan_value v = { GOCHAN_NIL, 0, 0, 0, NULL, 0, NULL };
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
** reference). Receive fills '*out': GOCHAN_OK with *ok = 1 (a value),
** GOCHAN_OK with *ok = 0 (closed and drained: nil), or a status with
** '*out' nil. */
gochan_status gochan_send (gochan_chan *c, const gochan_value *v,
                           double timeout);
gochan_status gochan_recv (gochan_chan *c, gochan_value *out, int *ok,
                           double timeout);
gochan_status gochan_close (gochan_chan *c);
size_t gochan_len (gochan_chan *c);
size_t gochan_cap (gochan_chan *c);
void gochan_value_free (gochan_value *v);    /* leaves it nil */

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
