/*
** named.c: the registry of named channels: a hash of name -> channel
** (separate chaining, doubling), guarded by one mutex 'mu'. The registry
** holds one reference to each channel and never drops it, so a name and
** its channel live until the process exits. Lock order: 'mu', then a
** channel's own lock (named_waiting); nothing is taken while holding a
** channel's lock and then 'mu'.
*/
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "named.h"

struct entry {
  struct entry *next;
  struct chan *c;          /* one reference, never released */
  size_t len;
  char name[];             /* 'len' bytes, then a NUL */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct entry **buckets;   /* guarded by mu; nbuckets a power of 2 */
static size_t nbuckets, count;   /* guarded by mu */

/* Strict UTF-8 (RFC 3629: no overlong forms, surrogates or code points
** over U+10FFFF); NUL told apart. */
enum named_result named_check (const char *name, size_t len) {
  const unsigned char *s = (const unsigned char *)name;
  if (len == 0) return NAMED_EMPTY;
  for (size_t i = 0; i < len;) {
    unsigned c = s[i];
    if (c == 0) return NAMED_NUL;
    if (c < 0x80) { i++; continue; }
    size_t n;
    unsigned cp, min;
    if ((c & 0xE0) == 0xC0) { n = 1; cp = c & 0x1F; min = 0x80; }
    else if ((c & 0xF0) == 0xE0) { n = 2; cp = c & 0x0F; min = 0x800; }
    else if ((c & 0xF8) == 0xF0) { n = 3; cp = c & 0x07; min = 0x10000; }
    else return NAMED_UTF8;
    if (len - i <= n) return NAMED_UTF8;
    for (size_t k = 1; k <= n; k++) {
      if ((s[i + k] & 0xC0) != 0x80) return NAMED_UTF8;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return NAMED_UTF8;
    i += n + 1;
  }
  return NAMED_OK;
}

static size_t hash (const char *s, size_t len) {   /* FNV-1a */
  uint64_t h = 0xcbf29ce484222325u;
  for (size_t i = 0; i < len; i++) {
    h ^= (unsigned char)s[i];
    h *= 0x100000001b3u;
  }
  return (size_t)(h ^ (h >> 32));
}

static bool grow (void) {                         /* mu held */
  size_t n = nbuckets ? 2 * nbuckets : 16;
  struct entry **nb = calloc(n, sizeof *nb);
  if (!nb) return false;
  for (size_t i = 0; i < nbuckets; i++)
    for (struct entry *e = buckets[i], *next; e; e = next) {
      next = e->next;
      size_t j = hash(e->name, e->len) & (n - 1);
      e->next = nb[j];
      nb[j] = e;
    }
  free(buckets);
  buckets = nb;
  nbuckets = n;
  return true;
}

enum named_result named_get (const char *name, size_t len, size_t cap,
                             struct chan **out, size_t *have) {
  *out = NULL;
  enum named_result r = named_check(name, len);
  if (r != NAMED_OK) return r;
  if (cap != NAMED_ANYCAP && cap > CHAN_MAX_CAP) return NAMED_BIGCAP;
  pthread_mutex_lock(&mu);
  size_t h = hash(name, len);
  if (nbuckets)
    for (struct entry *e = buckets[h & (nbuckets - 1)]; e; e = e->next) {
      if (e->len != len || memcmp(e->name, name, len) != 0) continue;
      size_t ecap = chan_cap(e->c);
      if (cap != NAMED_ANYCAP && cap != ecap) r = NAMED_CAP;
      else { chan_retain(e->c); *out = e->c; }
      pthread_mutex_unlock(&mu);
      *have = ecap;
      return r;
    }
  if (count + 1 > nbuckets && !grow()) r = NAMED_NOMEM;
  struct entry *e = NULL;
  if (r == NAMED_OK && !(e = malloc(sizeof *e + len + 1))) r = NAMED_NOMEM;
  if (r == NAMED_OK && !(e->c = chan_new(cap == NAMED_ANYCAP ? 0 : cap))) {
    free(e);
    r = NAMED_NOMEM;
  }
  if (r == NAMED_OK) {
    e->len = len;
    memcpy(e->name, name, len);
    e->name[len] = '\0';
    size_t j = h & (nbuckets - 1);
    e->next = buckets[j];
    buckets[j] = e;
    count++;
    chan_retain(e->c);            /* the caller's; the registry keeps one */
    *out = e->c;
    *have = chan_cap(e->c);
  }
  pthread_mutex_unlock(&mu);
  return r;
}

bool named_waiting (void) {
  bool any = false;
  pthread_mutex_lock(&mu);
  for (size_t i = 0; i < nbuckets && !any; i++)
    for (struct entry *e = buckets[i]; e && !any; e = e->next)
      any = chan_nwaiters(e->c) > 0;
  pthread_mutex_unlock(&mu);
  return any;
}
