/*
** lnats.h: the inside of gochan.nats, for its files (conn.c, wlua.c,
** lnats.c) and for a file that adds to it (JetStream channels): the
** connection, its handle registry, how a message from a NATS callback
** reaches a gochan channel, and how channels cross (wire.h).
**
** Threads. NATS callbacks run on the client's threads (one per
** subscription): they decode a message into a gochan_value and hand it to
** a channel through core.so (wire_api: a non-blocking offer, or a select
** that also waits on the connection's 'done'), never touching a Lua
** state. Lua code (main state or task) calls the conn_* functions below;
** none of them waits on the network but conn_close (bounded).
*/
#ifndef LNATS_H
#define LNATS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <lua.h>
#include <nats/nats.h>
#include "gochan.h"
#include "wire.h"

/* What a subscription's messages become. */
enum nsub_mode {
  SUB_VALUES,      /* subscribe(): the value, offered (a full channel drops) */
  SUB_REQUESTS,    /* serve(): { r = reply subject, v = value } or
                      { r = reply subject, e = why it is malformed }, offered */
  SUB_REPLIES,     /* the connection's request replies: { v = value } or
                      { e = error } to the request's channel, offered */
  SUB_EXPORT       /* a channel of ours sent in a value: each value is sent
                      to it (waiting, or until close); a close closes it */
};

struct nconn;
struct njchan;                 /* jschan.c: a distributed channel */
struct njpub;                  /* jschan.c: a send waiting for its ack */

/* 'conn', 'mode' and 'ch' are fixed at creation; the rest is guarded by
** conn->mu (a handler is given the natsSubscription, it does not read
** 'sub'). */
struct nsub {
  struct nsub *next;           /* conn->subs */
  struct nconn *conn;
  natsSubscription *sub;       /* NULL until subscribed */
  enum nsub_mode mode;
  gochan_chan *ch;             /* one reference; NULL for SUB_REPLIES */
  bool done;                   /* its handler will not run again */
  bool ended;                  /* unsubscribed by conn_unsubscribe */
};

/* A channel of ours that went out in a value: 'subject' stands for it.
** (A proxy passed on goes out under its own subject instead.) 'next' and
** 'dead' are guarded by conn->mu; the rest is fixed at creation. */
struct nexport {
  struct nexport *next;
  gochan_chan *ch;             /* one reference */
  struct nsub *sub;
  bool dead;                   /* closed by the other side: not reused */
  char subject[];
};

/* A channel standing for another process's reply subject: the pump
** thread publishes what is sent on it. 'next' is guarded by conn->mu;
** the rest is fixed at creation. */
struct nproxy {
  struct nproxy *next;
  gochan_chan *ch;             /* one reference */
  char subject[];
};

/* A request waiting for its reply: <prefix>r.<token> -> 'ch' (cap 1).
** 'next' is guarded by conn->mu; the rest is fixed at creation. */
struct npending {
  struct npending *next;
  uint64_t token;
  gochan_chan *ch;             /* one reference */
};

/*
** 'mu' guards every field from 'closed' to 'jpubs' but 'js': that is made
** under 'jmu' by the first conn:channel, before any channel is listed in
** 'jchans', and is then fixed until the connection is destroyed (code that
** found an open channel reads it without a lock). Fixed once conn_open
** returns: 'id', 'nc', 'prefix', 'done', 'chans'. 'refs' counts
** the handle registry's reference (dropped by conn_close) and each
** caller's (conn_get); the last release destroys the natsConnection, so a
** call that holds a reference may use 'nc' even after a close (the client
** then says it is closed). Once 'closed' is set nothing is added to the
** lists.
*/
struct nconn {
  atomic_int refs;
  uint64_t id;                 /* the Lua handle; never reused */
  natsConnection *nc;
  char prefix[48];             /* "_INBOX.<nuid>.": our reply subjects */
  gochan_chan *done;           /* closed by conn_close */
  struct wire_chans chans;     /* export/import through this connection */
  atomic_ullong malformed;     /* messages that were not wire format */
  pthread_mutex_t mu;
  pthread_cond_t cv;           /* signalled as subscriptions complete */
  bool closed;
  int running;                 /* subscriptions whose handler may run */
  struct nsub *subs;
  struct nsub *replies;        /* <prefix>r.*, made by the first request */
  struct npending *pending;
  uint64_t next_token, next_export;
  struct nexport *exports;
  struct nproxy *proxies;
  gochan_notifier *note;       /* the pump's: proxies and 'done' */
  bool pumping;
  pthread_t pump;
  char lastbad[224];           /* why the last malformed message was */
  jsCtx *js;                   /* made by the first conn:channel */
  struct njchan *jchans;       /* the distributed channels opened here */
  struct njpub *jpubs;         /* sends whose acknowledgement is due */
  pthread_mutex_t jmu;         /* serializes opening and closing
                                  distributed channels (they wait on the
                                  server); never held with 'mu' wanted
                                  by a handler */
};

/* Connection options (nopts.c reads them from Lua). */
struct nopts {
  const char *url, *name;
  int64_t timeout_ms;          /* connect timeout; <= 0: the client's */
  int64_t reconnect_wait_ms;   /* <= 0: the client's */
  int reconnect_buffer;        /* bytes; < 0: the client's */
};

/* nopts.c: the option table at 'arg' (none or nil: the defaults) of
** connect, of subscribe and serve ({queue =, cap =}) and of channel ({cap
** =, ack_wait =}), read into the out-parameters. NULL, or why it is wrong
** (an unknown key, a bad value, a zero byte in a string), for the caller
** to raise as argument 'arg': nothing has been done yet. A table that is
** not one raises luaL_checktype's error. Strings given out (the name, the
** queue) stay valid while the table is on the stack. */
const char *nopts_connect (lua_State *L, int arg, struct nopts *o);
const char *nopts_sub (lua_State *L, int arg, const char **queue,
                       size_t *cap);
const char *nopts_channel (lua_State *L, int arg, size_t *cap,
                           int64_t *ackwait_ms);

/* Connect; NULL with the reason in 'err' (the client's words). */
struct nconn *conn_open (const struct nopts *o, char *err, size_t errlen);
/* The connection of handle 'id', with a reference, or NULL (closed). */
struct nconn *conn_get (uint64_t id);
void conn_release (struct nconn *c);
/* Close: every subscription ends (their channels are closed), exported
** channels are no longer fed, the handle is retired. Waits (bounded) for
** running handlers. False if it was closed already. */
bool conn_close (struct nconn *c);

/* A status from the client as text: "<status text>[: <detail>]". */
void conn_errtext (natsStatus s, char *err, size_t errlen);

/* Publish encoded bytes (reply: NULL or a subject). NATS_OK or the
** client's status (NATS_INSUFFICIENT_BUFFER: disconnected and the
** reconnect buffer is full). */
natsStatus conn_publish (struct nconn *c, const char *subject,
                         const char *reply, const struct wbuf *b);

/* A subscription feeding a new channel of 'cap' slots, returned with a
** reference for the caller ('*out'). */
natsStatus conn_subscribe (struct nconn *c, const char *subject,
                           const char *queue, size_t cap,
                           enum nsub_mode mode, gochan_chan **out);
/* Stop the subscription that feeds 'ch' and close 'ch'. False: none. */
bool conn_unsubscribe (struct nconn *c, gochan_chan *ch);

/* Register a request: '*ch' (cap 1, a reference for the caller) will get
** its reply, published to '*reply' (written into 'reply', 'rlen'
** bytes). Then conn_publish the request with that reply subject;
** conn_forget once done with it (a reply or not). */
natsStatus conn_expect (struct nconn *c, uint64_t *token, gochan_chan **ch,
                        char *reply, size_t rlen);
void conn_forget (struct nconn *c, uint64_t token);

/* wlua.c: append the header ('kind') and the Lua value at 'idx' to 'b'.
** False on a refusal, with 'b' freed and the message on the stack
** ("cannot send a function over NATS (at value.x)"), for the caller to
** raise once it holds nothing. */
bool wlua_encode (lua_State *L, int idx, enum wire_kind kind,
                  const struct wire_chans *ch, struct wbuf *b);

/* jschan.c: distributed channels (JetStream work queues). Each function
** below runs on the calling thread; open and close wait for the server
** (bounded by the JetStream API timeout), the others do not. Errors:
** NULL, or a message written into 'err'. */
#define JCHAN_NAME_MAX 64
/* NULL, or why 'name' is not a valid distributed channel name. */
const char *jchan_name_problem (const char *name, size_t n);
/* Open (make on first use) channel 'name': '*rc' (a reference for the
** caller) is the channel its receivers wait on, '*capp' its capacity.
** 'cap' 0: the existing capacity, or the default; 'ackwait_ms' 0: the
** existing consumer's, or the default. */
const char *jchan_open (struct nconn *c, const char *name, size_t cap,
                        int64_t ackwait_ms, gochan_chan **rc, size_t *capp,
                        char *err, size_t errlen);
/* Publish an encoded value: '*result' (cap 1, a reference for the caller)
** gets "ok", "full", "closed" or an error's text once the server answers;
** it is closed if the connection closes first. */
const char *jchan_send (struct nconn *c, const char *name,
                        const struct wbuf *b, gochan_chan **result,
                        char *err, size_t errlen);
/* Acknowledge the value last handed to a receiver; false: none held. */
bool jchan_ack (struct nconn *c, const char *name);
/* Record the close in the stream; "close of closed channel" when it was. */
const char *jchan_close (struct nconn *c, const char *name, char *err,
                         size_t errlen);
/* Remove the stream of 'name' (values and all); none: not an error. */
const char *jchan_delete (struct nconn *c, const char *name, char *err,
                          size_t errlen);
/* conn_close: stop every fetcher and close the receive channels and the
** pending sends' results (c->closed set, c->done closed). */
void jchan_shutdown (struct nconn *c);
/* conn_release: free what is left. */
void jchan_free (struct nconn *c);

/* The module's entry point, the only exported symbol of nats/core.so. */
LUAMOD_API __attribute__((visibility("default")))
int luaopen_gochan_nats_core (lua_State *L);

/* NULL, or why 's' is not a valid subject ('wild': '*' and '>' allowed as
** whole tokens, '>' last). */
const char *subject_problem (const char *s, size_t n, bool wild);

#endif
