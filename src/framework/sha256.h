/*-------------------------------------------------------------------------
 *
 * sha256.h
 *	  SHA-256 digests for the client programs; a program using them links
 *	  libcrypto (libpgcommon's cryptohash is built on OpenSSL).
 *
 * src/framework/sha256.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef SKY_SHA256_H
#define SKY_SHA256_H

#include "common/cryptohash.h"

extern pg_cryptohash_ctx *sha256_begin(void);
extern void sha256_update(pg_cryptohash_ctx *ctx, const char *data, size_t len);
extern char *sha256_end(pg_cryptohash_ctx *ctx);
extern void sha256_abort(pg_cryptohash_ctx *ctx);

#endif							/* SKY_SHA256_H */
