/*-------------------------------------------------------------------------
 *
 * sha256.c
 *	  SHA-256 of data streamed in pieces, as lower-case hex, for the client
 *	  programs (walmgr's archive checksums).  Thin wrappers around
 *	  libpgcommon's cryptohash that end the program on failure, since
 *	  none of the callers could go on without the digest.
 *
 * src/framework/sha256.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "common/sha2.h"
#include "framework/log.h"
#include "framework/sha256.h"

pg_cryptohash_ctx *
sha256_begin(void)
{
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);

	if (ctx == NULL || pg_cryptohash_init(ctx) < 0)
		sky_fatal("could not initialize SHA-256");
	return ctx;
}

void
sha256_update(pg_cryptohash_ctx *ctx, const char *data, size_t len)
{
	if (pg_cryptohash_update(ctx, (const uint8 *) data, len) < 0)
		sky_fatal("could not compute SHA-256: %s", pg_cryptohash_error(ctx));
}

/* Finish and free ctx; returns the digest in lower-case hex. */
char *
sha256_end(pg_cryptohash_ctx *ctx)
{
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	char	   *hex = pg_malloc(PG_SHA256_DIGEST_LENGTH * 2 + 1);
	int			i;

	if (pg_cryptohash_final(ctx, digest, sizeof(digest)) < 0)
		sky_fatal("could not compute SHA-256: %s", pg_cryptohash_error(ctx));
	pg_cryptohash_free(ctx);
	for (i = 0; i < PG_SHA256_DIGEST_LENGTH; i++)
		sprintf(hex + 2 * i, "%02x", digest[i]);
	return hex;
}

void
sha256_abort(pg_cryptohash_ctx *ctx)
{
	pg_cryptohash_free(ctx);
}
