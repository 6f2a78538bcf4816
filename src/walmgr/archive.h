/*-------------------------------------------------------------------------
 *
 * archive.h
 *	  Storing files in the archive.
 *
 * src/walmgr/archive.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef WALMGR_ARCHIVE_H
#define WALMGR_ARCHIVE_H

#include "walmgr.h"

extern int	archive_store(Walmgr *wm, const char *name, int in_fd,
						  int64 size, const char *expected_sha, bool partial);

#endif							/* WALMGR_ARCHIVE_H */
