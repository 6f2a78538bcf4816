/*-------------------------------------------------------------------------
 *
 * execute.c
 *	  londiste3 commands: execute.
 *
 * src/londiste3/execute.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "londiste3/londiste.h"

const LondisteCommand ld_execute_commands[] = {
	{NULL}
};
