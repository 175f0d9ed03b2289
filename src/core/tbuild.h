/*
** tbuild.h: the writer a transfer buffer (tbuf.h) is built with: a
** growing byte array, the gochan objects the bytes name, and a pointer memo
** (pointer -> number) for back-references. Lua-free; the byte format
** written with it is src/lua/tformat.h's. The calls the encoder makes per
** byte are inline here; growth is in tbuild.c.
*/
#ifndef GOCHAN_TBUILD_H
#define GOCHAN_TBUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct obj;

/* One memo entry: live when 'gen' is the builder's current 'gen'. */
struct tbuild_memo {
  const void *key;
  uint64_t val;
  uint32_t gen;
};

/*
** One builder, reused from value to value (tbuild_reset between them). Not
** thread-safe: one owner. Invariants: len <= cap; nobj <= objcap;
** memocap is 0 or a power of 2 with 2 * memocount <= memocap (open
** addressing: a probe always reaches a dead entry); no memo entry has a
** 'gen' above the builder's, so one increment forgets them all. Every
** tbuild_* that can fail returns false only when out of memory, and then
** the builder stays valid (its contents are whatever was written before).
*/
struct tbuild {
  uint8_t *data;          /* 'len' bytes written, room for 'cap' */
  size_t len, cap;
  struct obj **objs;      /* borrowed: the builder holds no reference;
                             tbuf_new takes one for each */
  size_t nobj, objcap;
  struct tbuild_memo *memo;
  size_t memocap, memocount;
  uint32_t gen;           /* the current value's memo stamp; 0 only before
                             the first tbuild_reset */
  uint32_t nrefs;         /* the writer's count of what it numbered */
  unsigned flags;         /* TBUF_* of the buffer being built */
};

/* An empty builder that owns nothing. */
void tbuild_init (struct tbuild *b);

/* Free what 'b' owns; it is empty again (as from tbuild_init). */
void tbuild_free (struct tbuild *b);

/* Make room for 'n' more bytes (the slow path of tbuild_reserve). */
bool tbuild_grow (struct tbuild *b, size_t n);

/* Append 'o' to the objects (not retained). */
bool tbuild_obj (struct tbuild *b, struct obj *o);

/* Add 'key' (not present in the current value) with 'val'. Only after a
** tbuild_reset: before it, the zeroed entries would look live. */
bool tbuild_memo_add (struct tbuild *b, const void *key, uint64_t val);

/* Restart the memo: every entry is dead (the slow path of tbuild_reset,
** when 'gen' would wrap). */
void tbuild_memo_wrap (struct tbuild *b);

/* Start a new value: no bytes, objects, references, flags or memo
** entries; keeps the memory. */
static inline void tbuild_reset (struct tbuild *b) {
  b->len = 0;
  b->nobj = 0;
  b->nrefs = 0;
  b->flags = 0;
  if (b->memocount) {
    b->memocount = 0;
    if (++b->gen == 0) tbuild_memo_wrap(b);  /* old stamps could look live */
  }
  else if (b->gen == 0) b->gen = 1;
}

/* Room for 'n' more bytes: after true, 'n' bytes may be written at
** data + len without a check (tbuild_byte). */
static inline bool tbuild_reserve (struct tbuild *b, size_t n) {
  return b->cap - b->len >= n || tbuild_grow(b, n);
}

/* One byte into room reserved before. */
static inline void tbuild_byte (struct tbuild *b, unsigned c) {
  b->data[b->len++] = (uint8_t)c;
}

static inline bool tbuild_put (struct tbuild *b, const void *p, size_t n) {
  if (!tbuild_reserve(b, n)) return false;
  if (n) memcpy(b->data + b->len, p, n);
  b->len += n;
  return true;
}

/* One byte (a tag: 0-255). */
static inline bool tbuild_tag (struct tbuild *b, int tag) {
  if (!tbuild_reserve(b, 1)) return false;
  tbuild_byte(b, (unsigned)tag);
  return true;
}

/* 'v' as an LEB128 varint (1-10 bytes). */
static inline bool tbuild_varint (struct tbuild *b, uint64_t v) {
  if (!tbuild_reserve(b, 10)) return false;
  while (v >= 0x80) { tbuild_byte(b, (unsigned)((v & 0x7f) | 0x80)); v >>= 7; }
  tbuild_byte(b, (unsigned)v);
  return true;
}

/* A length-prefixed byte string: varint 'n', then the 'n' bytes. Always
** inlined: a value's strings are mostly short keys. */
static inline __attribute__((always_inline))
bool tbuild_str (struct tbuild *b, const char *p, size_t n) {
  if (n <= 16 && b->cap - b->len > 16) {     /* the common case: short */
    uint8_t *d = b->data + b->len;
    d[0] = (uint8_t)n;
    d++;
    /* copied in fixed-size pieces that overlap, never past p + n */
    if (n >= 8) { memcpy(d, p, 8); memcpy(d + n - 8, p + n - 8, 8); }
    else if (n >= 4) { memcpy(d, p, 4); memcpy(d + n - 4, p + n - 4, 4); }
    else if (n > 0) {
      d[0] = (uint8_t)p[0];
      d[n / 2] = (uint8_t)p[n / 2];
      d[n - 1] = (uint8_t)p[n - 1];
    }
    b->len += n + 1;
    return true;
  }
  if (n < 0x80 && b->cap - b->len > n) {     /* one byte of length */
    b->data[b->len] = (uint8_t)n;
    memcpy(b->data + b->len + 1, p, n);
    b->len += n + 1;
    return true;
  }
  return tbuild_varint(b, n) && tbuild_put(b, p, n);
}

/* The slot of 'key' in a memo of 'cap' entries (a power of 2). */
static inline size_t tbuild_memohash (const void *key, size_t cap) {
  uint64_t h = (uint64_t)(uintptr_t)key * 0x9E3779B97F4A7C15u;
  return (size_t)(h >> 32) & (cap - 1);
}

/* The entry for 'key' in the current value, or NULL. */
static inline struct tbuild_memo *tbuild_memo_get (struct tbuild *b,
                                                   const void *key) {
  if (b->memocount == 0) return NULL;
  for (size_t i = tbuild_memohash(key, b->memocap);;
       i = (i + 1) & (b->memocap - 1)) {
    struct tbuild_memo *m = &b->memo[i];
    if (m->gen != b->gen) return NULL;
    if (m->key == key) return m;
  }
}

#endif
