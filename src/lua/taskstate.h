/*
** taskstate.h: building a task's Lua state (taskstate.c): fresh globals
** whose libraries open on first use, the caller's package paths, the
** task's function and arguments decoded there.
*/
#ifndef TASKSTATE_H
#define TASKSTATE_H

#include <stdbool.h>
#include <lua.h>
#include "lpark.h"

/* The package paths of the caller 'L' (package.path and package.cpath), to
** hand to a task: shared and refcounted (NULL: no memory; the task then
** gets package's defaults). Release with taskstate_unref. */
struct paths *taskstate_paths (lua_State *L);
void taskstate_unref (struct paths *ps);          /* NULL: nothing */
struct paths *taskstate_ref (struct paths *ps);   /* one more; returns ps */

/* The first slice of 'lt': make its state (lt->L) and decode its function
** and arguments onto it (lt->co then set; lt->vals left for the caller to
** free). False on failure: an error message on lt->L, or no lt->L. */
bool taskstate_start (struct ltask *lt);

/* Is 'L' a task's state (one made by taskstate_start)? */
bool taskstate_is (lua_State *L);
/* The task whose state 'L' is (or a thread of it), or NULL: another
** state, or a task whose state is being closed. */
struct ltask *taskstate_task (lua_State *L);

/* print for tasks and gochan.print: the whole line in one write. */
int lgochan_print (lua_State *L);

#endif
