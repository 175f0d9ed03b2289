/*
** test_tbuild.c: the transfer buffer writer (src/core/tbuild.h) without
** Lua: bytes, varints and length-prefixed strings as the decoder reads
** them, growth past the first allocation, the objects array, and the
** pointer memo across many keys, growth and resets (including the stamp
** wrapping around), down to a tbuf built from it.
*/
#include "check.h"
#include "tbuf.h"
#include "tbuild.h"

/* Read back a varint at '*p' (as tdecode.c does, without its checks). */
static uint64_t readvarint (const uint8_t **p) {
  uint64_t v = 0;
  for (int shift = 0;; shift += 7) {
    uint8_t c = *(*p)++;
    v |= (uint64_t)(c & 0x7f) << shift;
    if (!(c & 0x80)) return v;
  }
}

static void test_bytes (void) {
  struct tbuild b;
  tbuild_init(&b);
  CHECK_EQ_INT(b.len, 0);
  CHECK_EQ_INT(b.cap, 0);
  tbuild_reset(&b);
  CHECK(tbuild_tag(&b, 7));
  CHECK(tbuild_tag(&b, 255));
  CHECK(tbuild_put(&b, "abc", 3));
  CHECK(tbuild_put(&b, NULL, 0));              /* nothing, no memcpy */
  CHECK(tbuild_reserve(&b, 2));
  size_t room = b.cap;
  tbuild_byte(&b, 1);
  tbuild_byte(&b, 2);
  CHECK_EQ_INT(b.cap, room);                   /* reserved: no growth */
  CHECK_EQ_INT(b.len, 7);
  CHECK_EQ_INT(b.cap, 256);                    /* the first allocation */
  static const uint8_t want[] = { 7, 255, 'a', 'b', 'c', 1, 2 };
  CHECK(memcmp(b.data, want, sizeof want) == 0);
  tbuild_free(&b);
  CHECK(b.data == NULL);
  CHECK_EQ_INT(b.len, 0);
  CHECK_EQ_INT(b.cap, 0);
}

static void test_varint (void) {
  static const uint64_t vals[] = { 0, 1, 0x7f, 0x80, 0x3fff, 0x4000,
                                   UINT32_MAX, (uint64_t)1 << 63, UINT64_MAX };
  static const size_t lens[] = { 1, 1, 1, 2, 2, 3, 5, 10, 10 };
  const size_t n = sizeof vals / sizeof vals[0];
  struct tbuild b;
  tbuild_init(&b);
  tbuild_reset(&b);
  for (size_t i = 0; i < n; i++) {
    size_t before = b.len;
    CHECK(tbuild_varint(&b, vals[i]));
    CHECK_EQ_INT(b.len - before, lens[i]);
  }
  const uint8_t *p = b.data;
  for (size_t i = 0; i < n; i++) CHECK_EQ_UINT(readvarint(&p), vals[i]);
  CHECK_EQ_PTR(p, b.data + b.len);
  tbuild_free(&b);
}

/* Strings short and long, written at every distance from the end of the
** room (the one-byte fast path and the varint path), then read back. */
static void test_strings (void) {
  static char text[5100];
  for (size_t i = 0; i < sizeof text; i++) text[i] = (char)('a' + i % 26);
  static const size_t sizes[] = { 0, 1, 2, 100, 126, 127, 128, 129, 255,
                                  256, 300, 4999 };
  const size_t ns = sizeof sizes / sizeof sizes[0];
  struct tbuild b;
  tbuild_init(&b);
  tbuild_reset(&b);
  size_t count = 0;
  for (int round = 0; round < 40; round++)
    for (size_t i = 0; i < ns; i++) {
      CHECK(tbuild_str(&b, text + round, sizes[i] - (sizes[i] > 0 && round > 0)));
      count++;
    }
  CHECK(b.len <= b.cap);
  CHECK_EQ_INT(b.cap & (b.cap - 1), 0);        /* 256 doubled */
  const uint8_t *p = b.data;
  size_t bad = 0;
  for (int round = 0; round < 40; round++)
    for (size_t i = 0; i < ns; i++) {
      size_t want = sizes[i] - (sizes[i] > 0 && round > 0);
      uint64_t n = readvarint(&p);
      if (n != want || memcmp(p, text + round, want) != 0) bad++;
      p += n;
    }
  CHECK_EQ_INT(bad, 0);
  CHECK_EQ_PTR(p, b.data + b.len);
  CHECK_EQ_INT(count, 40 * ns);
  tbuild_free(&b);
}

static void test_objects (void) {
  static struct obj objs[20];
  struct tbuild b;
  tbuild_init(&b);
  tbuild_reset(&b);
  for (size_t i = 0; i < 20; i++) CHECK(tbuild_obj(&b, &objs[i]));
  CHECK_EQ_INT(b.nobj, 20);
  CHECK(b.objcap >= 20);
  size_t bad = 0;
  for (size_t i = 0; i < 20; i++) if (b.objs[i] != &objs[i]) bad++;
  CHECK_EQ_INT(bad, 0);
  tbuild_reset(&b);                            /* keeps the memory */
  CHECK_EQ_INT(b.nobj, 0);
  CHECK(b.objs != NULL);
  tbuild_free(&b);
}

/* Many keys (the memo grows several times), each found with its value;
** keys not added are not found; a reset forgets every key. */
static void test_memo (void) {
  enum { N = 5000 };
  static char keys[N];
  struct tbuild b;
  tbuild_init(&b);
  tbuild_reset(&b);
  CHECK(tbuild_memo_get(&b, &keys[0]) == NULL);  /* empty: no array yet */
  for (size_t i = 0; i < N; i += 2) CHECK(tbuild_memo_add(&b, &keys[i], i * 3));
  CHECK_EQ_INT(b.memocount, N / 2);
  CHECK(2 * b.memocount <= b.memocap);
  CHECK_EQ_INT(b.memocap & (b.memocap - 1), 0);
  size_t bad = 0;
  for (size_t i = 0; i < N; i++) {
    struct tbuild_memo *m = tbuild_memo_get(&b, &keys[i]);
    if (i % 2 == 0 ? (m == NULL || m->val != i * 3) : m != NULL) bad++;
  }
  CHECK_EQ_INT(bad, 0);
  size_t cap = b.memocap;
  uint32_t gen = b.gen;
  tbuild_reset(&b);                            /* one increment forgets */
  CHECK_EQ_INT(b.gen, gen + 1);
  CHECK_EQ_INT(b.memocap, cap);
  CHECK_EQ_INT(b.memocount, 0);
  CHECK(tbuild_memo_get(&b, &keys[0]) == NULL);
  CHECK(tbuild_memo_add(&b, &keys[1], 42));
  CHECK(tbuild_memo_get(&b, &keys[0]) == NULL);  /* old entries stay dead */
  CHECK_EQ_UINT(tbuild_memo_get(&b, &keys[1])->val, 42);
  tbuild_reset(&b);
  tbuild_reset(&b);                            /* an empty memo: same gen */
  CHECK_EQ_INT(b.gen, gen + 2);
  tbuild_free(&b);
}

/* The stamp wraps: entries stamped before must not look live after. */
static void test_memo_wrap (void) {
  static char keys[100];
  struct tbuild b;
  tbuild_init(&b);
  tbuild_reset(&b);
  b.gen = UINT32_MAX - 1;
  for (size_t i = 0; i < 100; i++) CHECK(tbuild_memo_add(&b, &keys[i], i));
  tbuild_reset(&b);                            /* to UINT32_MAX */
  CHECK_EQ_UINT(b.gen, UINT32_MAX);
  for (size_t i = 0; i < 100; i++) CHECK(tbuild_memo_add(&b, &keys[i], i + 1));
  tbuild_reset(&b);                            /* wraps: cleared, gen 1 */
  CHECK_EQ_UINT(b.gen, 1);
  size_t bad = 0;
  for (size_t i = 0; i < 100; i++)
    if (tbuild_memo_get(&b, &keys[i]) != NULL) bad++;
  CHECK_EQ_INT(bad, 0);
  CHECK(tbuild_memo_add(&b, &keys[5], 5));
  CHECK_EQ_UINT(tbuild_memo_get(&b, &keys[5])->val, 5);
  CHECK(tbuild_memo_get(&b, &keys[6]) == NULL);
  tbuild_free(&b);
}

static void nodestroy (struct obj *o) { (void)o; abort(); }

/* What the encoder does at the end: the bytes and objects into a tbuf,
** which takes a reference to each object; the builder then starts over. */
static void test_tbuf (void) {
  struct obj o;
  obj_init(&o, OBJ_CHAN, nodestroy, 0);
  struct tbuild b;
  tbuild_init(&b);
  for (int round = 0; round < 3; round++) {
    tbuild_reset(&b);
    CHECK(tbuild_tag(&b, 8));
    CHECK(tbuild_obj(&b, &o));
    CHECK(tbuild_varint(&b, b.nobj - 1));
    CHECK(tbuild_str(&b, "pizza", 5));
    b.flags |= TBUF_REFS;
    struct tbuf *t = tbuf_new(b.data, b.len, b.objs, b.nobj, b.flags);
    CHECK(t != NULL);
    CHECK_EQ_INT(t->len, 8);
    CHECK_EQ_INT(t->nobj, 1);
    CHECK_EQ_INT(t->flags, TBUF_REFS);
    CHECK(memcmp(t->data, "\x08\x00\x05pizza", 8) == 0);
    CHECK_EQ_PTR(t->objs[0], &o);
    tbuf_free(t);                              /* drops its reference */
  }
  tbuild_free(&b);
}

int main (void) {
  check_init();
  RUN(test_bytes);
  RUN(test_varint);
  RUN(test_strings);
  RUN(test_objects);
  RUN(test_memo);
  RUN(test_memo_wrap);
  RUN(test_tbuf);
  return check_done();
}
