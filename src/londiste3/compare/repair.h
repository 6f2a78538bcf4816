/*-------------------------------------------------------------------------
 *
 * repair.h
 *	  londiste3 repair: the statements that make a table on the local node
 *	  equal to its copy source.
 *
 * src/londiste3/compare/repair.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LONDISTE_REPAIR_H
#define LONDISTE_REPAIR_H

#include "londiste3/compare/syncer.h"

/* an LdSyncFunc: writes fix.<table>.sql or, with --apply, runs the fixes */
extern int	ld_repair_table(LdSyncPair *pair);

#endif							/* LONDISTE_REPAIR_H */
