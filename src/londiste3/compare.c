/*-------------------------------------------------------------------------
 *
 * compare.c
 *	  londiste3 commands: compare, repair.
 *
 * src/londiste3/compare.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "londiste3/londiste.h"

const LondisteCommand ld_compare_commands[] = {
	{NULL}
};
