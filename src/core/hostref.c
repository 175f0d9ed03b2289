/*
** hostref.c: a count of host references per channel: an open-addressing
** hash (linear probing, backward-shift deletion) of chan -> count, guarded
** by 'mu'. An entry exists only while its count is > 0, so every channel
** in it is alive (the host's references keep it). Lock order: 'mu', then
** a channel's lock (hostref_waiting).
*/
#include <pthread.h>
#include <stdlib.h>
#include "hostref.h"

struct slot { struct chan *c; size_t n; };   /* c NULL: empty */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct slot *slots;        /* guarded by mu; cap a power of 2 */
static size_t cap, count;         /* guarded by mu; 2 * count <= cap */

static size_t home (const struct chan *c, size_t m) {
  uint64_t h = (uint64_t)(uintptr_t)c * 0x9E3779B97F4A7C15u;
  return (size_t)(h >> 32) & (m - 1);
}

static bool grow (void) {                      /* mu held */
  size_t ncap = cap ? 2 * cap : 64;
  struct slot *ns = calloc(ncap, sizeof *ns);
  if (!ns) return false;
  for (size_t i = 0; i < cap; i++) {
    if (!slots[i].c) continue;
    size_t j = home(slots[i].c, ncap);
    while (ns[j].c) j = (j + 1) & (ncap - 1);
    ns[j] = slots[i];
  }
  free(slots);
  slots = ns;
  cap = ncap;
  return true;
}

void hostref_add (struct chan *c) {
  pthread_mutex_lock(&mu);
  if (2 * (count + 1) <= cap || grow()) {
    size_t i = home(c, cap);
    while (slots[i].c && slots[i].c != c) i = (i + 1) & (cap - 1);
    if (!slots[i].c) { slots[i].c = c; count++; }
    slots[i].n++;
  }
  pthread_mutex_unlock(&mu);
}

void hostref_drop (struct chan *c) {
  pthread_mutex_lock(&mu);
  if (count) {
    size_t i = home(c, cap);
    while (slots[i].c && slots[i].c != c) i = (i + 1) & (cap - 1);
    if (slots[i].c && --slots[i].n == 0) {
      /* backward shift: move up every later entry of the run that may
      ** sit in the freed slot, so no probe stops short */
      size_t j = i;
      for (;;) {
        j = (j + 1) & (cap - 1);
        if (!slots[j].c) break;
        size_t h = home(slots[j].c, cap);
        bool between = i <= j ? (i < h && h <= j) : (i < h || h <= j);
        if (between) continue;     /* it stays reachable from its home */
        slots[i] = slots[j];
        i = j;
      }
      slots[i].c = NULL;
      slots[i].n = 0;
      count--;
    }
  }
  pthread_mutex_unlock(&mu);
}

bool hostref_waiting (void) {
  bool any = false;
  pthread_mutex_lock(&mu);
  for (size_t i = 0; i < cap && !any; i++)
    if (slots[i].c) any = chan_nwaiters(slots[i].c) > 0;
  pthread_mutex_unlock(&mu);
  return any;
}
