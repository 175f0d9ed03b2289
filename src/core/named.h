/*
** named.h: named channels (gochan.named, gochan_named): one channel per
** name in the process, made on first use and kept until the process exits.
*/
#ifndef GOCHAN_NAMED_H
#define GOCHAN_NAMED_H

#include "chan.h"

#define NAMED_ANYCAP ((size_t)-1)   /* whatever the channel has (new: 0) */

enum named_result {
  NAMED_OK = 0,
  NAMED_EMPTY,         /* the name is empty */
  NAMED_NUL,           /* the name holds a NUL byte */
  NAMED_UTF8,          /* the name is not valid UTF-8 */
  NAMED_BIGCAP,        /* 'cap' over CHAN_MAX_CAP */
  NAMED_CAP,           /* the channel exists with another capacity */
  NAMED_NOMEM
};

/* Whether 'name' (len bytes) is a valid name: NAMED_OK or why not. */
enum named_result named_check (const char *name, size_t len);

/* The channel named 'name' (made with 'cap' slots, or 0 for NAMED_ANYCAP,
** if there is none), with a new reference for the caller in '*out'. On
** NAMED_CAP '*have' is the existing channel's capacity; on any failure
** '*out' is NULL and nothing changed. Thread-safe. */
enum named_result named_get (const char *name, size_t len, size_t cap,
                             struct chan **out, size_t *have);

/* Whether some named channel has a queued waiter now (the deadlock check:
** a named channel may be fed from outside the tasks). */
bool named_waiting (void);

#endif
