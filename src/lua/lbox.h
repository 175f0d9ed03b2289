/*
** lbox.h: the binding's helper layer, below every type file: the boxes
** every gochan userdata is made of, deadlines from Lua timeouts, status
** -> Lua error, and packing a value to send. It knows no type: what it
** needs of them (metatable names and builders, the deadlock message) it
** is given by module.c, the layer above every type.
*/
#ifndef LBOX_H
#define LBOX_H

#include <stdbool.h>
#include <lua.h>
#include <lauxlib.h>
#include "core.h"
#include "obj.h"
#include "value.h"

/* A Lua-visible object type: its metatable's name, the function that
** builds that metatable (idempotent; leaves the stack as it was), and the
** user values its boxes have (0 or 1: only types that keep a value there
** pay for the slot). */
struct ltype {
  const char *mt;
  void (*meta) (lua_State *L);
  int nuv;
};

/* What module.c gives the helpers, at every luaopen_gochan_core and
** before any box is made: the table of types, indexed by enum objtype
** (mt NULL: not a Lua-visible type), and the function that raises the
** deadlock error (it lists the live tasks). Both are static data of
** core.so; setting them again sets the same values. */
void lbox_init (const struct ltype *types, int (*deadlock) (lua_State *L));

/* A state's box cache's counts (lbox.c says how they are used). */
struct boxstats {
  size_t live, high;
  size_t pinned;
};

/*
** Boxes: a gochan userdata is a box holding one 'struct obj *' and owning
** one reference. In one state, one object has at most one live box (a weak
** cache keyed by the object's address), so an object that comes back to a
** state is the same Lua value (rawequal).
*/
/* Push a new, empty box (*box == NULL) of type 't' with its metatable
** (built here if this state has none yet) and the type's user values
** (ticker: its channel's box; mutex: its cached closer). Nothing is owned
** yet, so raising is safe. */
struct obj **lbox_new (lua_State *L, enum objtype t);
/* The box on top takes over one reference to 'o' (a new object's own, or
** one just retained) and is entered in the state's cache. May raise
** (memory): the box owns 'o' by then and its __gc releases it. */
void lbox_adopt (lua_State *L, struct obj **box, struct obj *o);
/* Push the state's box for 'o' (creating it, with one new reference, if
** there is none). 'o' is borrowed. May raise (memory). */
void lbox_push (lua_State *L, struct obj *o);
/* The object in the gochan box at 'idx', or NULL if it is not one. */
struct obj *lbox_to (lua_State *L, int idx);
/* The object of type 't' in the box at 'arg', or a standard "bad
** argument"/"bad self" error (no string compare on the fast path). */
struct obj *lbox_check (lua_State *L, int arg, enum objtype t);
/* Whether the value at 'idx' is a box of a type in 'kinds' (a mask of
** 1u << enum objtype) that its __gc, called by hand, emptied. */
bool lbox_collected (lua_State *L, int idx, unsigned kinds);
/* For __tostring: if the value at 'idx' is a box its __gc emptied (called
** by hand), push "<type name> (collected)" (as a closed file prints
** "file (closed)") and return true; else push nothing, return false. */
bool lbox_pushcollected (lua_State *L, int idx);
/* Raise the error for the value at 'arg', which is not a live object of
** a type in 'kinds': "object already collected" for an emptied box of one
** of them (lbox_collected), else luaL_typeerror's "(<expected> expected,
** got X)". */
int lbox_typeerror (lua_State *L, int arg, unsigned kinds,
                    const char *expected);
/*
** Names in error messages. lbox_pushquoted: push the string at 'idx'
** quoted as string.format's %q does (the whole string: an embedded zero
** is shown, not an end). lbox_pushname: push it as 'name' for a message,
** or quoted as %q does when it holds a zero byte (which '%s' would cut).
** Both return the pushed string. lbox_isname: whether the string at 'idx'
** is exactly 'name' (a zero byte in it is no end, as strcmp makes it).
*/
const char *lbox_pushquoted (lua_State *L, int idx);
const char *lbox_pushname (lua_State *L, int idx);
bool lbox_isname (lua_State *L, int idx, const char *name);
/* Whether every key of the table at 'arg' is a string in 'known' (ended
** by NULL): NULL, the stack as it was; else the message "unknown <what>
** 'x'" (or "(a number key)"), pushed, for luaL_argerror. */
const char *lbox_unknownkey (lua_State *L, int arg, const char *const known[],
                             const char *what);
/* The type name luaL_typeerror would print for the value at 'idx'
** ("gochan.chan", "number", ...). */
const char *lbox_typename (lua_State *L, int idx);
/* Like luaL_newmetatable (pushes the metatable; 1 if it was created), and
** marks it as a gochan box type with the shared __gc that drops the
** box's reference. Safe to run twice. For the types' 'meta' builders. */
int lbox_newmetatable (lua_State *L, const char *tname);
/* Set the metatable on top's __index to a table of 'methods' (static)
** that fills itself: a method is put in on its first lookup, all of them
** by pairs(). Safe to run twice (the second time sets a new table). */
void lbox_setmethods (lua_State *L, const luaL_Reg *methods);
/* Make metatable 'tname' (as lbox_newmetatable) with __tostring 'tostr'
** and 'methods' as its __index (lbox_setmethods); pushes nothing. */
void lbox_newtype (lua_State *L, const char *tname, lua_CFunction tostr,
                   const luaL_Reg *methods);
/*
** Frozen tables (frozen.h). The root of a graph is a box (OBJ_FROZEN,
** metatable GOCHAN_FROZEN_MT); a nested table is a proxy { graph, table
** index } of metatable LBOX_FROZEN_NESTED, whose user value is the root's
** box (the root box holds the reference; a proxy has no __gc). Both have
** the same metamethods (lfreeze.c). A small per-state cache, bounded and
** weak, makes reading one nested table twice give the same proxy
** (rawequal) in the common case; __eq makes any two proxies of one table
** equal.
*/
#define LBOX_FROZEN_NESTED "gochan.frozen.nested"
struct frozen;
struct fstr;
struct fcache;
/* The state's proxy cache (made on first use): pushes its slots table. */
struct fcache *lbox_fcache (lua_State *L);
/* Push the proxy of table 't' of graph 'f' (the root box for t == 0),
** given the cache 'c' with its slots table at 'slots', the nested
** metatable at 'mt', and at 'from' a proxy of the same graph or 0 (its
** root box is then looked up). 'f' is borrowed. May raise (memory). */
void lbox_pushproxy (lua_State *L, struct fcache *c, int slots, int mt,
                     int from, struct frozen *f, uint32_t t);
/* Count one read of table 'p' of 'f' in the cache; the reads counted
** since its slot last changed hands. */
unsigned lbox_fhit (struct fcache *c, struct frozen *f, const void *p);
/* The same, finding everything itself (the decoder, thaw). */
void lbox_pushfrozen (lua_State *L, struct frozen *f, uint32_t t);
/* The graph of the proxy at 'idx' and its table index, or NULL. */
struct frozen *lbox_tofrozen (lua_State *L, int idx, uint32_t *t);
/* Push the Lua string for 's' of graph 'f': a long one through the
** cache, so reading it again copies nothing. */
void lbox_pushfstr (lua_State *L, struct fcache *c, int slots,
                    struct frozen *f, const struct fstr *s);

/* The state's box cache, made if missing (luaopen_gochan_core). */
void lbox_open (lua_State *L);

/* An optional timeout in seconds at 'arg' as an absolute deadline:
** none/nil -> GO_NEVER; 0 -> GO_NOW; else now + timeout (inf: GO_NEVER).
** Raises "bad argument #arg to 'f' (number expected, got X)" ("got nan"
** for NaN), and "(non-negative number expected, got number)" for a
** negative timeout (bad input, not a deadline already past). */
int64_t lg_optdeadline (lua_State *L, int arg);

/* Raise the Lua error for a core status that is an error (GO_NOMEM,
** GO_INTERRUPTED -> "interrupted", GO_DEADLOCK -> "all tasks are asleep -
** deadlock!" ...). Never returns. Call only with no core lock held. */
int lg_raise (lua_State *L, gostatus st);

/* Pack the value at 'idx' into '*tv' (nil) for sending, or raise the
** refusal ("cannot transfer a thread (at value)") at the caller's line;
** on a raise nothing is held. */
void lg_pack (lua_State *L, int idx, struct tvalue *tv, const char *root);
/* Raise the refusal message transfer_pack left on top. Never returns. */
int lg_packerror (lua_State *L);

/*
** Contexts and task cancellation at a blocking call (context.h).
** lg_optwait reads the last argument of a call that takes "a timeout
** (number) or a context": none/nil -> GO_NEVER and NULL; a number as
** lg_optdeadline; a gochan.context -> GO_NEVER and that context
** (borrowed: its box stays on the stack); else "bad argument #arg to 'f'
** (number or gochan.context expected, got X)". lg_optctx: a context or
** nothing (select, lock). A call given a context that is done already
** gives up at once (ctx_done), before trying anything.
*/
struct context;
void lg_optwait (lua_State *L, int arg, int64_t *deadline,
                 struct context **ctx);
struct context *lg_optctx (lua_State *L, int arg);
/* Push the context's err() string ("context canceled", "context deadline
** exceeded") or nil while it is live. */
void lg_pushctxerr (lua_State *L, struct context *ctx);
/* On entry to every blocking call: in a task that was canceled, raise its
** cancel error (lg_raise(L, GO_CANCELED)). Cheap: a thread-local read and
** a load. */
void lg_checkcancel (lua_State *L);

#endif
