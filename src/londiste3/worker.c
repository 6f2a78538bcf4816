/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  londiste3 commands: worker, copy.
 *
 * src/londiste3/worker.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "londiste3/londiste.h"

const LondisteCommand ld_worker_commands[] = {
	{NULL}
};
