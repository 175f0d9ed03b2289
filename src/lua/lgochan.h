/*
** lgochan.h: what the binding's files share: metatable names, the box
** helpers, deadlines from Lua timeouts, and status -> Lua error.
** The binding is the only code that includes lua.h.
*/
#ifndef LGOCHAN_H
#define LGOCHAN_H

#include <lua.h>
#include <lauxlib.h>
#include "core.h"
#include "obj.h"
#include "value.h"

#define GOCHAN_CHAN_MT      "gochan.chan"
#define GOCHAN_WAITGROUP_MT "gochan.waitgroup"
#define GOCHAN_MUTEX_MT     "gochan.mutex"
#define GOCHAN_ATOMIC_MT    "gochan.atomic"
#define GOCHAN_TICKER_MT    "gochan.ticker"
#define GOCHAN_TASK_MT      "gochan.task"

/*
** Boxes: a gochan userdata is a box holding one 'struct obj *' and owning
** one reference. In one state, one object has at most one live box (a weak
** cache keyed by the object's address), so an object that comes back to a
** state is the same Lua value (rawequal).
*/
/* Push the state's box for 'o' (creating it, with one new reference, if
** there is none). 'o' is borrowed. May raise (memory). */
void lgochan_pushobj (lua_State *L, struct obj *o);
/* The object in the gochan box at 'idx', or NULL if it is not one. */
struct obj *lgochan_toobj (lua_State *L, int idx);
/* The object in a box of metatable 'tname' at 'arg', or a standard
** "bad argument"/"bad self" error. */
struct obj *lgochan_checkobj (lua_State *L, int arg, const char *tname);
/* The same for a type known by number (what the methods use: no string
** compare on the fast path). */
struct obj *lgochan_checktype (lua_State *L, int arg, enum objtype t);

/* An optional timeout in seconds at 'arg' as an absolute deadline:
** none/nil -> GO_NEVER; 0 -> GO_NOW; else now + timeout (inf: GO_NEVER).
** Raises "bad argument #arg to 'f' (number expected, got X)" ("got nan"
** for NaN), and "(non-negative number expected, got number)" for a
** negative timeout (bad input, not a deadline already past). */
int64_t lgochan_optdeadline (lua_State *L, int arg);

/* Raise the Lua error for a core status that is an error (GO_NOMEM,
** GO_INTERRUPTED -> "interrupted", GO_DEADLOCK -> "all tasks are asleep -
** deadlock!" ...). Never returns. Call only with no core lock held. */
int lgochan_raise (lua_State *L, gostatus st);

/* Like luaL_newmetatable (pushes the metatable; 1 if it was created), and
** marks it as a gochan box type (for lgochan_toobj) with the shared __gc
** that drops the box's reference. Safe to run twice. */
int lgochan_newmetatable (lua_State *L, const char *tname);
/* Push a new, empty box (*box == NULL) of type 't' with its metatable and
** one user value (ticker: its channel's box; mutex: its cached closer).
** Nothing is owned yet, so raising is safe. */
struct obj **lgochan_newbox (lua_State *L, enum objtype t);
/* The box on top takes over one reference to 'o' (a new object's own, or
** one just retained) and is entered in the state's cache. May raise
** (memory): the box owns 'o' by then and its __gc releases it. */
void lgochan_adopt (lua_State *L, struct obj **box, struct obj *o);
/* The type name luaL_typeerror would print for the value at 'idx'
** ("gochan.chan", "number", ...). */
const char *lgochan_typename (lua_State *L, int idx);

/* Pack the value at 'idx' into '*tv' (nil) for sending, or raise the
** refusal ("cannot transfer a thread (at value)") at the caller's line;
** on a raise nothing is held. */
void lgochan_pack (lua_State *L, int idx, struct tvalue *tv, const char *root);
/* Raise the refusal message transfer_pack left on top. Never returns. */
int lgochan_packerror (lua_State *L);

/* The module's entry point, the only exported symbol of core.so. */
LUAMOD_API __attribute__((visibility("default")))
int luaopen_gochan_core (lua_State *L);

/* Per-file openers, called by luaopen_gochan_core; each is safe to run
** twice in one state and adds its functions to the table on top. */
void lchan_open (lua_State *L);
void lselect_open (lua_State *L);
void lsync_open (lua_State *L);
void lsync_opentype (lua_State *L, enum objtype t);
void ltask_opentype (lua_State *L);       /* the task metatable */
void ltask_addwggo (lua_State *L);        /* wg:go, if waitgroups are open */
void ltime_open (lua_State *L);

#endif
