/*
** tbuild.c: the transfer buffer writer's growth: bytes, objects and the
** pointer memo (the per-byte calls are inline in tbuild.h).
*/
#include <stdlib.h>
#include <string.h>
#include "tbuild.h"

void tbuild_init (struct tbuild *b) {
  memset(b, 0, sizeof *b);
}

void tbuild_free (struct tbuild *b) {
  free(b->data); free(b->objs); free(b->memo);
  tbuild_init(b);
}

/* Doubles from 256 bytes until 'n' more fit; false past SIZE_MAX / 2. */
bool tbuild_grow (struct tbuild *b, size_t n) {
  if (b->cap - b->len >= n) return true;
  size_t cap = b->cap ? b->cap : 256;
  while (cap - b->len < n) {
    if (cap > SIZE_MAX / 2) return false;
    cap *= 2;
  }
  uint8_t *d = realloc(b->data, cap);
  if (!d) return false;
  b->data = d;
  b->cap = cap;
  return true;
}

bool tbuild_obj (struct tbuild *b, struct obj *o) {
  if (b->nobj == b->objcap) {
    size_t ncap = b->objcap ? 2 * b->objcap : 8;
    struct obj **no = realloc(b->objs, ncap * sizeof *no);
    if (!no) return false;
    b->objs = no;
    b->objcap = ncap;
  }
  b->objs[b->nobj++] = o;
  return true;
}

/* Grows to twice the size (64 entries at first) before it would be more
** than half full; the live entries are rehashed into the new array. */
bool tbuild_memo_add (struct tbuild *b, const void *key, uint64_t val) {
  if (2 * (b->memocount + 1) > b->memocap) {
    size_t ncap = b->memocap ? 2 * b->memocap : 64;
    struct tbuild_memo *nm = calloc(ncap, sizeof *nm);
    if (!nm) return false;
    for (size_t i = 0; i < b->memocap; i++) {
      struct tbuild_memo *m = &b->memo[i];
      if (m->gen != b->gen) continue;
      size_t j = tbuild_memohash(m->key, ncap);
      while (nm[j].gen == b->gen) j = (j + 1) & (ncap - 1);
      nm[j] = *m;
    }
    free(b->memo);
    b->memo = nm;
    b->memocap = ncap;
  }
  size_t i = tbuild_memohash(key, b->memocap);
  while (b->memo[i].gen == b->gen) i = (i + 1) & (b->memocap - 1);
  b->memo[i] = (struct tbuild_memo){ key, val, b->gen };
  b->memocount++;
  return true;
}

void tbuild_memo_wrap (struct tbuild *b) {
  if (b->memo) memset(b->memo, 0, b->memocap * sizeof *b->memo);
  b->gen = 1;
}
