/*-------------------------------------------------------------------------
 *
 * tables.c
 *	  londiste3 commands: add-table, remove-table, change-handler, add-seq, remove-seq, tables, seqs, missing, resync, wait-sync, show-handlers, check, fkeys.
 *
 * src/londiste3/tables.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "londiste3/londiste.h"

const LondisteCommand ld_table_commands[] = {
	{NULL}
};
