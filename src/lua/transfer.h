/*
** transfer.h: Lua value <-> 'struct tvalue' (the transfer rules of
** API.md). The encoder never leaves anything half-done: on refusal the
** tvalue is nil and every reference taken so far has been released.
*/
#ifndef GOCHAN_TRANSFER_H
#define GOCHAN_TRANSFER_H

#include <lua.h>
#include "value.h"

/*
** Encode the value at 'idx' into '*tv' (which must be nil). Returns 1 on
** success. Returns 0 when the value (or something inside it) cannot cross:
** '*tv' is nil, nothing is held, and the error message is pushed, e.g.
** "cannot transfer a thread (at value.handlers[2])", where 'root' names the
** value ("value", "argument #2", ...). Raises only on memory errors.
*/
int transfer_pack (lua_State *L, int idx, struct tvalue *tv, const char *root);

/* Push the value of '*tv' and clear it (the tvalue's ownership ends). */
void transfer_push (lua_State *L, struct tvalue *tv);

/* Push the value of '*tv' and keep it (the caller still owns '*tv'). */
void transfer_pushcopy (lua_State *L, const struct tvalue *tv);

/* Called once per state by luaopen_gochan_core (idempotent); also made on
** first use where a state never called it (a task's). */
void transfer_open (lua_State *L);

#endif
