/*
** wire.c: the wire format (docs/wire.md) between bytes and gochan_value
** graphs: the byte buffer, the graph encoder and the decoder. The decoder
** trusts nothing: a first pass validates the whole message without
** allocating or importing, a second builds it (then only memory can fail).
*/
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "wire.h"

const struct gochan_lapi *wire_api;

/* ---------------------------------------------------------------- */
/* the buffer                                                         */

void wbuf_init (struct wbuf *b) {
  b->p = NULL;
  b->n = b->cap = 0;
  b->oom = false;
}

void wbuf_free (struct wbuf *b) {
  free(b->p);
  wbuf_init(b);
}

static bool reserve (struct wbuf *b, size_t more) {
  if (b->oom) return false;
  if (b->cap - b->n >= more) return true;
  if (more > SIZE_MAX / 2 - b->n) { b->oom = true; return false; }
  size_t ncap = b->cap ? b->cap : 64;
  while (ncap - b->n < more) ncap *= 2;
  unsigned char *np = realloc(b->p, ncap);
  if (!np) { b->oom = true; return false; }
  b->p = np;
  b->cap = ncap;
  return true;
}

void wbuf_byte (struct wbuf *b, unsigned c) {
  if (reserve(b, 1)) b->p[b->n++] = (unsigned char)c;
}

void wbuf_bytes (struct wbuf *b, const void *s, size_t n) {
  if (n > 0 && reserve(b, n)) {
    memcpy(b->p + b->n, s, n);
    b->n += n;
  }
}

void wbuf_varint (struct wbuf *b, uint64_t u) {
  unsigned char t[10];
  size_t n = 0;
  do {
    t[n] = (unsigned char)(u & 0x7f);
    u >>= 7;
    if (u) t[n] |= 0x80;
    n++;
  } while (u);
  wbuf_bytes(b, t, n);
}

static void put64 (struct wbuf *b, uint64_t u) {
  unsigned char t[8];
  for (int i = 0; i < 8; i++) t[i] = (unsigned char)(u >> (8 * i));
  wbuf_bytes(b, t, 8);
}

void wbuf_int (struct wbuf *b, int64_t i) {
  wbuf_byte(b, WT_INT);
  put64(b, (uint64_t)i);
}

void wbuf_float (struct wbuf *b, double d) {
  uint64_t u;
  memcpy(&u, &d, sizeof u);
  wbuf_byte(b, WT_FLOAT);
  put64(b, u);
}

void wbuf_header (struct wbuf *b, enum wire_kind kind) {
  wbuf_byte(b, WIRE_VERSION);
  wbuf_byte(b, kind);
}

/* ---------------------------------------------------------------- */
/* encoding a gochan_value graph                                      */

/* Tables already written, by address -> index (open addressing). */
struct seen {
  const gochan_table **keys;
  size_t *idx;
  size_t n, cap;
};

static size_t hashp (const void *p, size_t cap) {
  uintptr_t u = (uintptr_t)p;
  u ^= u >> 17;
  u *= (uintptr_t)0x9e3779b97f4a7c15u;
  return (size_t)(u >> 7) & (cap - 1);
}

/* The index of 't', or SIZE_MAX (not seen). */
static size_t seen_get (const struct seen *s, const gochan_table *t) {
  if (s->cap == 0) return SIZE_MAX;
  for (size_t h = hashp(t, s->cap);; h = (h + 1) & (s->cap - 1)) {
    if (s->keys[h] == t) return s->idx[h];
    if (s->keys[h] == NULL) return SIZE_MAX;
  }
}

static bool seen_put (struct seen *s, const gochan_table *t) {
  if (2 * (s->n + 1) > s->cap) {
    size_t ncap = s->cap ? 2 * s->cap : 16;
    const gochan_table **nk = calloc(ncap, sizeof *nk);
    size_t *ni = malloc(ncap * sizeof *ni);
    if (!nk || !ni) { free(nk); free(ni); return false; }
    for (size_t i = 0; i < s->cap; i++)
      if (s->keys[i]) {
        size_t h = hashp(s->keys[i], ncap);
        while (nk[h]) h = (h + 1) & (ncap - 1);
        nk[h] = s->keys[i];
        ni[h] = s->idx[i];
      }
    free(s->keys);
    free(s->idx);
    s->keys = nk;
    s->idx = ni;
    s->cap = ncap;
  }
  size_t h = hashp(t, s->cap);
  while (s->keys[h]) h = (h + 1) & (s->cap - 1);
  s->keys[h] = t;
  s->idx[h] = s->n++;
  return true;
}

struct enc {
  struct wbuf *b;
  struct seen seen;
  const struct wire_chans *ch;
  char *err;
  size_t errlen;
};

static const char *encval (struct enc *e, const gochan_value *v, int depth) {
  struct wbuf *b = e->b;
  switch (v->type) {
    case GOCHAN_NIL: wbuf_byte(b, WT_NIL); return NULL;
    case GOCHAN_BOOLEAN: wbuf_byte(b, v->boolean ? WT_TRUE : WT_FALSE);
      return NULL;
    case GOCHAN_INTEGER: wbuf_int(b, v->integer); return NULL;
    case GOCHAN_NUMBER: wbuf_float(b, v->number); return NULL;
    case GOCHAN_STRING:
      wbuf_byte(b, WT_STRING);
      wbuf_varint(b, v->len);
      wbuf_bytes(b, v->string, v->len);
      return NULL;
    case GOCHAN_CHANNEL: {
      const char *subj = e->ch && e->ch->export
                         ? e->ch->export(e->ch->ud, v->channel) : NULL;
      if (!subj) {
        snprintf(e->err, e->errlen, "cannot send a channel over NATS here");
        return e->err;
      }
      size_t n = strlen(subj);
      wbuf_byte(b, WT_CHAN);
      wbuf_varint(b, n);
      wbuf_bytes(b, subj, n);
      return NULL;
    }
    case GOCHAN_TABLE: {
      size_t idx = seen_get(&e->seen, v->table);
      if (idx != SIZE_MAX) {
        wbuf_byte(b, WT_REF);
        wbuf_varint(b, idx);
        return NULL;
      }
      if (depth >= GOCHAN_MAX_DEPTH) {
        snprintf(e->err, e->errlen, "cannot send a value nested deeper "
                 "than %d tables over NATS", GOCHAN_MAX_DEPTH);
        return e->err;
      }
      if (!seen_put(&e->seen, v->table)) { b->oom = true; return NULL; }
      const gochan_table *t = v->table;
      size_t n = 0;
      for (size_t i = 0; i < t->n; i++)      /* nil values are no entry */
        if (t->pairs[i].value.type != GOCHAN_NIL) n++;
      wbuf_byte(b, WT_TABLE);
      wbuf_varint(b, n);
      for (size_t i = 0; i < t->n; i++) {
        if (t->pairs[i].value.type == GOCHAN_NIL) continue;
        const char *r = encval(e, &t->pairs[i].key, depth + 1);
        if (!r) r = encval(e, &t->pairs[i].value, depth + 1);
        if (r) return r;
      }
      return NULL;
    }
    default:
      snprintf(e->err, e->errlen, "cannot send a local object over NATS");
      return e->err;
  }
}

const char *wire_encode (struct wbuf *b, const gochan_value *v,
                         const struct wire_chans *ch, char *err,
                         size_t errlen) {
  struct enc e = { .b = b, .ch = ch, .err = err, .errlen = errlen };
  const char *r = encval(&e, v, 0);
  free(e.seen.keys);
  free(e.seen.idx);
  return r;
}

/* ---------------------------------------------------------------- */
/* decoding                                                           */

/*
** One walk, run twice: with 'build' false it only validates (and counts
** the tables); with 'build' true it makes the graph, every table in
** 'tabs' in the order of its tag (so a WT_REF index is a slot of 'tabs').
** Strings inside a graph borrow the message's bytes until gochan_table_set
** copies them.
*/
struct dec {
  const unsigned char *p, *end;
  bool build;
  gochan_table **tabs;
  size_t ntabs;
  const struct wire_chans *ch;
  char *err;
  size_t errlen;
};

static const char *bad (struct dec *d, const char *msg) {
  snprintf(d->err, d->errlen, "%s", msg);
  return d->err;
}

static const char *badn (struct dec *d, const char *fmt, size_t n) {
  snprintf(d->err, d->errlen, fmt, n);
  return d->err;
}

static bool getvarint (struct dec *d, uint64_t *u) {
  uint64_t r = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (d->p >= d->end) return false;
    unsigned c = *d->p++;
    if (shift == 63 && c > 1) return false;      /* over 64 bits */
    r |= (uint64_t)(c & 0x7f) << shift;
    if (!(c & 0x80)) { *u = r; return true; }
  }
  return false;
}

static uint64_t get64 (struct dec *d) {
  uint64_t u = 0;
  for (int i = 0; i < 8; i++) u |= (uint64_t)d->p[i] << (8 * i);
  d->p += 8;
  return u;
}

/* The bytes of a string or subject: length, then that many bytes. */
static bool getbytes (struct dec *d, const char **s, size_t *n) {
  uint64_t len;
  if (!getvarint(d, &len) || len > (uint64_t)(d->end - d->p)) return false;
  *s = (const char *)d->p;
  *n = (size_t)len;
  d->p += len;
  return true;
}

static const char *decval (struct dec *d, gochan_value *out, int depth);

static const char *dectable (struct dec *d, gochan_value *out, int depth) {
  uint64_t n;
  if (!getvarint(d, &n)) return bad(d, "truncated table");
  if (n > (uint64_t)(d->end - d->p) / 2)         /* a pair takes >= 2 bytes */
    return bad(d, "table of more pairs than bytes left");
  if (depth >= GOCHAN_MAX_DEPTH)
    return badn(d, "tables nested deeper than %zu", GOCHAN_MAX_DEPTH);
  gochan_table *t = NULL;
  if (d->build) {
    if (!(t = wire_api->table_new((size_t)n))) return bad(d, "out of memory");
    d->tabs[d->ntabs] = t;
    *out = gochan_table_value(t);
  }
  d->ntabs++;
  for (uint64_t i = 0; i < n; i++) {
    gochan_value k = gochan_nil(), v = gochan_nil();
    if (d->p >= d->end) return bad(d, "truncated table");
    unsigned ktag = *d->p;
    const char *r = decval(d, &k, depth + 1);
    if (r) return r;
    if (ktag == WT_NIL) return bad(d, "table key is nil");
    if (ktag == WT_FLOAT && isnan(k.number))   /* scalars: either pass */
      return bad(d, "table key is NaN");
    r = decval(d, &v, depth + 1);
    if (!r && d->build &&
        wire_api->table_set(t, (size_t)i, &k, &v) != GOCHAN_OK)
      r = bad(d, "out of memory");
    /* a channel reference of our own is released (the pair holds one) */
    if (d->build && k.type == GOCHAN_CHANNEL) wire_api->chan_release(k.channel);
    if (d->build && v.type == GOCHAN_CHANNEL) wire_api->chan_release(v.channel);
    if (r) return r;
  }
  return NULL;
}

static const char *decval (struct dec *d, gochan_value *out, int depth) {
  if (d->p >= d->end) return bad(d, "truncated value");
  unsigned tag = *d->p++;
  switch (tag) {
    case WT_NIL: *out = gochan_nil(); return NULL;
    case WT_FALSE: case WT_TRUE: *out = gochan_boolean(tag == WT_TRUE);
      return NULL;
    case WT_INT: case WT_FLOAT: {
      if (d->end - d->p < 8) return bad(d, "truncated number");
      uint64_t u = get64(d);
      if (tag == WT_INT) *out = gochan_integer((int64_t)u);
      else {
        double x;
        memcpy(&x, &u, sizeof x);
        *out = gochan_number(x);
      }
      return NULL;
    }
    case WT_STRING: {
      const char *s;
      size_t n;
      if (!getbytes(d, &s, &n)) return bad(d, "truncated string");
      *out = gochan_string(s, n);
      return NULL;
    }
    case WT_CHAN: {
      const char *s;
      size_t n;
      if (!getbytes(d, &s, &n)) return bad(d, "truncated channel");
      if (n == 0) return bad(d, "channel with an empty subject");
      if (!d->ch || !d->ch->import)
        return bad(d, "a channel where none can be received");
      if (d->build) {
        gochan_chan *c = d->ch->import(d->ch->ud, s, n);
        if (!c) return bad(d, "cannot receive a channel here");
        *out = gochan_channel(c);
      }
      return NULL;
    }
    case WT_TABLE: return dectable(d, out, depth);
    case WT_REF: {
      uint64_t i;
      if (!getvarint(d, &i)) return bad(d, "truncated reference");
      if (i >= d->ntabs)
        return badn(d, "reference to table %zu, not seen yet", (size_t)i);
      if (d->build) *out = gochan_table_value(d->tabs[i]);
      return NULL;
    }
    default:
      return badn(d, "unknown value tag %zu", tag);
  }
}

/* After a failed build: cut every link between tables, then free each
** table alone (its strings and channels go with it). */
static void unbuild (struct dec *d) {
  for (size_t i = 0; i < d->ntabs; i++) {
    gochan_table *t = d->tabs[i];
    for (size_t j = 0; j < t->n; j++) {
      if (t->pairs[j].key.type == GOCHAN_TABLE) t->pairs[j].key = gochan_nil();
      if (t->pairs[j].value.type == GOCHAN_TABLE)
        t->pairs[j].value = gochan_nil();
    }
  }
  for (size_t i = 0; i < d->ntabs; i++) {
    gochan_value v = gochan_table_value(d->tabs[i]);
    wire_api->value_free(&v);
  }
}

const char *wire_decode (const void *p, size_t n, enum wire_kind *kind,
                         gochan_value *out, const struct wire_chans *ch,
                         char *err, size_t errlen) {
  const unsigned char *s = p;
  struct dec d = { .p = s + 2, .end = s + n, .ch = ch, .err = err,
                   .errlen = errlen };
  *out = gochan_nil();
  if (n < 2) return badn(&d, "message of %zu bytes (too short)", n);
  if (s[0] != WIRE_VERSION)
    return badn(&d, "wire format version %zu (this reads version 1)", s[0]);
  if (s[1] > WIRE_CLOSE) return badn(&d, "unknown message kind %zu", s[1]);
  *kind = (enum wire_kind)s[1];
  if (*kind == WIRE_CLOSE)
    return n == 2 ? NULL : badn(&d, "%zu bytes after a close", n - 2);
  gochan_value v = gochan_nil();
  const char *r = decval(&d, &v, 0);                 /* validate */
  if (!r && d.p != d.end)
    r = badn(&d, "%zu bytes after the value", (size_t)(d.end - d.p));
  if (r) return r;
  size_t ntabs = d.ntabs;
  d = (struct dec){ s + 2, s + n, true, NULL, 0, ch, err, errlen };
  if (ntabs > 0 && !(d.tabs = malloc(ntabs * sizeof *d.tabs)))
    return bad(&d, "out of memory");
  r = decval(&d, &v, 0);                             /* build */
  if (r) {
    if (v.type == GOCHAN_CHANNEL) wire_api->chan_release(v.channel);
    unbuild(&d);
    free(d.tabs);
    return r;
  }
  free(d.tabs);
  if (v.type == GOCHAN_STRING) {          /* the root owns its bytes */
    char *copy = malloc(v.len + 1);
    if (!copy) return bad(&d, "out of memory");
    memcpy(copy, v.string, v.len);
    copy[v.len] = '\0';
    v.string = copy;
  }
  *out = v;
  return NULL;
}
