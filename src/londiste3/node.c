/*-------------------------------------------------------------------------
 *
 * node.c
 *	  londiste3 commands: create-root, create-branch, create-leaf, members, tag-dead, tag-alive, pause, resume, wait-root, wait-provider.
 *
 * src/londiste3/node.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "londiste3/londiste.h"

const LondisteCommand ld_node_commands[] = {
	{NULL}
};
