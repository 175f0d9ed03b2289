/*
** tbuf.c: the transfer buffer's storage and the per-process key that
** authenticates function chunks (so forged bytes never reach lua_load).
*/
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>
#include "tbuf.h"

struct tbuf *tbuf_new (const uint8_t *data, size_t len,
                       struct obj *const *objs, size_t nobj, unsigned flags) {
  if (nobj > (SIZE_MAX - sizeof(struct tbuf) - len) / sizeof(struct obj *))
    return NULL;
  struct tbuf *b = malloc(sizeof *b + nobj * sizeof(struct obj *) + len);
  if (!b) return NULL;
  b->len = len;
  b->nobj = nobj;
  b->flags = flags;
  b->objs = (struct obj **)(b + 1);
  uint8_t *d = (uint8_t *)(b->objs + nobj);
  if (len) memcpy(d, data, len);
  b->data = d;
  for (size_t i = 0; i < nobj; i++) {
    obj_retain(objs[i]);
    b->objs[i] = objs[i];
  }
  return b;
}

void tbuf_free (struct tbuf *b) {
  if (!b) return;
  for (size_t i = 0; i < b->nobj; i++) obj_release(b->objs[i]);
  free(b);
}

/* ---- the key: written once under 'once', read-only afterwards ---- */

static uint64_t key[2];
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

static void key_init (void) {
  if (getrandom(key, sizeof key, 0) != (ssize_t)sizeof key) {
    /* no entropy source: still unknowable to bytes from outside */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    key[0] = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15u ^ (uintptr_t)&ts;
    key[1] = (uint64_t)ts.tv_sec ^ (uintptr_t)&key_once ^ 0xD6E8FEB86659FD93u;
  }
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND do { \
    v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
    v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2; \
    v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0; \
    v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); \
  } while (0)

static uint64_t load64 (const uint8_t *p) {   /* little-endian */
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

uint64_t tbuf_mac (const void *data, size_t n) {
  pthread_once(&key_once, key_init);
  const uint8_t *p = data;
  uint64_t v0 = key[0] ^ 0x736f6d6570736575u, v1 = key[1] ^ 0x646f72616e646f6du;
  uint64_t v2 = key[0] ^ 0x6c7967656e657261u, v3 = key[1] ^ 0x7465646279746573u;
  size_t whole = n & ~(size_t)7;
  for (size_t i = 0; i < whole; i += 8) {
    uint64_t m = load64(p + i);
    v3 ^= m; SIPROUND; SIPROUND; v0 ^= m;
  }
  uint64_t last = (uint64_t)n << 56;
  for (size_t i = whole; i < n; i++) last |= (uint64_t)p[i] << (8 * (i - whole));
  v3 ^= last; SIPROUND; SIPROUND; v0 ^= last;
  v2 ^= 0xff; SIPROUND; SIPROUND; SIPROUND; SIPROUND;
  return v0 ^ v1 ^ v2 ^ v3;
}
