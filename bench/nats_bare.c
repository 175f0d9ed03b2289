/*
** nats_bare.c: the workloads of bench/nats.lua written directly against
** the NATS C client, the limit of what the client and the server do
** without gochan. Built and run by bench/nats.lua:
**   nats_bare URL pubsub N    publish N small messages to a subscription
**                             of the same connection and receive them all
**   nats_bare URL jschan N    a work-queue stream: N synchronous publishes
**                             (each waits for its ack), then N fetches of
**                             one message, each acknowledged
** Prints "<workload> <messages/s>".
*/
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <nats/nats.h>

static double now (void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static atomic_int got;

static void onmsg (natsConnection *nc, natsSubscription *s, natsMsg *m,
                   void *cl) {
  (void)nc; (void)s; (void)cl;
  atomic_fetch_add(&got, 1);
  natsMsg_Destroy(m);
}

#define CHECK(x) do { natsStatus st_ = (x); if (st_ != NATS_OK) { \
  fprintf(stderr, "%s: %s\n", #x, natsStatus_GetText(st_)); exit(1); } } while (0)

int main (int argc, char **argv) {
  if (argc != 4) { fprintf(stderr, "usage: nats_bare URL pubsub|jschan N\n"); return 2; }
  int n = atoi(argv[3]);
  natsConnection *nc;
  CHECK(natsConnection_ConnectTo(&nc, argv[1]));
  const char payload[] = "0123456789abcdef";
  if (strcmp(argv[2], "pubsub") == 0) {
    natsSubscription *sub;
    CHECK(natsConnection_Subscribe(&sub, nc, "bench.bare", onmsg, NULL));
    CHECK(natsSubscription_SetPendingLimits(sub, -1, -1));
    CHECK(natsConnection_Flush(nc));
    double t0 = now();
    for (int i = 0; i < n; i++)
      CHECK(natsConnection_Publish(nc, "bench.bare", payload, sizeof payload));
    CHECK(natsConnection_Flush(nc));
    while (atomic_load(&got) < n) nats_Sleep(1);
    printf("pubsub %.0f\n", n / (now() - t0));
    natsSubscription_Destroy(sub);
  } else {
    jsCtx *js;
    CHECK(natsConnection_JetStream(&js, nc, NULL));
    js_DeleteStream(js, "BENCH_BARE", NULL, NULL);
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    const char *subj[] = { "bench.bare.js" };
    cfg.Name = "BENCH_BARE";
    cfg.Subjects = subj;
    cfg.SubjectsLen = 1;
    cfg.Retention = js_WorkQueuePolicy;
    cfg.Storage = js_FileStorage;
    CHECK(js_AddStream(NULL, js, &cfg, NULL, NULL));
    jsConsumerConfig cc;
    jsConsumerConfig_Init(&cc);
    cc.Durable = "bare";
    cc.AckPolicy = js_AckExplicit;
    CHECK(js_AddConsumer(NULL, js, "BENCH_BARE", &cc, NULL, NULL));
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = "BENCH_BARE";
    so.Consumer = "bare";
    natsSubscription *sub;
    CHECK(js_PullSubscribe(&sub, js, NULL, "bare", NULL, &so, NULL));
    double t0 = now();
    for (int i = 0; i < n; i++)
      CHECK(js_Publish(NULL, js, "bench.bare.js", payload, sizeof payload, NULL, NULL));
    for (int i = 0; i < n; i++) {
      natsMsgList l = { NULL, 0 };
      CHECK(natsSubscription_Fetch(&l, sub, 1, 5000, NULL));
      for (int k = 0; k < l.Count; k++) natsMsg_Ack(l.Msgs[k], NULL);
      natsMsgList_Destroy(&l);
    }
    printf("jschan %.0f\n", 2.0 * n / (now() - t0));   /* a send and a recv each */
    natsSubscription_Destroy(sub);
    js_DeleteStream(js, "BENCH_BARE", NULL, NULL);
    jsCtx_Destroy(js);
  }
  natsConnection_Destroy(nc);
  return 0;
}
