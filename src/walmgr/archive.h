/*-------------------------------------------------------------------------
 *
 * archive.h
 *	  Storing files in the archive and checksums of them.
 *
 * src/walmgr/archive.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef WALMGR_ARCHIVE_H
#define WALMGR_ARCHIVE_H

#include "common/cryptohash.h"
#include "walmgr.h"

extern int	archive_store(Walmgr *wm, const char *name, int in_fd,
						  int64 size, const char *expected_sha, bool partial);

/* thin wrappers around libpgcommon's SHA-256 that fail loudly */
extern pg_cryptohash_ctx *sha256_begin(void);
extern void sha256_update(pg_cryptohash_ctx *ctx, const char *data, size_t len);
extern char *sha256_end(pg_cryptohash_ctx *ctx);
extern void sha256_abort(pg_cryptohash_ctx *ctx);

#endif							/* WALMGR_ARCHIVE_H */
