/*
** conn.c: connections of gochan.nats: the handle registry, subscriptions
** and their handlers (a message -> a channel), request replies, and the
** channels that cross in values (exports: ours, fed from their reply
** subject; proxies: theirs, drained by the pump thread onto the network).
*/
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "lnats.h"

/* ---------------------------------------------------------------- */
/* handles                                                            */

/* 'regmu' guards 'reg' and 'nreg'; 'nextid' only grows (a handle is never
** reused, so a stale one finds nothing). */
static pthread_mutex_t regmu = PTHREAD_MUTEX_INITIALIZER;
static struct nconn **reg;
static size_t nreg, capreg;
static uint64_t nextid = 1;

struct nconn *conn_get (uint64_t id) {
  struct nconn *c = NULL;
  pthread_mutex_lock(&regmu);
  for (size_t i = 0; i < nreg; i++)
    if (reg[i]->id == id) {
      c = reg[i];
      atomic_fetch_add(&c->refs, 1);
      break;
    }
  pthread_mutex_unlock(&regmu);
  return c;
}

static void freelists (struct nconn *c) {
  for (struct nsub *s = c->subs, *n; s; s = n) {
    n = s->next;
    if (s->sub) natsSubscription_Destroy(s->sub);
    if (s->ch) wire_api->chan_release(s->ch);
    free(s);
  }
  for (struct nexport *e = c->exports, *n; e; e = n) {
    n = e->next;
    wire_api->chan_release(e->ch);
    free(e);
  }
  for (struct nproxy *p = c->proxies, *n; p; p = n) {
    n = p->next;
    wire_api->chan_release(p->ch);
    free(p);
  }
  for (struct npending *p = c->pending, *n; p; p = n) {
    n = p->next;
    wire_api->chan_release(p->ch);
    free(p);
  }
}

void conn_release (struct nconn *c) {
  if (!c || atomic_fetch_sub(&c->refs, 1) != 1) return;
  freelists(c);              /* after conn_close: no handler runs any more */
  if (c->note) wire_api->notifier_free(c->note);
  jchan_free(c);
  natsConnection_Destroy(c->nc);
  wire_api->chan_release(c->done);
  pthread_cond_destroy(&c->cv);
  pthread_mutex_destroy(&c->mu), pthread_mutex_destroy(&c->jmu);
  free(c);
}

void conn_errtext (natsStatus s, char *err, size_t errlen) {
  natsStatus ls;
  const char *detail = nats_GetLastError(&ls);
  if (detail && *detail && ls == s) {
    if (detail[0] == '(' && strstr(detail, "): "))  /* "(conn.c:12): " */
      detail = strstr(detail, "): ") + 3;
    snprintf(err, errlen, "%s", detail);
  }
  else snprintf(err, errlen, "%s", natsStatus_GetText(s));
}

/* ---------------------------------------------------------------- */
/* channels in values                                                 */

static void sub_handler (natsConnection *nc, natsSubscription *sub,
                         natsMsg *msg, void *closure);
static void sub_complete (void *closure);
static void *pump (void *arg);

/* A new subscription record, listed (c->mu held, not closed). */
static struct nsub *newsub (struct nconn *c, enum nsub_mode mode,
                            gochan_chan *ch) {
  struct nsub *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->conn = c;
  s->mode = mode;
  s->ch = ch;
  s->next = c->subs;
  c->subs = s;
  return s;
}

/* Subscribe 's' (c->mu held). */
static natsStatus startsub (struct nconn *c, struct nsub *s,
                            const char *subject, const char *queue) {
  natsStatus st = queue
    ? natsConnection_QueueSubscribe(&s->sub, c->nc, subject, queue,
                                    sub_handler, s)
    : natsConnection_Subscribe(&s->sub, c->nc, subject, sub_handler, s);
  if (st != NATS_OK) { s->sub = NULL; s->done = true; return st; }
  c->running++;
  if (natsSubscription_SetOnCompleteCB(s->sub, sub_complete, s) != NATS_OK) {
    c->running--;               /* closed already: no handler runs */
    s->done = true;
  }
  return NATS_OK;
}

static const char *export_chan (void *ud, gochan_chan *ch) {
  struct nconn *c = ud;
  const char *subj = NULL;
  pthread_mutex_lock(&c->mu);
  if (c->closed) goto out;
  for (struct nexport *e = c->exports; e; e = e->next)
    if (e->ch == ch && !e->dead) { subj = e->subject; goto out; }
  for (struct nproxy *p = c->proxies; p; p = p->next)  /* passed on: */
    if (p->ch == ch) { subj = p->subject; goto out; }  /* its own subject */
  struct nexport *e = malloc(sizeof *e + sizeof c->prefix + 24);
  if (!e) goto out;
  snprintf(e->subject, sizeof c->prefix + 24, "%sc.%llu", c->prefix,
           (unsigned long long)c->next_export++);
  wire_api->chan_retain(ch);
  struct nsub *s = newsub(c, SUB_EXPORT, ch);
  if (!s) { wire_api->chan_release(ch); free(e); goto out; }
  wire_api->chan_retain(ch);                     /* the export's own */
  e->ch = ch;
  e->sub = s;
  e->dead = false;
  e->next = c->exports;
  c->exports = e;
  startsub(c, s, e->subject, NULL);  /* failing: nothing comes back */
  subj = e->subject;
out:
  pthread_mutex_unlock(&c->mu);
  return subj;
}

static gochan_chan *import_chan (void *ud, const char *s, size_t n) {
  struct nconn *c = ud;
  gochan_chan *ch = NULL;
  char *subj = malloc(n + 1);
  if (!subj) return NULL;
  memcpy(subj, s, n);
  subj[n] = '\0';
  if (strlen(subj) != n || subject_problem(subj, n, false)) goto done;
  pthread_mutex_lock(&c->mu);
  if (!c->closed) {
    for (struct nexport *e = c->exports; e && !ch; e = e->next)
      if (!e->dead && strcmp(e->subject, subj) == 0) ch = e->ch;  /* ours */
    for (struct nproxy *p = c->proxies; p && !ch; p = p->next)
      if (strcmp(p->subject, subj) == 0) ch = p->ch;
  }
  if (ch) wire_api->chan_retain(ch);
  else if (!c->closed) {
    struct nproxy *p = malloc(sizeof *p + n + 1);
    gochan_chan *pc = wire_api->chan_new(0);   /* a send waits for the pump */
    if (!c->note) c->note = wire_api->notifier_new();
    if (!c->pumping && c->note &&
        wire_api->notifier_watch(c->note, c->done, GOCHAN_RECV) == GOCHAN_OK &&
        pthread_create(&c->pump, NULL, pump, c) == 0)
      c->pumping = true;
    if (p && pc && c->pumping &&
        wire_api->notifier_watch(c->note, pc, GOCHAN_RECV) == GOCHAN_OK) {
      memcpy(p->subject, subj, n + 1);
      p->ch = pc;
      p->next = c->proxies;
      c->proxies = p;
      wire_api->chan_retain(pc);
      ch = pc;
    } else {
      free(p);
      wire_api->chan_release(pc);
    }
  }
  pthread_mutex_unlock(&c->mu);
done:
  free(subj);
  return ch;
}

/* The pump: publishes what is sent on each proxy, and a WIRE_CLOSE when
** one is closed (then forgets it). Ends when 'done' is closed, after
** publishing what was ready then (a close just before conn:close too). */
static void *pump (void *arg) {
  struct nconn *c = arg;
  int fd = wire_api->notifier_fd(c->note);
  for (;;) {
    struct pollfd pfd = { fd, POLLIN, 0 };
    if (poll(&pfd, 1, -1) < 0) continue;
    wire_api->notifier_clear(c->note);
    gochan_value v;
    int ok;
    bool done = wire_api->recv(c->done, &v, &ok, 0) == GOCHAN_OK && !ok;
    for (;;) {                         /* one value from each ready proxy */
      bool moved = false;
      pthread_mutex_lock(&c->mu);
      struct nproxy **pp = &c->proxies;
      while (*pp) {
        struct nproxy *p = *pp;
        if (wire_api->recv(p->ch, &v, &ok, 0) != GOCHAN_OK) {
          pp = &p->next;
          continue;
        }
        struct wbuf b;
        char err[128];
        wbuf_init(&b);
        if (ok) {
          wbuf_header(&b, WIRE_VALUE);
          pthread_mutex_unlock(&c->mu);        /* export takes it */
          const char *r = wire_encode(&b, &v, &c->chans, err, sizeof err);
          pthread_mutex_lock(&c->mu);
          if (!r && !b.oom) conn_publish(c, p->subject, NULL, &b);
          wire_api->value_free(&v);
          pp = &c->proxies;                    /* the list may have changed */
        } else {                               /* closed and drained */
          wbuf_header(&b, WIRE_CLOSE);
          conn_publish(c, p->subject, NULL, &b);
          wire_api->notifier_unwatch(c->note, p->ch);
          wire_api->chan_release(p->ch);
          *pp = p->next;
          free(p);
        }
        wbuf_free(&b);
        moved = true;
      }
      pthread_mutex_unlock(&c->mu);
      if (!moved) break;
    }
    if (done) break;
  }
  return NULL;
}

/* ---------------------------------------------------------------- */
/* handlers                                                           */

static void badmsg (struct nconn *c, const char *why) {
  atomic_fetch_add(&c->malformed, 1);
  pthread_mutex_lock(&c->mu);
  snprintf(c->lastbad, sizeof c->lastbad, "%s", why);
  pthread_mutex_unlock(&c->mu);
}

/* A table { [k1] = v1, [k2] = v2 } (string keys; k2 NULL: one pair).
** Takes what 'v1' and 'v2' hold, whatever happens: a table is linked
** into the result, a string's bytes or a channel's reference are copied
** and then released here. */
static gochan_value pair2 (const char *k1, gochan_value *v1, const char *k2,
                           gochan_value *v2) {
  gochan_table *t = wire_api->table_new(2);
  gochan_value *vs[2] = { v1, k2 ? v2 : NULL };
  const char *ks[2] = { k1, k2 };
  for (int i = 0; i < 2; i++) {
    if (!vs[i]) continue;
    gochan_value k = gochan_string(ks[i], strlen(ks[i]));
    if (t && wire_api->table_set(t, (size_t)i, &k, vs[i]) == GOCHAN_OK &&
        vs[i]->type == GOCHAN_TABLE)
      *vs[i] = gochan_nil();                  /* linked: the result owns it */
    wire_api->value_free(vs[i]);
  }
  return t ? gochan_table_value(t) : gochan_nil();
}

static gochan_value strvalue (const char *s) {
  size_t n = strlen(s);
  char *copy = malloc(n + 1);
  if (!copy) return gochan_nil();
  memcpy(copy, s, n + 1);
  return gochan_string(copy, n);
}

static void on_reply (struct nconn *c, natsMsg *msg) {
  const char *subj = natsMsg_GetSubject(msg);
  size_t np = strlen(c->prefix);
  if (strncmp(subj, c->prefix, np) != 0 || strncmp(subj + np, "r.", 2) != 0)
    return;
  uint64_t token = strtoull(subj + np + 2, NULL, 10);
  gochan_chan *ch = NULL;
  pthread_mutex_lock(&c->mu);
  for (struct npending *p = c->pending; p; p = p->next)
    if (p->token == token) { ch = p->ch; wire_api->chan_retain(ch); break; }
  pthread_mutex_unlock(&c->mu);
  if (!ch) return;                         /* late: the request gave up */
  gochan_value m, v = gochan_nil();
  if (natsMsg_IsNoResponders(msg)) {
    gochan_value e = strvalue("no responders");
    m = pair2("e", &e, NULL, NULL);
  } else {
    char err[160];
    enum wire_kind kind;
    const char *r = wire_decode(natsMsg_GetData(msg),
                                (size_t)natsMsg_GetDataLength(msg), &kind, &v,
                                &c->chans, err, sizeof err);
    if (r) {
      char why[200];
      snprintf(why, sizeof why, "malformed reply: %s", r);
      badmsg(c, why);
      gochan_value e = strvalue(why);
      m = pair2("e", &e, NULL, NULL);
    } else m = pair2(kind == WIRE_ERROR ? "e" : "v", &v, NULL, NULL);
  }
  wire_api->offer(ch, &m);                 /* the first reply counts */
  wire_api->value_free(&m);
  wire_api->chan_release(ch);
}

static void sub_handler (natsConnection *nc, natsSubscription *sub,
                         natsMsg *msg, void *closure) {
  struct nsub *s = closure;
  struct nconn *c = s->conn;
  (void)nc;
  if (s->mode == SUB_REPLIES) { on_reply(c, msg); natsMsg_Destroy(msg); return; }
  char err[160];
  enum wire_kind kind = WIRE_VALUE;
  gochan_value v;
  const char *r = wire_decode(natsMsg_GetData(msg),
                              (size_t)natsMsg_GetDataLength(msg), &kind, &v,
                              &c->chans, err, sizeof err);
  if (r) {
    char why[200];
    snprintf(why, sizeof why, "malformed message on '%s': %s",
             natsMsg_GetSubject(msg), r);
    badmsg(c, why);
  }
  gochan_status st = GOCHAN_OK;
  switch (s->mode) {
    case SUB_VALUES:
      if (!r && kind != WIRE_CLOSE) st = wire_api->offer(s->ch, &v);
      break;
    case SUB_REQUESTS: {
      const char *reply = natsMsg_GetReply(msg);
      gochan_value rv = reply ? strvalue(reply) : gochan_nil();
      gochan_value m;
      if (r) {
        char why[200];
        snprintf(why, sizeof why, "malformed request: %s", r);
        gochan_value e = strvalue(why);
        m = pair2("r", &rv, "e", &e);
      } else m = pair2("r", &rv, "v", &v);
      v = gochan_nil();                     /* m holds it now */
      st = wire_api->offer(s->ch, &m);
      wire_api->value_free(&m);
      break;
    }
    case SUB_EXPORT:
      if (r) break;
      if (kind == WIRE_CLOSE) {
        wire_api->close(s->ch);
        natsSubscription_Unsubscribe(sub);
        pthread_mutex_lock(&c->mu);
        for (struct nexport *e = c->exports; e; e = e->next)
          if (e->sub == s) e->dead = true;
        pthread_mutex_unlock(&c->mu);
        break;
      } else {                  /* wait for room, or for conn_close */
        gochan_case cs[2] = {
          { .op = GOCHAN_SEND, .ch = s->ch, .value = v },
          { .op = GOCHAN_RECV, .ch = c->done, .value = gochan_nil() } };
        size_t chosen;
        wire_api->select(cs, 2, -1, &chosen);
        if (cs[1].value.type != GOCHAN_NIL) wire_api->value_free(&cs[1].value);
      }
      break;
    default: break;
  }
  wire_api->value_free(&v);
  if (st == GOCHAN_CLOSED) natsSubscription_Unsubscribe(sub);  /* closed by Lua */
  natsMsg_Destroy(msg);
}

static void sub_complete (void *closure) {
  struct nsub *s = closure;
  struct nconn *c = s->conn;
  pthread_mutex_lock(&c->mu);
  s->done = true;
  c->running--;
  pthread_cond_broadcast(&c->cv);
  pthread_mutex_unlock(&c->mu);
}

/* ---------------------------------------------------------------- */
/* the connection                                                     */

struct nconn *conn_open (const struct nopts *o, char *err, size_t errlen) {
  natsOptions *opts = NULL;
  natsConnection *nc = NULL;
  natsStatus st = natsOptions_Create(&opts);
  if (st == NATS_OK) st = natsOptions_SetURL(opts, o->url);
  if (st == NATS_OK && o->name) st = natsOptions_SetName(opts, o->name);
  if (st == NATS_OK && o->timeout_ms > 0)
    st = natsOptions_SetTimeout(opts, o->timeout_ms);
  if (st == NATS_OK) st = natsOptions_SetMaxReconnect(opts, -1);
  if (st == NATS_OK && o->reconnect_wait_ms > 0)
    st = natsOptions_SetReconnectWait(opts, o->reconnect_wait_ms);
  if (st == NATS_OK && o->reconnect_buffer >= 0)
    st = natsOptions_SetReconnectBufSize(opts, o->reconnect_buffer);
  if (st == NATS_OK) st = natsConnection_Connect(&nc, opts);
  if (st != NATS_OK) conn_errtext(st, err, errlen);
  natsOptions_Destroy(opts);
  if (st != NATS_OK) return NULL;
  struct nconn *c = calloc(1, sizeof *c);
  natsInbox *inbox = NULL;
  if (c && natsInbox_Create(&inbox) == NATS_OK &&
      strlen(inbox) + 2 <= sizeof c->prefix &&
      (c->done = wire_api->chan_new(0)) != NULL) {
    snprintf(c->prefix, sizeof c->prefix, "%s.", inbox);
    natsInbox_Destroy(inbox);
    atomic_init(&c->refs, 1);
    atomic_init(&c->malformed, 0);
    c->nc = nc;
    c->chans = (struct wire_chans){ c, export_chan, import_chan };
    pthread_mutex_init(&c->mu, NULL);
    pthread_mutex_init(&c->jmu, NULL);
    pthread_cond_init(&c->cv, NULL);
    pthread_mutex_lock(&regmu);
    if (nreg == capreg) {
      size_t ncap = capreg ? 2 * capreg : 8;
      struct nconn **nr = realloc(reg, ncap * sizeof *nr);
      if (nr) { reg = nr; capreg = ncap; }
    }
    if (nreg < capreg) {
      c->id = nextid++;
      reg[nreg++] = c;
      pthread_mutex_unlock(&regmu);
      return c;
    }
    pthread_mutex_unlock(&regmu);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu), pthread_mutex_destroy(&c->jmu);
  }
  if (inbox) natsInbox_Destroy(inbox);
  if (c && c->done) wire_api->chan_release(c->done);
  free(c);
  natsConnection_Destroy(nc);
  snprintf(err, errlen, "not enough memory");
  return NULL;
}

bool conn_close (struct nconn *c) {
  pthread_mutex_lock(&regmu);
  bool found = false;
  for (size_t i = 0; i < nreg; i++)
    if (reg[i] == c) { reg[i] = reg[--nreg]; found = true; break; }
  pthread_mutex_unlock(&regmu);
  if (!found) return false;
  pthread_mutex_lock(&c->mu);
  c->closed = true;
  pthread_mutex_unlock(&c->mu);
  wire_api->close(c->done);        /* export handlers and the pump let go */
  if (c->pumping) pthread_join(c->pump, NULL);
  jchan_shutdown(c);
  pthread_mutex_lock(&c->mu);
  for (struct nsub *s = c->subs; s; s = s->next)
    if (s->sub && !s->done && !s->ended) natsSubscription_Unsubscribe(s->sub);
  pthread_mutex_unlock(&c->mu);
  natsConnection_Close(c->nc);
  struct timespec until;           /* handlers end soon: 'done' is closed */
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 10;
  pthread_mutex_lock(&c->mu);
  while (c->running > 0 &&
         pthread_cond_timedwait(&c->cv, &c->mu, &until) == 0) {}
  for (struct nsub *s = c->subs; s; s = s->next)   /* receivers see the end */
    if (s->ch && (s->mode == SUB_VALUES || s->mode == SUB_REQUESTS))
      wire_api->close(s->ch);
  pthread_mutex_unlock(&c->mu);
  conn_release(c);                 /* the registry's reference */
  return true;
}

natsStatus conn_publish (struct nconn *c, const char *subject,
                         const char *reply, const struct wbuf *b) {
  if (reply)
    return natsConnection_PublishRequest(c->nc, subject, reply, b->p,
                                         (int)b->n);
  return natsConnection_Publish(c->nc, subject, b->p, (int)b->n);
}

natsStatus conn_subscribe (struct nconn *c, const char *subject,
                           const char *queue, size_t cap,
                           enum nsub_mode mode, gochan_chan **out) {
  gochan_chan *ch = wire_api->chan_new(cap);
  if (!ch) return NATS_NO_MEMORY;
  natsStatus st = NATS_CONNECTION_CLOSED;
  pthread_mutex_lock(&c->mu);
  if (!c->closed) {
    struct nsub *s = newsub(c, mode, ch);
    if (!s) st = NATS_NO_MEMORY;
    else {
      wire_api->chan_retain(ch);                  /* the subscription's */
      st = startsub(c, s, subject, queue);
    }
  }
  pthread_mutex_unlock(&c->mu);
  if (st != NATS_OK) { wire_api->chan_release(ch); return st; }
  *out = ch;
  return NATS_OK;
}

bool conn_unsubscribe (struct nconn *c, gochan_chan *ch) {
  bool found = false;
  pthread_mutex_lock(&c->mu);
  for (struct nsub *s = c->subs; s; s = s->next)
    if (s->ch == ch && (s->mode == SUB_VALUES || s->mode == SUB_REQUESTS) &&
        s->sub && !s->done && !s->ended) {
      natsSubscription_Unsubscribe(s->sub);
      s->ended = true;
      found = true;
    }
  pthread_mutex_unlock(&c->mu);
  if (found) wire_api->close(ch);
  return found;
}

natsStatus conn_expect (struct nconn *c, uint64_t *token, gochan_chan **ch,
                        char *reply, size_t rlen) {
  struct npending *p = malloc(sizeof *p);
  gochan_chan *pc = wire_api->chan_new(1);
  natsStatus st = NATS_CONNECTION_CLOSED;
  pthread_mutex_lock(&c->mu);
  if (p && pc && !c->closed) {
    st = NATS_OK;
    if (!c->replies) {                /* one subscription for every reply */
      char subj[sizeof c->prefix + 4];
      snprintf(subj, sizeof subj, "%sr.*", c->prefix);
      struct nsub *s = newsub(c, SUB_REPLIES, NULL);
      if (!s) st = NATS_NO_MEMORY;
      else if ((st = startsub(c, s, subj, NULL)) == NATS_OK) c->replies = s;
    }
    if (st == NATS_OK) {
      p->token = ++c->next_token;
      p->ch = pc;
      p->next = c->pending;
      c->pending = p;
      wire_api->chan_retain(pc);
      *token = p->token;
      *ch = pc;
      snprintf(reply, rlen, "%sr.%llu", c->prefix,
               (unsigned long long)p->token);
      p = NULL;
      pc = NULL;
    }
  } else if (!p || !pc) st = NATS_NO_MEMORY;
  pthread_mutex_unlock(&c->mu);
  free(p);
  wire_api->chan_release(pc);
  return st;
}

void conn_forget (struct nconn *c, uint64_t token) {
  struct npending *gone = NULL;
  pthread_mutex_lock(&c->mu);
  for (struct npending **pp = &c->pending; *pp; pp = &(*pp)->next)
    if ((*pp)->token == token) {
      gone = *pp;
      *pp = gone->next;
      break;
    }
  pthread_mutex_unlock(&c->mu);
  if (gone) {
    wire_api->chan_release(gone->ch);
    free(gone);
  }
}

/* ---------------------------------------------------------------- */
/* subjects                                                           */

const char *subject_problem (const char *s, size_t n, bool wild) {
  if (n == 0) return "empty subject";
  if (strlen(s) != n) return "subject contains a zero byte";
  size_t tokstart = 0;
  for (size_t i = 0; i <= n; i++) {
    char ch = i < n ? s[i] : '.';
    if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n')
      return "subject contains whitespace";
    if (ch != '.') continue;
    size_t len = i - tokstart;
    if (len == 0) return "subject has an empty token";
    if (len == 1 && (s[tokstart] == '*' || s[tokstart] == '>')) {
      if (!wild) return "wildcards are not allowed in this subject";
      if (s[tokstart] == '>' && i != n)
        return "'>' must be the last token";
    }
    tokstart = i + 1;
  }
  return NULL;
}
