/*
** jschan.c: distributed channels, conn:channel(name), on JetStream.
** It is one concept (the stream layout below binds open, fetch, send and
** close), a little over 600 lines.
** Channel 'name': the work-queue stream GOCHAN_<name> (file storage) over
** gochan.chan.<name> (values) and gochan.chan.<name>.closed (the close
** marker), read through the durable pull consumer "gochan" that every
** process shares. At most 'cap' values on the values subject (discard
** new, per subject): a value stays until a receiver acknowledges it, so
** a send finding 'cap' there is refused and retried (init.lua).
**
** Receiving: 'rc' (cap 0) and a fetcher thread that fetches one message
** only while a receiver waits on 'rc' (it is ready to send), and offers
** it; if that receiver left, the message goes back at once (Nak). So no
** value waits here that another process could take: only the one being
** handed over and 'held' (taken, not acknowledged), acknowledged when a
** receiver next waits on 'rc' or by ch:ack(). While held, the server is
** told it is in progress every third of AckWait; a dead process's is
** delivered again after AckWait (at-least-once).
**
** Close: the values subject leaves the stream (later sends, from any
** process, find no stream: "send on closed channel"), then the marker is
** stored. A fetcher that takes it while values before it are still
** unacknowledged elsewhere gives it back for later; otherwise it closes
** 'rc' and gives the marker back at once for the other processes.
*/
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lnats.h"

#define DEFAULT_CAP 256
#define DEFAULT_ACKWAIT_MS 5000
#define FETCH_MS 2000            /* one pull request's life */
#define CONSUMER "gochan"
#define NS_PER_MS INT64_C(1000000)

/*
** 'mu' guards 'held'. The rest is set by jchan_open before the fetcher
** starts and read-only afterwards, but for 'stop' (atomic).
*/
struct njchan {
  struct njchan *next;           /* conn->jchans (under conn->mu) */
  struct nconn *conn;
  size_t cap;
  int64_t ackwait_ms;
  gochan_chan *rc;               /* one reference */
  natsSubscription *sub;
  gochan_notifier *note;         /* watches rc (send) and conn->done */
  pthread_t thread;
  bool running;                  /* 'thread' was started */
  atomic_bool stop;
  pthread_mutex_t mu;
  natsMsg *held;                 /* handed to a receiver, not acknowledged */
  char name[JCHAN_NAME_MAX + 1];
  char stream[JCHAN_NAME_MAX + 8];
  char subject[JCHAN_NAME_MAX + 16];
  char closedsubj[JCHAN_NAME_MAX + 24];
};

/* A send whose acknowledgement is due: 'msg' identifies it (the library
** owns it until the handler returns). Listed in conn->jpubs under
** conn->mu. */
struct njpub {
  struct njpub *next;
  natsMsg *msg;
  gochan_chan *result;           /* cap 1, one reference */
};

const char *jchan_name_problem (const char *name, size_t n) {
  if (n == 0) return "empty channel name";
  if (n > JCHAN_NAME_MAX) return "channel name longer than 64 bytes";
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)name[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
          (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
      return "channel name may hold only letters, digits, '_' and '-'";
  }
  return NULL;
}

/* "<what>: <the client's or the server's reason>" */
static const char *fail (char *err, size_t errlen, const char *what,
                         natsStatus st, jsErrCode jerr) {
  char why[200];
  conn_errtext(st, why, sizeof why);
  if (jerr) snprintf(err, errlen, "%s: %s (JetStream error %d)", what, why,
                     (int)jerr);
  else snprintf(err, errlen, "%s: %s", what, why);
  return err;
}

/* The JetStream context (c->jmu held). */
static void on_puback (jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae,
                       void *closure);
static natsStatus ensurejs (struct nconn *c) {
  if (c->js) return NATS_OK;
  jsOptions o;
  jsOptions_Init(&o);
  o.PublishAsync.AckHandler = on_puback;
  o.PublishAsync.AckHandlerClosure = c;
  return natsConnection_JetStream(&c->js, c->nc, &o);
}

static struct njchan *findchan (struct nconn *c, const char *name) {
  struct njchan *j;
  pthread_mutex_lock(&c->mu);
  for (j = c->jchans; j; j = j->next)
    if (strcmp(j->name, name) == 0) break;
  pthread_mutex_unlock(&c->mu);
  return j;
}

/* ---------------------------------------------------------------- */
/* the fetcher                                                        */

static void ackheld (struct njchan *j) {
  pthread_mutex_lock(&j->mu);
  natsMsg *m = j->held;
  j->held = NULL;
  pthread_mutex_unlock(&j->mu);
  if (m) {
    natsMsg_Ack(m, NULL);
    natsMsg_Destroy(m);
  }
}

/* The close marker came: close 'rc' unless values before it are still
** unacknowledged somewhere. True: 'rc' was closed. */
static bool takeclose (struct njchan *j, natsMsg *m) {
  jsConsumerInfo *ci = NULL;
  jsErrCode jerr = 0;
  bool others = true;
  if (js_GetConsumerInfo(&ci, j->conn->js, j->stream, CONSUMER, NULL,
                         &jerr) == NATS_OK) {
    others = ci->NumPending > 0 || ci->NumAckPending > 1;  /* the marker's */
    jsConsumerInfo_Destroy(ci);
  }
  if (others) {
    natsMsg_NakWithDelay(m, 100, NULL);
    return false;
  }
  wire_api->close(j->rc);
  natsMsg_Nak(m, NULL);
  return true;
}

/* One fetched message. True: the channel is closed, stop. */
static bool take (struct njchan *j, natsMsg *m) {
  struct nconn *c = j->conn;
  char err[160];
  enum wire_kind kind = WIRE_VALUE;
  gochan_value v;
  const char *r = wire_decode(natsMsg_GetData(m),
                              (size_t)natsMsg_GetDataLength(m), &kind, &v,
                              &c->chans, err, sizeof err);
  if (r || kind == WIRE_ERROR) {
    char why[224];
    snprintf(why, sizeof why, "malformed message on '%s': %s",
             natsMsg_GetSubject(m), r ? r : "an error where a value belongs");
    atomic_fetch_add(&c->malformed, 1);
    pthread_mutex_lock(&c->mu);
    snprintf(c->lastbad, sizeof c->lastbad, "%s", why);
    pthread_mutex_unlock(&c->mu);
    wire_api->value_free(&v);
    natsMsg_Ack(m, NULL);                    /* dropped for good */
    natsMsg_Destroy(m);
    return false;
  }
  bool closed = false;
  if (kind == WIRE_CLOSE) closed = takeclose(j, m);
  else {
    /* 'held' is set under 'mu' with the hand-over itself: the receiver
    ** may run and call ch:ack() the moment the offer succeeds, and must
    ** find the value held then (the offer never blocks: no lock is
    ** taken under it that is held while taking 'mu') */
    pthread_mutex_lock(&j->mu);
    if (wire_api->offer(j->rc, &v) == GOCHAN_OK) {
      j->held = m;
      m = NULL;
    }
    pthread_mutex_unlock(&j->mu);
    if (m) natsMsg_Nak(m, NULL);             /* nobody waits any more */
  }
  wire_api->value_free(&v);
  natsMsg_Destroy(m);
  return closed;
}

static void *fetcher (void *arg) {
  struct njchan *j = arg;
  int fd = wire_api->notifier_fd(j->note);
  int beat = (int)(j->ackwait_ms / 3 > 10 ? j->ackwait_ms / 3 : 10);
  while (!atomic_load(&j->stop)) {
    struct pollfd pfd = { fd, POLLIN, 0 };
    pthread_mutex_lock(&j->mu);
    bool holding = j->held != NULL;
    pthread_mutex_unlock(&j->mu);
    int n = poll(&pfd, 1, holding ? beat : -1);
    if (n == 0) {                              /* still working on it */
      pthread_mutex_lock(&j->mu);
      if (j->held) natsMsg_InProgress(j->held, NULL);
      pthread_mutex_unlock(&j->mu);
      continue;
    }
    wire_api->notifier_clear(j->note);
    gochan_value v;
    int ok;
    if (wire_api->recv(j->conn->done, &v, &ok, 0) == GOCHAN_OK && !ok) break;
    while (!atomic_load(&j->stop) &&
           (wire_api->chan_ready(j->rc) & GOCHAN_SEND)) {
      ackheld(j);                              /* the receiver's next recv */
      natsMsgList list = { NULL, 0 };
      jsErrCode jerr = 0;
      natsStatus st = natsSubscription_Fetch(&list, j->sub, 1, FETCH_MS,
                                             &jerr);
      if (st == NATS_TIMEOUT) continue;
      if (st != NATS_OK) {                     /* disconnected, closing */
        natsMsgList_Destroy(&list);
        struct pollfd again = { fd, POLLIN, 0 };
        poll(&again, 1, 100);
        break;
      }
      bool closed = false;
      for (int i = 0; i < list.Count; i++) {
        if (!closed) closed = take(j, list.Msgs[i]);
        else natsMsg_Nak(list.Msgs[i], NULL), natsMsg_Destroy(list.Msgs[i]);
        list.Msgs[i] = NULL;
      }
      natsMsgList_Destroy(&list);
      if (closed) atomic_store(&j->stop, true);
    }
  }
  return NULL;
}

/* ---------------------------------------------------------------- */
/* open                                                               */

static bool hassubject (const jsStreamConfig *cfg, const char *s) {
  for (int i = 0; i < cfg->SubjectsLen; i++)
    if (strcmp(cfg->Subjects[i], s) == 0) return true;
  return false;
}

/* The stream of 'j' exists (made here with 'cap' when missing); its
** capacity in '*capp'. (c->jmu held.) */
static const char *openstream (struct nconn *c, struct njchan *j, size_t cap,
                               size_t *capp, char *err, size_t errlen) {
  jsStreamInfo *si = NULL;
  jsErrCode jerr = 0;
  natsStatus st = js_GetStreamInfo(&si, c->js, j->stream, NULL, &jerr);
  if (st == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) {
    const char *subjs[2] = { j->subject, j->closedsubj };
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.Name = j->stream;
    cfg.Subjects = subjs;
    cfg.SubjectsLen = 2;
    cfg.Retention = js_WorkQueuePolicy;
    cfg.Storage = js_FileStorage;
    cfg.Discard = js_DiscardNew;
    cfg.MaxMsgsPerSubject = (int64_t)(cap ? cap : DEFAULT_CAP);
    cfg.DiscardNewPerSubject = true;
    jerr = 0;
    st = js_AddStream(&si, c->js, &cfg, NULL, &jerr);
    if (st != NATS_OK) {                 /* made meanwhile by another? */
      jerr = 0;
      st = js_GetStreamInfo(&si, c->js, j->stream, NULL, &jerr);
    }
  }
  if (st != NATS_OK)
    return fail(err, errlen, "cannot open the stream", st, jerr);
  size_t have = (size_t)si->Config->MaxMsgsPerSubject;
  bool ours = si->Config->Retention == js_WorkQueuePolicy &&
              si->Config->MaxMsgsPerSubject > 0 &&
              hassubject(si->Config, j->closedsubj);
  jsStreamInfo_Destroy(si);
  if (!ours) {
    snprintf(err, errlen, "stream '%s' exists and is not a gochan channel",
             j->stream);
    return err;
  }
  if (cap && cap != have) {
    snprintf(err, errlen, "distributed channel '%s' has capacity %zu",
             j->name, have);
    return err;
  }
  *capp = have;
  return NULL;
}

/* The shared consumer exists, its AckWait ('*have') 'ackwait_ms' if
** given, else whatever it has (made with the default). */
static const char *openconsumer (struct nconn *c, struct njchan *j,
                                 int64_t ackwait_ms, int64_t *have,
                                 char *err, size_t errlen) {
  jsConsumerInfo *ci = NULL;
  jsErrCode jerr = 0;
  natsStatus st = js_GetConsumerInfo(&ci, c->js, j->stream, CONSUMER, NULL,
                                     &jerr);
  bool exists = st == NATS_OK;
  if (exists && (!ackwait_ms ||
                 ci->Config->AckWait == ackwait_ms * NS_PER_MS)) {
    *have = ci->Config->AckWait / NS_PER_MS;
    jsConsumerInfo_Destroy(ci);
    return NULL;
  }
  if (exists) jsConsumerInfo_Destroy(ci);
  else if (st != NATS_NOT_FOUND && jerr != JSConsumerNotFoundErr)
    return fail(err, errlen, "cannot open the consumer", st, jerr);
  jsConsumerConfig cc;
  jsConsumerConfig_Init(&cc);
  cc.Durable = CONSUMER;
  cc.AckPolicy = js_AckExplicit;
  cc.AckWait = (ackwait_ms ? ackwait_ms : DEFAULT_ACKWAIT_MS) * NS_PER_MS;
  cc.MaxDeliver = -1;
  ci = NULL;
  jerr = 0;
  st = exists ? js_UpdateConsumer(&ci, c->js, j->stream, &cc, NULL, &jerr)
              : js_AddConsumer(&ci, c->js, j->stream, &cc, NULL, &jerr);
  if (st != NATS_OK && !exists) {        /* made meanwhile by another? */
    jerr = 0;
    st = js_GetConsumerInfo(&ci, c->js, j->stream, CONSUMER, NULL, &jerr);
  }
  if (st != NATS_OK)
    return fail(err, errlen, "cannot open the consumer", st, jerr);
  *have = ci->Config->AckWait / NS_PER_MS;
  jsConsumerInfo_Destroy(ci);
  return NULL;
}

static void freechan (struct njchan *j) {
  if (j->sub) natsSubscription_Destroy(j->sub);
  if (j->note) wire_api->notifier_free(j->note);
  if (j->held) natsMsg_Destroy(j->held);
  wire_api->chan_release(j->rc);
  pthread_mutex_destroy(&j->mu);
  free(j);
}

const char *jchan_open (struct nconn *c, const char *name, size_t cap,
                        int64_t ackwait_ms, gochan_chan **rc, size_t *capp,
                        char *err, size_t errlen) {
  const char *r = NULL;
  pthread_mutex_lock(&c->jmu);
  struct njchan *j = findchan(c, name);
  if (j) {                                   /* opened here before */
    if (cap && cap != j->cap) {
      snprintf(err, errlen, "distributed channel '%s' has capacity %zu",
               name, j->cap);
      r = err;
    } else {
      wire_api->chan_retain(j->rc);
      *rc = j->rc;
      *capp = j->cap;
    }
    pthread_mutex_unlock(&c->jmu);
    return r;
  }
  j = calloc(1, sizeof *j);
  if (!j) {
    pthread_mutex_unlock(&c->jmu);
    snprintf(err, errlen, "not enough memory");
    return err;
  }
  pthread_mutex_init(&j->mu, NULL);
  atomic_init(&j->stop, false);
  j->conn = c;
  snprintf(j->name, sizeof j->name, "%s", name);
  snprintf(j->stream, sizeof j->stream, "GOCHAN_%s", name);
  snprintf(j->subject, sizeof j->subject, "gochan.chan.%s", name);
  snprintf(j->closedsubj, sizeof j->closedsubj, "gochan.chan.%s.closed",
           name);
  natsStatus st = ensurejs(c);
  if (st != NATS_OK) r = fail(err, errlen, "cannot use JetStream", st, 0);
  if (!r) r = openstream(c, j, cap, &j->cap, err, errlen);
  if (!r) r = openconsumer(c, j, ackwait_ms, &j->ackwait_ms, err, errlen);
  if (!r) {
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = j->stream;
    so.Consumer = CONSUMER;
    jsErrCode jerr = 0;
    st = js_PullSubscribe(&j->sub, c->js, NULL, CONSUMER, NULL, &so, &jerr);
    if (st != NATS_OK) {
      j->sub = NULL;
      r = fail(err, errlen, "cannot subscribe to the consumer", st, jerr);
    }
  }
  if (!r) {
    j->rc = wire_api->chan_new(0);
    j->note = wire_api->notifier_new();
    if (!j->rc || !j->note ||
        wire_api->notifier_watch(j->note, j->rc, GOCHAN_SEND) != GOCHAN_OK ||
        wire_api->notifier_watch(j->note, c->done, GOCHAN_RECV) != GOCHAN_OK)
      r = "not enough memory";
  }
  if (!r) {
    pthread_mutex_lock(&c->mu);
    if (c->closed) r = "connection closed";
    else if (pthread_create(&j->thread, NULL, fetcher, j) != 0)
      r = "cannot start a thread";
    else {
      j->running = true;
      j->next = c->jchans;
      c->jchans = j;
    }
    pthread_mutex_unlock(&c->mu);
  }
  if (r) {
    if (r != err) snprintf(err, errlen, "%s", r);
    if (j->sub) natsSubscription_Unsubscribe(j->sub);
    freechan(j);
    pthread_mutex_unlock(&c->jmu);
    return err;
  }
  wire_api->chan_retain(j->rc);
  *rc = j->rc;
  *capp = j->cap;
  pthread_mutex_unlock(&c->jmu);
  return NULL;
}

/* ---------------------------------------------------------------- */
/* send, ack, close                                                   */

static void on_puback (jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae,
                       void *closure) {
  struct nconn *c = closure;
  (void)js; (void)pa;
  struct njpub *p = NULL;
  pthread_mutex_lock(&c->mu);
  for (struct njpub **pp = &c->jpubs; *pp; pp = &(*pp)->next)
    if ((*pp)->msg == msg) {
      p = *pp;
      *pp = p->next;
      break;
    }
  pthread_mutex_unlock(&c->mu);
  if (!p) return;                          /* given up by conn_close */
  char why[256];
  const char *res = "ok";
  if (pae) {
    if (pae->Err == NATS_NO_RESPONDERS) res = "closed";
    else if (pae->ErrText && strstr(pae->ErrText, "maximum messages"))
      res = "full";
    else {
      snprintf(why, sizeof why, "send failed: %s",
               pae->ErrText ? pae->ErrText : natsStatus_GetText(pae->Err));
      res = why;
    }
  }
  gochan_value v = gochan_string(res, strlen(res));
  wire_api->offer(p->result, &v);
  wire_api->chan_release(p->result);
  free(p);
}

const char *jchan_send (struct nconn *c, const char *name,
                        const struct wbuf *b, gochan_chan **result,
                        char *err, size_t errlen) {
  struct njchan *j = findchan(c, name);
  if (!j) {
    snprintf(err, errlen, "distributed channel '%s' is not open here", name);
    return err;
  }
  natsMsg *m = NULL;
  struct njpub *p = malloc(sizeof *p);
  gochan_chan *res = wire_api->chan_new(1);
  natsStatus st = p && res ? natsMsg_Create(&m, j->subject, NULL,
                                            (const char *)b->p, (int)b->n)
                           : NATS_NO_MEMORY;
  if (st == NATS_OK) {
    p->msg = m;
    p->result = res;
    wire_api->chan_retain(res);
    pthread_mutex_lock(&c->mu);
    if (c->closed) st = NATS_CONNECTION_CLOSED;
    else {
      p->next = c->jpubs;
      c->jpubs = p;
    }
    pthread_mutex_unlock(&c->mu);
    if (st != NATS_OK) wire_api->chan_release(res);
  }
  if (st == NATS_OK) {
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = 5000;
    st = js_PublishMsgAsync(c->js, &m, &po);
    if (st != NATS_OK) {                 /* not taken: unlist it */
      bool listed = false;
      pthread_mutex_lock(&c->mu);
      for (struct njpub **pp = &c->jpubs; *pp; pp = &(*pp)->next)
        if (*pp == p) { *pp = p->next; listed = true; break; }
      pthread_mutex_unlock(&c->mu);
      if (listed) wire_api->chan_release(res);
      else p = NULL;                     /* conn_close freed it */
    } else p = NULL;                     /* the handler frees it */
  }
  natsMsg_Destroy(m);
  free(p);
  if (st != NATS_OK) {
    wire_api->chan_release(res);
    if (st == NATS_INSUFFICIENT_BUFFER)
      snprintf(err, errlen, "send failed: disconnected and the reconnect "
               "buffer is full");
    else fail(err, errlen, "send failed", st, 0);
    return err;
  }
  *result = res;
  return NULL;
}

bool jchan_ack (struct nconn *c, const char *name) {
  struct njchan *j = findchan(c, name);
  if (!j) return false;
  pthread_mutex_lock(&j->mu);
  bool had = j->held != NULL;
  pthread_mutex_unlock(&j->mu);
  ackheld(j);
  return had;
}

const char *jchan_close (struct nconn *c, const char *name, char *err,
                         size_t errlen) {
  struct njchan *j = findchan(c, name);
  if (!j) {
    snprintf(err, errlen, "distributed channel '%s' is not open here", name);
    return err;
  }
  const char *r = NULL;
  pthread_mutex_lock(&c->jmu);
  jsStreamInfo *si = NULL;
  jsErrCode jerr = 0;
  natsStatus st = js_GetStreamInfo(&si, c->js, j->stream, NULL, &jerr);
  if (st != NATS_OK) r = fail(err, errlen, "close failed", st, jerr);
  else if (!hassubject(si->Config, j->subject)) {
    snprintf(err, errlen, "close of closed channel");
    r = err;
  } else {
    jsStreamConfig *cfg = si->Config;     /* the values subject goes */
    const char **subjs = cfg->Subjects;
    int nsubjs = cfg->SubjectsLen;
    const char *only[1] = { j->closedsubj };
    cfg->Subjects = only;
    cfg->SubjectsLen = 1;
    jsStreamInfo *after = NULL;
    jerr = 0;
    st = js_UpdateStream(&after, c->js, cfg, NULL, &jerr);
    cfg->Subjects = subjs;
    cfg->SubjectsLen = nsubjs;
    jsStreamInfo_Destroy(after);
    if (st != NATS_OK) r = fail(err, errlen, "close failed", st, jerr);
  }
  jsStreamInfo_Destroy(si);
  if (!r) {
    struct wbuf b;
    wbuf_init(&b);
    wbuf_header(&b, WIRE_CLOSE);
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MsgId = "gochan-close";            /* a racing second close: once */
    jsPubAck *pa = NULL;
    jerr = 0;
    st = b.oom ? NATS_NO_MEMORY
               : js_Publish(&pa, c->js, j->closedsubj, b.p, (int)b.n, &po,
                            &jerr);
    jsPubAck_Destroy(pa);
    wbuf_free(&b);
    if (st != NATS_OK) r = fail(err, errlen, "close failed", st, jerr);
  }
  pthread_mutex_unlock(&c->jmu);
  return r;
}

const char *jchan_delete (struct nconn *c, const char *name, char *err,
                          size_t errlen) {
  const char *r = NULL;
  char stream[JCHAN_NAME_MAX + 8];
  snprintf(stream, sizeof stream, "GOCHAN_%s", name);
  pthread_mutex_lock(&c->jmu);
  natsStatus st = ensurejs(c);
  jsErrCode jerr = 0;
  if (st == NATS_OK) st = js_DeleteStream(c->js, stream, NULL, &jerr);
  if (st == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) st = NATS_OK;
  if (st != NATS_OK) r = fail(err, errlen, "delete failed", st, jerr);
  pthread_mutex_unlock(&c->jmu);
  return r;
}

/* ---------------------------------------------------------------- */
/* the connection's end                                               */

void jchan_shutdown (struct nconn *c) {
  pthread_mutex_lock(&c->mu);
  struct njchan *list = c->jchans;
  struct njpub *pubs = c->jpubs;
  c->jpubs = NULL;
  pthread_mutex_unlock(&c->mu);
  for (struct njchan *j = list; j; j = j->next) {
    atomic_store(&j->stop, true);
    natsSubscription_Unsubscribe(j->sub);    /* ends a fetch in progress */
  }
  for (struct njchan *j = list; j; j = j->next) {
    if (j->running) pthread_join(j->thread, NULL);
    j->running = false;
    wire_api->close(j->rc);                  /* receivers see the end */
  }
  for (struct njpub *p = pubs, *n; p; p = n) {
    n = p->next;
    wire_api->close(p->result);
    wire_api->chan_release(p->result);
    free(p);
  }
}

void jchan_free (struct nconn *c) {
  for (struct njchan *j = c->jchans, *n; j; j = n) {
    n = j->next;
    freechan(j);
  }
  c->jchans = NULL;
  if (c->js) jsCtx_Destroy(c->js);
  c->js = NULL;
}
