/*-------------------------------------------------------------------------
 *
 * blake2s.c
 *	  BLAKE2s (RFC 7693) with a key and any digest size from 1 to 32
 *	  bytes, for the obfuscate handler's keyed hashes.
 *
 * Python's hashlib.blake2s(data, digest_size=N, key=K) is what the
 * handler must agree with; the digest size is part of the parameter
 * block, so a short digest is not a prefix of the 32-byte one, which is
 * why OpenSSL's fixed BLAKE2s-256 does not do.
 *
 * src/londiste3/handlers/blake2s.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "londiste3/handlers/obfuscate.h"

static const uint32 blake2s_iv[8] = {
	0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A,
	0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19
};

/* message word order of each of the ten rounds */
static const uint8 blake2s_sigma[10][16] = {
	{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
	{14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
	{11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
	{7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
	{9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
	{2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
	{12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
	{13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
	{6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
	{10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
};

static inline uint32
rotr32(uint32 x, int n)
{
	return (x >> n) | (x << (32 - n));
}

static inline void
mix(uint32 *v, int a, int b, int c, int d, uint32 x, uint32 y)
{
	v[a] = v[a] + v[b] + x;
	v[d] = rotr32(v[d] ^ v[a], 16);
	v[c] = v[c] + v[d];
	v[b] = rotr32(v[b] ^ v[c], 12);
	v[a] = v[a] + v[b] + y;
	v[d] = rotr32(v[d] ^ v[a], 8);
	v[c] = v[c] + v[d];
	v[b] = rotr32(v[b] ^ v[c], 7);
}

/* one 64-byte block; count is the bytes hashed so far, this block included */
static void
compress(uint32 *h, const uint8 *block, uint64 count, bool last)
{
	uint32		m[16];
	uint32		v[16];
	int			i;
	int			r;

	for (i = 0; i < 16; i++)
		m[i] = (uint32) block[4 * i] | ((uint32) block[4 * i + 1] << 8) |
			((uint32) block[4 * i + 2] << 16) | ((uint32) block[4 * i + 3] << 24);
	for (i = 0; i < 8; i++)
	{
		v[i] = h[i];
		v[i + 8] = blake2s_iv[i];
	}
	v[12] ^= (uint32) count;
	v[13] ^= (uint32) (count >> 32);
	if (last)
		v[14] = ~v[14];
	for (r = 0; r < 10; r++)
	{
		const uint8 *s = blake2s_sigma[r];

		mix(v, 0, 4, 8, 12, m[s[0]], m[s[1]]);
		mix(v, 1, 5, 9, 13, m[s[2]], m[s[3]]);
		mix(v, 2, 6, 10, 14, m[s[4]], m[s[5]]);
		mix(v, 3, 7, 11, 15, m[s[6]], m[s[7]]);
		mix(v, 0, 5, 10, 15, m[s[8]], m[s[9]]);
		mix(v, 1, 6, 11, 12, m[s[10]], m[s[11]]);
		mix(v, 2, 7, 8, 13, m[s[12]], m[s[13]]);
		mix(v, 3, 4, 9, 14, m[s[14]], m[s[15]]);
	}
	for (i = 0; i < 8; i++)
		h[i] ^= v[i] ^ v[i + 8];
}

void
ld_blake2s(uint8 *out, size_t outlen, const uint8 *key, size_t keylen,
		   const uint8 *data, size_t len)
{
	uint32		h[8];
	uint8		block[64];
	uint64		count = 0;
	int			i;

	Assert(outlen >= 1 && outlen <= 32 && keylen <= 32);
	memcpy(h, blake2s_iv, sizeof(h));
	h[0] ^= 0x01010000 ^ ((uint32) keylen << 8) ^ (uint32) outlen;

	/* the key is a first block of its own; the last block is never empty */
	if (keylen > 0)
	{
		memset(block, 0, sizeof(block));
		memcpy(block, key, keylen);
		count = 64;
		if (len == 0)
		{
			compress(h, block, count, true);
			goto done;
		}
		compress(h, block, count, false);
	}
	while (len > 64)
	{
		count += 64;
		compress(h, data, count, false);
		data += 64;
		len -= 64;
	}
	memset(block, 0, sizeof(block));
	memcpy(block, data, len);
	count += len;
	compress(h, block, count, true);

done:
	for (i = 0; i < (int) outlen; i++)
		out[i] = (uint8) (h[i / 4] >> (8 * (i % 4)));
}
