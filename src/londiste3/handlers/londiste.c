/*-------------------------------------------------------------------------
 *
 * londiste.c
 *	  The built-in handler: each row event becomes one SQL statement on
 *	  the table (the worker's replay, worker.c, does the work).
 *
 * src/londiste3/handlers/londiste.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "londiste3/handler.h"

static const char *const londiste_args[] = {"encoding", "ignore_truncate", NULL};

const LdHandlerClass ld_handler_londiste = {
	.name = "londiste",
	.module = NULL,
	.doc = "Default Londiste handler, inserts events into tables with plain SQL.\n"
	"\n"
	"Arguments:\n"
	"  encoding=ENC       validate and fix the incoming data's encoding\n"
	"  ignore_truncate=1  do not replay TRUNCATE\n",
	.args = londiste_args,
};
