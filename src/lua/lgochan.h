/*
** lgochan.h: the helper layer under the names it had before lbox.h, for
** the transfer files (transfer.c, tencode.c, tdecode.c) and the fuzz
** target until they include lbox.h and call lbox_push/lbox_to; then this
** header goes.
*/
#ifndef LGOCHAN_H
#define LGOCHAN_H

#include "lbox.h"

#define lgochan_pushobj lbox_push
#define lgochan_toobj lbox_to

#endif
