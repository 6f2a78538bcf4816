/*-------------------------------------------------------------------------
 *
 * status.c
 *	  londiste3 commands: status, node-status, node-info.
 *
 * src/londiste3/status.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "londiste3/londiste.h"

const LondisteCommand ld_status_commands[] = {
	{NULL}
};
