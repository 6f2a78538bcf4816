/*-------------------------------------------------------------------------
 *
 * takeover.c
 *	  londiste3 commands: takeover, change-provider, drop-node, resurrect.
 *
 * src/londiste3/takeover.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "londiste3/londiste.h"

const LondisteCommand ld_takeover_commands[] = {
	{NULL}
};
